#include "brook/cluster/server/settings.h"

#include <optional>
#include <utility>

namespace brook::server {
namespace {

// Reads keys one after another and keeps the first error, so FromConfig reads straight.
class SettingsReader {
 public:
  explicit SettingsReader(const Config& config) : config_(config) {}

  void String(std::string_view key, std::string& field) { Take(config_.GetString(key), field); }
  void Duration(std::string_view key, std::chrono::milliseconds& field) {
    Take(config_.GetDuration(key), field);
  }
  void Size(std::string_view key, uint64_t& field) { Take(config_.GetSize(key), field); }
  void HostAndPort(std::string_view key, HostPort& field) { Take(config_.GetHostPort(key), field); }
  // The schema bounds every int read here to the field's range.
  template <typename Int>
  void Integer(std::string_view key, Int& field) {
    int64_t value = 0;
    Take(config_.GetInt(key), value);
    field = Int(value);
  }
  void Heartbeat(HeartbeatSettings& field) {
    Duration("heartbeat.interval", field.interval);
    Duration("heartbeat.timeout", field.timeout);
    if (error_) return;
    if (field.interval.count() == 0) {
      error_ = config_.ValueError("heartbeat.interval", "must be longer than 0");
    } else if (field.timeout <= field.interval) {
      error_ = config_.ValueError("heartbeat.timeout", "must be longer than heartbeat.interval (" +
                                                           FormatDuration(field.interval) + ")");
    }
  }
  void Fail(ServerError error) {
    if (!error_) error_ = std::move(error);
  }
  const std::optional<ServerError>& error() const { return error_; }

 private:
  template <typename T, typename Field>
  void Take(Result<T> result, Field& field) {
    if (error_) return;
    if (!result) {
      error_ = result.error();
    } else {
      field = std::move(result).value();
    }
  }

  const Config& config_;
  std::optional<ServerError> error_;
};

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  return address == "localhost" || address == "::1" || address.starts_with("127.");
}

Result<JobManagerSettings> JobManagerSettings::FromConfig(const Config& config) {
  JobManagerSettings settings;
  SettingsReader read(config);
  read.String("rest.address", settings.rest_address);
  read.Integer("rest.port", settings.rest_port);
  read.String("rpc.address", settings.rpc_address);
  read.Integer("rpc.port", settings.rpc_port);
  read.String("cluster.token", settings.cluster_token);
  read.Heartbeat(settings.heartbeat);
  read.String("blob.storage.directory", settings.blob_directory);
  read.Size("blob.max-size", settings.blob_max_bytes);
  read.String("state.checkpoints.dir", settings.checkpoint_directory);
  read.Integer("state.checkpoints.num-retained", settings.retained_checkpoints);
  read.Duration("scheduler.slot-wait-timeout", settings.slot_wait_timeout);
  read.Duration("metrics.latency.interval", settings.latency_tracking_interval);
  read.String("log.level", settings.log_level);
  if (read.error()) return *read.error();
  const std::pair<const char*, const std::string*> addresses[] = {
      {"rest.address", &settings.rest_address}, {"rpc.address", &settings.rpc_address}};
  for (const auto& [key, address] : addresses) {
    if (settings.cluster_token.empty() && !IsLoopbackAddress(*address)) {
      return config.ValueError(key, "binding to a non-loopback address needs cluster.token");
    }
  }
  auto restart = RestartStrategySettings::FromConfig(config);
  if (!restart) return restart.error();
  settings.restart_strategy = restart.value();
  return settings;
}

Result<TaskManagerSettings> TaskManagerSettings::FromConfig(const Config& config) {
  TaskManagerSettings settings;
  SettingsReader read(config);
  read.HostAndPort("taskmanager.jobmanager", settings.job_manager);
  read.String("taskmanager.id", settings.id);
  read.Integer("taskmanager.slots", settings.slots);
  read.String("taskmanager.host", settings.host);
  read.Integer("taskmanager.data.port", settings.data_port);
  read.Integer("taskmanager.metrics.port", settings.metrics_port);
  read.String("taskmanager.working-dir", settings.working_dir);
  read.String("blob.storage.directory", settings.blob_directory);
  read.Size("blob.max-size", settings.blob_max_bytes);
  read.String("cluster.token", settings.cluster_token);
  read.Heartbeat(settings.heartbeat);
  read.Size("network.buffer-size", settings.network_buffer_bytes);
  read.Duration("network.buffer-timeout", settings.network_buffer_timeout);
  read.Integer("network.credits-per-channel", settings.network_credits_per_channel);
  read.String("log.level", settings.log_level);
  if (read.error()) return *read.error();
  if (settings.host.empty()) return config.ValueError("taskmanager.host", "must not be empty");
  if (settings.network_buffer_bytes < 1024 || settings.network_buffer_bytes > (64u << 20)) {
    return config.ValueError("network.buffer-size", "must be from 1kb to 64mb");
  }
  return settings;
}

}  // namespace brook::server
