#include "brook/cluster/server/task_manager.h"

#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include "brook/checkpoint/checkpoint_storage.h"
#include "brook/cluster/channel_directory.h"
#include "brook/cluster/rest/http_server.h"
#include "brook/cluster/rpc/rpc_client.h"
#include "brook/cluster/rpc/rpc_connection.h"
#include "brook/cluster/server/blob_store.h"
#include "brook/cluster/server/in_process_jobs.h"
#include "brook/cluster/server/process_stats.h"
#include "brook/cluster/server/serial_executor.h"
#include "brook/cluster/server/task_group.h"
#include "brook/cluster/task_deployment.h"
#include "brook/jobs/job_library.h"
#include "brook/runtime/heap_retention.h"
#include "brook/runtime/snapshot_executor.h"
#include "brook/runtime/task_snapshot.h"
#include "cluster/src/server/control.capnp.h"
#include "cluster/src/server/prometheus_text.h"

namespace brook {

namespace {

using Clock = std::chrono::steady_clock;

std::string DefaultTaskManagerId(const std::string& host) {
  static std::atomic<int> next{0};
  return "tm-" + host + "-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

std::filesystem::path DefaultWorkingDir(const std::string& id) {
  return std::filesystem::temp_directory_path() / ("brook-" + id);
}

control::SubtaskState ToWire(SubtaskEnd end) {
  switch (end) {
    case SubtaskEnd::kFinished: return control::SubtaskState::FINISHED;
    case SubtaskEnd::kFailed: return control::SubtaskState::FAILED;
    case SubtaskEnd::kCanceled: return control::SubtaskState::CANCELED;
  }
  return control::SubtaskState::FAILED;
}

// What the job manager asked this task manager to run for one job attempt.
struct DeploymentPlan {
  std::string job_id;
  int attempt = 0;
  uint64_t network_job_id = 0;
  std::string job_name;
  std::string blob_key;
  JobArgs args;
  int parallelism = 1;
  std::map<std::pair<int, int>, std::string> placements;  // (vertex, subtask) -> TM id
  std::map<std::string, PeerAddress> task_managers;
  std::chrono::milliseconds buffer_timeout{100};
  size_t batch_size = kDefaultBatchSize;
  std::string checkpoint_directory;  // empty: no checkpoints
  std::string restore_directory;     // empty: start from scratch
  std::chrono::milliseconds latency_tracking_interval{0};  // the cluster's default; 0: off
};

// Answers the coordinator for one subtask's checkpoints (called on the snapshot executor or the
// task thread; forwards to the task manager's executor).
class SubtaskResponder final : public CheckpointResponder {
 public:
  using Forward = std::function<void(bool ack, const CheckpointAck& details, const std::string& reason)>;
  explicit SubtaskResponder(Forward forward) : forward_(std::move(forward)) {}
  void Acknowledge(const CheckpointAck& ack) override { forward_(true, ack, ""); }
  void Decline(const std::string& task_name, CheckpointId id, const std::string& reason) override {
    CheckpointAck details;
    details.task_name = task_name;
    details.checkpoint_id = id;
    forward_(false, details, reason);
  }

 private:
  Forward forward_;
};

DeploymentPlan ParsePlan(control::DeployJob::Reader d) {
  DeploymentPlan plan;
  plan.job_id = d.getJobId();
  plan.attempt = d.getAttempt();
  plan.network_job_id = d.getNetworkJobId();
  plan.job_name = d.getJobName();
  plan.blob_key = d.getBlobKey();
  std::vector<std::string> args;
  for (auto arg : d.getArgs()) args.emplace_back(arg);
  plan.args = JobArgs(std::move(args));
  plan.parallelism = d.getParallelism();
  for (auto p : d.getPlacements())
    plan.placements[{p.getVertex(), p.getSubtask()}] = p.getTaskManagerId();
  for (auto tm : d.getTaskManagers())
    plan.task_managers[tm.getTaskManagerId()] = PeerAddress{tm.getHost(), tm.getDataPort()};
  if (d.getBufferTimeoutMs() > 0) plan.buffer_timeout = std::chrono::milliseconds(d.getBufferTimeoutMs());
  if (d.getBatchSize() > 0) plan.batch_size = d.getBatchSize();
  plan.checkpoint_directory = d.getCheckpointDirectory();
  plan.restore_directory = d.getRestoreDirectory();
  plan.latency_tracking_interval = std::chrono::milliseconds(std::max<int64_t>(0, d.getLatencyTrackingIntervalMs()));
  return plan;
}

// One running job attempt. Members are destroyed bottom-up: the tasks (joined) before the
// channels they use, the graph, and last the library whose code all of them run.
struct Deployment {
  DeploymentPlan plan;
  std::shared_ptr<JobLibrary> library;
  std::unique_ptr<JobGraph> graph;
  std::unique_ptr<NetworkChannelDirectory> channels;
  std::vector<std::pair<int, int>> subtasks;  // (vertex, subtask) of each task in `tasks`
  // Kept by the task manager after the deployment ends (see retired_responders_): a snapshot's
  // asynchronous part may still answer through them.
  std::vector<std::shared_ptr<SubtaskResponder>> responders;
  std::unique_ptr<TaskGroup> tasks;
  size_t ended = 0;
};

// A job library being fetched from the job manager, and the deployments waiting for it.
struct BlobDownload {
  std::string bytes;
  uint64_t total = 0;
  std::vector<DeploymentPlan> waiting;
};

}  // namespace

class TaskManager::Impl final : public rpc::RpcHandler {
 public:
  explicit Impl(TaskManagerOptions options)
      : options_(std::move(options)),
        id_(options_.id.empty() ? DefaultTaskManagerId(options_.host) : options_.id),
        network_(MakeNetworkOptions(options_)),
        executor_("tm-main") {}

