# The control protocol between the job manager (JM) and task managers (TMs), carried by
# brook_rpc connections (length-framed Cap'n Proto, after the transport's Hello with protocol
# version and cluster token). Every frame's root is a ControlMessage. Messages are one-way, as
# in Flink's actor RPC; a reply is just another message:
#
#   TM -> JM  registerTaskManager        JM -> TM  registrationResponse
#   both      heartbeat (TM's carries its task metrics)
#   JM -> TM  deployJob, cancelJob       TM -> JM  taskStateChanged (per subtask)
#   TM -> JM  requestBlob                JM -> TM  blobChunk (the job library, in pieces)
#   JM -> TM  triggerCheckpoint          TM -> JM  acknowledgeCheckpoint / declineCheckpoint
#   JM -> TM  notifyCheckpoint (completed or aborted)
#
# Evolve by Cap'n Proto's rules: add fields and union members, never renumber.
@0xcdc82a6bb2f68ea1;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("brook::control");

struct RegisterTaskManager {
  taskManagerId @0 :Text;  # unique per TM process run
  host @1 :Text;           # where its data port and metrics port are reachable
  dataPort @2 :UInt16;
  metricsPort @3 :UInt16;  # 0: none
  slots @4 :Int32;
  cpuCores @5 :Int32;
  physicalMemory @6 :UInt64;
  pid @7 :Int64;
}

struct RegistrationResponse {
  accepted @0 :Bool;
  error @1 :Text;
  heartbeatIntervalMs @2 :Int64;
  heartbeatTimeoutMs @3 :Int64;
}

# The live numbers of one subtask, sent with every TM heartbeat.
struct SubtaskMetrics {
  jobId @0 :Text;
  attempt @1 :Int32;
  vertex @2 :Int32;
  subtask @3 :Int32;
  recordsIn @4 :Int64;
  recordsOut @5 :Int64;
  bytesIn @6 :Int64;
  bytesOut @7 :Int64;
  busyNs @8 :Int64;
  idleNs @9 :Int64;
  backpressureNs @10 :Int64;
  watermark @11 :Int64;  # INT64_MIN: none yet
  outPoolUsage @12 :Float64;  # how full the output channels are, 0..1
  inPoolUsage @13 :Float64;   # how full the input channels are, 0..1
  latency @14 :List(LatencyHistogram);  # markers that ended in this subtask, by source vertex
}

# End-to-end latency of the latency markers from one source vertex that reached a subtask's
# sink: the subtask's brook::Histogram (microseconds, bucket i holds [2^(i-1), 2^i)).
struct LatencyHistogram {
  sourceVertex @0 :Int32;
  count @1 :Int64;
  sumUs @2 :Int64;
  maxUs @3 :Int64;
  buckets @4 :List(Int64);  # counts of buckets 0..n-1; buckets past the list are empty
}

struct Heartbeat {
  sequence @0 :UInt64;
  rssBytes @1 :UInt64;     # TM -> JM only
  cpuSeconds @2 :Float64;  # TM -> JM only
  subtasks @3 :List(SubtaskMetrics);
}

struct SubtaskPlacement {
  vertex @0 :Int32;
  subtask @1 :Int32;
  taskManagerId @2 :Text;
}

struct TaskManagerAddress {
  taskManagerId @0 :Text;
  host @1 :Text;
  dataPort @2 :UInt16;
}

# Deploy the subtasks placed on the receiving TM for one attempt of a job. The TM fetches the
# library (requestBlob) unless cached, builds the graph from (library, args, parallelism) --
# deterministic, so vertex and edge indices match the JM's -- and runs its subtasks.
struct DeployJob {
  jobId @0 :Text;
  attempt @1 :Int32;
  networkJobId @2 :UInt64;   # unique per attempt: scopes the data channels
  jobName @3 :Text;
  blobKey @4 :Text;
  blobSize @5 :UInt64;
  args @6 :List(Text);
  parallelism @7 :Int32;
  placements @8 :List(SubtaskPlacement);      # every subtask of the job
  taskManagers @9 :List(TaskManagerAddress);  # every TM named in placements
  bufferTimeoutMs @10 :Int64;
  batchSize @11 :UInt32;
  checkpointDirectory @12 :Text;  # where tasks write snapshots; empty: checkpointing is off
  restoreDirectory @13 :Text;     # the completed checkpoint to start from; empty: none
  latencyTrackingIntervalMs @14 :Int64;  # for jobs that leave theirs unset; 0: off
}

# Sources of the attempt take checkpoint `checkpointId` and emit its barrier.
struct TriggerCheckpoint {
  jobId @0 :Text;
  attempt @1 :Int32;
  checkpointId @2 :Int64;
  timestamp @3 :Int64;
  savepoint @4 :Bool;  # a user-triggered savepoint (CheckpointKind::kSavepoint)
  # Stop with savepoint (CheckpointKind::kSynchronousSavepoint; `savepoint` is set too): the
  # sources emit nothing after the barrier and the tasks end once it completed.
  synchronous @5 :Bool;
  drain @6 :Bool;  # synchronous only: the final watermark before the barrier (StopMode::kDrain)
}

struct AcknowledgeCheckpoint {
  jobId @0 :Text;
  attempt @1 :Int32;
  checkpointId @2 :Int64;
  vertex @3 :Int32;
  subtask @4 :Int32;
  taskName @5 :Text;
  stateHandle @6 :Text;
  stateSize @7 :UInt64;
  syncNs @8 :Int64;
  asyncNs @9 :Int64;
  alignmentNs @10 :Int64;
}

struct DeclineCheckpoint {
  jobId @0 :Text;
  attempt @1 :Int32;
  checkpointId @2 :Int64;
  vertex @3 :Int32;
  subtask @4 :Int32;
  reason @5 :Text;
}

struct NotifyCheckpoint {
  jobId @0 :Text;
  attempt @1 :Int32;
  checkpointId @2 :Int64;
  completed @3 :Bool;  # false: aborted
}

struct CancelJob {
  jobId @0 :Text;
  attempt @1 :Int32;
  reason @2 :Text;
}

enum SubtaskState {
  deploying @0;
  running @1;
  finished @2;
  failed @3;
  canceled @4;
}

struct TaskStateChanged {
  jobId @0 :Text;
  attempt @1 :Int32;
  vertex @2 :Int32;   # -1: the whole deployment (it failed before any subtask ran)
  subtask @3 :Int32;
  state @4 :SubtaskState;
  error @5 :Text;
  metrics @6 :SubtaskMetrics;  # the subtask's final numbers, with a terminal state
}

struct RequestBlob {
  key @0 :Text;
}

struct BlobChunk {
  key @0 :Text;
  offset @1 :UInt64;
  totalSize @2 :UInt64;
  data @3 :Data;
  error @4 :Text;  # non-empty: the JM cannot serve this blob
}

struct ControlMessage {
  union {
    registerTaskManager @0 :RegisterTaskManager;
    registrationResponse @1 :RegistrationResponse;
    heartbeat @2 :Heartbeat;
    deployJob @3 :DeployJob;
    cancelJob @4 :CancelJob;
    taskStateChanged @5 :TaskStateChanged;
    requestBlob @6 :RequestBlob;
    blobChunk @7 :BlobChunk;
    triggerCheckpoint @8 :TriggerCheckpoint;
    acknowledgeCheckpoint @9 :AcknowledgeCheckpoint;
    declineCheckpoint @10 :DeclineCheckpoint;
    notifyCheckpoint @11 :NotifyCheckpoint;
  }
}
