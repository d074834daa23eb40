// brook: the command-line client of a Brook cluster. It talks to the job manager's REST API
// only (the same API as the web status page), so it needs nothing but the REST address.
//
//   brook run <job.so> [--parallelism N] [--detached] [--from-savepoint DIR] [-- job args...]
//   brook list | status <job> | cancel <job> | taskmanagers | checkpoints <job>
//   brook savepoint <job> DIR | stop --savepoint DIR [--drain] <job>
//
// Exit codes: 0 success (for `run`, the job finished), 1 the job failed or was cancelled,
// 2 bad usage, 3 the job manager is unreachable or refused the request.
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "brook/cluster/rest/http_client.h"
#include "brook/cluster/rest/url.h"

namespace json = boost::json;

namespace {

constexpr int kOk = 0, kJobFailed = 1, kUsage = 2, kClusterError = 3;

volatile std::sig_atomic_t interrupted = 0;

struct ClusterError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The REST client with Brook's error conventions: a transport failure or a 4xx/5xx becomes a
// ClusterError carrying the server's message.
class Api {
 public:
  Api(const std::string& address, const std::string& token) : address_(address) {
    const auto colon = address.rfind(':');
    std::string host = address, port = "8081";
    if (colon != std::string::npos) {
      host = address.substr(0, colon);
      port = address.substr(colon + 1);
    }
    int port_number = 0;
    try {
      port_number = std::stoi(port);
    } catch (const std::exception&) {
    }
    if (host.empty() || port_number <= 0 || port_number > 65535)
      throw std::invalid_argument("--jobmanager must be HOST:PORT, got '" + address + "'");
    client_ = std::make_unique<brook::http::HttpClient>(host, uint16_t(port_number), token);
  }

  json::value Get(const std::string& target) { return Check(client_->Get(target)); }
  json::value Post(const std::string& target, const json::value& body) {
    return Check(client_->Post(target, json::serialize(body)));
  }
  json::value Patch(const std::string& target) { return Check(client_->Patch(target)); }
  json::value Upload(const std::string& path) {
    return Check(client_->PostFile("/jars/upload", path, "jarfile"));
  }

 private:
  json::value Check(const brook::http::HttpClient::Result& result) {
    if (result.status == 0)
      throw ClusterError("cannot reach the job manager at " + address_ + ": " + result.error);
    json::value body;
    boost::system::error_code ec;
    if (!result.body.empty()) body = json::parse(result.body, ec);
    if (!result.ok()) {
      std::string message = result.body;
      if (!ec && body.is_object())
        if (auto* errors = body.as_object().if_contains("errors"); errors && errors->is_array()) {
          message.clear();
          for (const auto& e : errors->as_array())
            message += (message.empty() ? "" : "; ") + std::string(e.is_string() ? e.as_string().c_str() : "");
        }
      throw ClusterError("the job manager refused the request (HTTP " +
                         std::to_string(result.status) + "): " + message);
    }
    if (ec) throw ClusterError("the job manager sent a response that is not JSON");
    return body;
  }