  ~Impl() override { Stop(); }

  bool Start(std::string* error) {
    RetainFreedHeapMemory();  // checkpoints would otherwise fault their staging memory in anew
    std::error_code ec;
    const auto dir = options_.working_dir.empty() ? DefaultWorkingDir(id_) : options_.working_dir;
    std::filesystem::create_directories(dir / "blobs", ec);
    if (ec) {
      if (error) *error = "cannot create working directory " + dir.string() + ": " + ec.message();
      return false;
    }
    auto blobs = server::BlobStore::Open(dir / "blobs", uint64_t{1} << 30);
    if (!blobs) {
      if (error) *error = blobs.error().message;
      return false;
    }
    blobs_ = std::move(blobs).value();
    if (!network_.Start(error)) return false;
    snapshots_.Start();
    if (options_.metrics_port >= 0) {
      http::HttpServerOptions http_options;
      http_options.bind_host = options_.bind_host;
      http_options.port = uint16_t(options_.metrics_port);
      metrics_server_ = std::make_unique<http::HttpServer>(http_options);
      metrics_server_->Route("GET", "/metrics", [this](const http::Request&) {
        // Queue usage is sampled where the deployments (and their channels) live. A stopping
        // executor drops the call (broken promise): the last samples are reported then.
        try {
          executor_.Call([this] { SampleQueueUsage(); });
        } catch (const std::future_error&) {
        }
        return http::Response::Text(RegistryPrometheusText(metrics_, ReadProcessStats()),
                                    "text/plain; version=0.0.4; charset=utf-8");
      });
      if (!metrics_server_->Start(error)) {
        network_.Stop();
        return false;
      }
    }
    rpc::RpcOptions rpc_options;
    rpc_options.cluster_token = options_.cluster_token;
    rpc_options.name = id_;
    rpc_options.role = rpc::PeerRole::kTaskManager;
    client_ = std::make_unique<rpc::RpcClient>(rpc_options, *this);
    started_ = true;
    executor_.Post([this] { TryConnect(); });
    return true;
  }

