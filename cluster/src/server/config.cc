#include "brook/cluster/server/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "brook/runtime/check.h"

namespace brook::server {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// A non-negative integer followed by an optional unit: "500ms" -> {500, "ms"}.
std::optional<std::pair<uint64_t, std::string>> SplitNumberAndUnit(std::string_view text) {
  text = Trim(text);
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  uint64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + digits, number);
  if (error != std::errc() || end != text.data() + digits) return std::nullopt;
  return std::pair{number, Lower(Trim(text.substr(digits)))};
}

std::optional<uint64_t> Multiply(uint64_t number, uint64_t unit) {
  if (number > std::numeric_limits<uint64_t>::max() / unit) return std::nullopt;
  return number * unit;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string FormatNumber(double value) {
  if (value == std::floor(value) && std::abs(value) < 1e15) return std::to_string(int64_t(value));
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string TypeName(const ConfigOption& option) {
  switch (option.type) {
    case ConfigType::kString:
      if (option.choices.empty()) return "string";
      {
        std::string names;
        for (std::string_view choice : option.choices) {
          names += (names.empty() ? "" : "|") + std::string(choice);
        }
        return names;
      }
    case ConfigType::kInt:
      return "integer " + FormatNumber(option.min) + ".." + FormatNumber(option.max);
    case ConfigType::kDouble:
      return "number " + FormatNumber(option.min) + ".." + FormatNumber(option.max);
    case ConfigType::kBool:
      return "true|false";
    case ConfigType::kDuration:
      return "duration";
    case ConfigType::kSize:
      return "size";
    case ConfigType::kHostPort:
      return "host:port";
  }
  return "?";
}

std::optional<int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseDouble(std::string_view text) {
  text = Trim(text);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// The keys of a YAML document, nested maps joined with '.'.
struct FlatEntry {
  std::string value;
  int line;  // 1-based
};

Result<void> Flatten(const YAML::Node& node, const std::string& prefix,
                     const std::string& origin_name, std::map<std::string, FlatEntry>& out) {
  for (const auto& pair : node) {
    const int line = pair.first.Mark().line + 1;
    auto where = [&] { return " in " + origin_name + " line " + std::to_string(line); };
    if (!pair.first.IsScalar()) {
      return MakeError(ServerErrc::kInvalidConfig, "a configuration key must be text" + where());
    }
    const std::string key = prefix + pair.first.Scalar();
    const YAML::Node& value = pair.second;
    if (value.IsMap()) {
      if (auto nested = Flatten(value, key + ".", origin_name, out); !nested) return nested;
    } else if (value.IsScalar()) {
      if (!out.emplace(key, FlatEntry{value.Scalar(), line}).second) {
        return MakeError(ServerErrc::kInvalidConfig,
                         "configuration key '" + key + "' is given twice" + where() +
                             " (a nested map and a dotted key name the same key)");
      }
    } else if (value.IsSequence()) {
      return MakeError(ServerErrc::kInvalidConfig,
                       "configuration key '" + key + "'" + where() +
                           " has a list value; every key takes a single value");
    } else {
      return MakeError(ServerErrc::kInvalidConfig,
                       "configuration key '" + key + "'" + where() +
                           " has no value (write \"\" for an empty string)");
    }
  }
  return Ok();
}

}  // namespace

// --- parsers ---------------------------------------------------------------------------

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto parsed = SplitNumberAndUnit(text);
  if (!parsed) return std::nullopt;
  const auto& [number, unit] = *parsed;
  static const std::map<std::string, uint64_t, std::less<>> kUnits = {{"", 1},
                                                                      {"ms", 1},
                                                                      {"milli", 1},
                                                                      {"millis", 1},
                                                                      {"millisecond", 1},
                                                                      {"milliseconds", 1},
                                                                      {"s", 1000},
                                                                      {"sec", 1000},
                                                                      {"secs", 1000},
                                                                      {"second", 1000},
                                                                      {"seconds", 1000},
                                                                      {"min", 60'000},
                                                                      {"mins", 60'000},
                                                                      {"m", 60'000},
                                                                      {"minute", 60'000},
                                                                      {"minutes", 60'000},
                                                                      {"h", 3'600'000},
                                                                      {"hour", 3'600'000},
                                                                      {"hours", 3'600'000},
                                                                      {"d", 86'400'000},
                                                                      {"day", 86'400'000},
                                                                      {"days", 86'400'000}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  auto millis = Multiply(number, it->second);
  if (!millis || *millis > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return std::chrono::milliseconds(int64_t(*millis));
}

std::optional<uint64_t> ParseSize(std::string_view text) {
  auto parsed = SplitNumberAndUnit(text);
  if (!parsed) return std::nullopt;
  const auto& [number, unit] = *parsed;
  constexpr uint64_t kKib = 1024;
  static const std::map<std::string, uint64_t, std::less<>> kUnits = {
      {"", 1},
      {"b", 1},
      {"bytes", 1},
      {"k", kKib},
      {"kb", kKib},
      {"kib", kKib},
      {"m", kKib * kKib},
      {"mb", kKib * kKib},
      {"mib", kKib * kKib},
      {"g", kKib * kKib * kKib},
      {"gb", kKib * kKib * kKib},
      {"gib", kKib * kKib * kKib},
      {"t", kKib * kKib * kKib * kKib},
      {"tb", kKib * kKib * kKib * kKib},
      {"tib", kKib * kKib * kKib * kKib}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return Multiply(number, it->second);
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string lower = Lower(Trim(text));
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

std::optional<HostPort> ParseHostPort(std::string_view text) {
  text = Trim(text);
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const bool host_ok = !host.empty() && std::none_of(host.begin(), host.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '[' || c == ']';
  });
  auto number = ParseInt(port);
  if (!host_ok || port.empty() || !std::isdigit(static_cast<unsigned char>(port.front())) ||
      !number || *number < 1 || *number > 65535) {
    return std::nullopt;
  }
  return HostPort{std::string(host), uint16_t(*number)};
}

std::string HostPort::ToString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "min"}, {1000, "s"}};
  for (const auto& [unit, name] : kUnits) {
    if (ms != 0 && ms % unit == 0) return std::to_string(ms / unit) + name;
  }
  return std::to_string(ms) + "ms";
}

std::string EnvironmentVariableName(std::string_view key) {
  std::string name = "BROOK_";
  for (char c : key) {
    name.push_back(c == '.' || c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

std::string ConfigOrigin::Describe() const {
  switch (layer) {
    case Layer::kDefault:
      return "default";
    case Layer::kFile:
      return "file " + where;
    case Layer::kEnvironment:
      return "environment variable " + where;
    case Layer::kFlag:
      return "flag " + where;
  }
  return where;
}

// --- schema ----------------------------------------------------------------------------

ConfigSchema::ConfigSchema(std::vector<ConfigOption> options) : options_(std::move(options)) {
  std::sort(options_.begin(), options_.end(),
            [](const ConfigOption& a, const ConfigOption& b) { return a.key < b.key; });
  for (size_t i = 1; i < options_.size(); ++i) {
    BROOK_CHECK(options_[i - 1].key != options_[i].key, "configuration key declared twice");
  }
}

const ConfigOption* ConfigSchema::Find(std::string_view key) const {
  auto it = std::lower_bound(options_.begin(), options_.end(), key,
                             [](const ConfigOption& o, std::string_view k) { return o.key < k; });
  return it != options_.end() && it->key == key ? &*it : nullptr;
}

std::string ConfigSchema::ClosestKey(std::string_view key) const {
  std::string_view best;
  size_t best_distance = std::max<size_t>(3, key.size() / 4) + 1;  // farther: no suggestion
  for (const ConfigOption& option : options_) {
    const size_t distance = EditDistance(key, option.key);
    if (distance < best_distance) {
      best = option.key;
      best_distance = distance;
    }
  }
  return std::string(best);
}

std::string ConfigSchema::HelpText(ConfigScope scope) const {
  std::string text;
  for (const ConfigOption& option : options_) {
    if (scope != ConfigScope::kBoth && option.scope != ConfigScope::kBoth &&
        option.scope != scope) {
      continue;
    }
    text += "  " + std::string(option.key) + " (" + TypeName(option);
    if (!option.default_value.empty()) text += ", default " + std::string(option.default_value);
    text += ", env " + EnvironmentVariableName(option.key) + ")\n      " +
            std::string(option.description) + "\n";
  }
  return text;
}

// --- config ----------------------------------------------------------------------------

Config::Config(const ConfigSchema& schema) : schema_(&schema) {
  for (const ConfigOption& option : schema.options()) {
    if (option.default_value.empty() && option.type != ConfigType::kString) continue;
    defaults_.emplace(std::string(option.key),
                      Value{std::string(option.default_value), ConfigOrigin{}});
  }
}

ServerError Config::UnknownKey(std::string_view key, const ConfigOrigin& origin) const {
  std::string message =
      "unknown configuration key '" + std::string(key) + "' in " + origin.Describe();
  const std::string closest = schema_->ClosestKey(key);
  if (!closest.empty()) message += "; did you mean '" + closest + "'?";
  return MakeError(ServerErrc::kInvalidConfig, std::move(message));
}

Result<void> Config::CheckValue(const ConfigOption& option, std::string_view text,
                                const ConfigOrigin& origin) const {
  auto invalid = [&](const std::string& expected) -> Result<void> {
    return MakeError(ServerErrc::kInvalidConfig, "invalid value '" + std::string(text) + "' for " +
                                                     std::string(option.key) + " (from " +
                                                     origin.Describe() + "): expected " + expected);
  };
  switch (option.type) {
    case ConfigType::kString:
      if (!option.choices.empty() &&
          std::find(option.choices.begin(), option.choices.end(), text) == option.choices.end()) {
        return invalid("one of " + TypeName(option));
      }
      return Ok();
    case ConfigType::kInt: {
      auto value = ParseInt(text);
      if (!value) return invalid("an integer");
      if (double(*value) < option.min || double(*value) > option.max) {
        return invalid("an integer from " + FormatNumber(option.min) + " to " +
                       FormatNumber(option.max));
      }
      return Ok();
    }
    case ConfigType::kDouble: {
      auto value = ParseDouble(text);
      if (!value) return invalid("a number");
      if (*value < option.min || *value > option.max) {
        return invalid("a number from " + FormatNumber(option.min) + " to " +
                       FormatNumber(option.max));
      }
      return Ok();
    }
    case ConfigType::kBool:
      return ParseBool(text) ? Ok() : invalid("true or false");
    case ConfigType::kDuration:
      return ParseDuration(text) ? Ok() : invalid("a duration such as 500ms, 10s, 2min or 1h");
    case ConfigType::kSize:
      return ParseSize(text) ? Ok() : invalid("a size such as 512b, 32kb, 1mb or 2gb");
    case ConfigType::kHostPort:
      return ParseHostPort(text) ? Ok() : invalid("host:port with a port from 1 to 65535");
  }
  return Ok();
}

Result<void> Config::MergeYamlFile(const std::string& path) {
  std::error_code error;
  std::ifstream file;
  if (std::filesystem::is_regular_file(path, error)) file.open(path, std::ios::binary);
  std::ostringstream text;
  if (file) text << file.rdbuf();
  if (!file.is_open() || file.bad()) {
    return MakeError(ServerErrc::kInvalidConfig, "cannot read configuration file " + path);
  }
  return MergeYamlText(text.str(), path);
}

Result<void> Config::MergeYamlText(std::string_view yaml, const std::string& origin_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& error) {
    return MakeError(ServerErrc::kInvalidConfig,
                     "configuration file " + origin_name + " is not valid YAML: " + error.what());
  }
  if (root.IsNull()) return Ok();  // an empty file
  if (!root.IsMap()) {
    return MakeError(ServerErrc::kInvalidConfig,
                     "configuration file " + origin_name + " must be a map of keys to values");
  }
  std::map<std::string, FlatEntry> entries;
  if (auto flattened = Flatten(root, "", "file " + origin_name, entries); !flattened) {
    return flattened;
  }
  Layer merged = file_;
  for (auto& [key, entry] : entries) {
    ConfigOrigin origin{ConfigOrigin::Layer::kFile,
                        origin_name + " line " + std::to_string(entry.line)};
    const ConfigOption* option = schema_->Find(key);
    if (!option) return UnknownKey(key, origin);
    if (auto checked = CheckValue(*option, entry.value, origin); !checked) return checked;
    merged[key] = Value{std::move(entry.value), std::move(origin)};
  }
  file_ = std::move(merged);
  return Ok();
}

Result<void> Config::MergeEnvironment(const EnvironmentLookup& lookup) {
  auto get = [&](const std::string& name) -> std::optional<std::string> {
    if (lookup) return lookup(name);
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  Layer merged = environment_;
  for (const ConfigOption& option : schema_->options()) {
    std::string name = EnvironmentVariableName(option.key);
    std::optional<std::string> value = get(name);
    if (!value) continue;
    ConfigOrigin origin{ConfigOrigin::Layer::kEnvironment, std::move(name)};
    if (auto checked = CheckValue(option, *value, origin); !checked) return checked;
    merged[std::string(option.key)] = Value{std::move(*value), std::move(origin)};
  }
  environment_ = std::move(merged);
  return Ok();
}

Result<void> Config::MergeFlag(std::string_view key, std::string_view value,
                               std::string_view flag) {
  ConfigOrigin origin{ConfigOrigin::Layer::kFlag, std::string(flag)};
  const ConfigOption* option = schema_->Find(key);
  if (!option) return UnknownKey(key, origin);
  if (auto checked = CheckValue(*option, value, origin); !checked) return checked;
  flags_[std::string(key)] = Value{std::string(value), std::move(origin)};
  return Ok();
}

Result<void> Config::MergeSetFlag(std::string_view key_equals_value) {
  const std::string flag = "--set " + std::string(key_equals_value);
  const size_t equals = key_equals_value.find('=');
  if (equals == std::string_view::npos || Trim(key_equals_value.substr(0, equals)).empty()) {
    return MakeError(ServerErrc::kInvalidConfig,
                     "flag " + flag + " must have the form --set key=value");
  }
  return MergeFlag(Trim(key_equals_value.substr(0, equals)), key_equals_value.substr(equals + 1),
                   flag);
}

const Config::Value* Config::Find(std::string_view key) const {
  BROOK_CHECK(schema_->Find(key) != nullptr, "configuration key not in the schema");
  for (const Layer* layer : {&flags_, &environment_, &file_, &defaults_}) {
    auto it = layer->find(key);
    if (it != layer->end()) return &it->second;
  }
  return nullptr;
}

Result<const Config::Value*> Config::Require(std::string_view key, ConfigType type) const {
  const ConfigOption* option = schema_->Find(key);
  BROOK_CHECK(option != nullptr, "configuration key not in the schema");
  BROOK_CHECK(option->type == type, "configuration key read as another type than declared");
  const Value* value = Find(key);
  if (!value) {
    return MakeError(ServerErrc::kInvalidConfig, "configuration key " + std::string(key) +
                                                     " has no value: set it in the file, as " +
                                                     EnvironmentVariableName(key) +
                                                     " or with --set " + std::string(key) + "=...");
  }
  return value;
}

Result<std::string> Config::GetString(std::string_view key) const {
  auto value = Require(key, ConfigType::kString);
  if (!value) return value.error();
  return value.value()->text;
}

Result<int64_t> Config::GetInt(std::string_view key) const {
  auto value = Require(key, ConfigType::kInt);
  if (!value) return value.error();
  return *ParseInt(value.value()->text);
}

Result<double> Config::GetDouble(std::string_view key) const {
  auto value = Require(key, ConfigType::kDouble);
  if (!value) return value.error();
  return *ParseDouble(value.value()->text);
}

Result<bool> Config::GetBool(std::string_view key) const {
  auto value = Require(key, ConfigType::kBool);
  if (!value) return value.error();
  return *ParseBool(value.value()->text);
}

Result<std::chrono::milliseconds> Config::GetDuration(std::string_view key) const {
  auto value = Require(key, ConfigType::kDuration);
  if (!value) return value.error();
  return *ParseDuration(value.value()->text);
}

Result<uint64_t> Config::GetSize(std::string_view key) const {
  auto value = Require(key, ConfigType::kSize);
  if (!value) return value.error();
  return *ParseSize(value.value()->text);
}

Result<HostPort> Config::GetHostPort(std::string_view key) const {
  auto value = Require(key, ConfigType::kHostPort);
  if (!value) return value.error();
  return *ParseHostPort(value.value()->text);
}

ServerError Config::ValueError(std::string_view key, std::string_view problem) const {
  const Value* value = Find(key);
  std::string message = "invalid value ";
  message += value ? "'" + value->text + "'" : std::string("(none)");
  message += " for " + std::string(key);
  if (value) message += " (from " + value->origin.Describe() + ")";
  message += ": " + std::string(problem);
  return MakeError(ServerErrc::kInvalidConfig, std::move(message));
}

}  // namespace brook::server
