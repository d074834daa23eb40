// The personalization demo: the pipeline of pipeline.h over a generated shop's clickstream,
// printing a few live samples of each output and a summary when the stream ends.
//
//   ./personalization [--parallelism N] [-- --events 200000 --users 2000 --rate 0]
#include <brook/brook.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "examples/personalization/pipeline.h"

namespace {

using namespace personalization;

// Prints the first few records as they come, then a summary line at the end of the stream.
template <typename T>
class Report {
 public:
  Report(std::string title, int samples) : title_(std::move(title)), samples_(samples) {}
  void operator()(const T& value) {
    if (count_++ < uint64_t(samples_)) Print("  [" + title_ + "] " + brook::ToText(value) + "\n");
    Observe(value);
  }
  void finish() { Print(Summary()); }

 protected:
  virtual void Observe(const T&) {}
  virtual std::string Summary() {
    return title_ + ": " + std::to_string(count_) + "\n";
  }
  static void Print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }
  std::string title_;
  int samples_;
  uint64_t count_ = 0;
};

struct DeadLetterReport : Report<DeadLetter> {
  using Report::Report;
  std::map<std::string, uint64_t> reasons;
  void Observe(const DeadLetter& d) override { ++reasons[d.reason]; }
  std::string Summary() override {
    std::string s = "Dead letters: " + std::to_string(count_);
    for (const auto& [reason, n] : reasons) s += ", " + reason + " " + std::to_string(n);
    return s + "\n";
  }
};

struct ProfileReport : Report<UserProfile> {
  using Report::Report;
  std::map<uint64_t, UserProfile> latest;
  void Observe(const UserProfile& p) override { latest[p.user_id] = p; }
  std::string Summary() override {
    std::vector<UserProfile> all;
    for (const auto& [id, p] : latest) all.push_back(p);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.engagement != b.engagement ? a.engagement > b.engagement : a.user_id < b.user_id;
    });
    std::ostringstream s;
    s << "User profiles: " << latest.size() << " users, " << count_ << " updates. Most engaged:\n";
    for (size_t i = 0; i < std::min<size_t>(5, all.size()); ++i) s << "  " << all[i] << "\n";
    return s.str();
  }
};

// At the end of a bounded stream the newest sliding windows cover only its last minutes, so
// the report shows each category's last complete window.
struct TrendingReport : Report<Trending> {
  TrendingReport(std::string title, int samples, int64_t window_ms)
      : Report(std::move(title), samples), window_ms_(window_ms) {}
  std::map<int, std::map<int64_t, Trending>> by_category;
  int64_t newest_end = 0;
  int64_t window_ms_;
  void Observe(const Trending& t) override {
    by_category[t.category][t.window_end] = t;
    newest_end = std::max(newest_end, t.window_end);
  }
  std::string Summary() override {
    std::map<int, Trending> latest;
    for (const auto& [c, windows] : by_category) {
      auto it = windows.upper_bound(newest_end - window_ms_ + 60'000);
      if (it != windows.begin()) latest[c] = std::prev(it)->second;
    }
    std::ostringstream s;
    s << "Trending (clicks per item in the last complete 10-minute window):\n";
    for (const auto& [c, t] : latest) {
      s << "  " << kCategories[c] << ":";
      for (int i = 0; i < t.count; ++i) s << " item " << t.items[size_t(i)] << " (" << t.clicks[size_t(i)] << ")";
      s << "\n";
    }
    return s.str();
  }
};

}  // namespace

BROOK_JOB(personalization) {
  PipelineConfig config;
  config.generator.events = uint64_t(args.GetInt("events", 200'000));
  config.generator.users = uint64_t(args.GetInt("users", 2000));
  config.events_per_second = double(args.GetInt("rate", 0));
  PipelineOutputs out = BuildPipeline(env, config);

  out.dead_letters.sinkTo(DeadLetterReport("dead letter", 3), "dead letters").setParallelism(1);
  out.offers.sinkTo(Report<CartOffer>("Cart-abandonment offers", 5), "offers").setParallelism(1);
  out.recommendations.sinkTo(Report<Recommendation>("Recommendations", 5), "recommendations")
      .setParallelism(1);
  out.profiles.sinkTo(ProfileReport("profile", 0), "profiles").setParallelism(1);
  out.trending.sinkTo(TrendingReport("trending", 0, config.click_window_ms), "trending")
      .setParallelism(1);
  out.sessions.sinkTo(Report<SessionSummary>("Sessions", 0), "sessions").setParallelism(1);
}