  void Stop() {
    if (!started_.exchange(false)) return;
    executor_.Call([this] {
      stopping_ = true;
      for (auto& [key, deployment] : deployments_) deployment->tasks->Cancel();
    });
    // Join the subtasks off the executor: their listeners post to it while they end.
    std::map<std::pair<std::string, int>, std::unique_ptr<Deployment>> deployments =
        executor_.Call([this] { return std::move(deployments_); });
    // Snapshots in flight finish first: they answer through the deployments' responders.
    snapshots_.Stop();
    // Their metrics first: some were made by the job's library, which the deployments unload.
    for (const auto& [key, deployment] : deployments) RemoveMetrics(deployment->plan);
    deployments.clear();
    if (client_) client_->Stop();
    if (metrics_server_) metrics_server_->Stop();
    executor_.Stop();
    network_.Stop();
  }

  const std::string& id() const { return id_; }
  uint16_t data_port() const { return network_.port(); }
  uint16_t metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  bool registered() const { return registered_.load(); }
  size_t running_subtasks() const { return running_subtasks_.load(); }

  // rpc::RpcHandler (on the connection's io thread): hand everything to the executor.
  void OnConnected(const std::shared_ptr<rpc::RpcConnection>&) override {}

  void OnMessage(const std::shared_ptr<rpc::RpcConnection>& connection,
                 capnp::MessageReader& reader) override {
    auto copy = std::make_shared<capnp::MallocMessageBuilder>();
    copy->setRoot(reader.getRoot<control::ControlMessage>());
    executor_.Post([this, connection, copy] {
      if (connection != connection_) return;  // from a connection we already gave up
      Handle(copy->getRoot<control::ControlMessage>().asReader());
    });
  }

  void OnClosed(const std::shared_ptr<rpc::RpcConnection>& connection,
                const std::string& reason) override {
    executor_.Post([this, connection, reason] {
      if (connection == connection_) LoseJobManager("connection closed: " + reason);
    });
  }

 private:
  static NetworkOptions MakeNetworkOptions(const TaskManagerOptions& o) {
    NetworkOptions n;
    n.bind_host = o.bind_host;
    n.port = o.data_port;
    n.advertised_host = o.host;
    n.cluster_token = o.cluster_token;
    n.buffer_bytes = o.network_buffer_bytes;
    n.buffer_timeout = o.network_buffer_timeout;
    n.initial_credits = o.network_credits_per_channel;
    return n;
  }

  // --- connection to the job manager ---------------------------------------------------------

  void TryConnect() {
    if (stopping_ || connection_) return;
    std::string error;
    auto connection = client_->Connect(options_.jobmanager_host, options_.jobmanager_port,
                                       options_.connect_timeout, &error);
    if (!connection) {
      if (!connect_failure_logged_)
        spdlog::warn("task manager {}: cannot reach the job manager at {}:{}: {} (retrying)", id_,
                     options_.jobmanager_host, options_.jobmanager_port, error);
      connect_failure_logged_ = true;
      executor_.PostAfter(options_.reconnect_interval, [this] { TryConnect(); });
      return;
    }
    connect_failure_logged_ = false;
    connection_ = std::move(connection);
    last_heard_ = Clock::now();
    const ProcessStats stats = ReadProcessStats();
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<control::ControlMessage>().initRegisterTaskManager();
    r.setTaskManagerId(id_);
    r.setHost(options_.host);
    r.setDataPort(network_.port());
    r.setMetricsPort(metrics_port());
    r.setSlots(options_.slots);
    r.setCpuCores(stats.cpu_cores);
    r.setPhysicalMemory(stats.physical_memory);
    r.setPid(::getpid());
    connection_->Send(message);
  }

  void LoseJobManager(const std::string& reason) {
    spdlog::warn("task manager {}: lost the job manager ({}); cancelling {} deployment(s)", id_,
                 reason, deployments_.size());
    if (connection_) connection_->Close(reason);
    connection_.reset();
    registered_ = false;
    ++epoch_;
    for (auto& [key, deployment] : deployments_) deployment->tasks->Cancel();
    pending_blobs_.clear();
    if (!stopping_) executor_.PostAfter(options_.reconnect_interval, [this] { TryConnect(); });
  }

