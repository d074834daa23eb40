#include "cluster/src/server/job_manager_core.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include "brook/cluster/server/in_process_jobs.h"
#include "brook/runtime/metrics.h"
#include "cluster/src/server/control.capnp.h"

namespace brook {

namespace {

constexpr size_t kBlobChunkBytes = size_t{1} << 20;

std::string RandomHex(int bytes) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (int i = 0; i < bytes; ++i) {
    const auto b = uint8_t(random());
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

uint64_t RandomU64() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  uint64_t v = 0;
  while (v == 0) v = random();
  return v;
}

int SlotsNeeded(const JobGraph& graph) {
  int slots = 1;
  for (const auto& v : graph.vertices()) slots = std::max(slots, v.parallelism);
  return slots;
}

}  // namespace

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kCreated: return "CREATED";
    case JobState::kRunning: return "RUNNING";
    case JobState::kFailing: return "FAILING";
    case JobState::kCancelling: return "CANCELLING";
    case JobState::kRestarting: return "RESTARTING";
    case JobState::kFinished: return "FINISHED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCanceled: return "CANCELED";
  }
  return "UNKNOWN";
}

bool IsTerminal(JobState state) {
  return state == JobState::kFinished || state == JobState::kFailed || state == JobState::kCanceled;
}

const char* SubtaskStatusName(SubtaskStatus status) {
  switch (status) {
    case SubtaskStatus::kScheduled: return "SCHEDULED";
    case SubtaskStatus::kDeploying: return "DEPLOYING";
    case SubtaskStatus::kRunning: return "RUNNING";
    case SubtaskStatus::kFinished: return "FINISHED";
    case SubtaskStatus::kFailed: return "FAILED";
    case SubtaskStatus::kCanceled: return "CANCELED";
  }
  return "UNKNOWN";
}

bool IsTerminal(SubtaskStatus status) {
  return status == SubtaskStatus::kFinished || status == SubtaskStatus::kFailed ||
         status == SubtaskStatus::kCanceled;
}

JobManagerCore::JobManagerCore(const JobManagerOptions& options, SerialExecutor& executor,
                               server::BlobStore& blobs)
    : options_(options), executor_(executor), blobs_(blobs) {
  CheckpointStorageOptions storage;
  storage.directory = options.checkpoint_dir.string();
  storage.retained_checkpoints = std::max(1, options.retained_checkpoints);
  checkpoint_storage_ = std::make_unique<CheckpointStorage>(storage);
  if (!options.state_dir.empty()) job_store_ = std::make_unique<JobStore>(options.state_dir.string());
}

void JobManagerCore::Persist(const JobRecord& job) {
  if (!job_store_ || IsInProcessJobKey(job.blob_key)) return;
  if (IsTerminal(job.state)) return job_store_->Remove(job.id);
  StoredJob stored;
  stored.id = job.id;
  stored.name = job.name;
  stored.blob_key = job.blob_key;
  stored.args = job.args.all();
  stored.parallelism = job.parallelism;
  stored.start_time = job.start_time;
  stored.attempt = job.attempt;
  stored.restarts = job.restarts;
  stored.restore_directory = job.checkpoints.latest_completed_directory;
  stored.last_checkpoint_id = job.checkpoints.last_id;
  job_store_->Put(stored);
}

