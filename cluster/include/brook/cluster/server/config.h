// Configuration of brook-jobmanager and brook-taskmanager, Flink style: dotted keys
// (`rest.port`, `restart-strategy.fixed-delay.attempts`) declared once in a ConfigSchema, with
// values from four layers. A value given in a higher layer wins, whatever the merge order:
//
//     command-line flags  >  environment (BROOK_REST_PORT)  >  YAML file  >  schema defaults
//
// In the YAML file a nested map and a dotted key are the same key: `rest: {port: 8081}` is
// `rest.port: 8081`. A key's environment variable is `BROOK_` + the key upper-cased with '.'
// and '-' turned into '_'. Flags come in as (key, value) pairs: the binaries' generic
// `--set key=value` and their named flags (`--slots 4` is taskmanager.slots).
//
// Typo safety: an unknown key in the file or a flag is an error naming the key, where it came
// from, and the closest known key. Every value is checked against its key's type (and range or
// choices) when it is merged, so a bad value is reported with its origin, e.g.
//   invalid value 'abc' for rest.port (from environment variable BROOK_REST_PORT): expected an
//   integer
// A merge that fails changes nothing. Unknown BROOK_* environment variables are ignored: the
// environment is shared with everything else the process runs.
//
// Threading: a Config is a value; const methods may run on any thread once merging is done.
// The schema (BrookConfigSchema()) is immutable and global.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brook/cluster/server/result.h"

namespace brook::server {

enum class ConfigType { kString, kInt, kDouble, kBool, kDuration, kSize, kHostPort };

// Which process reads a key; --help of each binary lists the keys it reads. Any key may appear
// in any process's file, so JM and TM can share one file.
enum class ConfigScope { kJobManager, kTaskManager, kBoth };

struct ConfigOption {
  std::string_view key;
  ConfigType type;
  std::string_view default_value;  // as it would be written in the file; empty: no default
  std::string_view description;
  ConfigScope scope = ConfigScope::kBoth;
  double min = 0;  // inclusive range of kInt and kDouble values
  double max = 0;
  std::vector<std::string_view> choices = {};  // for kString: the only values allowed, if any
};

class ConfigSchema {
 public:
  explicit ConfigSchema(std::vector<ConfigOption> options);

  const ConfigOption* Find(std::string_view key) const;
  std::span<const ConfigOption> options() const { return options_; }
  // The known key most like `key` (edit distance), or empty if none is close.
  std::string ClosestKey(std::string_view key) const;
  // One paragraph per key read by `scope` (kBoth: every key): key, type, default, description.
  std::string HelpText(ConfigScope scope) const;

 private:
  std::vector<ConfigOption> options_;  // sorted by key
};

// Every key of the job manager and the task manager.
const ConfigSchema& BrookConfigSchema();

// BROOK_REST_PORT for rest.port.
std::string EnvironmentVariableName(std::string_view key);

// Where a value came from, for error messages.
struct ConfigOrigin {
  enum class Layer { kDefault, kFile, kEnvironment, kFlag };  // in order of precedence
  Layer layer = Layer::kDefault;
  std::string where;             // file path, variable name, or flag as typed
  std::string Describe() const;  // "file /etc/brook.yaml", "environment variable BROOK_X", ...
};

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // host:port, with [] around an IPv6 host
};

// Parsers of the value syntaxes, nullopt for malformed text.
// Durations: a number and a unit: ms, s, min, h, d (also Flink's long forms: milli(s),
// millisecond(s), sec(s), second(s), minute(s), hour(s), day(s)), space between allowed;
// a bare number is milliseconds. Sizes: a number and b, kb, mb, gb, tb (or k, m, g, t;
// 1024-based, case-insensitive); a bare number is bytes. Bools: true/false, yes/no, on/off, 1/0.
// Host and port: host:port or [ipv6]:port, port 1..65535.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);
std::optional<uint64_t> ParseSize(std::string_view text);
std::optional<bool> ParseBool(std::string_view text);
std::optional<HostPort> ParseHostPort(std::string_view text);
// "1min 30s"-like inverse of ParseDuration for messages and --help: the largest exact unit.
std::string FormatDuration(std::chrono::milliseconds duration);

class Config {
 public:
  // Looks up an environment variable; nullopt when unset.
  using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

  explicit Config(const ConfigSchema& schema = BrookConfigSchema());

  // The YAML file's keys. kInvalidConfig for unreadable or malformed YAML, an unknown key, a
  // key given twice (nested and dotted), a list or empty value, or a value of the wrong type.
  Result<void> MergeYamlFile(const std::string& path);
  // As MergeYamlFile, for YAML text; `origin_name` stands for the file in messages.
  Result<void> MergeYamlText(std::string_view yaml, const std::string& origin_name);
  // Every schema key whose BROOK_* variable is set. By default reads the process environment.
  Result<void> MergeEnvironment(const EnvironmentLookup& lookup = nullptr);
  // One flag's value. `flag` is the flag as the user typed it, for messages ("--slots").
  Result<void> MergeFlag(std::string_view key, std::string_view value, std::string_view flag);
  // A `--set key=value` flag's argument.
  Result<void> MergeSetFlag(std::string_view key_equals_value);

  // The value's text and origin (the default if nothing overrides it); nullptr for a key
  // without default that nobody set. REQUIRES: key is in the schema.
  struct Value {
    std::string text;
    ConfigOrigin origin;
  };
  const Value* Find(std::string_view key) const;
  bool IsSet(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters. REQUIRES: key is in the schema with this type (a bug otherwise: aborts).
  // Values were checked when merged, so these fail only for a key without value
  // (kInvalidConfig, naming the key and its environment variable).
  Result<std::string> GetString(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key) const;
  Result<double> GetDouble(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  Result<std::chrono::milliseconds> GetDuration(std::string_view key) const;
  Result<uint64_t> GetSize(std::string_view key) const;
  Result<HostPort> GetHostPort(std::string_view key) const;

  // An error about the value of `key`, naming value and origin: for checks across keys
  // ("heartbeat.timeout must be longer than heartbeat.interval").
  ServerError ValueError(std::string_view key, std::string_view problem) const;

  const ConfigSchema& schema() const { return *schema_; }

 private:
  using Layer = std::map<std::string, Value, std::less<>>;

  Result<void> CheckValue(const ConfigOption& option, std::string_view text,
                          const ConfigOrigin& origin) const;
  Result<const Value*> Require(std::string_view key, ConfigType type) const;
  ServerError UnknownKey(std::string_view key, const ConfigOrigin& origin) const;

  const ConfigSchema* schema_;
  Layer defaults_, file_, environment_, flags_;
};

}  // namespace brook::server
