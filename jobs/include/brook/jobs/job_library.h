// JobLibrary: a job shared library (a source with BROOK_JOB, built by brook_add_job) loaded
// into this process. This is how the job manager and task managers get at a submitted job:
//
//   auto loaded = brook::JobLibrary::Load("/blobs/3f2a/libclickstream.so");
//   if (!loaded) return Refuse(loaded.error().message);   // clear, names the file
//   brook::JobLibrary library = std::move(loaded).value();
//   brook::JobGraph graph = brook::BuildJobGraph(library, args, parallelism);
//
// Load() opens the file with dlopen(RTLD_NOW | RTLD_LOCAL): every symbol the library needs is
// resolved at once (a library that cannot run fails here, not in the middle of a job), and
// nothing it defines is visible to other libraries, so two jobs never see each other's code.
// It then checks, in this order, that the library has the `brook_job_entry` symbol, that the
// entry is not null, that it speaks this runtime's job ABI (kJobAbiVersion; only the first
// field of the entry is read before this check), and that it was built against this Brook
// release (kBrookVersion). Each refusal is a JobLibraryError value with a message for users.
//
// Ownership and life cycle: a JobLibrary owns the dlopen handle and closes it when destroyed.
// Everything that came out of the library points into its code or static data: the JobEntry,
// a JobGraph built from it (operator factories, type descriptions and user functions are the
// library's code), and every operator, subtask and record made from that graph. The JobLibrary
// must outlive all of them; hold it in a shared_ptr next to the graph when their lifetimes are
// tied to different owners. Loading the same file twice gives two JobLibrary objects sharing
// one mapping (dlopen counts references); the code may go away when the last one is destroyed
// (glibc keeps a library that defines GNU-unique symbols, as most C++ libraries do, mapped).
// Loading runs the library's static initializers: only load libraries you would run. The file
// must not change while it is loaded (a blob store's files are immutable): the loader maps it.
//
// Threading: Load() may be called from any thread. A JobLibrary is immutable after Load(); its
// const methods may be called from any thread at once. It is movable, not copyable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "brook/jobs/job_entry.h"
#include "brook/jobs/job_graph.h"

namespace brook {

// Why a job library was refused.
enum class JobLibraryErrc {
  kNotFound,         // no file at the path
  kNotLoadable,      // dlopen failed: not a shared library, truncated, wrong architecture,
                     // a missing dependency or an unresolved symbol
  kNoEntryPoint,     // no `brook_job_entry` symbol: not built with BROOK_JOB
  kInvalidEntry,     // `brook_job_entry` returned null, or an entry without name or build
  kAbiMismatch,      // built against another kJobAbiVersion
  kVersionMismatch,  // built against another Brook release (kBrookVersion)
};

const char* JobLibraryErrcName(JobLibraryErrc code);

struct JobLibraryError {
  JobLibraryErrc code;
  std::string message;  // a whole sentence naming the file, fit to show to the user
};

// The signature of a job library's `brook_job_entry`.
using JobEntryFn = const JobEntry* (*)();

class JobLibrary {
 public:
  class LoadResult;

  // Loads the job library at `path` (made absolute first, so it is never looked up in the
  // library search path). Never throws for a bad library: every refusal is an error value.
  static LoadResult Load(const std::string& path);

  JobLibrary(JobLibrary&& other) noexcept;
  JobLibrary& operator=(JobLibrary&& other) noexcept;
  JobLibrary(const JobLibrary&) = delete;
  JobLibrary& operator=(const JobLibrary&) = delete;
  // Closes the library. REQUIRES: nothing built from it is still alive (see above).
  ~JobLibrary();

  // The absolute path the library was loaded from.
  const std::string& path() const { return path_; }
  // Valid while this JobLibrary lives. REQUIRES: not moved from.
  const JobEntry& entry() const { return *entry_; }
  // The name given to BROOK_JOB.
  std::string_view name() const { return entry_->name; }
  // The Brook release the job was built against (equal to kBrookVersion, or Load refuses).
  std::string_view brook_version() const { return entry_->brook_version; }

 private:
  JobLibrary(std::string path, void* handle, const JobEntry* entry)
      : path_(std::move(path)), handle_(handle), entry_(entry) {}

  std::string path_;
  void* handle_ = nullptr;  // from dlopen; null once moved from
  const JobEntry* entry_ = nullptr;
};

// Either a loaded JobLibrary or the JobLibraryError that says why the file was refused.
class [[nodiscard]] JobLibrary::LoadResult {
 public:
  LoadResult(JobLibrary library) : result_(std::move(library)) {}   // NOLINT: implicit on purpose
  LoadResult(JobLibraryError error) : result_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const { return std::holds_alternative<JobLibrary>(result_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok() (aborts with the error message otherwise).
  const JobLibrary& value() const&;
  JobLibrary& value() &;
  JobLibrary&& value() &&;
  const JobLibrary* operator->() const { return &value(); }

  // REQUIRES: !ok().
  const JobLibraryError& error() const;

 private:
  std::variant<JobLibrary, JobLibraryError> result_;
};

// Builds the job's graph: runs the entry's build function on a fresh StreamEnvironment whose
// default parallelism is `parallelism` (<= 0: the environment's default, 1; a job's own
// env.setParallelism() wins either way) and chains it into a JobGraph named after the job.
// Deterministic: the same entry and arguments give the same vertex ids, on every process.
// Throws what the job's build function throws (user code), and JobGraphError for a graph
// that cannot run. The JobGraph points into the job's code: see JobLibrary's life cycle.
JobGraph BuildJobGraph(const JobEntry& entry, const JobArgs& args, int parallelism);
// As above, for a loaded library. REQUIRES: `library` outlives the returned graph.
JobGraph BuildJobGraph(const JobLibrary& library, const JobArgs& args, int parallelism);

}  // namespace brook