  void Heartbeat(uint64_t epoch) {
    if (stopping_ || epoch != epoch_ || !connection_) return;
    if (Clock::now() - last_heard_ > heartbeat_timeout_) {
      LoseJobManager("no heartbeat from the job manager for " +
                     std::to_string(heartbeat_timeout_.count()) + " ms");
      return;
    }
    const ProcessStats stats = ReadProcessStats();
    capnp::MallocMessageBuilder message;
    auto h = message.initRoot<control::ControlMessage>().initHeartbeat();
    h.setSequence(++heartbeat_sequence_);
    h.setRssBytes(stats.rss_bytes);
    h.setCpuSeconds(stats.cpu_seconds);
    SampleQueueUsage();
    size_t count = 0;
    for (auto& [key, d] : deployments_) count += d->subtasks.size();
    auto list = h.initSubtasks(unsigned(count));
    unsigned i = 0;
    for (auto& [key, d] : deployments_)
      for (size_t t = 0; t < d->subtasks.size(); ++t, ++i)
        FillMetrics(list[i], d->plan, d->subtasks[t].first, d->subtasks[t].second,
                    d->tasks->task(t).metrics());
    connection_->Send(message);
    // Heartbeats carry the live metrics the REST API and web page show: at least once a second.
    executor_.PostAfter(std::min(heartbeat_interval_, std::chrono::milliseconds(1000)),
                        [this, epoch] { Heartbeat(epoch); });
  }

  // --- messages from the job manager ---------------------------------------------------------

  void Handle(control::ControlMessage::Reader message) {
    last_heard_ = Clock::now();
    switch (message.which()) {
      case control::ControlMessage::REGISTRATION_RESPONSE: {
        auto r = message.getRegistrationResponse();
        if (!r.getAccepted()) {
          spdlog::error("task manager {}: the job manager refused registration: {}", id_,
                        r.getError().cStr());
          LoseJobManager("registration refused");
          return;
        }
        heartbeat_interval_ = std::chrono::milliseconds(std::max<int64_t>(10, r.getHeartbeatIntervalMs()));
        heartbeat_timeout_ = std::chrono::milliseconds(std::max<int64_t>(20, r.getHeartbeatTimeoutMs()));
        registered_ = true;
        spdlog::info("task manager {}: registered with the job manager ({} slots, data port {})",
                     id_, options_.slots, network_.port());
        Heartbeat(epoch_);
        return;
      }
      case control::ControlMessage::HEARTBEAT: return;  // last_heard_ is all it is for
      case control::ControlMessage::DEPLOY_JOB: return OnDeploy(ParsePlan(message.getDeployJob()));
      case control::ControlMessage::CANCEL_JOB: {
        auto c = message.getCancelJob();
        auto it = deployments_.find({c.getJobId(), c.getAttempt()});
        if (it != deployments_.end()) {
          spdlog::info("task manager {}: cancelling job {} attempt {}: {}", id_,
                       c.getJobId().cStr(), c.getAttempt(), c.getReason().cStr());
          it->second->tasks->Cancel();
        }
        return;
      }
      case control::ControlMessage::BLOB_CHUNK: return OnBlobChunk(message.getBlobChunk());
      case control::ControlMessage::TRIGGER_CHECKPOINT: {
        auto t = message.getTriggerCheckpoint();
        auto it = deployments_.find({t.getJobId(), t.getAttempt()});
        if (it == deployments_.end()) return;
        // Source tasks take the checkpoint and emit its barrier; the others ignore the call.
        const CheckpointKind kind = t.getSynchronous() ? CheckpointKind::kSynchronousSavepoint
                                    : t.getSavepoint() ? CheckpointKind::kSavepoint
                                                       : CheckpointKind::kCheckpoint;
        const StopMode stop_mode = t.getDrain() ? StopMode::kDrain : StopMode::kNoDrain;
        for (size_t i = 0; i < it->second->subtasks.size(); ++i)
          it->second->tasks->task(i).TriggerCheckpoint(CheckpointId(t.getCheckpointId()),
                                                       t.getTimestamp(), kind, stop_mode);
        return;
      }
      case control::ControlMessage::NOTIFY_CHECKPOINT: {
        auto n = message.getNotifyCheckpoint();
        auto it = deployments_.find({n.getJobId(), n.getAttempt()});
        if (it == deployments_.end()) return;
        for (size_t i = 0; i < it->second->subtasks.size(); ++i) {
          StreamTask& task = it->second->tasks->task(i);
          if (n.getCompleted()) task.NotifyCheckpointComplete(CheckpointId(n.getCheckpointId()));
          else task.NotifyCheckpointAborted(CheckpointId(n.getCheckpointId()));
        }
        return;
      }
      default:
        spdlog::warn("task manager {}: ignoring an unexpected control message", id_);
    }
  }