void JobManagerCore::RecoverJobs() {
  if (!job_store_) return;
  for (StoredJob& stored : job_store_->All()) {
    try {
      auto key = server::BlobKey::Parse(stored.blob_key);
      if (!key) throw std::runtime_error(key.error().message);
      auto path = blobs_.Path(key.value());
      if (!path) throw std::runtime_error(path.error().message);
      auto loaded = JobLibrary::Load(path.value().string());
      if (!loaded) throw std::runtime_error(loaded.error().message);
      auto job = std::make_unique<JobRecord>();
      job->library = std::make_shared<JobLibrary>(std::move(loaded).value());
      job->args = JobArgs(stored.args);
      job->graph = std::make_unique<JobGraph>(BuildJobGraph(*job->library, job->args, stored.parallelism));
      job->id = stored.id;
      job->name = stored.name;
      job->blob_key = stored.blob_key;
      job->blob_size = blobs_.Info(key.value()).value().size;
      job->parallelism = stored.parallelism;
      job->start_time = stored.start_time;
      job->attempt = stored.attempt;  // the next attempt is new to every task manager
      job->restarts = stored.restarts + 1;
      job->restart_strategy = server::RestartStrategy::Make(options_.restart_strategy, RandomU64());
      job->checkpoints.latest_completed_directory = stored.restore_directory;
      job->checkpoints.last_id = stored.last_checkpoint_id;
      job->exceptions.push_back({NowMillis(), "the job manager restarted; the job resumes from " +
                                                  (stored.restore_directory.empty() ? std::string("its beginning")
                                                                                    : stored.restore_directory),
                                 "", ""});
      for (const auto& v : job->graph->vertices())
        for (int s = 0; s < v.parallelism; ++s) job->subtasks[{v.id.value(), s}] = SubtaskRecord{};
      spdlog::info("job manager: recovered job {} ({}) at attempt {}, restoring from {}", job->id,
                   job->name, job->attempt, stored.restore_directory.empty() ? "the start" : stored.restore_directory);
      job_order_.push_back(job->id);
      JobRecord& record = *job;
      jobs_[record.id] = std::move(job);
      TrySchedule(record);
    } catch (const std::exception& e) {
      spdlog::error("job manager: cannot recover job {} ({}): {}; forgetting it", stored.id, stored.name, e.what());
      job_store_->Remove(stored.id);
    }
  }
}

const JobRecord& JobManagerCore::job(const std::string& id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) throw RequestError(404, "no job with id '" + id + "'");
  return *it->second;
}

// --- task managers -------------------------------------------------------------------------

void JobManagerCore::OnTaskManagerMessage(const std::shared_ptr<rpc::RpcConnection>& connection,
                                          capnp::MessageBuilder& message) {
  auto root = message.getRoot<control::ControlMessage>().asReader();
  if (root.which() == control::ControlMessage::REGISTER_TASK_MANAGER)
    return Register(connection, message);
  // Everything else only from a registered task manager, on its current connection.
  auto tm = std::find_if(task_managers_.begin(), task_managers_.end(),
                         [&](const auto& e) { return e.second.connection == connection; });
  if (tm == task_managers_.end()) {
    connection->Close("not registered");
    return;
  }
  tm->second.last_heartbeat = std::chrono::steady_clock::now();
  switch (root.which()) {
    case control::ControlMessage::HEARTBEAT: return OnHeartbeat(tm->second, message);
    case control::ControlMessage::TASK_STATE_CHANGED: return OnTaskState(message);
    case control::ControlMessage::REQUEST_BLOB:
      return ServeBlob(connection, root.getRequestBlob().getKey());
    case control::ControlMessage::ACKNOWLEDGE_CHECKPOINT: return OnCheckpointAck(message);
    case control::ControlMessage::DECLINE_CHECKPOINT: return OnCheckpointDecline(message);
    default:
      spdlog::warn("job manager: unexpected message from task manager {}", tm->first);
  }
}

