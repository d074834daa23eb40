#include "cluster/src/server/rest_api.h"

#include <map>
#include <optional>

#include <boost/json.hpp>

#include "brook/cluster/rest/http_server.h"
#include "brook/cluster/rest/multipart.h"
#include "brook/cluster/server/process_stats.h"
#include "brook/jobs/job_entry.h"
#include "brook/runtime/metrics.h"
#include "cluster/src/server/job_manager_core.h"
#include "cluster/src/server/prometheus_text.h"

namespace brook {

namespace json = boost::json;

namespace {

json::value Watermark(int64_t w) { return w == INT64_MIN ? json::value(nullptr) : json::value(w); }

// Upper bound (µs) of the bucket holding the q-quantile of histogram buckets, capped by the
// maximum: the same estimate as brook::Histogram::Quantile.
int64_t QuantileUs(const LatencyView& l, double q) {
  if (l.count <= 0) return 0;
  const auto rank = static_cast<int64_t>(q * double(l.count - 1)) + 1;
  int64_t seen = 0;
  for (size_t i = 0; i < l.buckets.size(); ++i) {
    seen += l.buckets[i];
    if (seen >= rank) return std::min(Histogram::BucketUpperBound(int(i)), l.max_us);
  }
  return l.max_us;
}

// End-to-end latency by source vertex, in milliseconds (Flink's latency metric shape).
json::array LatencyJson(const JobRecord& job, const std::vector<LatencyView>& latency) {
  json::array result;
  for (const LatencyView& l : latency) {
    const bool known = l.source_vertex >= 0 && size_t(l.source_vertex) < job.graph->vertices().size();
    result.push_back(json::object{
        {"source-id", std::to_string(l.source_vertex)},
        {"source-name", known ? job.graph->vertex(VertexId(l.source_vertex)).name : ""},
        {"count", l.count},
        {"mean-ms", l.count > 0 ? double(l.sum_us) / double(l.count) / 1e3 : 0.0},
        {"p50-ms", double(QuantileUs(l, 0.5)) / 1e3},
        {"p99-ms", double(QuantileUs(l, 0.99)) / 1e3},
        {"max-ms", double(l.max_us) / 1e3}});
  }
  return result;
}

// The subtasks' latency histograms of one vertex merged per source vertex.
std::vector<LatencyView> MergedLatency(const JobRecord& job, int vertex) {
  std::map<int, LatencyView> by_source;
  for (const auto& [where, sub] : job.subtasks) {
    if (where.first != vertex) continue;
    for (const LatencyView& l : sub.metrics.latency) {
      LatencyView& merged = by_source[l.source_vertex];
      merged.source_vertex = l.source_vertex;
      merged.count += l.count;
      merged.sum_us += l.sum_us;
      merged.max_us = std::max(merged.max_us, l.max_us);
      if (merged.buckets.size() < l.buckets.size()) merged.buckets.resize(l.buckets.size());
      for (size_t i = 0; i < l.buckets.size(); ++i) merged.buckets[i] += l.buckets[i];
    }
  }
  std::vector<LatencyView> result;
  for (auto& [source, l] : by_source) result.push_back(std::move(l));
  return result;
}

// The sums over subtasks that Flink shows per vertex.
json::object VertexMetrics(const JobRecord& job, int vertex) {
  int64_t in = 0, out = 0, bytes_in = 0, bytes_out = 0;
  double in_rate = 0, out_rate = 0, busy = 0, backpressure = 0, out_pool = 0, in_pool = 0;
  int64_t watermark = INT64_MAX;
  int n = 0;
  for (const auto& [where, sub] : job.subtasks) {
    if (where.first != vertex) continue;
    const auto& m = sub.metrics;
    in += m.records_in;
    out += m.records_out;
    bytes_in += m.bytes_in;
    bytes_out += m.bytes_out;
    in_rate += m.records_in_rate;
    out_rate += m.records_out_rate;
    busy = std::max(busy, m.busy_ratio);
    backpressure = std::max(backpressure, m.backpressure_ratio);
    out_pool = std::max(out_pool, m.out_pool_usage);
    in_pool = std::max(in_pool, m.in_pool_usage);
    watermark = std::min(watermark, m.watermark);
    ++n;
  }
  if (n == 0) watermark = INT64_MIN;
  return {{"read-records", in},
          {"write-records", out},
          {"read-bytes", bytes_in},
          {"write-bytes", bytes_out},
          {"read-records-per-second", in_rate},
          {"write-records-per-second", out_rate},
          {"busy-ratio", busy},
          {"backpressure-ratio", backpressure},
          {"backpressure-level", backpressure > 0.5 ? "high" : backpressure > 0.1 ? "low" : "ok"},
          {"out-pool-usage", out_pool},  // the fullest subtask's
          {"in-pool-usage", in_pool},
          {"watermark", Watermark(watermark)}};
}

json::object SubtaskMetrics(const JobRecord& job, const SubtaskMetricsView& m) {
  return {{"read-records", m.records_in},
          {"write-records", m.records_out},
          {"read-bytes", m.bytes_in},
          {"write-bytes", m.bytes_out},
          {"read-records-per-second", m.records_in_rate},
          {"write-records-per-second", m.records_out_rate},
          {"busy-ratio", m.busy_ratio},
          {"backpressure-ratio", m.backpressure_ratio},
          {"out-pool-usage", m.out_pool_usage},
          {"in-pool-usage", m.in_pool_usage},
          {"latency", LatencyJson(job, m.latency)},
          {"watermark", Watermark(m.watermark)}};
}

// A vertex is as far as its least advanced subtask.
const char* VertexStatus(const JobRecord& job, int vertex) {
  SubtaskStatus worst = SubtaskStatus::kFinished;
  bool any = false;
  for (const auto& [where, sub] : job.subtasks) {
    if (where.first != vertex) continue;
    any = true;
    if (sub.status == SubtaskStatus::kFailed) return "FAILED";
    if (int(sub.status) < int(worst)) worst = sub.status;
  }
  return any ? SubtaskStatusName(worst) : "CREATED";
}

int64_t Duration(const JobRecord& job) {
  return (job.end_time >= 0 ? job.end_time : NowMillis()) - job.start_time;
}

json::object JobSummaryJson(const JobRecord& job) {
  return {{"id", job.id},           {"jid", job.id},
          {"name", job.name},       {"state", JobStateName(job.state)},
          {"start-time", job.start_time}, {"end-time", job.end_time},
          {"duration", Duration(job)},    {"restarts", job.restarts},
          {"attempt", job.attempt}};
}

std::string ShipStrategy(const JobEdge& edge) {
  switch (edge.partitioner->kind()) {
    case PartitionerFactory::Kind::kForward: return "FORWARD";
    case PartitionerFactory::Kind::kRebalance: return "REBALANCE";
    case PartitionerFactory::Kind::kBroadcast: return "BROADCAST";
    case PartitionerFactory::Kind::kHash: return "HASH";
  }
  return "UNKNOWN";
}

json::object JobDetails(const JobRecord& job) {
  json::object result = JobSummaryJson(job);
  result["now"] = NowMillis();
  result["parallelism"] = job.parallelism;
  json::array vertices, nodes;
  for (const auto& v : job.graph->vertices()) {
    json::object vertex{{"id", std::to_string(v.id.value())},
                        {"name", v.name},
                        {"parallelism", v.parallelism},
                        {"maxParallelism", v.max_parallelism},
                        {"status", VertexStatus(job, v.id.value())},
                        {"metrics", VertexMetrics(job, v.id.value())}};
    vertices.push_back(std::move(vertex));
    json::array inputs;
    for (const JobEdge* edge : job.graph->InputsOf(v.id))
      inputs.push_back(json::object{{"id", std::to_string(edge->source_vertex.value())},
                                    {"ship_strategy", ShipStrategy(*edge)},
                                    {"exchange", "pipelined"},
                                    {"side_output", edge->side_output_tag}});
    nodes.push_back(json::object{{"id", std::to_string(v.id.value())},
                                 {"description", v.name},
                                 {"parallelism", v.parallelism},
                                 {"inputs", std::move(inputs)}});
  }
  result["vertices"] = std::move(vertices);
  result["plan"] = json::object{{"jid", job.id}, {"name", job.name}, {"nodes", std::move(nodes)}};
  return result;
}

json::object VertexDetails(const JobManagerCore& core, const JobRecord& job, const std::string& vid) {
  int vertex = -1;
  try {
    size_t used = 0;
    vertex = std::stoi(vid, &used);
    if (used != vid.size()) vertex = -1;
  } catch (const std::exception&) {
  }
  if (vertex < 0 || size_t(vertex) >= job.graph->vertices().size())
    throw RequestError(404, "job " + job.id + " has no vertex '" + vid + "'");
  const JobVertex& v = job.graph->vertex(VertexId(vertex));
  json::array subtasks;
  for (const auto& [where, sub] : job.subtasks) {
    if (where.first != vertex) continue;
    std::string host;
    if (auto tm = core.task_managers().find(sub.task_manager); tm != core.task_managers().end())
      host = tm->second.host;
    subtasks.push_back(json::object{{"subtask", where.second},
                                    {"status", SubtaskStatusName(sub.status)},
                                    {"attempt", job.attempt},
                                    {"taskmanager-id", sub.task_manager},
                                    {"host", host},
                                    {"metrics", SubtaskMetrics(job, sub.metrics)}});
  }
  return {{"id", vid},
          {"name", v.name},
          {"parallelism", v.parallelism},
          {"status", VertexStatus(job, vertex)},
          {"metrics", VertexMetrics(job, vertex)},
          {"latency", LatencyJson(job, MergedLatency(job, vertex))},
          {"subtasks", std::move(subtasks)}};
}

int FreeSlots(const JobManagerCore& core, const std::string& tm_id) {
  for (const auto& tm : core.slots().TaskManagers())
    if (tm.task_manager_id == tm_id) return tm.free;
  return 0;
}

json::object TaskManagerJson(const JobManagerCore& core, const TaskManagerRecord& tm, bool detail) {
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - tm.last_heartbeat)
                         .count();
  json::object result{{"id", tm.id},
                      {"path", tm.connection ? tm.connection->peer().remote_address : ""},
                      {"host", tm.host},
                      {"dataPort", tm.data_port},
                      {"metricsPort", tm.metrics_port},
                      {"slotsNumber", tm.slots},
                      {"freeSlots", FreeSlots(core, tm.id)},
                      {"timeSinceLastHeartbeat", since},
                      {"registeredAt", tm.registered_at},
                      {"hardware", json::object{{"cpuCores", tm.cpu_cores},
                                                {"physicalMemory", tm.physical_memory}}},
                      {"memory", json::object{{"rss", tm.rss_bytes}}},
                      {"cpuSeconds", tm.cpu_seconds}};
  if (detail) {
    std::vector<json::value> jobs(size_t(tm.slots), nullptr);
    for (const auto& [id, job] : core.jobs())
      for (const auto& slot : job->slots)
        if (slot.task_manager_id == tm.id && slot.index >= 0 && slot.index < tm.slots)
          jobs[size_t(slot.index)] = json::value(id);
    json::array slots;
    for (int i = 0; i < tm.slots; ++i)
      slots.push_back(json::object{{"index", i}, {"job", jobs[size_t(i)]}});
    result["slots"] = std::move(slots);
  }
  return result;
}

json::object CheckpointJson(const CheckpointStats& s) {
  return {{"id", s.id},
          {"status", s.status},
          {"trigger_timestamp", s.trigger_time},
          {"end_to_end_duration", s.duration_ms},
          {"state_size", s.state_size},
          {"alignment_duration", s.alignment_ms},
          {"num_acknowledged_subtasks", s.acknowledged},
          {"num_subtasks", s.subtasks},
          {"failure_message", s.failure}};
}

http::Response Json(json::object value) { return http::Response::Json(json::value(std::move(value))); }

// Runs `fn` on the executor; RequestError becomes its HTTP status.
template <typename Fn>
http::Response OnCore(SerialExecutor& executor, Fn fn) {
  try {
    return executor.Call(std::move(fn));
  } catch (const RequestError& e) {
    return http::Response::Error(e.status, e.what());
  }
}

json::value ParseBody(const http::Request& request) {
  if (request.body.empty()) return json::object{};
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);
  if (ec || !value.is_object()) throw RequestError(400, "the request body is not a JSON object");
  return value;
}

}  // namespace

