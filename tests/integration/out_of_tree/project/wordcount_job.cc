// Word count, as a user outside Brook's tree writes a job: <brook/brook.h> and BROOK_JOB only.
//
//   ./wordcount --local [-p N] [-- --repeat 100]
//
// Counts the words of `repeat` copies of a short text through a keyed shuffle, and prints
// every word's count, sorted, when the input ends.
#include <brook/brook.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

namespace {

using WordCount = std::pair<std::string, int64_t>;

constexpr std::array<const char*, 3> kLines = {"to stream or not to stream",
                                               "a barrier then a watermark", "stream the window"};

// Keeps the latest running count per word and prints them all at the end.
class PrintCounts {
 public:
  void operator()(const WordCount& count) { counts_[count.first] = count.second; }
  void finish() {
    int64_t total = 0;
    for (const auto& [word, count] : counts_) total += count;
    std::printf("%zu distinct words, %lld in all\n", counts_.size(), (long long)total);
    for (const auto& [word, count] : counts_)
      std::printf("%s %lld\n", word.c_str(), (long long)count);
    std::fflush(stdout);
  }

 private:
  std::map<std::string, int64_t> counts_;
};

}  // namespace

BROOK_JOB(wordcount) {
  brook::GeneratorOptions options;
  options.count = uint64_t(args.GetInt("repeat", 100)) * kLines.size();
  env.fromGenerator(
         "lines", [](uint64_t i) { return std::string(kLines[i % kLines.size()]); }, options)
      .flatMap([](const std::string& line, brook::Collector<WordCount>& out) {
        size_t start = 0;
        while (start < line.size()) {
          size_t end = std::min(line.find(' ', start), line.size());
          if (end > start) out.collect({line.substr(start, end - start), 1});
          start = end + 1;
        }
      })
      .name("split")
      .keyBy([](const WordCount& count) { return count.first; })
      .reduce([](const WordCount& a, const WordCount& b) {
        return WordCount{a.first, a.second + b.second};
      })
      .name("count per word")
      .sinkTo(PrintCounts(), "print counts")
      .setParallelism(1);
}