void JobManagerCore::Register(const std::shared_ptr<rpc::RpcConnection>& connection,
                              capnp::MessageBuilder& message) {
  auto r = message.getRoot<control::ControlMessage>().asReader().getRegisterTaskManager();
  const std::string id = r.getTaskManagerId();
  capnp::MallocMessageBuilder reply;
  auto response = reply.initRoot<control::ControlMessage>().initRegistrationResponse();
  response.setHeartbeatIntervalMs(options_.heartbeat_interval.count());
  response.setHeartbeatTimeoutMs(options_.heartbeat_timeout.count());
  std::string error;
  if (id.empty()) error = "a task manager needs an id";
  else if (r.getSlots() <= 0 || r.getSlots() > 4096) error = "slots must be in 1..4096";
  else if (r.getDataPort() == 0) error = "a task manager needs a data port";
  if (error.empty() && task_managers_.count(id)) {
    // The same task manager reconnecting: its old connection and subtasks are gone.
    LoseTaskManager(id, "registered again");
  }
  response.setAccepted(error.empty());
  response.setError(error);
  connection->Send(reply);
  if (!error.empty()) {
    spdlog::warn("job manager: refused task manager '{}': {}", id, error);
    connection->Close(error);
    return;
  }
  if (auto added = slot_pool_.AddTaskManager(id, r.getSlots()); !added) {
    spdlog::error("job manager: cannot add the slots of task manager '{}': {}", id, added.error().message);
    connection->Close(added.error().message);
    return;
  }
  TaskManagerRecord tm;
  tm.id = id;
  tm.host = r.getHost();
  tm.data_port = r.getDataPort();
  tm.metrics_port = r.getMetricsPort();
  tm.slots = r.getSlots();
  tm.cpu_cores = r.getCpuCores();
  tm.physical_memory = r.getPhysicalMemory();
  tm.pid = r.getPid();
  tm.registered_at = NowMillis();
  tm.last_heartbeat = std::chrono::steady_clock::now();
  tm.connection = connection;
  spdlog::info("job manager: task manager {} registered from {} with {} slots (data port {})", id,
               connection->peer().remote_address, tm.slots, tm.data_port);
  task_managers_[id] = std::move(tm);
  ScheduleWaitingJobs();
}

void JobManagerCore::OnHeartbeat(TaskManagerRecord& tm, capnp::MessageBuilder& message) {
  auto h = message.getRoot<control::ControlMessage>().asReader().getHeartbeat();
  tm.rss_bytes = h.getRssBytes();
  tm.cpu_seconds = h.getCpuSeconds();
  for (auto s : h.getSubtasks()) ApplyMetrics(s);
}

template <typename MetricsReader>
void JobManagerCore::ApplyMetrics(MetricsReader s) {
  const auto now = std::chrono::steady_clock::now();
  {
    auto job = jobs_.find(s.getJobId());
    if (job == jobs_.end() || job->second->attempt != s.getAttempt()) return;
    auto sub = job->second->subtasks.find({s.getVertex(), s.getSubtask()});
    if (sub == job->second->subtasks.end()) return;
    SubtaskMetricsView& m = sub->second.metrics;
    const double dt = m.updated == SteadyTime{} ? 0
                      : std::chrono::duration<double>(now - m.updated).count();
    if (dt > 0) {
      m.records_in_rate = double(s.getRecordsIn() - m.records_in) / dt;
      m.records_out_rate = double(s.getRecordsOut() - m.records_out) / dt;
      m.busy_ratio = std::clamp(double(s.getBusyNs() - m.busy_ns) / (dt * 1e9), 0.0, 1.0);
      m.backpressure_ratio =
          std::clamp(double(s.getBackpressureNs() - m.backpressure_ns) / (dt * 1e9), 0.0, 1.0);
    }
    m.records_in = s.getRecordsIn();
    m.records_out = s.getRecordsOut();
    m.bytes_in = s.getBytesIn();
    m.bytes_out = s.getBytesOut();
    m.busy_ns = s.getBusyNs();
    m.idle_ns = s.getIdleNs();
    m.backpressure_ns = s.getBackpressureNs();
    m.watermark = s.getWatermark();
    m.out_pool_usage = std::clamp(s.getOutPoolUsage(), 0.0, 1.0);
    m.in_pool_usage = std::clamp(s.getInPoolUsage(), 0.0, 1.0);
    m.latency.clear();
    for (auto l : s.getLatency()) {
      LatencyView& view = m.latency.emplace_back();
      view.source_vertex = l.getSourceVertex();
      view.count = l.getCount();
      view.sum_us = l.getSumUs();
      view.max_us = l.getMaxUs();
      for (int64_t b : l.getBuckets()) view.buckets.push_back(b);
      if (view.buckets.size() > size_t(Histogram::kBuckets)) view.buckets.resize(Histogram::kBuckets);
    }
    m.updated = now;
  }
}

