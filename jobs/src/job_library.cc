#include "brook/jobs/job_library.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "brook/jobs/stream_environment.h"
#include "brook/runtime/check.h"

namespace brook {
namespace {

JobLibraryError Refuse(JobLibraryErrc code, std::string message) {
  return JobLibraryError{code, std::move(message)};
}

// dlerror() text, without the "<path>: " prefix glibc puts in front of it.
std::string DlError(const std::string& path) {
  const char* error = dlerror();
  std::string text = error != nullptr ? error : "unknown dlopen error";
  const std::string prefix = path + ": ";
  if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
  return text;
}

// The dynamic loader maps a library's segments without checking that the file holds them: a
// truncated library "loads", and the process dies of SIGBUS when the loader touches the missing
// pages. So before dlopen, check that every segment lies inside the file. Returns the problem;
// nothing for a sound file, and nothing for a file that is not a native ELF object at all,
// which dlopen refuses safely, in its own words.
std::optional<std::string> CheckSegmentsInFile(const std::string& path, uint64_t file_size) {
  constexpr unsigned char kNativeClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
  constexpr unsigned char kNativeData =
      __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
  std::ifstream in(path, std::ios::binary);
  ElfW(Ehdr) header;
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) return std::nullopt;
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != kNativeClass || header.e_ident[EI_DATA] != kNativeData ||
      header.e_phentsize != sizeof(ElfW(Phdr))) {
    return std::nullopt;
  }
  const std::string size_text =
      " past the end of the file (" + std::to_string(file_size) + " bytes): truncated or corrupt";
  const uint64_t headers_end =
      uint64_t(header.e_phoff) + uint64_t(header.e_phnum) * sizeof(ElfW(Phdr));
  if (header.e_phoff > file_size || headers_end > file_size) {
    return "its program headers end at byte " + std::to_string(headers_end) + size_text;
  }
  std::vector<ElfW(Phdr)> segments(header.e_phnum);
  in.seekg(std::streamoff(header.e_phoff));
  if (!in.read(reinterpret_cast<char*>(segments.data()),
               std::streamsize(segments.size() * sizeof(ElfW(Phdr))))) {
    return "its program headers cannot be read";
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    const ElfW(Phdr)& segment = segments[i];
    if (segment.p_type == PT_NULL || segment.p_filesz == 0) continue;
    if (segment.p_offset > file_size || segment.p_filesz > file_size - segment.p_offset) {
      return "segment " + std::to_string(i) + " (bytes " + std::to_string(segment.p_offset) +
             " to " + std::to_string(uint64_t(segment.p_offset) + segment.p_filesz) + ") ends" +
             size_text;
    }
  }
  return std::nullopt;
}

// Closes `handle` unless ownership was released to a JobLibrary.
class HandleGuard {
 public:
  explicit HandleGuard(void* handle) : handle_(handle) {}
  ~HandleGuard() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  HandleGuard(const HandleGuard&) = delete;
  HandleGuard& operator=(const HandleGuard&) = delete;
  void* get() const { return handle_; }
  void* release() { return std::exchange(handle_, nullptr); }

 private:
  void* handle_;
};

}  // namespace

const char* JobLibraryErrcName(JobLibraryErrc code) {
  switch (code) {
    case JobLibraryErrc::kNotFound:
      return "not found";
    case JobLibraryErrc::kNotLoadable:
      return "not loadable";
    case JobLibraryErrc::kNoEntryPoint:
      return "no entry point";
    case JobLibraryErrc::kInvalidEntry:
      return "invalid entry";
    case JobLibraryErrc::kAbiMismatch:
      return "job ABI mismatch";
    case JobLibraryErrc::kVersionMismatch:
      return "Brook version mismatch";
  }
  return "unknown";
}

