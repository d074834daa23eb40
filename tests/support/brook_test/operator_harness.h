// Test support: runs one operator outside a task, with its outputs collected.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "brook/runtime/stream_operator.h"
#include "brook_test/collecting_output.h"

namespace brook::testing {

template <typename Out>
struct OperatorHarness {
  OperatorHarness(std::unique_ptr<StreamOperatorBase> op, int subtask = 0, int parallelism = 1)
      : op(std::move(op)) {
    context.operator_name = "op";
    context.subtask_index = subtask;
    context.parallelism = parallelism;
    context.timers = &timers;
    this->op->SetMainOutput(&output);
  }
  void Open() { op->Open(context); }

  template <typename In>
  void Process(std::vector<StreamRecord<In>> records) {
    RecordBatch<In> batch;
    batch.records = std::move(records);
    dynamic_cast<OneInputOperator<In>&>(*op).ProcessBatch(batch);
  }

  std::unique_ptr<StreamOperatorBase> op;
  RuntimeContext context;
  ProcessingTimeService timers;
  CollectingOutput<Out> output;
};

}  // namespace brook::testing