  void OnDeploy(DeploymentPlan plan) {
    if (deployments_.count({plan.job_id, plan.attempt})) {
      spdlog::warn("task manager {}: job {} attempt {} is already deployed here", id_,
                   plan.job_id, plan.attempt);
      return;
    }
    if (IsInProcessJobKey(plan.blob_key)) return Deploy(std::move(plan));
    auto parsed = server::BlobKey::Parse(plan.blob_key);
    if (!parsed) return ReportDeploymentFailure(plan, parsed.error().message);
    if (libraries_.count(plan.blob_key) || blobs_->Contains(parsed.value())) return Deploy(std::move(plan));
    auto& download = pending_blobs_[plan.blob_key];
    const bool first = download.waiting.empty();
    const std::string key = plan.blob_key;
    download.waiting.push_back(std::move(plan));
    if (!first) return;
    capnp::MallocMessageBuilder message;
    message.initRoot<control::ControlMessage>().initRequestBlob().setKey(key);
    connection_->Send(message);
  }

  void OnBlobChunk(control::BlobChunk::Reader chunk) {
    const std::string key = chunk.getKey();
    auto it = pending_blobs_.find(key);
    if (it == pending_blobs_.end()) return;
    BlobDownload& download = it->second;
    std::string error = chunk.getError();
    if (error.empty() && chunk.getOffset() != download.bytes.size())
      error = "blob chunk out of order";
    if (error.empty()) {
      auto data = chunk.getData();
      download.total = chunk.getTotalSize();
      download.bytes.append(reinterpret_cast<const char*>(data.begin()), data.size());
      if (download.bytes.size() < download.total) return;
      auto stored = blobs_->PutVerified(std::as_bytes(std::span(download.bytes)),
                                        download.waiting.front().job_name + ".so",
                                        server::BlobKey::Parse(key).value());
      if (!stored) error = stored.error().message;
    }
    std::vector<DeploymentPlan> waiting = std::move(download.waiting);
    pending_blobs_.erase(it);
    for (auto& plan : waiting) {
      if (!error.empty())
        ReportDeploymentFailure(plan, "cannot fetch job library " + key + ": " + error);
      else
        Deploy(std::move(plan));
    }
  }

  std::shared_ptr<JobLibrary> LoadLibrary(const std::string& key) {
    if (auto it = libraries_.find(key); it != libraries_.end())
      if (auto library = it->second.lock()) return library;
    auto path = blobs_->Path(server::BlobKey::Parse(key).value());
    if (!path) throw std::runtime_error(path.error().message);
    auto loaded = JobLibrary::Load(path.value().string());
    if (!loaded) throw std::runtime_error(loaded.error().message);
    auto library = std::make_shared<JobLibrary>(std::move(loaded).value());
    libraries_[key] = library;
    return library;
  }

