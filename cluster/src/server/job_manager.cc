#include "brook/cluster/server/job_manager.h"

#include <atomic>

#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include "brook/cluster/rest/http_server.h"
#include "brook/cluster/rpc/rpc_server.h"
#include "cluster/src/server/control.capnp.h"
#include "cluster/src/server/job_manager_core.h"
#include "cluster/src/server/rest_api.h"

namespace brook {

namespace {

// The status page's files: next to the installed binary (PREFIX/share/brook/web), else the
// source tree's cluster/web, for binaries run from a build directory.
std::filesystem::path DefaultWebDirectory() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "brook" / "web";
    if (std::filesystem::exists(installed / "index.html")) return installed;
  }
  return BROOK_SOURCE_WEB_DIR;
}

}  // namespace

class JobManager::Impl final : public rpc::RpcHandler {
 public:
  explicit Impl(JobManagerOptions options) : options_(std::move(options)), executor_("jm-main") {}
  ~Impl() override { Stop(); }

  bool Start(std::string* error) {
    std::error_code ec;
    auto blob_dir = options_.blob_dir;
    if (blob_dir.empty())
      blob_dir = std::filesystem::temp_directory_path() /
                 ("brook-jobmanager-" + std::to_string(::getpid()) + "/blobs");
    std::filesystem::create_directories(blob_dir, ec);
    if (ec) {
      if (error) *error = "cannot create blob directory " + blob_dir.string() + ": " + ec.message();
      return false;
    }
    auto blobs = server::BlobStore::Open(blob_dir, options_.max_jar_bytes);
    if (!blobs) {
      if (error) *error = blobs.error().message;
      return false;
    }
    blobs_ = std::move(blobs).value();
    if (options_.checkpoint_dir.empty()) options_.checkpoint_dir = blob_dir.parent_path() / "checkpoints";
    if (options_.state_dir.empty()) options_.state_dir = blob_dir.parent_path() / "jobmanager-state";
    try {
      core_ = std::make_unique<JobManagerCore>(options_, executor_, *blobs_);
    } catch (const std::exception& e) {
      if (error) *error = std::string("cannot open the job manager's storage: ") + e.what();
      return false;
    }
    core_->RecoverJobs();  // nothing else runs yet: safe off the executor

    rpc::RpcOptions rpc_options;
    rpc_options.cluster_token = options_.cluster_token;
    rpc_options.name = "jobmanager";
    rpc_options.role = rpc::PeerRole::kJobManager;
    rpc_ = std::make_unique<rpc::RpcServer>(rpc_options, *this);
    if (!rpc_->Start(options_.rpc_host, options_.rpc_port, error)) return false;

    http::HttpServerOptions http_options;
    http_options.bind_host = options_.rest_host;
    http_options.port = options_.rest_port;
    http_options.token = options_.cluster_token;
    http_options.open_reads = options_.rest_open_reads;
    rest_ = std::make_unique<http::HttpServer>(http_options);
    RegisterRestApi(*rest_, *core_, executor_);
    const std::filesystem::path web_dir = options_.web_dir.empty() ? DefaultWebDirectory() : options_.web_dir;
    if (std::filesystem::exists(web_dir / "index.html"))
      rest_->ServeDirectory("/", web_dir);
    else
      spdlog::warn("job manager: no web status page at {} (REST API only)", web_dir.string());
    if (!rest_->Start(error)) {
      rpc_->Stop();
      return false;
    }
    executor_.Post([this] { core_->StartHeartbeats(); });
    started_ = true;
    spdlog::info("job manager: RPC on {}:{}, REST and web page on http://{}:{}/", options_.rpc_host,
                 rpc_->port(), options_.rest_host, rest_->port());
    return true;
  }

  void Stop() {
    if (!started_.exchange(false)) return;
    if (rest_) rest_->Stop();
    if (rpc_) rpc_->Stop();
    executor_.Stop();
  }

  uint16_t rpc_port() const { return rpc_ ? rpc_->port() : 0; }
  uint16_t rest_port() const { return rest_ ? rest_->port() : 0; }
  size_t registered_task_managers() {
    return executor_.Call([this] { return core_->task_managers().size(); });
  }

  std::string RunInProcess(const JobEntry& entry, const JobArgs& args, int parallelism) {
    try {
      return executor_.Call([&] { return core_->RunInProcess(entry, args, parallelism); });
    } catch (const RequestError& e) {
      throw std::runtime_error(e.what());
    }
  }

  JobSummary QueryJob(const std::string& id) {
    return executor_.Call([&] {
      const JobRecord& job = core_->job(id);
      JobSummary summary;
      summary.state = JobStateName(job.state);
      summary.terminal = IsTerminal(job.state);
      if (!job.exceptions.empty()) summary.root_exception = job.exceptions.back().message;
      summary.restarts = job.restarts;
      return summary;
    });
  }

  // rpc::RpcHandler, on io threads: copy and hand over to the executor.
  void OnConnected(const std::shared_ptr<rpc::RpcConnection>&) override {}

  void OnMessage(const std::shared_ptr<rpc::RpcConnection>& connection,
                 capnp::MessageReader& reader) override {
    auto copy = std::make_shared<capnp::MallocMessageBuilder>();
    copy->setRoot(reader.getRoot<control::ControlMessage>());
    executor_.Post([this, connection, copy] { core_->OnTaskManagerMessage(connection, *copy); });
  }

  void OnClosed(const std::shared_ptr<rpc::RpcConnection>& connection,
                const std::string& reason) override {
    executor_.Post([this, connection, reason] { core_->OnTaskManagerClosed(connection, reason); });
  }

 private:
  JobManagerOptions options_;
  std::unique_ptr<server::BlobStore> blobs_;
  std::unique_ptr<JobManagerCore> core_;
  std::unique_ptr<rpc::RpcServer> rpc_;
  std::unique_ptr<http::HttpServer> rest_;
  std::atomic<bool> started_{false};
  SerialExecutor executor_;  // last member: stops first
};

JobManager::JobManager(JobManagerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
JobManager::~JobManager() = default;
bool JobManager::Start(std::string* error) { return impl_->Start(error); }
void JobManager::Stop() { impl_->Stop(); }
uint16_t JobManager::rpc_port() const { return impl_->rpc_port(); }
uint16_t JobManager::rest_port() const { return impl_->rest_port(); }
size_t JobManager::registered_task_managers() const { return impl_->registered_task_managers(); }
std::string JobManager::RunInProcess(const JobEntry& entry, const JobArgs& args, int parallelism) {
  return impl_->RunInProcess(entry, args, parallelism);
}
JobSummary JobManager::QueryJob(const std::string& job_id) const { return impl_->QueryJob(job_id); }

}  // namespace brook