void JobManagerCore::ServeBlob(const std::shared_ptr<rpc::RpcConnection>& connection,
                               const std::string& key) {
  std::string error;
  uint64_t size = 0;
  auto parsed = server::BlobKey::Parse(key);
  if (!parsed) error = parsed.error().message;
  else if (auto info = blobs_.Info(parsed.value()); !info) error = info.error().message;
  else size = info.value().size;
  uint64_t offset = 0;
  do {
    std::vector<std::byte> bytes;
    if (error.empty()) {
      auto range = blobs_.ReadRange(parsed.value(), offset, kBlobChunkBytes);
      if (!range) error = range.error().message;
      else bytes = std::move(range).value();
    }
    capnp::MallocMessageBuilder message;
    auto chunk = message.initRoot<control::ControlMessage>().initBlobChunk();
    chunk.setKey(key);
    chunk.setOffset(offset);
    chunk.setTotalSize(size);
    chunk.setError(error);
    chunk.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
    connection->Send(message);
    offset += bytes.size();
    if (bytes.empty()) break;
  } while (error.empty() && offset < size);
}

void JobManagerCore::StartHeartbeats() {
  executor_.PostAfter(options_.heartbeat_interval, [this] { HeartbeatTick(); });
}

void JobManagerCore::HeartbeatTick() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> dead;
  for (auto& [id, tm] : task_managers_) {
    if (now - tm.last_heartbeat > options_.heartbeat_timeout) {
      dead.push_back(id);
      continue;
    }
    capnp::MallocMessageBuilder message;
    message.initRoot<control::ControlMessage>().initHeartbeat().setSequence(++heartbeat_sequence_);
    tm.connection->Send(message);
  }
  for (const auto& id : dead)
    LoseTaskManager(id, "no heartbeat for " + std::to_string(options_.heartbeat_timeout.count()) + " ms");
  StartHeartbeats();
}

void JobManagerCore::OnTaskManagerClosed(const std::shared_ptr<rpc::RpcConnection>& connection,
                                         const std::string& reason) {
  for (auto& [id, tm] : task_managers_)
    if (tm.connection == connection) return LoseTaskManager(id, "connection lost: " + reason);
}

void JobManagerCore::LoseTaskManager(const std::string& tm_id, const std::string& reason) {
  auto it = task_managers_.find(tm_id);
  if (it == task_managers_.end()) return;
  spdlog::warn("job manager: task manager {} lost: {}", tm_id, reason);
  auto connection = std::move(it->second.connection);
  task_managers_.erase(it);
  slot_pool_.RemoveTaskManager(tm_id);
  if (connection) connection->Close(reason);
  for (const auto& job_id : job_order_) {
    JobRecord& job = *jobs_.at(job_id);
    if (IsTerminal(job.state)) continue;
    bool affected = false;
    for (auto& [where, sub] : job.subtasks)
      if (sub.task_manager == tm_id && !IsTerminal(sub.status)) {
        sub.status = SubtaskStatus::kFailed;
        affected = true;
      }
    std::erase_if(job.slots, [&](const server::SlotId& s) { return s.task_manager_id == tm_id; });
    if (!affected) continue;
    if (job.state == JobState::kRunning)
      FailAttempt(job, "task manager " + tm_id + " was lost: " + reason, "", tm_id);
    else
      MaybeConcludeAttempt(job);
  }
}

// --- jobs ----------------------------------------------------------------------------------