  void Deploy(DeploymentPlan plan) {
    auto deployment = std::make_unique<Deployment>();
    try {
      if (IsInProcessJobKey(plan.blob_key)) {
        const JobEntry* entry = FindInProcessJob(plan.blob_key);
        if (!entry) throw std::runtime_error("job " + plan.blob_key + " is not linked into this task manager");
        deployment->graph = std::make_unique<JobGraph>(BuildJobGraph(*entry, plan.args, plan.parallelism));
      } else {
        deployment->library = LoadLibrary(plan.blob_key);
        deployment->graph = std::make_unique<JobGraph>(
            BuildJobGraph(*deployment->library, plan.args, plan.parallelism));
      }
      const JobGraph& graph = *deployment->graph;
      for (const auto& [where, tm] : plan.placements)
        if (where.first < 0 || size_t(where.first) >= graph.vertices().size() ||
            !plan.task_managers.count(tm))
          throw std::runtime_error("the deployment does not match the job's graph");
      const auto placements = plan.placements;
      const auto addresses = plan.task_managers;
      const std::string self = id_;
      SubtaskPlacement placement = [&](VertexId vertex, int subtask) {
        auto it = placements.find({vertex.value(), subtask});
        if (it == placements.end())
          throw std::invalid_argument("the deployment does not place every subtask of the job");
        if (it->second == self) return SubtaskPlace::Local();
        return SubtaskPlace::At(addresses.at(it->second));
      };
      ChannelDirectoryOptions channel_options;
      channel_options.network_job = JobId(plan.network_job_id);
      channel_options.channel_capacity = options_.channel_capacity;
      channel_options.batch_size = plan.batch_size;
      deployment->channels = std::make_unique<NetworkChannelDirectory>(graph, placement, &network_,
                                                                      channel_options);
      DeploymentOptions options;
      options.task.buffer_timeout = plan.buffer_timeout;
      options.batch_size = plan.batch_size;
      options.job_id = plan.job_id + "-" + std::to_string(plan.attempt);
      options.attempt = plan.attempt;
      options.metrics = &metrics_;
      options.default_latency_tracking_interval = plan.latency_tracking_interval;
      std::vector<std::unique_ptr<StreamTask>> tasks;
      for (const auto& [where, tm] : plan.placements) {
        if (tm != id_) continue;
        const JobVertex& vertex = graph.vertex(VertexId(where.first));
        tasks.push_back(DeploySubtask(graph, vertex, where.second, *deployment->channels, options));
        deployment->subtasks.push_back(where);
        if (!plan.checkpoint_directory.empty())
          SetUpCheckpointing(*deployment, plan, vertex, where.second, *tasks.back());
      }
      const auto key = std::make_pair(plan.job_id, plan.attempt);
      Deployment* raw = deployment.get();
      deployment->tasks = std::make_unique<TaskGroup>(
          std::move(tasks), [this, key, raw](size_t index, SubtaskEnd end, const std::string& error) {
            executor_.Post([this, key, raw, index, end, error] { OnSubtaskEnded(key, raw, index, end, error); });
          });
    } catch (const std::exception& e) {
      RemoveMetrics(plan);  // of the subtasks deployed before the failure
      ReportDeploymentFailure(plan, std::string("deployment failed: ") + e.what());
      return;
    }
    deployment->plan = std::move(plan);
    Deployment& d = *deployment;
    deployments_[{d.plan.job_id, d.plan.attempt}] = std::move(deployment);
    spdlog::info("task manager {}: running {} subtask(s) of job {} ({}) attempt {}", id_,
                 d.subtasks.size(), d.plan.job_name, d.plan.job_id, d.plan.attempt);
    for (const auto& [vertex, subtask] : d.subtasks)
      ReportState(d.plan, vertex, subtask, control::SubtaskState::RUNNING, "");
    running_subtasks_ += d.subtasks.size();
    d.tasks->Start();
  }

  CheckpointStorage& StorageAt(const std::string& directory) {
    auto& storage = storages_[directory];
    if (!storage) {
      CheckpointStorageOptions options;
      options.directory = directory;
      storage = std::make_unique<CheckpointStorage>(options);
    }
    return *storage;
  }

