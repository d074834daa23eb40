// User functions are lambdas or function objects, copied once per subtask (so each subtask has
// its own instance and state). A function object may also be "rich": if it has
// `void open(const brook::RuntimeContext&)` or `void close()`, the operator calls them.
#pragma once

#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "brook/runtime/runtime_context.h"
#include "brook/runtime/type_info.h"

namespace brook {

template <typename F>
void OpenFunction(F& fn, const RuntimeContext& context) {
  if constexpr (requires { fn.open(context); }) fn.open(context);
}

template <typename F>
void CloseFunction(F& fn) {
  if constexpr (requires { fn.close(); }) fn.close();
}

// Text of a value for print and file sinks: operator<< when the type has one, else its type
// name. Pairs print as (a, b).
template <typename T>
std::string ToText(const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (requires(std::ostream& os) { os << value; }) {
    std::ostringstream os;
    os << value;
    return os.str();
  } else if constexpr (requires { value.first; value.second; }) {
    return "(" + ToText(value.first) + ", " + ToText(value.second) + ")";
  } else {
    return "<" + Demangle(typeid(T).name()) + ">";
  }
}

}  // namespace brook
