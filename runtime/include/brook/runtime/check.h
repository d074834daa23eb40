// Invariant checks. BROOK_CHECK is always on: a broken invariant is a bug, and the process
// aborts with the message rather than computing wrong results. BROOK_DCHECK only in debug builds.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace brook::detail {
[[noreturn]] inline void CheckFailed(const char* cond, const char* msg, const char* file, int line) {
  std::fprintf(stderr, "brook: check failed at %s:%d: %s (%s)\n", file, line, msg, cond);
  std::abort();
}
}  // namespace brook::detail

#define BROOK_CHECK(cond, msg)                                          \
  do {                                                                  \
    if (!(cond)) [[unlikely]]                                           \
      ::brook::detail::CheckFailed(#cond, msg, __FILE__, __LINE__);     \
  } while (0)

#ifdef NDEBUG
#define BROOK_DCHECK(cond, msg) \
  do {                          \
  } while (0)
#else
#define BROOK_DCHECK(cond, msg) BROOK_CHECK(cond, msg)
#endif
