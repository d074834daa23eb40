#include <stdexcept>

#include "brook/jobs/job_entry.h"

namespace brook {

std::optional<std::string> JobArgs::Get(const std::string& name) const {
  const std::string flag = "--" + name;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (args_[i] == flag && i + 1 < args_.size()) return args_[i + 1];
    if (args_[i].rfind(flag + "=", 0) == 0) return args_[i].substr(flag.size() + 1);
  }
  return std::nullopt;
}

std::string JobArgs::Get(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

int64_t JobArgs::GetInt(const std::string& name, int64_t fallback) const {
  auto value = Get(name);
  if (!value) return fallback;
  try {
    size_t used = 0;
    int64_t n = std::stoll(*value, &used);
    if (used != value->size()) throw std::invalid_argument(*value);
    return n;
  } catch (const std::exception&) {
    throw std::invalid_argument("job argument --" + name + " must be an integer, got '" +
                                *value + "'");
  }
}

bool JobArgs::Has(const std::string& flag) const {
  for (const auto& a : args_)
    if (a == "--" + flag) return true;
  return false;
}

}  // namespace brook