std::string JobManagerCore::UploadJar(const std::string& bytes, const std::string& file_name) {
  if (bytes.empty()) throw RequestError(400, "the uploaded job library is empty");
  if (bytes.size() > options_.max_jar_bytes)
    throw RequestError(413, "the job library is larger than " + std::to_string(options_.max_jar_bytes) + " bytes");
  // Check it before keeping it: write it aside, load it, and store it only if it loads.
  const auto candidate = std::filesystem::temp_directory_path() /
                         ("brook-upload-" + RandomHex(8) + ".so");
  {
    std::ofstream out(candidate, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw RequestError(500, "cannot write the upload to " + candidate.string());
  }
  auto loaded = JobLibrary::Load(candidate.string());
  std::error_code ignored;
  if (!loaded) {
    std::filesystem::remove(candidate, ignored);
    std::string message = loaded.error().message;
    // Name the upload, not the temporary file.
    if (auto pos = message.find(candidate.string()); pos != std::string::npos)
      message.replace(pos, candidate.string().size(), "'" + file_name + "'");
    throw RequestError(400, message);
  }
  const std::string name(loaded->name());
  std::filesystem::remove(candidate, ignored);
  auto stored = blobs_.Put(bytes, file_name.empty() ? name : file_name);
  if (!stored)
    throw RequestError(stored.error().code == server::ServerErrc::kResourceExhausted ? 413 : 500,
                       stored.error().message);
  const std::string key = stored.value().hex();
  spdlog::info("job manager: stored job library '{}' (job '{}', {} bytes) as {}", file_name, name,
               bytes.size(), key);
  return key;
}

std::string JobManagerCore::RunJar(const std::string& jar_id, const JobArgs& args, int parallelism,
                                   const std::string& savepoint) {
  auto key = server::BlobKey::Parse(jar_id);
  if (!key || !blobs_.Contains(key.value()))
    throw RequestError(404, "no job library with id '" + jar_id + "'");
  auto path = blobs_.Path(key.value());
  auto info = blobs_.Info(key.value());
  if (!path || !info) throw RequestError(404, "no job library with id '" + jar_id + "'");
  if (parallelism < 0 || parallelism > 4096)
    throw RequestError(400, "parallelism must be in 1..4096");
  auto job = std::make_unique<JobRecord>();
  auto loaded = JobLibrary::Load(path.value().string());
  if (!loaded) throw RequestError(400, loaded.error().message);
  job->library = std::make_shared<JobLibrary>(std::move(loaded).value());
  try {
    job->graph = std::make_unique<JobGraph>(BuildJobGraph(*job->library, args, parallelism));
  } catch (const std::exception& e) {
    throw RequestError(400, std::string("the job's graph cannot be built: ") + e.what());
  }
  job->blob_key = jar_id;
  job->blob_size = info.value().size;
  return AddJob(std::move(job), args, parallelism, savepoint);
}

std::string JobManagerCore::RunInProcess(const JobEntry& entry, const JobArgs& args, int parallelism) {
  auto job = std::make_unique<JobRecord>();
  try {
    job->graph = std::make_unique<JobGraph>(BuildJobGraph(entry, args, parallelism));
  } catch (const std::exception& e) {
    throw RequestError(400, std::string("the job's graph cannot be built: ") + e.what());
  }
  job->blob_key = RegisterInProcessJob(entry);
  return AddJob(std::move(job), args, parallelism);
}

std::string JobManagerCore::AddJob(std::unique_ptr<JobRecord> job, const JobArgs& args,
                                   int parallelism, const std::string& savepoint) {
  if (!savepoint.empty()) {
    std::optional<CheckpointMetadata> metadata;
    try {
      metadata = checkpoint_storage_->ReadMetadata(savepoint);
    } catch (const std::exception& e) {
      throw RequestError(400, "cannot read the savepoint at " + savepoint + ": " + e.what());
    }
    if (!metadata) throw RequestError(400, "no completed savepoint or checkpoint at " + savepoint);
    job->checkpoints.latest_completed_directory = savepoint;
    job->checkpoints.last_id = metadata->checkpoint_id.value();
  }
  job->id = RandomHex(16);
  job->name = job->graph->name();
  job->args = args;
  job->parallelism = parallelism;
  job->start_time = NowMillis();
  job->restart_strategy = server::RestartStrategy::Make(options_.restart_strategy, RandomU64());
  for (const auto& v : job->graph->vertices())
    for (int s = 0; s < v.parallelism; ++s) job->subtasks[{v.id.value(), s}] = SubtaskRecord{};
  const std::string id = job->id;
  spdlog::info("job manager: job {} ({}) submitted, {} vertices, needs {} slots", id, job->name,
               job->graph->vertices().size(), SlotsNeeded(*job->graph));
  job_order_.push_back(id);
  JobRecord& record = *job;
  jobs_[id] = std::move(job);
  Persist(record);
  TrySchedule(record);
  return id;
}

void JobManagerCore::CancelJob(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) throw RequestError(404, "no job with id '" + job_id + "'");
  JobRecord& job = *it->second;
  if (IsTerminal(job.state)) throw RequestError(409, std::string("job is already ") + JobStateName(job.state));
  job.cancel_requested = true;
  switch (job.state) {
    case JobState::kCreated:
    case JobState::kRestarting:
      ReleaseSlots(job);
      return Conclude(job, JobState::kCanceled);
    case JobState::kRunning:
      job.state = JobState::kCancelling;
      AbortPendingCheckpoints(job, "the job was cancelled");
      CancelAttempt(job, "cancelled by the user");
      return MaybeConcludeAttempt(job);
    default:
      return;  // failing or cancelling already: it concludes as cancelled
  }
}

