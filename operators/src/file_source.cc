#include "brook/operators/file_source.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace brook {

namespace fs = std::filesystem;

void FileSource::Open(RuntimeContext& context) {
  SourceOperatorBase::Open(context);
  BindOutput(main_output_base());
  std::error_code ec;
  std::vector<std::string> all;
  if (fs::is_directory(path_, ec)) {
    for (const auto& entry : fs::directory_iterator(path_))
      if (entry.is_regular_file()) all.push_back(entry.path().string());
    std::sort(all.begin(), all.end());
  } else if (fs::is_regular_file(path_, ec)) {
    all.push_back(path_);
  } else {
    throw std::runtime_error("file source: no such file or directory: " + path_);
  }
  for (size_t j = size_t(context.subtask_index); j < all.size(); j += size_t(context.parallelism))
    files_.push_back(all[j]);
}

bool FileSource::OpenNextFile() {
  while (file_index_ < files_.size()) {
    stream_ = std::ifstream(files_[file_index_], std::ios::binary);
    if (!stream_) throw std::runtime_error("file source: cannot read " + files_[file_index_]);
    stream_.seekg(std::streamoff(offset_));
    stream_open_ = true;
    return true;
  }
  return false;
}

SourceStatus FileSource::EmitNext() {
  if (!stream_open_ && !OpenNextFile()) return SourceStatus::End();
  std::string line;
  while (batch_.size() < kDefaultBatchSize && std::getline(stream_, line)) {
    offset_ += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    batch_.push(std::move(line), kNoTimestamp);
  }
  if (!stream_) {  // this file is done
    stream_.close();
    stream_open_ = false;
    ++file_index_;
    offset_ = 0;
  }
  if (!batch_.empty()) {
    output()->Push(batch_);
    batch_.clear();
  }
  return SourceStatus::More();
}

}  // namespace brook
