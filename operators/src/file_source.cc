#include "brook/operators/file_source.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "brook/runtime/operator_state_registry.h"

namespace brook {

namespace fs = std::filesystem;

namespace {
constexpr const char* kOffsetsState = "file-offsets";
}  // namespace

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

void FileSource::SnapshotState(SnapshotContext& context) {
  std::vector<std::pair<std::string, uint64_t>> offsets;
  for (size_t i = 0; i < files_.size(); ++i) {
    uint64_t offset = 0;
    if (i < file_index_) offset = kFinished;
    else if (i == file_index_) offset = offset_;
    else if (auto it = restored_offsets_.find(files_[i]); it != restored_offsets_.end()) offset = it->second;
    offsets.emplace_back(files_[i], offset);
  }
  context.operator_state().GetUnionListState<std::pair<std::string, uint64_t>>(kOffsetsState).update(offsets);
}

void FileSource::InitializeState(InitializationContext& context) {
  auto& state = context.operator_state().GetUnionListState<std::pair<std::string, uint64_t>>(kOffsetsState);
  if (!context.is_restored()) return;
  for (const auto& [path, offset] : state.get()) restored_offsets_[path] = offset;
  SkipToUnfinishedFile();
}

void FileSource::SkipToUnfinishedFile() {
  offset_ = 0;
  while (file_index_ < files_.size()) {
    auto it = restored_offsets_.find(files_[file_index_]);
    if (it == restored_offsets_.end()) return;
    if (it->second != kFinished) {
      offset_ = it->second;
      return;
    }
    ++file_index_;
  }
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
    SkipToUnfinishedFile();
  }
  if (!batch_.empty()) {
    output()->Push(batch_);
    batch_.clear();
  }
  return SourceStatus::More();
}

}  // namespace brook