void JobManagerCore::TrySchedule(JobRecord& job) {
  const int needed = SlotsNeeded(*job.graph);
  if (auto slots = slot_pool_.Allocate(job.id, needed)) {
    job.slots = std::move(slots).value();
    job.waiting_for_slots_since.reset();
    Deploy(job);
    return;
  }
  job.state = JobState::kCreated;
  if (job.waiting_for_slots_since) return;
  job.waiting_for_slots_since = std::chrono::steady_clock::now();
  spdlog::info("job manager: job {} waits for {} slots ({} free)", job.id, needed,
               slot_pool_.free_slots());
  const uint64_t generation = ++job.timer_generation;
  const std::string id = job.id;
  executor_.PostAfter(options_.slot_wait_timeout, [this, id, generation, needed] {
    JobRecord* still_waiting = JobIfUnchanged(id, generation, JobState::kCreated);
    if (!still_waiting) return;
    JobRecord& waiting = *still_waiting;
    waiting.exceptions.push_back(
        {NowMillis(),
         "not enough slots: the job needs " + std::to_string(needed) + ", the cluster has " +
             std::to_string(slot_pool_.free_slots()) + " free of " +
             std::to_string(slot_pool_.total_slots()) + " on " +
             std::to_string(task_managers_.size()) + " task manager(s) after waiting " +
             std::to_string(options_.slot_wait_timeout.count()) + " ms",
         "", ""});
    Conclude(waiting, JobState::kFailed);
  });
}

JobRecord* JobManagerCore::JobIfUnchanged(const std::string& id, uint64_t generation, JobState state) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->timer_generation != generation || it->second->state != state)
    return nullptr;
  return it->second.get();
}

void JobManagerCore::ScheduleWaitingJobs() {
  for (const auto& id : job_order_) {
    JobRecord& job = *jobs_.at(id);
    if (job.state == JobState::kCreated) TrySchedule(job);
  }
}

void JobManagerCore::Deploy(JobRecord& job) {
  ++job.attempt;
  ++job.timer_generation;
  job.network_job_id = RandomU64();
  job.state = JobState::kRunning;
  job.attempt_started = std::chrono::steady_clock::now();
  std::set<std::string> involved;
  for (auto& [where, sub] : job.subtasks) {
    sub = SubtaskRecord{};
    sub.status = SubtaskStatus::kDeploying;
    sub.task_manager = job.slots.at(size_t(where.second)).task_manager_id;
    involved.insert(sub.task_manager);
  }
  spdlog::info("job manager: deploying job {} ({}) attempt {} on {} task manager(s)", job.id,
               job.name, job.attempt, involved.size());
  for (const auto& tm_id : involved) {
    capnp::MallocMessageBuilder message;
    auto d = message.initRoot<control::ControlMessage>().initDeployJob();
    d.setJobId(job.id);
    d.setAttempt(job.attempt);
    d.setNetworkJobId(job.network_job_id);
    d.setJobName(job.name);
    d.setBlobKey(job.blob_key);
    d.setBlobSize(job.blob_size);
    const auto& all_args = job.args.all();
    auto args = d.initArgs(unsigned(all_args.size()));
    for (size_t i = 0; i < all_args.size(); ++i) args.set(unsigned(i), all_args[i]);
    d.setParallelism(job.parallelism);
    auto placements = d.initPlacements(unsigned(job.subtasks.size()));
    unsigned i = 0;
    for (const auto& [where, sub] : job.subtasks) {
      placements[i].setVertex(where.first);
      placements[i].setSubtask(where.second);
      placements[i].setTaskManagerId(sub.task_manager);
      ++i;
    }
    auto tms = d.initTaskManagers(unsigned(involved.size()));
    i = 0;
    for (const auto& id : involved) {
      const auto& tm = task_managers_.at(id);
      tms[i].setTaskManagerId(id);
      tms[i].setHost(tm.host);
      tms[i].setDataPort(tm.data_port);
      ++i;
    }
    d.setBufferTimeoutMs(options_.buffer_timeout.count());
    d.setLatencyTrackingIntervalMs(options_.latency_tracking_interval.count());
    // Every job can take savepoints, so tasks always get a place to write snapshots.
    d.setCheckpointDirectory(checkpoint_storage_->options().directory);
    d.setRestoreDirectory(job.checkpoints.latest_completed_directory);
    SendTo(tm_id, message);
  }
  if (!job.checkpoints.latest_completed_directory.empty())
    spdlog::info("job manager: job {} attempt {} restores from {}", job.id, job.attempt,
                 job.checkpoints.latest_completed_directory);
  Persist(job);
  StartCheckpointing(job);
}

