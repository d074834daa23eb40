// Broken job libraries for job_library_test.cc: one source, one variant per library, chosen by
// a BROOK_TEST_JOB_* definition (tests/jobs/CMakeLists.txt).

#if defined(BROOK_TEST_JOB_NO_ENTRY)
// A shared library whose author forgot BROOK_JOB: it has code, but no brook_job_entry.
extern "C" __attribute__((visibility("default"))) int brook_test_not_a_job() { return 42; }

#elif defined(BROOK_TEST_JOB_NULL_ENTRY)
// An entry point that returns no entry.
extern "C" __attribute__((visibility("default"))) const void* brook_job_entry() { return nullptr; }

#elif defined(BROOK_TEST_JOB_ABI_MISMATCH)
#include "brook/jobs/job_entry.h"
// Built against a future job ABI: only abi_version may be trusted, the rest is left null so a
// loader that reads further than abi_version before checking it would notice.
extern "C" __attribute__((visibility("default"))) const ::brook::JobEntry* brook_job_entry() {
  static const ::brook::JobEntry entry{::brook::kJobAbiVersion + 1, nullptr, nullptr, nullptr};
  return &entry;
}

#elif defined(BROOK_TEST_JOB_VERSION_MISMATCH)
#include "brook/jobs/job_entry.h"
// The right job ABI, but built against another Brook release.
namespace {
void Build(::brook::StreamEnvironment&, const ::brook::JobArgs&) {}
}  // namespace
extern "C" __attribute__((visibility("default"))) const ::brook::JobEntry* brook_job_entry() {
  static const ::brook::JobEntry entry{::brook::kJobAbiVersion, "old_job", &Build, "0.0.0-test"};
  return &entry;
}

#else
#error "define one of BROOK_TEST_JOB_{NO_ENTRY,NULL_ENTRY,ABI_MISMATCH,VERSION_MISMATCH}"
#endif