  // Connects a subtask to the checkpoint storage and the coordinator, and gives it the state
  // of the checkpoint it restarts from.
  void SetUpCheckpointing(Deployment& deployment, const DeploymentPlan& plan, const JobVertex& vertex,
                          int subtask, StreamTask& task) {
    CheckpointStorage& storage = StorageAt(plan.checkpoint_directory);
    SubtaskLocation location{"v" + std::to_string(vertex.id.value()), subtask, vertex.parallelism,
                               vertex.max_parallelism};
    const std::string job_id = plan.job_id;
    const int attempt = plan.attempt, vertex_index = vertex.id.value();
    auto responder = std::make_shared<SubtaskResponder>(
        [this, job_id, attempt, vertex_index, subtask](bool ack, const CheckpointAck& details,
                                                       const std::string& reason) {
          executor_.Post([=, this] {
            if (!connection_) return;
            capnp::MallocMessageBuilder message;
            auto root = message.initRoot<control::ControlMessage>();
            if (ack) {
              auto a = root.initAcknowledgeCheckpoint();
              a.setJobId(job_id);
              a.setAttempt(attempt);
              a.setCheckpointId(details.checkpoint_id.value());
              a.setVertex(vertex_index);
              a.setSubtask(subtask);
              a.setTaskName(details.task_name);
              a.setStateHandle(details.state_handle);
              a.setStateSize(details.state_size);
              a.setSyncNs(details.sync_ns);
              a.setAsyncNs(details.async_ns);
              a.setAlignmentNs(details.alignment_ns);
            } else {
              auto d = root.initDeclineCheckpoint();
              d.setJobId(job_id);
              d.setAttempt(attempt);
              d.setCheckpointId(details.checkpoint_id.value());
              d.setVertex(vertex_index);
              d.setSubtask(subtask);
              d.setReason(reason);
            }
            connection_->Send(message);
          });
        });
    deployment.responders.push_back(responder);
    // The library stays loaded while an async part reads keyed views, whose code is in it.
    task.SetCheckpointing(
        {storage.CreateWriter(job_id, location), responder.get(), &snapshots_, deployment.library});
    // Loaded on the task's thread: this one answers heartbeats. The storage lives as long as
    // the task manager.
    if (!plan.restore_directory.empty())
      task.SetRestoreLoader([&storage, directory = plan.restore_directory, location] {
        return storage.LoadTaskState(directory, location);
      });
  }

  void OnSubtaskEnded(const std::pair<std::string, int>& key, Deployment* raw, size_t index,
                      SubtaskEnd end, const std::string& error) {
    auto it = deployments_.find(key);
    if (it == deployments_.end() || it->second.get() != raw) return;
    Deployment& d = *it->second;
    --running_subtasks_;
    const auto [vertex, subtask] = d.subtasks[index];
    if (end == SubtaskEnd::kFailed)
      spdlog::warn("task manager {}: job {} attempt {}: {}", id_, d.plan.job_id, d.plan.attempt, error);
    ReportState(d.plan, vertex, subtask, ToWire(end), error, &d.tasks->task(index).metrics());
    if (++d.ended < d.subtasks.size()) return;
    RemoveMetrics(d.plan);
    // Every thread has ended: join and free them off this map (quick: they returned).
    std::unique_ptr<Deployment> done = std::move(it->second);
    deployments_.erase(it);
    RetireResponders(std::move(done->responders));
    done.reset();
  }

  // Executor thread: the deployments' channels exist while they are in deployments_.
  void SampleQueueUsage() {
    for (auto& [key, d] : deployments_)
      for (size_t t = 0; t < d->subtasks.size(); ++t) d->tasks->task(t).SampleQueueUsage();
  }

  static void FillMetrics(control::SubtaskMetrics::Builder s, const DeploymentPlan& plan, int vertex,
                          int subtask, const TaskIoMetrics& m) {
    s.setJobId(plan.job_id);
    s.setAttempt(plan.attempt);
    s.setVertex(vertex);
    s.setSubtask(subtask);
    s.setRecordsIn(m.records_in->value());
    s.setRecordsOut(m.records_out->value());
    s.setBusyNs(m.busy_ns->value());
    s.setIdleNs(m.idle_ns->value());
    s.setBackpressureNs(m.backpressure_ns->value());
    s.setWatermark(int64_t(m.current_watermark->value()));
    s.setBytesIn(m.bytes_in->value());
    s.setBytesOut(m.bytes_out->value());
    s.setOutPoolUsage(m.out_pool_usage->value());
    s.setInPoolUsage(m.in_pool_usage->value());
    const auto latency = m.latency->Snapshot();
    auto list = s.initLatency(unsigned(latency.size()));
    for (unsigned i = 0; i < latency.size(); ++i) {
      const Histogram& h = *latency[i].histogram;
      auto out = list[i];
      out.setSourceVertex(latency[i].source_vertex);
      out.setCount(h.count());
      out.setSumUs(h.sum());
      out.setMaxUs(h.max());
      int used = Histogram::kBuckets;
      while (used > 0 && h.BucketCount(used - 1) == 0) --used;
      auto buckets = out.initBuckets(unsigned(used));
      for (int b = 0; b < used; ++b) buckets.set(unsigned(b), h.BucketCount(b));
    }
  }

