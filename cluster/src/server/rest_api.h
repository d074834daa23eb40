// The job manager's REST API, shaped like Flink's (internal to brook_server):
//
//   GET  /overview                       cluster summary
//   GET  /jobs                           every job with state and times
//   GET  /jobs/{id}                      a job: vertices with parallelism, status, metrics, plan
//   PATCH /jobs/{id}                     cancel (Flink's ?mode=cancel is accepted and optional)
//   GET  /jobs/{id}/vertices/{vid}       a vertex's subtasks: status, task manager, metrics
//   GET  /jobs/{id}/exceptions           the root exception and the history
//   GET  /jobs/{id}/checkpoints          checkpoint counts and history
//   GET  /taskmanagers, /taskmanagers/{id}
//   GET  /jars                           uploaded job libraries
//   POST /jars/upload                    upload a job library (raw bytes; ?name=file.so)
//   POST /jars/{id}/run                  run it: {"parallelism": N, "programArgsList": [...]}
//   GET  /metrics                        Prometheus text format
//
// Every handler reads or changes the core on the job manager's executor (SerialExecutor::Call),
// so REST threads never touch its state. Errors are {"errors": ["..."]} with a 4xx status.
#pragma once

namespace brook {

namespace http {
class HttpServer;
}
class JobManagerCore;
class SerialExecutor;

void RegisterRestApi(http::HttpServer& server, JobManagerCore& core, SerialExecutor& executor);

}  // namespace brook
