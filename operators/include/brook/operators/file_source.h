// Reads text files line by line (without the line terminator). The path is a file or a
// directory of files (read in name order); subtask k of p reads the files j with j % p == k.
// A missing path fails the job when the source opens.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "brook/runtime/stream_operator.h"

namespace brook {

class FileSource final : public SourceOperatorBase, WithOutput<std::string> {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) {}

  void Open(RuntimeContext& context) override;
  SourceStatus EmitNext() override;
  void Close() override { stream_.close(); }

  // Position to resume from: the file being read and the byte offset of its next line.
  size_t current_file() const { return file_index_; }
  uint64_t current_offset() const { return offset_; }

 private:
  bool OpenNextFile();

  std::string path_;
  std::vector<std::string> files_;  // this subtask's files
  size_t file_index_ = 0;
  uint64_t offset_ = 0;
  std::ifstream stream_;
  bool stream_open_ = false;
  RecordBatch<std::string> batch_;
};

}  // namespace brook