  std::string address_;
  std::unique_ptr<brook::http::HttpClient> client_;
};

std::string Str(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  const auto* field = v.as_object().if_contains(key);
  if (!field) return "";
  if (field->is_string()) return std::string(field->as_string());
  if (field->is_null()) return "-";
  return json::serialize(*field);
}

int64_t Int(const json::value& v, const char* key) {
  const auto* field = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  if (!field || !field->is_number()) return 0;
  return field->to_number<int64_t>();
}

std::string FormatTime(int64_t millis) {
  if (millis <= 0) return "-";
  const std::time_t seconds = millis / 1000;
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

std::string FormatDuration(int64_t millis) {
  char buffer[32];
  if (millis < 1000) std::snprintf(buffer, sizeof buffer, "%lld ms", static_cast<long long>(millis));
  else if (millis < 60'000) std::snprintf(buffer, sizeof buffer, "%.1f s", double(millis) / 1000);
  else std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(millis / 60'000),
                     static_cast<long long>(millis / 1000 % 60));
  return buffer;
}

bool IsTerminal(const std::string& state) {
  return state == "FINISHED" || state == "FAILED" || state == "CANCELED";
}

// Accepts a unique prefix of a job id, as people copy short ids from `brook list`.
std::string ResolveJob(Api& api, const std::string& id) {
  std::vector<std::string> matches;
  const json::value jobs = api.Get("/jobs");
  for (const auto& job : jobs.as_object().at("jobs").as_array()) {
    const std::string jid = Str(job, "id");
    if (jid == id) return jid;
    if (jid.rfind(id, 0) == 0) matches.push_back(jid);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) throw ClusterError("no job with id '" + id + "'");
  throw ClusterError("job id '" + id + "' is ambiguous (" + std::to_string(matches.size()) + " jobs)");
}

void PrintVertices(const json::value& job) {
  std::printf("  %-4s %-48s %4s  %-10s %14s %14s %10s %5s\n", "id", "vertex", "par", "status",
              "records in", "records out", "out/s", "bp");
  for (const auto& v : job.as_object().at("vertices").as_array()) {
    const auto& m = v.as_object().at("metrics");
    std::string name = Str(v, "name");
    if (name.size() > 48) name = name.substr(0, 45) + "...";
    std::printf("  %-4s %-48s %4lld  %-10s %14lld %14lld %10.0f %4.0f%%\n", Str(v, "id").c_str(),
                name.c_str(), static_cast<long long>(Int(v, "parallelism")), Str(v, "status").c_str(),
                static_cast<long long>(Int(m, "read-records")),
                static_cast<long long>(Int(m, "write-records")),
                m.as_object().at("write-records-per-second").to_number<double>(),
                100 * m.as_object().at("backpressure-ratio").to_number<double>());
  }
}

void PrintRootException(Api& api, const std::string& id) {
  const auto exceptions = api.Get("/jobs/" + id + "/exceptions");
  const std::string root = Str(exceptions, "root-exception");
  if (!root.empty() && root != "-") std::fprintf(stderr, "cause: %s\n", root.c_str());
}

int FollowJob(Api& api, const std::string& id) {
  std::string last_state;
  auto last_progress = std::chrono::steady_clock::now() - std::chrono::hours(1);
  for (;;) {
    const auto job = api.Get("/jobs/" + id);
    const std::string state = Str(job, "state");
    const auto now = std::chrono::steady_clock::now();
    if (state != last_state) {
      std::printf("job %s %s\n", id.c_str(), state.c_str());
      last_state = state;
    }
    if (IsTerminal(state)) {
      PrintVertices(job);
      std::printf("job %s %s after %s (%lld restart%s)\n", id.c_str(), state.c_str(),
                  FormatDuration(Int(job, "duration")).c_str(), static_cast<long long>(Int(job, "restarts")),
                  Int(job, "restarts") == 1 ? "" : "s");
      if (state == "FINISHED") return kOk;
      PrintRootException(api, id);
      return kJobFailed;
    }
    if (now - last_progress >= std::chrono::seconds(5)) {
      PrintVertices(job);
      last_progress = now;
    }
    std::fflush(stdout);
    for (int i = 0; i < 10 && !interrupted; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (interrupted) {
      std::printf("stopped following; job %s keeps running (brook cancel %s)\n", id.c_str(), id.c_str());
      return kOk;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"brook: submit and manage jobs on a Brook cluster"};
  app.require_subcommand(1);
  std::string jobmanager = "127.0.0.1:8081", token;
  app.add_option("--jobmanager,-m", jobmanager, "REST address of the job manager, HOST:PORT")
      ->envname("BROOK_JOBMANAGER")
      ->capture_default_str();
  app.add_option("--token", token, "the cluster token (for submit and cancel)")->envname("BROOK_TOKEN");

  auto* run = app.add_subcommand("run", "upload a job library and run it");
  std::string library;
  int parallelism = 0;
  bool detached = false;
  std::vector<std::string> job_args;
  run->add_option("library", library, "the job's shared library (lib<job>.so)")->required();
  run->add_option("--parallelism,-p", parallelism, "default parallelism of the job's operators");
  run->add_flag("--detached,-d", detached, "return once the job is submitted");
  std::string from_savepoint;
  run->add_option("--from-savepoint,-s", from_savepoint,
                  "start from this savepoint (or retained checkpoint) directory");
  run->add_option("args", job_args, "arguments for the job (after --)");

  auto* list = app.add_subcommand("list", "list jobs");
  auto* status = app.add_subcommand("status", "show a job and its vertices");
  auto* cancel = app.add_subcommand("cancel", "cancel a job");
  std::string job_id;
  status->add_option("job", job_id, "job id (or a unique prefix)")->required();
  cancel->add_option("job", job_id, "job id (or a unique prefix)")->required();
  auto* taskmanagers = app.add_subcommand("taskmanagers", "list task managers and their slots");
  auto* checkpoints = app.add_subcommand("checkpoints", "show a job's checkpoint statistics");
  checkpoints->add_option("job", job_id, "job id (or a unique prefix)")->required();
  auto* savepoint = app.add_subcommand("savepoint", "take a savepoint of a running job");
  std::string savepoint_dir;
  savepoint->add_option("job", job_id, "job id (or a unique prefix)")->required();
  savepoint->add_option("directory", savepoint_dir, "absolute target directory")->required();
  auto* stop = app.add_subcommand(
      "stop", "stop a job with a savepoint: its sources stop, the savepoint is taken and "
              "committed, the job ends FINISHED (if the savepoint fails, the job keeps running)");
  bool drain = false;
  stop->add_option("--savepoint,-p", savepoint_dir, "absolute target directory")->required();
  stop->add_flag("--drain,-d", drain,
                 "end event time first (the final watermark fires every window and timer); for "
                 "jobs stopped for good");
  stop->add_option("job", job_id, "job id (or a unique prefix)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  try {
    Api api(jobmanager, token);
    if (*run) {
      std::signal(SIGINT, [](int) { interrupted = 1; });
      const auto upload = api.Upload(library);
      const std::string jar = Str(upload, "id");
      json::object request{{"programArgsList", json::array(job_args.begin(), job_args.end())}};
      if (parallelism > 0) request["parallelism"] = parallelism;
      if (!from_savepoint.empty()) request["savepointPath"] = from_savepoint;
      const auto submitted = api.Post("/jars/" + jar + "/run", request);
      const std::string id = Str(submitted, "jobid");
      std::printf("submitted job %s\n", id.c_str());
      std::fflush(stdout);
      if (detached) return kOk;
      return FollowJob(api, id);
    }
    if (*list) {
      const auto jobs = api.Get("/jobs").as_object().at("jobs").as_array();
      std::printf("%-32s  %-24s %-11s %-19s %10s\n", "id", "name", "state", "started", "duration");
      for (const auto& job : jobs)
        std::printf("%-32s  %-24s %-11s %-19s %10s\n", Str(job, "id").c_str(), Str(job, "name").c_str(),
                    Str(job, "state").c_str(), FormatTime(Int(job, "start-time")).c_str(),
                    FormatDuration(Int(job, "duration")).c_str());
      if (jobs.empty()) std::printf("(no jobs)\n");
      return kOk;
    }
    if (*status) {
      const std::string id = ResolveJob(api, job_id);
      const auto job = api.Get("/jobs/" + id);
      std::printf("job %s (%s): %s, started %s, running for %s, %lld restart(s)\n", id.c_str(),
                  Str(job, "name").c_str(), Str(job, "state").c_str(),
                  FormatTime(Int(job, "start-time")).c_str(), FormatDuration(Int(job, "duration")).c_str(),
                  static_cast<long long>(Int(job, "restarts")));
      PrintVertices(job);
      if (Str(job, "state") == "FAILED" || Int(job, "restarts") > 0) PrintRootException(api, id);
      return kOk;
    }
    if (*cancel) {
      const std::string id = ResolveJob(api, job_id);
      api.Patch("/jobs/" + id + "?mode=cancel");
      std::printf("cancelling job %s\n", id.c_str());
      for (int i = 0; i < 300; ++i) {
        const std::string state = Str(api.Get("/jobs/" + id), "state");
        if (IsTerminal(state)) {
          std::printf("job %s %s\n", id.c_str(), state.c_str());
          return kOk;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::printf("job %s is still cancelling\n", id.c_str());
      return kOk;
    }
    if (*checkpoints) {
      const std::string id = ResolveJob(api, job_id);
      const auto c = api.Get("/jobs/" + id + "/checkpoints");
      const auto& counts = c.as_object().at("counts");
      std::printf("job %s: %lld completed, %lld failed, %lld in progress\n", id.c_str(),
                  static_cast<long long>(Int(counts, "completed")), static_cast<long long>(Int(counts, "failed")),
                  static_cast<long long>(Int(counts, "in_progress")));
      std::printf("%6s  %-11s %-19s %10s %12s %10s %7s\n", "id", "status", "triggered", "duration",
                  "size", "alignment", "acks");
      for (const auto& h : c.as_object().at("history").as_array())
        std::printf("%6lld  %-11s %-19s %7lld ms %12lld %7lld ms %3lld/%lld %s\n",
                    static_cast<long long>(Int(h, "id")), Str(h, "status").c_str(),
                    FormatTime(Int(h, "trigger_timestamp")).c_str(),
                    static_cast<long long>(Int(h, "end_to_end_duration")),
                    static_cast<long long>(Int(h, "state_size")),
                    static_cast<long long>(Int(h, "alignment_duration")),
                    static_cast<long long>(Int(h, "num_acknowledged_subtasks")),
                    static_cast<long long>(Int(h, "num_subtasks")), Str(h, "failure_message").c_str());
      return kOk;
    }
    if (*savepoint || *stop) {
      const std::string id = ResolveJob(api, job_id);
      const auto trigger =
          *stop ? api.Post("/jobs/" + id + "/stop",
                           json::object{{"targetDirectory", savepoint_dir}, {"drain", drain}})
                : api.Post("/jobs/" + id + "/savepoints",
                           json::object{{"target-directory", savepoint_dir}, {"cancel-job", false}});
      const std::string request_id = Str(trigger, "request-id");
      for (int i = 0; i < 1200; ++i) {
        const auto status = api.Get("/jobs/" + id + "/savepoints/" + request_id);
        const std::string state = Str(status.as_object().at("status"), "id");
        if (state == "COMPLETED") {
          std::printf("savepoint of job %s written to %s\n", id.c_str(),
                      Str(status.as_object().at("operation"), "location").c_str());
          if (*stop) std::printf("job %s FINISHED\n", id.c_str());
          return kOk;
        }
        if (state == "FAILED") {
          std::fprintf(stderr, "brook: the savepoint failed: %s\n",
                       Str(status.as_object().at("operation"), "failure-cause").c_str());
          if (*stop)
            std::fprintf(stderr, "brook: job %s is %s\n", id.c_str(),
                         Str(api.Get("/jobs/" + id), "state").c_str());
          return kJobFailed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::fprintf(stderr, "brook: the savepoint did not complete within 2 minutes\n");
      return kJobFailed;
    }
    if (*taskmanagers) {
      const auto tms = api.Get("/taskmanagers").as_object().at("taskmanagers").as_array();
      std::printf("%-36s %-22s %6s %6s %10s %12s\n", "id", "data address", "slots", "free", "rss MiB",
                  "heartbeat");
      for (const auto& tm : tms)
        std::printf("%-36s %-22s %6lld %6lld %10.1f %9lld ms\n", Str(tm, "id").c_str(),
                    (Str(tm, "host") + ":" + Str(tm, "dataPort")).c_str(),
                    static_cast<long long>(Int(tm, "slotsNumber")), static_cast<long long>(Int(tm, "freeSlots")),
                    double(Int(tm.as_object().at("memory"), "rss")) / (1 << 20),
                    static_cast<long long>(Int(tm, "timeSinceLastHeartbeat")));
      if (tms.empty()) std::printf("(no task managers)\n");
      return kOk;
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "brook: %s\n", e.what());
    return kUsage;
  } catch (const ClusterError& e) {
    std::fprintf(stderr, "brook: %s\n", e.what());
    return kClusterError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brook: unexpected response from the job manager: %s\n", e.what());
    return kClusterError;
  }
  return kUsage;
}