void JobManagerCore::OnTaskState(capnp::MessageBuilder& message) {
  auto s = message.getRoot<control::ControlMessage>().asReader().getTaskStateChanged();
  auto it = jobs_.find(s.getJobId());
  if (it == jobs_.end() || it->second->attempt != s.getAttempt()) return;  // an old attempt
  JobRecord& job = *it->second;
  if (IsTerminal(job.state)) return;
  const std::string error = s.getError();
  if (s.getVertex() < 0) {  // the whole deployment on that task manager failed
    for (auto& [where, sub] : job.subtasks)
      if (!IsTerminal(sub.status) && sub.status == SubtaskStatus::kDeploying &&
          task_managers_.count(sub.task_manager))
        sub.status = SubtaskStatus::kFailed;
    if (job.state == JobState::kRunning) FailAttempt(job, error, "", "");
    else MaybeConcludeAttempt(job);
    return;
  }
  auto sub = job.subtasks.find({s.getVertex(), s.getSubtask()});
  if (sub == job.subtasks.end()) return;
  if (s.hasMetrics()) ApplyMetrics(s.getMetrics());
  switch (s.getState()) {
    case control::SubtaskState::DEPLOYING: sub->second.status = SubtaskStatus::kDeploying; break;
    case control::SubtaskState::RUNNING: sub->second.status = SubtaskStatus::kRunning; break;
    case control::SubtaskState::FINISHED: sub->second.status = SubtaskStatus::kFinished; break;
    case control::SubtaskState::CANCELED: sub->second.status = SubtaskStatus::kCanceled; break;
    case control::SubtaskState::FAILED: sub->second.status = SubtaskStatus::kFailed; break;
  }
  if (IsTerminal(sub->second.status)) {
    auto& m = sub->second.metrics;
    m.records_in_rate = m.records_out_rate = m.busy_ratio = m.backpressure_ratio = 0;
    m.out_pool_usage = m.in_pool_usage = 0;  // a task that ended holds no buffers
  }
  if (s.getState() == control::SubtaskState::FAILED && job.state == JobState::kRunning)
    return FailAttempt(job, error, SubtaskName(job, s.getVertex(), s.getSubtask()),
                       sub->second.task_manager);
  if (job.state == JobState::kRunning) {
    const bool all_finished = std::all_of(job.subtasks.begin(), job.subtasks.end(), [](const auto& e) {
      return e.second.status == SubtaskStatus::kFinished;
    });
    if (all_finished) {
      ReleaseSlots(job);
      Conclude(job, JobState::kFinished);
    }
    return;
  }
  MaybeConcludeAttempt(job);
}

