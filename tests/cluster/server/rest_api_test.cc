// The job manager's REST API against a running cluster in this process (a JobManager and a
// TaskManager, talking over loopback exactly as the processes do): every endpoint's JSON
// shape, 4xx on malformed input, 401 without the token, 404 on unknown ids, and Prometheus
// text on /metrics.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "brook/cluster/rest/http_client.h"
#include "brook/cluster/server/job_manager.h"
#include "brook/cluster/server/task_manager.h"

namespace brook {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kToken = "rest-test-token";

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("brook-rest-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    JobManagerOptions jm;
    jm.rpc_port = 0;
    jm.rest_port = 0;
    jm.cluster_token = kToken;
    jm.blob_dir = dir_ / "blobs";
    jm.heartbeat_interval = 100ms;
    jm.heartbeat_timeout = 2000ms;
    jobmanager_ = std::make_unique<JobManager>(jm);
    std::string error;
    ASSERT_TRUE(jobmanager_->Start(&error)) << error;
    TaskManagerOptions tm;
    tm.jobmanager_port = jobmanager_->rpc_port();
    tm.cluster_token = kToken;
    tm.id = "tm-rest-test";
    tm.slots = 2;
    tm.metrics_port = 0;
    tm.working_dir = dir_ / "tm";
    taskmanager_ = std::make_unique<TaskManager>(tm);
    ASSERT_TRUE(taskmanager_->Start(&error)) << error;
    for (int i = 0; i < 200 && jobmanager_->registered_task_managers() == 0; ++i)
      std::this_thread::sleep_for(20ms);
    ASSERT_EQ(jobmanager_->registered_task_managers(), 1u);
    client_ = std::make_unique<http::HttpClient>("127.0.0.1", jobmanager_->rest_port(), kToken);
  }