  // Responders outlive their deployment for a while: a snapshot's asynchronous part may still
  // answer through one after its task ended.
  void RetireResponders(std::vector<std::shared_ptr<SubtaskResponder>> responders) {
    const auto now = Clock::now();
    std::erase_if(retired_responders_, [&](const auto& r) { return now - r.first > std::chrono::minutes(10); });
    for (auto& r : responders) retired_responders_.emplace_back(now, std::move(r));
  }

  void ReportState(const DeploymentPlan& plan, int vertex, int subtask,
                   control::SubtaskState state, const std::string& error,
                   const TaskIoMetrics* metrics = nullptr) {
    if (!connection_) return;
    capnp::MallocMessageBuilder message;
    auto s = message.initRoot<control::ControlMessage>().initTaskStateChanged();
    s.setJobId(plan.job_id);
    s.setAttempt(plan.attempt);
    s.setVertex(vertex);
    s.setSubtask(subtask);
    s.setState(state);
    s.setError(error);
    if (metrics) FillMetrics(s.initMetrics(), plan, vertex, subtask, *metrics);
    connection_->Send(message);
  }

  // A deployment's metrics, removed before the deployment (and maybe its job's library, which
  // made some of them) goes.
  void RemoveMetrics(const DeploymentPlan& plan) {
    metrics_.RemoveMatching({{"job_id", plan.job_id + "-" + std::to_string(plan.attempt)}});
  }

  void ReportDeploymentFailure(const DeploymentPlan& plan, const std::string& error) {
    spdlog::error("task manager {}: job {} attempt {}: {}", id_, plan.job_id, plan.attempt, error);
    ReportState(plan, -1, -1, control::SubtaskState::FAILED, error);
  }

  const TaskManagerOptions options_;
  const std::string id_;
  NetworkEnvironment network_;
  MetricRegistry metrics_;
  std::unique_ptr<server::BlobStore> blobs_;
  std::unique_ptr<rpc::RpcClient> client_;
  std::unique_ptr<http::HttpServer> metrics_server_;
  std::atomic<bool> started_{false};
  std::atomic<bool> registered_{false};
  std::atomic<size_t> running_subtasks_{0};

  // Executor thread only.
  std::shared_ptr<rpc::RpcConnection> connection_;
  bool stopping_ = false;
  bool connect_failure_logged_ = false;
  uint64_t epoch_ = 0;  // bumped when the job manager is lost: stops the old heartbeat loop
  uint64_t heartbeat_sequence_ = 0;
  std::chrono::milliseconds heartbeat_interval_{1000};
  std::chrono::milliseconds heartbeat_timeout_{10000};
  Clock::time_point last_heard_;
  std::map<std::string, BlobDownload> pending_blobs_;
  std::map<std::string, std::weak_ptr<JobLibrary>> libraries_;
  std::map<std::pair<std::string, int>, std::unique_ptr<Deployment>> deployments_;
  std::map<std::string, std::unique_ptr<CheckpointStorage>> storages_;  // by directory
  std::vector<std::pair<Clock::time_point, std::shared_ptr<SubtaskResponder>>> retired_responders_;
  SnapshotExecutor snapshots_{2};  // asynchronous parts of snapshots

  SerialExecutor executor_;  // last: its thread stops first
};

TaskManager::TaskManager(TaskManagerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
TaskManager::~TaskManager() = default;
bool TaskManager::Start(std::string* error) { return impl_->Start(error); }
void TaskManager::Stop() { impl_->Stop(); }
const std::string& TaskManager::id() const { return impl_->id(); }
uint16_t TaskManager::data_port() const { return impl_->data_port(); }
uint16_t TaskManager::metrics_port() const { return impl_->metrics_port(); }
bool TaskManager::registered() const { return impl_->registered(); }
size_t TaskManager::running_subtasks() const { return impl_->running_subtasks(); }

}  // namespace brook