void JobManagerCore::FailAttempt(JobRecord& job, const std::string& message,
                                 const std::string& task, const std::string& location) {
  spdlog::warn("job manager: job {} ({}) attempt {} failed{}: {}", job.id, job.name, job.attempt,
               task.empty() ? "" : " in " + task, message);
  job.exceptions.push_back({NowMillis(), message, task, location});
  if (job.exceptions.size() > 64) job.exceptions.erase(job.exceptions.begin());
  job.state = JobState::kFailing;
  EndStop(job, "a subtask failed while the job stopped: " + message);
  AbortPendingCheckpoints(job, "the attempt failed");
  CancelAttempt(job, "another subtask failed: " + message);
  MaybeConcludeAttempt(job);
}

void JobManagerCore::CancelAttempt(JobRecord& job, const std::string& reason) {
  std::set<std::string> involved;
  for (const auto& [where, sub] : job.subtasks)
    if (!IsTerminal(sub.status)) involved.insert(sub.task_manager);
  for (const auto& tm_id : involved) {
    capnp::MallocMessageBuilder message;
    auto c = message.initRoot<control::ControlMessage>().initCancelJob();
    c.setJobId(job.id);
    c.setAttempt(job.attempt);
    c.setReason(reason);
    SendTo(tm_id, message);
  }
  // A task manager that never answers is declared lost by the heartbeat check, which ends
  // its subtasks here; so an attempt always concludes.
}

void JobManagerCore::MaybeConcludeAttempt(JobRecord& job) {
  const bool all_ended = std::all_of(job.subtasks.begin(), job.subtasks.end(),
                                     [](const auto& e) { return IsTerminal(e.second.status); });
  if (!all_ended) return;
  ReleaseSlots(job);
  if (job.state == JobState::kCancelling || job.cancel_requested) return Conclude(job, JobState::kCanceled);
  if (job.state != JobState::kFailing) return;
  const auto delay = job.restart_strategy->OnFailure(std::chrono::steady_clock::now());
  if (!delay) {
    spdlog::warn("job manager: job {} ({}) failed; restart strategy {} gives up", job.id,
                 job.name, job.restart_strategy->Describe());
    return Conclude(job, JobState::kFailed);
  }
  job.state = JobState::kRestarting;
  ++job.restarts;
  spdlog::info("job manager: restarting job {} ({}) in {} ms (restart {}, {})", job.id, job.name,
               delay->count(), job.restarts, job.restart_strategy->Describe());
  const uint64_t generation = ++job.timer_generation;
  const std::string id = job.id;
  executor_.PostAfter(*delay, [this, id, generation] {
    JobRecord* restarting = JobIfUnchanged(id, generation, JobState::kRestarting);
    if (!restarting) return;
    restarting->waiting_for_slots_since.reset();
    TrySchedule(*restarting);
  });
}

void JobManagerCore::Conclude(JobRecord& job, JobState state) {
  // The state first: what the aborts below decide must see a job that no longer runs.
  job.state = state;
  AbortPendingCheckpoints(job, std::string("the job is ") + JobStateName(state));
  if (job.checkpoints.stopping) {
    SavepointRequest& request = job.checkpoints.savepoints[*job.checkpoints.stopping];
    if (state == JobState::kFinished && !request.location.empty()) {
      // Every task ended after the savepoint completed: the stop is done.
      request.status = "COMPLETED";
      job.checkpoints.stopping.reset();
    } else {
      EndStop(job, std::string("the job ended ") + JobStateName(state));
    }
  }
  job.end_time = NowMillis();
  ++job.timer_generation;
  Persist(job);
  spdlog::info("job manager: job {} ({}) {}", job.id, job.name, JobStateName(state));
}

void JobManagerCore::ReleaseSlots(JobRecord& job) {
  slot_pool_.Release(job.id);
  job.slots.clear();
}

std::string JobManagerCore::SubtaskName(const JobRecord& job, int vertex, int subtask) const {
  const JobVertex& v = job.graph->vertex(VertexId(vertex));
  return v.name + " (" + std::to_string(subtask + 1) + "/" + std::to_string(v.parallelism) + ")";
}

void JobManagerCore::SendTo(const std::string& tm_id, capnp::MessageBuilder& message) {
  auto it = task_managers_.find(tm_id);
  if (it != task_managers_.end() && it->second.connection) it->second.connection->Send(message);
}

}  // namespace brook
