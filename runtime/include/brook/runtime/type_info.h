// The runtime face of a record type. The job graph is built from typed user code, but tasks
// are wired by code that does not know the types; a TypeInfo made from the type at graph
// building time creates the typed plumbing (chaining outputs, channels, input gates) for it.
//
// Network channels need a brook::Serde for the type (serde.h). A type without one still builds
// and runs in one process; only asking for a network channel of it fails, at deployment.
// network_channel.h, included here for that, is free of Asio (the environment hides it).
#pragma once

#include <concepts>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/network/network_channel.h"
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
  // True if records of this type can cross processes: the type has a Serde and a default
  // constructor (the receiver decodes into a default-constructed value).
  virtual bool serializable() const = 0;
  // The producer end of network channel `id` (see network_channel.h). Throws
  // std::invalid_argument, naming the type, if !serializable(). Network channels may outlive
  // `network` (they keep its internals alive).
  //
  // Both take a channel the caller opened with its NetworkEnvironment, never the environment
  // itself: a TypeInfo's code lives in the job library, which carries its own static copy of
  // Brook's runtime (and of Asio, whose per-thread state is static), so it must not run the
  // process's environment. The channel cores it drives talk to the environment only through
  // virtual interfaces (ChannelHost, FrameSink), whose code is the process's.
  virtual std::unique_ptr<ChannelBase> MakeNetworkSender(
      std::unique_ptr<network::OutboundChannel> channel, size_t batch_size) const = 0;
  // The consumer end of network channel `id`, whose producer runs in the NetworkEnvironment at
  // `producer`. Throws std::invalid_argument, naming the type, if !serializable().
  virtual std::unique_ptr<ChannelBase> MakeNetworkReceiver(
      std::unique_ptr<network::InboundChannel> channel) const = 0;
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

  bool serializable() const override { return kSerializable; }

  std::unique_ptr<ChannelBase> MakeNetworkSender(std::unique_ptr<network::OutboundChannel> channel,
                                                 size_t batch_size) const override {
    if constexpr (kSerializable) {
      return std::make_unique<NetworkChannelSender<T>>(std::move(channel), batch_size);
    } else {
      throw NotSerializable(channel->id());
    }
  }

  std::unique_ptr<ChannelBase> MakeNetworkReceiver(
      std::unique_ptr<network::InboundChannel> channel) const override {
    if constexpr (kSerializable) {
      return std::make_unique<NetworkChannelReceiver<T>>(std::move(channel));
    } else {
      throw NotSerializable(channel->id());
    }
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
  static constexpr bool kSerializable = Serializable<T> && std::default_initializable<T>;

  std::invalid_argument NotSerializable(const ChannelId& id) const {
    return std::invalid_argument(
        "record type " + name() + " has no Serde and cannot cross processes (network channel " +
        id.ToString() + "); give it a brook::Serde (a trivially copyable struct, a serialize() "
        "member for Boost.Serialization, or a Serde specialization; see brook/runtime/serde.h) "
        "and a default constructor, or place its producer and consumer in the same process");
  }

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