void RegisterRestApi(http::HttpServer& server, JobManagerCore& core, SerialExecutor& executor) {
  using http::Request;
  using http::Response;

  server.Route("GET", "/overview", [&](const Request&) {
    return OnCore(executor, [&] {
      int running = 0, finished = 0, cancelled = 0, failed = 0;
      for (const auto& [id, job] : core.jobs()) {
        switch (job->state) {
          case JobState::kFinished: ++finished; break;
          case JobState::kCanceled: ++cancelled; break;
          case JobState::kFailed: ++failed; break;
          default: ++running;
        }
      }
      return Json({{"taskmanagers", core.task_managers().size()},
                   {"slots-total", core.slots().total_slots()},
                   {"slots-available", core.slots().free_slots()},
                   {"jobs-running", running},
                   {"jobs-finished", finished},
                   {"jobs-cancelled", cancelled},
                   {"jobs-failed", failed},
                   {"brook-version", kBrookVersion}});
    });
  });

  server.Route("GET", "/jobs", [&](const Request&) {
    return OnCore(executor, [&] {
      json::array jobs;
      for (auto it = core.job_order().rbegin(); it != core.job_order().rend(); ++it)
        jobs.push_back(JobSummaryJson(*core.jobs().at(*it)));
      return Json({{"jobs", std::move(jobs)}});
    });
  });

  server.Route("GET", "/jobs/{id}", [&](const Request& request) {
    return OnCore(executor, [&] { return Json(JobDetails(core.job(request.params.at("id")))); });
  });

  server.Route("PATCH", "/jobs/{id}", [&](const Request& request) {
    if (auto mode = request.query.find("mode"); mode != request.query.end() && mode->second != "cancel")
      return Response::Error(400, "unsupported mode '" + mode->second + "' (only 'cancel')");
    return OnCore(executor, [&] {
      core.CancelJob(request.params.at("id"));
      return Response::Json(json::object{}, 202);
    });
  }, {.mutating = true});

  server.Route("GET", "/jobs/{id}/vertices/{vid}", [&](const Request& request) {
    return OnCore(executor, [&] {
      return Json(VertexDetails(core, core.job(request.params.at("id")), request.params.at("vid")));
    });
  });

  server.Route("GET", "/jobs/{id}/exceptions", [&](const Request& request) {
    return OnCore(executor, [&] {
      const JobRecord& job = core.job(request.params.at("id"));
      json::array all;
      for (auto it = job.exceptions.rbegin(); it != job.exceptions.rend(); ++it)
        all.push_back(json::object{{"exception", it->message},
                                   {"task", it->task},
                                   {"location", it->location},
                                   {"timestamp", it->timestamp}});
      json::object result{{"all-exceptions", std::move(all)}, {"truncated", false}};
      if (job.exceptions.empty()) {
        result["root-exception"] = nullptr;
        result["timestamp"] = nullptr;
      } else {
        result["root-exception"] = job.exceptions.back().message;
        result["timestamp"] = job.exceptions.back().timestamp;
      }
      return Json(std::move(result));
    });
  });

  server.Route("GET", "/jobs/{id}/checkpoints", [&](const Request& request) {
    return OnCore(executor, [&] {
      const JobRecord& job = core.job(request.params.at("id"));
      const JobCheckpoints& c = job.checkpoints;
      json::array history;
      for (auto it = c.history.rbegin(); it != c.history.rend(); ++it) history.push_back(CheckpointJson(*it));
      for (const auto& [id, pending] : c.pending) {
        CheckpointStats stats;
        stats.id = id;
        stats.status = "IN_PROGRESS";
        stats.trigger_time = pending.metadata.trigger_time;
        stats.duration_ms = NowMillis() - stats.trigger_time;
        stats.acknowledged = int(pending.acknowledged.size());
        stats.subtasks = int(job.subtasks.size());
        history.insert(history.begin(), CheckpointJson(stats));
      }
      const auto& config = job.graph->config().checkpoint;
      return Json({{"counts", json::object{{"completed", c.completed},
                                           {"failed", c.failed},
                                           {"in_progress", c.pending.size()},
                                           {"total", c.completed + c.failed + int(c.pending.size())}}},
                   {"latest", json::object{{"completed", c.latest_completed ? json::value(CheckpointJson(*c.latest_completed))
                                                                              : json::value(nullptr)},
                                           {"restore_directory", c.latest_completed_directory}}},
                   {"config", json::object{{"interval", config.interval_ms},
                                           {"mode", ToString(config.mode)},
                                           {"timeout", config.timeout_ms},
                                           {"enabled", config.enabled()}}},
                   {"history", std::move(history)}});
    });
  });

  // Flink's savepoint API: POST {"target-directory": DIR, "cancel-job": bool} -> request id,
  // then GET .../savepoints/{request id} until the status is COMPLETED (or FAILED).
  server.Route("POST", "/jobs/{id}/savepoints", [&](const Request& request) {
    return OnCore(executor, [&] {
      const json::value body = ParseBody(request);
      std::string target;
      bool cancel = false;
      try {
        const auto& object = body.as_object();
        if (auto* t = object.if_contains("target-directory")) target = std::string(t->as_string());
        if (auto* c = object.if_contains("cancel-job")) cancel = c->as_bool();
      } catch (const std::exception& e) {
        throw RequestError(400, std::string("bad savepoint request: ") + e.what());
      }
      const int64_t id = core.TriggerSavepoint(request.params.at("id"), target, cancel);
      return Response::Json(json::object{{"request-id", std::to_string(id)}}, 202);
    });
  }, {.mutating = true});

  // Flink's stop-with-savepoint: POST {"targetDirectory": DIR, "drain": bool} -> request id, its
  // status at GET .../savepoints/{request id}: COMPLETED once the savepoint is written and the
  // job FINISHED, FAILED if the savepoint failed (the job keeps running) or the job ended
  // otherwise.
  server.Route("POST", "/jobs/{id}/stop", [&](const Request& request) {
    return OnCore(executor, [&] {
      const json::value body = ParseBody(request);
      std::string target;
      bool drain = false;
      try {
        const auto& object = body.as_object();
        if (auto* t = object.if_contains("targetDirectory")) target = std::string(t->as_string());
        if (auto* d = object.if_contains("drain")) drain = d->as_bool();
      } catch (const std::exception& e) {
        throw RequestError(400, std::string("bad stop request: ") + e.what());
      }
      const int64_t id = core.StopWithSavepoint(request.params.at("id"), target,
                                                drain ? StopMode::kDrain : StopMode::kNoDrain);
      return Response::Json(json::object{{"request-id", std::to_string(id)}}, 202);
    });
  }, {.mutating = true});

  server.Route("GET", "/jobs/{id}/savepoints/{rid}", [&](const Request& request) {
    return OnCore(executor, [&] {
      const JobRecord& job = core.job(request.params.at("id"));
      int64_t rid = -1;
      try {
        rid = std::stoll(request.params.at("rid"));
      } catch (const std::exception&) {
      }
      auto it = job.checkpoints.savepoints.find(rid);
      if (it == job.checkpoints.savepoints.end())
        throw RequestError(404, "job " + job.id + " has no savepoint request '" + request.params.at("rid") + "'");
      json::object operation{{"location", it->second.location}};
      if (!it->second.failure.empty()) operation["failure-cause"] = it->second.failure;
      return Json({{"status", json::object{{"id", it->second.status}}}, {"operation", std::move(operation)}});
    });
  });

  server.Route("GET", "/taskmanagers", [&](const Request&) {
    return OnCore(executor, [&] {
      json::array tms;
      for (const auto& [id, tm] : core.task_managers()) tms.push_back(TaskManagerJson(core, tm, false));
      return Json({{"taskmanagers", std::move(tms)}});
    });
  });

  server.Route("GET", "/taskmanagers/{id}", [&](const Request& request) {
    return OnCore(executor, [&] {
      auto it = core.task_managers().find(request.params.at("id"));
      if (it == core.task_managers().end())
        throw RequestError(404, "no task manager with id '" + request.params.at("id") + "'");
      return Json(TaskManagerJson(core, it->second, true));
    });
  });

  server.Route("GET", "/jars", [&](const Request&) {
    return OnCore(executor, [&] {
      json::array files;
      for (const auto& blob : core.blobs().List())
        files.push_back(json::object{{"id", blob.key.hex()}, {"name", blob.name}, {"size", blob.size}});
      return Json({{"files", std::move(files)}});
    });
  });

  // Flink's form (multipart/form-data with the file in part "jarfile"), or the raw bytes with
  // ?name=file.so.
  server.Route("POST", "/jars/upload", [&](const Request& request) {
    std::string name = request.Query("name", "job.so");
    const std::string* bytes = &request.body;
    std::optional<std::vector<http::MultipartPart>> parts;
    if (request.content_type.rfind("multipart/", 0) == 0) {
      std::string error;
      parts = http::ParseMultipartFormData(request.content_type, request.body, &error);
      if (!parts) return Response::Error(400, "malformed multipart upload: " + error);
      const http::MultipartPart* file = http::FindPart(*parts, "jarfile");
      if (!file) return Response::Error(400, "the upload has no part named 'jarfile'");
      bytes = &file->data;
      if (!file->filename.empty()) name = file->filename;
    }
    return OnCore(executor, [&] {
      const std::string key = core.UploadJar(*bytes, name);
      return Response::Json(json::object{{"filename", key}, {"id", key}, {"status", "success"}});
    });
  }, {.max_body_bytes = size_t{512} << 20, .mutating = true});

  server.Route("POST", "/jars/{id}/run", [&](const Request& request) {
    return OnCore(executor, [&] {
      const json::value body = ParseBody(request);
      int parallelism = 0;
      std::vector<std::string> args;
      std::string savepoint;
      try {
        const auto& object = body.as_object();
        if (auto* p = object.if_contains("parallelism"); p && !p->is_null())
          parallelism = int(p->to_number<int64_t>());
        if (auto* path = object.if_contains("savepointPath"); path && !path->is_null())
          savepoint = std::string(path->as_string());
        if (auto* list = object.if_contains("programArgsList"))
          for (const auto& arg : list->as_array()) args.push_back(std::string(arg.as_string()));
      } catch (const std::exception& e) {
        throw RequestError(400, std::string("bad run request: ") + e.what());
      }
      const std::string id =
          core.RunJar(request.params.at("id"), JobArgs(std::move(args)), parallelism, savepoint);
      return Response::Json(json::object{{"jobid", id}});
    });
  }, {.mutating = true});

  server.Route("GET", "/metrics", [&](const Request&) {
    return OnCore(executor, [&] {
      return Response::Text(JobManagerPrometheusText(core, ReadProcessStats()),
                            "text/plain; version=0.0.4; charset=utf-8");
    });
  });
}

}  // namespace brook