JobLibrary::LoadResult JobLibrary::Load(const std::string& path_arg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // Absolute, so that dlopen never searches LD_LIBRARY_PATH and friends for a bare file name.
  const std::string path = fs::absolute(path_arg, ec).lexically_normal().string();
  if (ec || path.empty()) {
    return Refuse(JobLibraryErrc::kNotFound,
                  "cannot load job library '" + path_arg + "': " + ec.message());
  }
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    const bool missing = !ec || ec == std::errc::no_such_file_or_directory;
    return Refuse(JobLibraryErrc::kNotFound, "cannot load job library '" + path +
                                                 "': " + (missing ? "no such file" : ec.message()));
  }
  if (!fs::is_regular_file(status)) {
    return Refuse(JobLibraryErrc::kNotLoadable,
                  "cannot load job library '" + path + "': not a regular file");
  }

  if (auto problem = CheckSegmentsInFile(path, fs::file_size(path, ec)); problem && !ec) {
    return Refuse(
        JobLibraryErrc::kNotLoadable,
        "cannot load job library '" + path + "': not a loadable shared library (" + *problem + ")");
  }

  dlerror();  // clear any stale error
  HandleGuard handle(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (handle.get() == nullptr) {
    return Refuse(JobLibraryErrc::kNotLoadable, "cannot load job library '" + path +
                                                    "': not a loadable shared library (" +
                                                    DlError(path) + ")");
  }

  dlerror();
  void* symbol = dlsym(handle.get(), kJobEntrySymbol);
  if (symbol == nullptr) {
    return Refuse(JobLibraryErrc::kNoEntryPoint, "'" + path + "' is not a Brook job: it has no " +
                                                     kJobEntrySymbol +
                                                     " symbol (built without BROOK_JOB?)");
  }
  const JobEntry* entry = reinterpret_cast<JobEntryFn>(symbol)();
  if (entry == nullptr) {
    return Refuse(JobLibraryErrc::kInvalidEntry, "'" + path + "' is not a usable Brook job: " +
                                                     kJobEntrySymbol + " returned no entry");
  }
  // Only abi_version may be read before it is known to match: the rest of the layout is ABI's.
  if (entry->abi_version != kJobAbiVersion) {
    return Refuse(JobLibraryErrc::kAbiMismatch,
                  "job library '" + path + "' was built against Brook job ABI " +
                      std::to_string(entry->abi_version) + ", this runtime speaks " +
                      std::to_string(kJobAbiVersion) + ": rebuild the job against this Brook");
  }
  if (entry->name == nullptr || entry->name[0] == '\0' || entry->build == nullptr ||
      entry->brook_version == nullptr) {
    return Refuse(JobLibraryErrc::kInvalidEntry,
                  "'" + path + "' is not a usable Brook job: its entry has no " +
                      (entry->name == nullptr || entry->name[0] == '\0' ? "name"
                       : entry->build == nullptr                        ? "build function"
                                                                        : "Brook version"));
  }
  if (std::strcmp(entry->brook_version, kBrookVersion) != 0) {
    return Refuse(JobLibraryErrc::kVersionMismatch, "job '" + std::string(entry->name) + "' in '" +
                                                        path + "' was built against Brook " +
                                                        entry->brook_version +
                                                        ", this runtime is Brook " + kBrookVersion +
                                                        ": rebuild the job against this Brook");
  }
  return JobLibrary(path, handle.release(), entry);
}

JobLibrary::JobLibrary(JobLibrary&& other) noexcept
    : path_(std::move(other.path_)),
      handle_(std::exchange(other.handle_, nullptr)),
      entry_(std::exchange(other.entry_, nullptr)) {}

JobLibrary& JobLibrary::operator=(JobLibrary&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) dlclose(handle_);
    path_ = std::move(other.path_);
    handle_ = std::exchange(other.handle_, nullptr);
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

JobLibrary::~JobLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

const JobLibrary& JobLibrary::LoadResult::value() const& {
  if (!ok()) {
    detail::CheckFailed("ok()", std::get<JobLibraryError>(result_).message.c_str(), __FILE__,
                        __LINE__);
  }
  return std::get<JobLibrary>(result_);
}

JobLibrary& JobLibrary::LoadResult::value() & {
  return const_cast<JobLibrary&>(std::as_const(*this).value());
}

JobLibrary&& JobLibrary::LoadResult::value() && { return std::move(value()); }

const JobLibraryError& JobLibrary::LoadResult::error() const {
  BROOK_CHECK(!ok(), "error() of a JobLibrary that loaded");
  return std::get<JobLibraryError>(result_);
}

JobGraph BuildJobGraph(const JobEntry& entry, const JobArgs& args, int parallelism) {
  StreamEnvironment env;
  if (parallelism > 0) env.setParallelism(parallelism);
  entry.build(env, args);
  return env.BuildJobGraph(entry.name);
}

JobGraph BuildJobGraph(const JobLibrary& library, const JobArgs& args, int parallelism) {
  return BuildJobGraph(library.entry(), args, parallelism);
}

}  // namespace brook