  void TearDown() override {
    taskmanager_.reset();
    jobmanager_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  json::object GetJson(const std::string& target, int expected_status = 200) {
    auto result = client_->Get(target);
    EXPECT_EQ(result.status, expected_status) << target << ": " << result.body;
    EXPECT_NE(result.content_type.find("application/json"), std::string::npos) << target;
    boost::system::error_code ec;
    json::value value = json::parse(result.body, ec);
    EXPECT_FALSE(ec) << result.body;
    return value.is_object() ? value.as_object() : json::object{};
  }

  // Uploads the test job and runs it; returns the job id.
  std::string SubmitJob(int rate, std::vector<std::string> extra_args = {}) {
    auto upload = client_->PostFile("/jars/upload", KEYED_COUNT_JOB, "jarfile");
    EXPECT_EQ(upload.status, 200) << upload.body;
    const std::string jar(json::parse(upload.body).as_object().at("id").as_string());
    json::object request{{"parallelism", 2},
                         {"programArgsList", json::array{"--events", "1000000", "--rate",
                                                         std::to_string(rate), "--output",
                                                         (dir_ / "out").string()}}};
    for (const auto& a : extra_args) request["programArgsList"].as_array().push_back(json::value(a));
    std::filesystem::create_directories(dir_ / "out");
    auto run = client_->Post("/jars/" + jar + "/run", json::serialize(request));
    EXPECT_EQ(run.status, 200) << run.body;
    return std::string(json::parse(run.body).as_object().at("jobid").as_string());
  }

  std::filesystem::path dir_;
  std::unique_ptr<JobManager> jobmanager_;
  std::unique_ptr<TaskManager> taskmanager_;
  std::unique_ptr<http::HttpClient> client_;
};

void ExpectErrorBody(const http::HttpClient::Result& result) {
  boost::system::error_code ec;
  json::value value = json::parse(result.body, ec);
  ASSERT_FALSE(ec) << result.body;
  ASSERT_TRUE(value.is_object());
  ASSERT_TRUE(value.as_object().contains("errors")) << result.body;
  EXPECT_FALSE(value.as_object().at("errors").as_array().empty());
}

TEST_F(RestApiTest, EveryEndpointHasFlinksShape) {
  auto overview = GetJson("/overview");
  EXPECT_EQ(overview.at("taskmanagers").as_int64(), 1);
  EXPECT_EQ(overview.at("slots-total").as_int64(), 2);
  for (const char* key : {"slots-available", "jobs-running", "jobs-finished", "jobs-cancelled",
                          "jobs-failed", "brook-version"})
    EXPECT_TRUE(overview.contains(key)) << key;

  const std::string id = SubmitJob(20'000);
  // Wait until the job runs and the task manager's heartbeats carry rates.
  double rate = 0;
  for (int i = 0; i < 200 && rate <= 0; ++i) {
    auto job = GetJson("/jobs/" + id);
    for (const auto& v : job.at("vertices").as_array())
      rate += v.as_object().at("metrics").as_object().at("write-records-per-second").to_number<double>();
    if (rate <= 0) std::this_thread::sleep_for(50ms);
  }
  EXPECT_GT(rate, 0);

  auto jobs = GetJson("/jobs");
  ASSERT_EQ(jobs.at("jobs").as_array().size(), 1u);
  const auto& summary = jobs.at("jobs").as_array()[0].as_object();
  EXPECT_EQ(summary.at("id").as_string(), id);
  EXPECT_EQ(summary.at("state").as_string(), "RUNNING");
  for (const char* key : {"name", "start-time", "end-time", "duration"}) EXPECT_TRUE(summary.contains(key)) << key;

  auto job = GetJson("/jobs/" + id);
  EXPECT_EQ(job.at("name").as_string(), "keyed_count");
  const auto& vertices = job.at("vertices").as_array();
  ASSERT_EQ(vertices.size(), 2u);  // source, and count -> sink chained
  for (const auto& v : vertices) {
    const auto& vertex = v.as_object();
    for (const char* key : {"id", "name", "parallelism", "status", "metrics"}) EXPECT_TRUE(vertex.contains(key)) << key;
    for (const char* key : {"read-records", "write-records", "read-records-per-second",
                            "write-records-per-second", "backpressure-ratio", "watermark",
                            "read-bytes", "write-bytes", "out-pool-usage", "in-pool-usage"})
      EXPECT_TRUE(vertex.at("metrics").as_object().contains(key)) << key;
  }
  const auto& nodes = job.at("plan").as_object().at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[1].as_object().at("inputs").as_array()[0].as_object().at("ship_strategy").as_string(), "HASH");

  auto vertex = GetJson("/jobs/" + id + "/vertices/1");
  ASSERT_EQ(vertex.at("subtasks").as_array().size(), 2u);
  EXPECT_EQ(vertex.at("subtasks").as_array()[0].as_object().at("taskmanager-id").as_string(), "tm-rest-test");
  EXPECT_TRUE(vertex.at("latency").is_array());  // empty: latency tracking is off by default
  EXPECT_TRUE(vertex.at("latency").as_array().empty());
  for (const char* key : {"out-pool-usage", "in-pool-usage", "latency", "read-bytes", "write-bytes"})
    EXPECT_TRUE(vertex.at("subtasks").as_array()[0].as_object().at("metrics").as_object().contains(key)) << key;

  auto exceptions = GetJson("/jobs/" + id + "/exceptions");
  EXPECT_TRUE(exceptions.at("root-exception").is_null());
  EXPECT_TRUE(exceptions.at("all-exceptions").as_array().empty());

  auto checkpoints = GetJson("/jobs/" + id + "/checkpoints");
  for (const char* key : {"counts", "latest", "history"}) EXPECT_TRUE(checkpoints.contains(key)) << key;

  auto tms = GetJson("/taskmanagers");
  ASSERT_EQ(tms.at("taskmanagers").as_array().size(), 1u);
  const auto& tm = tms.at("taskmanagers").as_array()[0].as_object();
  EXPECT_EQ(tm.at("slotsNumber").as_int64(), 2);
  EXPECT_EQ(tm.at("freeSlots").as_int64(), 0);
  auto tm_detail = GetJson("/taskmanagers/tm-rest-test");
  EXPECT_EQ(tm_detail.at("slots").as_array()[0].as_object().at("job").as_string(), id);

  auto jars = GetJson("/jars");
  EXPECT_EQ(jars.at("files").as_array().size(), 1u);

  // Cancel through PATCH, as Flink's API does.
  auto cancel = client_->Patch("/jobs/" + id + "?mode=cancel");
  EXPECT_EQ(cancel.status, 202) << cancel.body;
  std::string state;
  for (int i = 0; i < 200 && state != "CANCELED"; ++i) {
    state = std::string(GetJson("/jobs/" + id).at("state").as_string());
    if (state != "CANCELED") std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(state, "CANCELED");
  EXPECT_EQ(client_->Patch("/jobs/" + id).status, 409);
}

TEST_F(RestApiTest, UnknownIdsAre404) {
  for (const char* target : {"/jobs/0123456789abcdef0123456789abcdef", "/jobs/nope/exceptions",
                             "/jobs/nope/checkpoints", "/jobs/nope/vertices/0", "/taskmanagers/nope",
                             "/no/such/path"}) {
    auto result = client_->Get(target);
    EXPECT_EQ(result.status, 404) << target;
    ExpectErrorBody(result);
  }
  auto run = client_->Post("/jars/" + std::string(64, 'a') + "/run", "{}");
  EXPECT_EQ(run.status, 404) << run.body;
  EXPECT_EQ(client_->Patch("/jobs/nope").status, 404);
  const std::string id = SubmitJob(1000);
  EXPECT_EQ(client_->Get("/jobs/" + id + "/vertices/7").status, 404);
  EXPECT_EQ(client_->Get("/jobs/" + id + "/vertices/x").status, 404);
}

TEST_F(RestApiTest, MalformedRequestsAre4xxAndChangeNothing) {
  auto empty = client_->Post("/jars/upload?name=x.so", "", "application/octet-stream");
  EXPECT_EQ(empty.status, 400);
  ExpectErrorBody(empty);
  auto garbage = client_->Post("/jars/upload?name=x.so", "this is not an ELF file", "application/octet-stream");
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_NE(garbage.body.find("x.so"), std::string::npos) << garbage.body;
  auto bad_multipart = client_->Post("/jars/upload", "--x\r\n", "multipart/form-data; boundary=x");
  EXPECT_EQ(bad_multipart.status, 400);

  auto upload = client_->PostFile("/jars/upload", KEYED_COUNT_JOB, "jarfile");
  ASSERT_EQ(upload.status, 200);
  const std::string jar(json::parse(upload.body).as_object().at("id").as_string());
  EXPECT_EQ(client_->Post("/jars/" + jar + "/run", "{not json").status, 400);
  EXPECT_EQ(client_->Post("/jars/" + jar + "/run", R"({"parallelism":"many"})").status, 400);
  EXPECT_EQ(client_->Post("/jars/" + jar + "/run", R"({"parallelism":-3})").status, 400);
  EXPECT_EQ(client_->Patch("/jobs/x?mode=stop").status, 400);
  EXPECT_TRUE(GetJson("/jobs").at("jobs").as_array().empty());
}

TEST_F(RestApiTest, MutatingCallsNeedTheToken) {
  http::HttpClient anonymous("127.0.0.1", jobmanager_->rest_port());
  http::HttpClient wrong("127.0.0.1", jobmanager_->rest_port(), "wrong");
  for (auto* client : {&anonymous, &wrong}) {
    auto upload = client->PostFile("/jars/upload", KEYED_COUNT_JOB, "jarfile");
    EXPECT_EQ(upload.status, 401) << upload.body;
    ExpectErrorBody(upload);
    EXPECT_EQ(client->Patch("/jobs/x").status, 401);
    EXPECT_EQ(client->Post("/jars/" + std::string(64, 'a') + "/run", "{}").status, 401);
    EXPECT_EQ(client->Get("/overview").status, 200);  // reads are open by default
  }
  EXPECT_TRUE(GetJson("/jars").at("files").as_array().empty());
}

// The sum of every sample of metric `name` in Prometheus text.
double MetricSum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(name, 0) == 0 && (line[name.size()] == '{' || line[name.size()] == ' '))
      sum += std::stod(line.substr(line.rfind(' ') + 1));
  return sum;
}

