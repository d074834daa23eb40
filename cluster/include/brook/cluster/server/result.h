// Result<T>: the value of a server-side operation or the ServerError that says why it failed.
// Expected failures (a bad config value, an unknown blob, too few slots) are values, never
// exceptions: the caller decides whether to refuse a request, log, or exit with the message.
//
//   Result<BlobKey> key = store.Put(bytes, "libclickstream.so");
//   if (!key) return Refuse(key.error().message);   // a whole sentence, fit for users
//   Use(key.value());
//
// Built on Boost.Outcome's basic_result. Reading value() of a failed result (or error() of a
// successful one) is a bug: the process aborts with the error's message.
//
// Threading: a plain value type.
#pragma once

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/base.hpp>
#include <boost/outcome/success_failure.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace brook::server {

// What kind of failure, for callers that react differently (a REST handler maps kNotFound to
// 404 and kInvalidArgument to 400, say).
enum class ServerErrc {
  kInvalidConfig,      // a configuration key or value is wrong
  kInvalidArgument,    // a malformed request: bad blob key, non-positive slot count
  kNotFound,           // no such blob, task manager or job
  kAlreadyExists,      // a task manager id registered twice, a job allocated twice
  kResourceExhausted,  // not enough free slots; a blob over the size limit
  kIo,                 // the file system refused
};

inline const char* ServerErrcName(ServerErrc code) {
  switch (code) {
    case ServerErrc::kInvalidConfig:
      return "invalid config";
    case ServerErrc::kInvalidArgument:
      return "invalid argument";
    case ServerErrc::kNotFound:
      return "not found";
    case ServerErrc::kAlreadyExists:
      return "already exists";
    case ServerErrc::kResourceExhausted:
      return "resource exhausted";
    case ServerErrc::kIo:
      return "i/o error";
  }
  return "unknown";
}

struct ServerError {
  ServerErrc code;
  std::string message;  // a whole sentence naming what was wrong, fit to show to users
};

namespace detail {
// Boost.Outcome policy: a wrong observation aborts with the error's message.
struct AbortWithServerError : boost::outcome_v2::policy::base {
  template <class Impl>
  static constexpr void wide_value_check(Impl&& self) {
    if (!base::_has_value(std::forward<Impl>(self))) {
      std::fprintf(stderr, "brook: value() of a failed Result: %s\n",
                   base::_error(std::forward<Impl>(self)).message.c_str());
      std::abort();
    }
  }
  template <class Impl>
  static constexpr void wide_error_check(Impl&& self) {
    if (!base::_has_error(std::forward<Impl>(self))) {
      std::fprintf(stderr, "brook: error() of a successful Result\n");
      std::abort();
    }
  }
  template <class Impl>
  static constexpr void wide_exception_check(Impl&& self) {
    wide_error_check(std::forward<Impl>(self));
  }
};
}  // namespace detail

template <typename T>
using Result = boost::outcome_v2::basic_result<T, ServerError, detail::AbortWithServerError>;

// `return Ok();` from a function returning Result<void>.
inline auto Ok() { return boost::outcome_v2::success(); }

inline ServerError MakeError(ServerErrc code, std::string message) {
  return ServerError{code, std::move(message)};
}

}  // namespace brook::server
