// The runtime face of a record type. The job graph is built from typed user code, but tasks
// are wired by code that does not know the types; a TypeInfo made from the type at graph
// building time creates the typed plumbing (chaining outputs, channels, input gates) for it.
#pragma once

#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/output.h"
#include "brook/runtime/stream_operator.h"
#include "brook/runtime/task_input.h"

namespace brook {

std::string Demangle(const char* mangled_name);

class TypeInfo {
 public:
  virtual ~TypeInfo() = default;
  virtual std::string name() const = 0;
  // An output feeding input `input` of `target`: a OneInputOperator of this type (input 0), or
  // a TwoInputOperator taking this type as its first (0) or second (1) input.
  virtual std::unique_ptr<OutputBase> MakeChainingOutput(StreamOperatorBase* target,
                                                         int input = 0) const = 0;
  virtual std::unique_ptr<OutputBase> MakeFanOut(const std::vector<OutputBase*>& outputs) const = 0;
  virtual std::unique_ptr<OutputBase> MakeDiscardingOutput() const = 0;
  virtual std::unique_ptr<ChannelBase> MakeLocalChannel(size_t capacity,
                                                        size_t batch_size) const = 0;
  // A gate over `channels` feeding `head` (an output of this type).
  virtual std::unique_ptr<TaskInput> MakeInputGate(const std::vector<ChannelBase*>& channels,
                                                   OutputBase* head,
                                                   TaskIoMetrics* metrics) const = 0;
};

template <typename T>
class TypeInfoOf final : public TypeInfo {
 public:
  std::string name() const override { return Demangle(typeid(T).name()); }

  std::unique_ptr<OutputBase> MakeChainingOutput(StreamOperatorBase* target,
                                                 int input) const override {
    if (auto* two = dynamic_cast<TwoInputOperatorBase*>(target)) {
      if (input == 0) {
        auto* first = dynamic_cast<FirstInput<T>*>(target);
        BROOK_CHECK(first != nullptr, "first input of a two-input operator has another type");
        return std::make_unique<TwoInputChainingOutput<T, 0>>(two, first);
      }
      auto* second = dynamic_cast<SecondInput<T>*>(target);
      BROOK_CHECK(second != nullptr, "second input of a two-input operator has another type");
      return std::make_unique<TwoInputChainingOutput<T, 1>>(two, second);
    }
    auto* typed = dynamic_cast<OneInputOperator<T>*>(target);
    BROOK_CHECK(typed != nullptr && input == 0, "chained operator does not take this record type");
    return std::make_unique<ChainingOutput<T>>(typed);
  }

  std::unique_ptr<OutputBase> MakeFanOut(const std::vector<OutputBase*>& outputs) const override {
    std::vector<Output<T>*> typed;
    for (auto* o : outputs) typed.push_back(Cast(o));
    return std::make_unique<FanOutOutput<T>>(std::move(typed));
  }

  std::unique_ptr<OutputBase> MakeDiscardingOutput() const override {
    return std::make_unique<DiscardingOutput<T>>();
  }

  std::unique_ptr<ChannelBase> MakeLocalChannel(size_t capacity,
                                                size_t batch_size) const override {
    return std::make_unique<LocalChannel<T>>(capacity, batch_size);
  }

  std::unique_ptr<TaskInput> MakeInputGate(const std::vector<ChannelBase*>& channels,
                                           OutputBase* head,
                                           TaskIoMetrics* metrics) const override {
    std::vector<ChannelReceiver<T>*> receivers;
    for (auto* c : channels) {
      auto* r = dynamic_cast<ChannelReceiver<T>*>(c);
      BROOK_CHECK(r != nullptr, "channel carries another record type than the gate");
      receivers.push_back(r);
    }
    return std::make_unique<InputGate<T>>(std::move(receivers), Cast(head), metrics);
  }

 private:
  static Output<T>* Cast(OutputBase* o) {
    auto* typed = dynamic_cast<Output<T>*>(o);
    BROOK_CHECK(typed != nullptr, "output carries another record type");
    return typed;
  }
};

// The shared TypeInfo of T.
template <typename T>
std::shared_ptr<const TypeInfo> TypeInfoFor() {
  static const auto info = std::make_shared<const TypeInfoOf<T>>();
  return info;
}

}  // namespace brook