TEST_F(RestApiTest, MetricsArePrometheusText) {
  const std::string id = SubmitJob(20'000);
  auto metric = [&](const std::string& text, const std::string& name) { return MetricSum(text, name); };
  std::string first;
  for (int i = 0; i < 200; ++i) {
    first = client_->Get("/metrics").body;
    if (metric(first, "brook_task_records_out_total") > 0) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(first.find("# TYPE brook_jobmanager_taskmanagers gauge"), std::string::npos) << first;
  EXPECT_GT(metric(first, "brook_task_records_out_total"), 0) << first;
  // Counters increase while the job runs (bounded wait: heartbeats carry them).
  std::string second;
  for (int i = 0; i < 200; ++i) {
    second = client_->Get("/metrics").body;
    if (metric(second, "brook_task_records_out_total") > metric(first, "brook_task_records_out_total")) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GT(metric(second, "brook_task_records_out_total"), metric(first, "brook_task_records_out_total"));

  http::HttpClient tm("127.0.0.1", taskmanager_->metrics_port());
  auto tm_metrics = tm.Get("/metrics");
  EXPECT_EQ(tm_metrics.status, 200);
  EXPECT_NE(tm_metrics.body.find("brook_taskmanager_process_resident_memory_bytes"), std::string::npos);
  EXPECT_GT(metric(tm_metrics.body, "brook_num_records_out_total"), 0) << tm_metrics.body;
  client_->Patch("/jobs/" + id);
}

// The coordinator aborts a checkpoint that does not complete within the job's timeout,
// discards its files and keeps the job running.
TEST_F(RestApiTest, CheckpointsThatTimeOutAreAbortedAndDiscarded) {
  const std::string id = SubmitJob(5'000, {"--checkpoint-interval", "50", "--checkpoint-timeout", "1"});
  json::object checkpoints;
  for (int i = 0; i < 400; ++i) {
    checkpoints = GetJson("/jobs/" + id + "/checkpoints");
    if (checkpoints.at("counts").as_object().at("failed").as_int64() >= 3) break;
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_GE(checkpoints.at("counts").as_object().at("failed").as_int64(), 3) << json::serialize(checkpoints);
  int timed_out = 0;
  for (const auto& h : checkpoints.at("history").as_array()) {
    const auto& entry = h.as_object();
    if (entry.at("status").as_string() != "FAILED") continue;
    EXPECT_EQ(entry.at("failure_message").as_string(), "timed out");
    ++timed_out;
    // Discarded at the abort, and again after any task's write that was still in flight.
    const auto chk = dir_ / "checkpoints" / id / ("chk-" + std::to_string(entry.at("id").as_int64()));
    for (int i = 0; i < 200 && std::filesystem::exists(chk); ++i) std::this_thread::sleep_for(25ms);
    EXPECT_FALSE(std::filesystem::exists(chk)) << chk;
  }
  EXPECT_GE(timed_out, 3);
  EXPECT_EQ(GetJson("/jobs/" + id).at("state").as_string(), "RUNNING");
  client_->Patch("/jobs/" + id);
}

// Polls a savepoint request until it is no longer IN_PROGRESS; returns the last answer.
json::object AwaitSavepoint(http::HttpClient& client, const std::string& job, const std::string& request) {
  json::object answer;
  for (int i = 0; i < 600; ++i) {
    auto result = client.Get("/jobs/" + job + "/savepoints/" + request);
    EXPECT_EQ(result.status, 200) << result.body;
    answer = json::parse(result.body).as_object();
    if (answer.at("status").as_object().at("id").as_string() != "IN_PROGRESS") break;
    std::this_thread::sleep_for(50ms);
  }
  return answer;
}

// Flink's stop-with-savepoint: POST /jobs/{id}/stop {"targetDirectory", "drain"} answers a
// request id; its status reads COMPLETED once the savepoint is written and the job FINISHED.
// A savepoint that cannot be written fails the request and leaves the job running. Malformed
// requests are 4xx and change nothing.
TEST_F(RestApiTest, StopWithSavepointEndsTheJobFinished) {
  const std::string id = SubmitJob(5'000, {"--checkpoint-interval", "200"});
  for (int i = 0; i < 400 && GetJson("/jobs/" + id).at("state").as_string() != "RUNNING"; ++i)
    std::this_thread::sleep_for(25ms);
  for (int i = 0; i < 400; ++i) {  // every subtask running: a savepoint needs them all
    bool all_running = true;
    const auto job = GetJson("/jobs/" + id);
    for (const auto& v : job.at("vertices").as_array())
      all_running = all_running && v.as_object().at("status").as_string() == "RUNNING";
    if (all_running) break;
    std::this_thread::sleep_for(25ms);
  }
  const std::string stop = "/jobs/" + id + "/stop";
  EXPECT_EQ(client_->Post(stop, "{not json").status, 400);
  EXPECT_EQ(client_->Post(stop, "{}").status, 400);  // no target directory
  EXPECT_EQ(client_->Post(stop, R"({"targetDirectory":"relative/dir"})").status, 400);
  EXPECT_EQ(client_->Post(stop, R"({"targetDirectory":7})").status, 400);
  EXPECT_EQ(client_->Post(stop, R"({"targetDirectory":"/tmp/x","drain":"yes"})").status, 400);
  EXPECT_EQ(client_->Post("/jobs/nope/stop", R"({"targetDirectory":"/tmp/x"})").status, 404);
  http::HttpClient anonymous("127.0.0.1", jobmanager_->rest_port());
  EXPECT_EQ(anonymous.Post(stop, R"({"targetDirectory":"/tmp/x"})").status, 401);
  EXPECT_EQ(GetJson("/jobs/" + id).at("state").as_string(), "RUNNING");

  // Not writable (below a regular file): the request fails, the job keeps running.
  std::ofstream(dir_ / "blocker") << "a file";
  auto failing = client_->Post(
      stop, json::serialize(json::object{{"targetDirectory", (dir_ / "blocker" / "sp").string()}}));
  ASSERT_EQ(failing.status, 202) << failing.body;
  const std::string failing_id(json::parse(failing.body).as_object().at("request-id").as_string());
  auto failed = AwaitSavepoint(*client_, id, failing_id);
  EXPECT_EQ(failed.at("status").as_object().at("id").as_string(), "FAILED") << json::serialize(failed);
  EXPECT_NE(json::serialize(failed).find("cannot be written"), std::string::npos) << json::serialize(failed);
  EXPECT_EQ(GetJson("/jobs/" + id).at("state").as_string(), "RUNNING");

  const auto target = dir_ / "savepoint";
  auto accepted = client_->Post(
      stop, json::serialize(json::object{{"targetDirectory", target.string()}, {"drain", false}}));
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string request(json::parse(accepted.body).as_object().at("request-id").as_string());
  // One stop at a time; nor a savepoint meanwhile (or, if the stop was quick, the job ended).
  EXPECT_EQ(client_->Post(stop, json::serialize(json::object{{"targetDirectory", (dir_ / "other").string()}})).status,
            409);
  auto done = AwaitSavepoint(*client_, id, request);
  ASSERT_EQ(done.at("status").as_object().at("id").as_string(), "COMPLETED") << json::serialize(done);
  EXPECT_EQ(done.at("operation").as_object().at("location").as_string(), target.string());
  EXPECT_TRUE(std::filesystem::exists(target));
  auto job = GetJson("/jobs/" + id);
  EXPECT_EQ(job.at("state").as_string(), "FINISHED") << json::serialize(job);
  for (const auto& v : job.at("vertices").as_array())
    EXPECT_EQ(v.as_object().at("status").as_string(), "FINISHED") << json::serialize(v);
  // A job that ended cannot stop again.
  EXPECT_EQ(client_->Post(stop, json::serialize(json::object{{"targetDirectory", (dir_ / "again").string()}})).status,
            409);
}

// A failed stop with --drain cannot leave the job running as it was: its sources ended event
// time before the barrier, so every later record would be late. The attempt fails and the job
// restarts (by its restart strategy) from its latest completed checkpoint.
TEST_F(RestApiTest, AFailedStopWithDrainRestartsTheJob) {
  const std::string id = SubmitJob(5'000, {"--checkpoint-interval", "200"});
  for (int i = 0; i < 400; ++i) {
    const auto job = GetJson("/jobs/" + id);
    bool all_running = job.at("state").as_string() == "RUNNING";
    for (const auto& v : job.at("vertices").as_array())
      all_running = all_running && v.as_object().at("status").as_string() == "RUNNING";
    if (all_running) break;
    std::this_thread::sleep_for(25ms);
  }
  std::ofstream(dir_ / "blocker") << "a file";
  auto accepted = client_->Post(
      "/jobs/" + id + "/stop",
      json::serialize(json::object{{"targetDirectory", (dir_ / "blocker" / "sp").string()}, {"drain", true}}));
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string request(json::parse(accepted.body).as_object().at("request-id").as_string());
  auto failed = AwaitSavepoint(*client_, id, request);
  EXPECT_EQ(failed.at("status").as_object().at("id").as_string(), "FAILED") << json::serialize(failed);
  json::object job;
  for (int i = 0; i < 400; ++i) {
    job = GetJson("/jobs/" + id);
    if (job.at("restarts").as_int64() >= 1 && job.at("state").as_string() == "RUNNING") break;
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_GE(job.at("restarts").as_int64(), 1) << json::serialize(job);
  EXPECT_EQ(job.at("state").as_string(), "RUNNING") << json::serialize(job);
  const auto exceptions = json::serialize(GetJson("/jobs/" + id + "/exceptions"));
  EXPECT_NE(exceptions.find("--drain failed"), std::string::npos) << exceptions;
  client_->Patch("/jobs/" + id);
}

// Debian's promtool (scripts/setup.sh installs it) is the reference parser and linter of the
// Prometheus text format.
std::string Promtool(const std::string& metrics, int* exit_code) {
  const auto input = std::filesystem::temp_directory_path() / ("brook-metrics-" + std::to_string(::getpid()));
  std::ofstream(input) << metrics;
  const std::string command = "promtool check metrics < " + input.string() + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    *exit_code = -1;
    return "cannot run promtool";
  }
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(input);
  return output;
}

TEST_F(RestApiTest, PromtoolAcceptsTheJobManagersAndTaskManagersMetrics) {
  const std::string id = SubmitJob(20'000, {"--latency-interval", "20"});
  // Wait until both carry every kind of metric: the task manager's running tasks (records out)
  // and latency histograms, the job manager's from the heartbeats.
  http::HttpClient tm("127.0.0.1", taskmanager_->metrics_port());
  std::string jm, tm_metrics;
  for (int i = 0; i < 200; ++i) {
    jm = client_->Get("/metrics").body;
    tm_metrics = tm.Get("/metrics").body;
    if (MetricSum(jm, "brook_task_latency_seconds_count") > 0 &&
        MetricSum(tm_metrics, "brook_num_records_out_total") > 0 &&
        MetricSum(tm_metrics, "brook_latency_seconds_count") > 0)
      break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GT(MetricSum(tm_metrics, "brook_num_records_out_total"), 0) << tm_metrics;
  EXPECT_GT(MetricSum(jm, "brook_task_latency_seconds_count"), 0) << jm;
  EXPECT_GT(MetricSum(tm_metrics, "brook_latency_seconds_count"), 0) << tm_metrics;
  int code = 0;
  std::string report = Promtool(jm, &code);
  EXPECT_EQ(code, 0) << report << "\n" << jm;
  report = Promtool(tm_metrics, &code);
  EXPECT_EQ(code, 0) << report << "\n" << tm_metrics;
  client_->Patch("/jobs/" + id);
}

// Metrics a job library made (its sinks' latency histograms) are gone from the task manager's
// registry before the library is unloaded: stopping a task manager under a running job must
// not release them later, through code that is no longer mapped.
TEST_F(RestApiTest, ATaskManagerStopsCleanlyUnderARunningLatencyTrackedJob) {
  const std::string id = SubmitJob(20'000, {"--latency-interval", "5"});
  http::HttpClient tm("127.0.0.1", taskmanager_->metrics_port());
  std::string metrics;
  for (int i = 0; i < 200 && MetricSum(metrics, "brook_latency_seconds_count") == 0; ++i) {
    std::this_thread::sleep_for(25ms);
    metrics = tm.Get("/metrics").body;
  }
  ASSERT_GT(MetricSum(metrics, "brook_latency_seconds_count"), 0) << metrics;
  taskmanager_.reset();  // the job still runs: the task manager cancels and unloads it
  EXPECT_EQ(GetJson("/jobs/" + id).at("jid").as_string(), id);
}

// Subtasks on two task managers exchange records over the network: the producers count bytes
// out and the consumers bytes in; queue usage is reported in [0, 1]; with latency tracking on,
// the sinks' latency histograms fill, on the REST API and in both /metrics.
TEST_F(RestApiTest, TwoTaskManagersReportBytesQueueUsageAndLatency) {
  TaskManagerOptions options;
  options.jobmanager_port = jobmanager_->rpc_port();
  options.cluster_token = kToken;
  options.id = "tm-rest-test-2";
  options.slots = 2;
  options.metrics_port = 0;
  options.working_dir = dir_ / "tm2";
  TaskManager second(options);
  std::string error;
  ASSERT_TRUE(second.Start(&error)) << error;
  for (int i = 0; i < 200 && jobmanager_->registered_task_managers() < 2; ++i)
    std::this_thread::sleep_for(20ms);
  ASSERT_EQ(jobmanager_->registered_task_managers(), 2u);

  const std::string id = SubmitJob(20'000, {"--latency-interval", "20"});
  // Slots are spread over the task managers: subtask 0 and 1 of each vertex run apart, so the
  // keyed (HASH) edge crosses between them.
  json::object vertex;
  auto bytes = [](const json::object& v, const char* key) {
    return v.at("metrics").as_object().at(key).to_number<double>();
  };
  for (int i = 0; i < 200; ++i) {
    const auto job = GetJson("/jobs/" + id);
    const auto& vertices = job.at("vertices").as_array();
    vertex = GetJson("/jobs/" + id + "/vertices/1");
    if (vertices.size() == 2 && bytes(vertices[0].as_object(), "write-bytes") > 0 &&
        bytes(vertices[1].as_object(), "read-bytes") > 0 && !vertex.at("latency").as_array().empty() &&
        vertex.at("latency").as_array()[0].as_object().at("count").as_int64() > 0)
      break;
    std::this_thread::sleep_for(50ms);
  }
  const auto& subtasks = vertex.at("subtasks").as_array();
  ASSERT_EQ(subtasks.size(), 2u);
  EXPECT_NE(subtasks[0].as_object().at("taskmanager-id"), subtasks[1].as_object().at("taskmanager-id"));
  const auto job = GetJson("/jobs/" + id);
  const auto& source = job.at("vertices").as_array()[0].as_object();
  const auto& counter = job.at("vertices").as_array()[1].as_object();
  EXPECT_GT(bytes(source, "write-bytes"), 0) << json::serialize(source);
  EXPECT_GT(bytes(counter, "read-bytes"), 0) << json::serialize(counter);
  // The source reads no channels, and the count's sink writes none.
  EXPECT_EQ(bytes(source, "read-bytes"), 0);
  EXPECT_EQ(bytes(counter, "write-bytes"), 0);
  for (const auto& s : subtasks) {
    const auto& m = s.as_object().at("metrics").as_object();
    for (const char* key : {"out-pool-usage", "in-pool-usage"}) {
      EXPECT_GE(m.at(key).to_number<double>(), 0.0) << key;
      EXPECT_LE(m.at(key).to_number<double>(), 1.0) << key;
    }
  }
  ASSERT_FALSE(vertex.at("latency").as_array().empty()) << json::serialize(vertex);
  const auto& latency = vertex.at("latency").as_array()[0].as_object();
  EXPECT_EQ(latency.at("source-id").as_string(), "0");
  EXPECT_GT(latency.at("count").as_int64(), 0);
  EXPECT_GE(latency.at("max-ms").to_number<double>(), latency.at("p50-ms").to_number<double>());

  // The same numbers in Prometheus text, and promtool accepts all three endpoints.
  const std::string jm = client_->Get("/metrics").body;
  EXPECT_GT(MetricSum(jm, "brook_task_bytes_out_total"), 0) << jm;
  EXPECT_GT(MetricSum(jm, "brook_task_bytes_in_total"), 0) << jm;
  EXPECT_GT(MetricSum(jm, "brook_task_latency_seconds_count"), 0) << jm;
  EXPECT_NE(jm.find("brook_task_out_pool_usage{"), std::string::npos) << jm;
  EXPECT_NE(jm.find("brook_task_in_pool_usage{"), std::string::npos) << jm;
  int code = 0;
  std::string report = Promtool(jm, &code);
  EXPECT_EQ(code, 0) << report << "\n" << jm;
  for (const TaskManager* tm : {taskmanager_.get(), &second}) {
    const std::string text = http::HttpClient("127.0.0.1", tm->metrics_port()).Get("/metrics").body;
    EXPECT_GT(MetricSum(text, "brook_num_bytes_out_total"), 0) << text;
    EXPECT_GT(MetricSum(text, "brook_num_bytes_in_total"), 0) << text;
    EXPECT_NE(text.find("brook_out_pool_usage{"), std::string::npos) << text;
    report = Promtool(text, &code);
    EXPECT_EQ(code, 0) << report << "\n" << text;
  }
  client_->Patch("/jobs/" + id);
  std::string state;
  for (int i = 0; i < 200 && state != "CANCELED"; ++i) {
    state = std::string(GetJson("/jobs/" + id).at("state").as_string());
    if (state != "CANCELED") std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(state, "CANCELED");
}

}  // namespace
}  // namespace brook
