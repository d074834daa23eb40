// A task that fails lets go of its channels: its neighbours in the same process, blocked on a
// full channel to it or on an empty channel from it, end instead of waiting forever. (A job
// fails over when a task fails, but a task manager may be left alone with the other tasks, as
// when the job manager is unreachable, and they must not hang there.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "brook/runtime/record_writer.h"
#include "brook/runtime/stream_task.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

// Emits 0, 1, 2, ... in batches of 10 as fast as the channel takes them; with `fail_after` > 0
// it throws once it emitted that many batches.
class CountingSource final : public SourceOperatorBase, WithOutput<int64_t> {
 public:
  explicit CountingSource(int fail_after) : fail_after_(fail_after) {}
  void Open(RuntimeContext& context) override {
    SourceOperatorBase::Open(context);
    BindOutput(main_output_base());
  }
  SourceStatus EmitNext() override {
    if (fail_after_ > 0 && batches_ == fail_after_) throw std::runtime_error("source broke");
    RecordBatch<int64_t> batch;
    for (int i = 0; i < 10; ++i, ++next_) batch.push(next_, next_);
    output()->Push(batch);
    ++batches_;
    return SourceStatus::More();
  }

 private:
  const int fail_after_;
  int batches_ = 0;
  int64_t next_ = 0;
};

// Throws at the first record when `fail` is set, else drops what it gets.
class Consumer final : public OneInputOperator<int64_t> {
 public:
  explicit Consumer(bool fail) : fail_(fail) {}
  void ProcessBatch(RecordBatch<int64_t>&) override {
    if (fail_) throw std::runtime_error("consumer broke");
  }

 private:
  const bool fail_;
};

// source task -> local channel (4 elements) -> consumer task, each on its own thread; Run()'s
// outcome of each is a future.
struct Pipeline {
  Pipeline(int source_fails_after, bool consumer_fails) {
    RuntimeContext source_context;
    source_context.operator_name = "source";
    auto* src = source.AddOperator(std::make_unique<CountingSource>(source_fails_after), source_context);
    auto* writer = source.AddWriter(std::make_unique<ForwardWriter<int64_t>>(
                                        std::vector<ChannelSender<int64_t>*>{&channel}, WriterOptions{}),
                                    {&channel});
    src->SetMainOutput(&writer->AsOutput());
    source.SetInput(std::make_unique<SourceInput>(dynamic_cast<SourceOperatorBase*>(src)), {});

    RuntimeContext consumer_context;
    consumer_context.operator_name = "consumer";
    auto* op = consumer.AddOperator(std::make_unique<Consumer>(consumer_fails), consumer_context);
    head = std::make_unique<ChainingOutput<int64_t>>(dynamic_cast<Consumer*>(op));
    consumer.SetInput(std::make_unique<InputGate<int64_t>>(std::vector<ChannelReceiver<int64_t>*>{&channel},
                                                           head.get(), &consumer.metrics()),
                      {&channel});
    source_result = std::async(std::launch::async, [this] { source.Run(); });
    consumer_result = std::async(std::launch::async, [this] { consumer.Run(); });
  }
  ~Pipeline() {
    // Whatever the test saw, no thread is left behind.
    source.Cancel();
    consumer.Cancel();
  }

  StreamTask source{"source (1/1)"};
  StreamTask consumer{"consumer (1/1)"};
  LocalChannel<int64_t> channel{4};
  std::unique_ptr<ChainingOutput<int64_t>> head;
  std::future<void> source_result;
  std::future<void> consumer_result;
};

TEST(StreamTaskFailure, AFailedConsumerReleasesItsProducerBlockedOnAFullChannel) {
  Pipeline p(/*source_fails_after=*/0, /*consumer_fails=*/true);
  ASSERT_EQ(p.consumer_result.wait_for(20s), std::future_status::ready);
  EXPECT_THROW(p.consumer_result.get(), std::runtime_error);
  // The source fills the channel and then must not wait forever for a consumer that is gone.
  ASSERT_EQ(p.source_result.wait_for(20s), std::future_status::ready) << "the source hangs";
  EXPECT_NO_THROW(p.source_result.get());  // ended as cancelled: not a failure of its own
}

TEST(StreamTaskFailure, AFailedProducerReleasesItsConsumerWaitingForInput) {
  Pipeline p(/*source_fails_after=*/2, /*consumer_fails=*/false);
  ASSERT_EQ(p.source_result.wait_for(20s), std::future_status::ready);
  EXPECT_THROW(p.source_result.get(), std::runtime_error);
  ASSERT_EQ(p.consumer_result.wait_for(20s), std::future_status::ready) << "the consumer hangs";
  EXPECT_NO_THROW(p.consumer_result.get());
}

}  // namespace
}  // namespace brook
