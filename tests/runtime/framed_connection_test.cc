// FramedConnection, the transport under the data and control planes: frames survive any split
// of the byte stream into reads (several frames per read, a length prefix or a body cut across
// reads), and frames sent from several threads straight onto the socket (Send's direct write)
// or queued behind a full socket arrive whole and in each sender's order.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "brook/runtime/network/buffer_pool.h"
#include "brook/runtime/network/framed_connection_internal.h"

namespace brook::network {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A frame body of `words` 8-byte words: word 0 is (sender << 32 | sequence), the rest derive from it.
std::vector<std::byte> MakeBody(uint32_t sender, uint32_t sequence, size_t words) {
  std::vector<std::byte> body(words * 8);
  const uint64_t id = uint64_t(sender) << 32 | sequence;
  for (size_t i = 0; i < words; ++i) {
    const uint64_t v = id * 1'000'003 + i;
    std::memcpy(body.data() + i * 8, i == 0 ? &id : &v, 8);
  }
  return body;
}

// Checks a body made by MakeBody; returns its id.
uint64_t CheckBody(const std::vector<std::byte>& body) {
  EXPECT_GE(body.size(), 8u);
  uint64_t id;
  std::memcpy(&id, body.data(), 8);
  for (size_t i = 1; i < body.size() / 8; ++i) {
    uint64_t v;
    std::memcpy(&v, body.data() + i * 8, 8);
    EXPECT_EQ(v, id * 1'000'003 + i) << "corrupt word " << i << " of frame " << id;
  }
  return id;
}

OutgoingFrame MakeFrame(std::vector<std::byte> body) {
  OutgoingFrame frame;
  const uint32_t length = uint32_t(body.size());
  frame.head.resize(4);
  std::memcpy(frame.head.data(), &length, 4);
  frame.payload = std::move(body);
  return frame;
}

// Records every frame it hears (the first is the handshake).
class RecordingHandler final : public FrameHandler {
 public:
  bool OnHandshake(const std::shared_ptr<FramedConnection>&, std::vector<std::byte>& body,
                   std::string&) override {
    return Record(body);
  }
  bool OnFrame(const std::shared_ptr<FramedConnection>&, std::vector<std::byte>& body,
               std::string&) override {
    return Record(body);
  }
  void OnClosed(const std::shared_ptr<FramedConnection>&, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    closed_ = reason;
    changed_.notify_all();
  }

  // Waits (bounded) for `n` frames; returns what arrived.
  std::vector<std::vector<std::byte>> WaitFor(size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 20s, [&] { return frames_.size() >= n || !closed_.empty(); });
    return frames_;
  }
  std::string closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  bool Record(std::vector<std::byte>& body) {
    std::lock_guard lock(mutex_);
    frames_.push_back(std::move(body));  // takes the body, as the data plane's handler does
    changed_.notify_all();
    return true;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<std::byte>> frames_;
  std::string closed_;
};

// An io_context on one thread, a FramedConnection on one end of a loopback TCP pair and a plain
// blocking socket on the other.
class FramedConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    asio::ip::tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
    raw_.connect(acceptor.local_endpoint());
    asio::ip::tcp::socket accepted(asio::make_strand(io_));
    acceptor.accept(accepted);
    FramedConnectionOptions options;
    options.max_frame_bytes = size_t{1} << 20;
    connection_ = std::make_shared<FramedConnection>(std::move(accepted), handler_, &pool_,
                                                     options, "test peer", true);
    connection_->StartAccepted();
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    connection_->Close("test over", false);
    work_.reset();
    io_thread_.join();
  }

  // The raw end sends the handshake; then `senders` threads run send(sender) at once, sender from
  // 1, while the raw end reads nothing.
  void HandshakeThenSendFrom(uint32_t senders, const std::function<void(uint32_t)>& send) {
    asio::write(raw_, asio::buffer(MakeFrame(MakeBody(0, 0, 1)).Flatten()));
    ASSERT_EQ(handler_.WaitFor(1).size(), 1u);
    std::vector<std::thread> threads;
    for (uint32_t s = 1; s <= senders; ++s) threads.emplace_back(send, s);
    for (auto& t : threads) t.join();
  }

  // Reads senders * frames_per_sender frames of MakeBody(sender in [1, senders], sequence) from
  // the raw end, each at most max_length bytes, and checks each sender's come in order.
  void ReadFramesInEachSendersOrder(uint32_t senders, uint32_t frames_per_sender,
                                    uint32_t max_length) {
    std::vector<uint32_t> next(senders + 1, 0);
    for (uint32_t n = 0; n < senders * frames_per_sender; ++n) {
      std::array<std::byte, 4> prefix;
      asio::read(raw_, asio::buffer(prefix));
      const uint32_t length = DecodeFrameLength(prefix);
      ASSERT_GT(length, 0u);
      ASSERT_LE(length, max_length);
      std::vector<std::byte> body(length);
      asio::read(raw_, asio::buffer(body));
      const uint64_t id = CheckBody(body);
      const uint32_t sender = uint32_t(id >> 32);
      ASSERT_GE(sender, 1u);
      ASSERT_LE(sender, senders);
      EXPECT_EQ(uint32_t(id), next[sender]++) << "sender " << sender << " out of order";
    }
  }

  RecordingHandler handler_;
  BufferPool pool_{32 * 1024, 64};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::io_context raw_io_;
  asio::ip::tcp::socket raw_{raw_io_};
  std::shared_ptr<FramedConnection> connection_;
  std::thread io_thread_;
};

TEST_F(FramedConnectionTest, FramesArriveWholeHoweverTheStreamIsSplit) {
  // A small handshake frame, then frames from one word to 400 KiB (larger than one read).
  std::vector<std::byte> stream;
  size_t count = 0;
  auto append = [&](std::vector<std::byte> body) {
    auto frame = MakeFrame(std::move(body)).Flatten();
    stream.insert(stream.end(), frame.begin(), frame.end());
    ++count;
  };
  append(MakeBody(0, 0, 4));
  const size_t sizes[] = {1, 3, 4096, 1, 25'600, 2, 4000, 1, 51'200, 1};
  for (uint32_t i = 1; i <= 60; ++i) append(MakeBody(0, i, sizes[i % 10]));
  // Write it in pieces of random size, from 1 byte (cutting length prefixes) to 300 KiB (many
  // frames in one read), pausing now and then so reads see the cuts.
  std::mt19937 random(7);
  for (size_t pos = 0; pos < stream.size();) {
    const size_t n = std::min(stream.size() - pos, size_t(random() % 3 == 0
                                                              ? 1 + random() % 7
                                                              : 1 + random() % 300'000));
    asio::write(raw_, asio::buffer(stream.data() + pos, n));
    pos += n;
    if (random() % 4 == 0) std::this_thread::sleep_for(1ms);
  }
  const auto frames = handler_.WaitFor(count);
  ASSERT_EQ(frames.size(), count) << handler_.closed();
  for (uint32_t i = 0; i < count; ++i) EXPECT_EQ(CheckBody(frames[i]), uint64_t(i));
  EXPECT_EQ(handler_.closed(), "");
}

TEST_F(FramedConnectionTest, FramesFromSeveralThreadsKeepEachSendersOrderPastAFullSocket) {
  // The raw end sends the handshake, then does not read while three threads send 4 MiB each,
  // far more than the socket buffers hold: sends go straight out, then queue behind a full
  // socket (a direct write may have put part of a frame out), then drain once the peer reads.
  constexpr uint32_t kSenders = 3;
  constexpr uint32_t kFramesPerSender = 128;
  HandshakeThenSendFrom(kSenders, [this](uint32_t s) {
    for (uint32_t i = 0; i < kFramesPerSender; ++i)
      connection_->Send(MakeFrame(MakeBody(s, i, 4096 - 1 + i % 3)));
  });
  ReadFramesInEachSendersOrder(kSenders, kFramesPerSender, 4097 * 8);
  EXPECT_EQ(handler_.closed(), "");
}

TEST_F(FramedConnectionTest, FramesSentTogetherKeepEachSendersOrderPastAFullSocket) {
  // As above, but each sender hands over groups of 1 to 20 frames with SendAll (more than one
  // direct write takes), mixed with single Sends: a group goes out in one write, or partly
  // (cut inside any of its frames) with the rest queued behind it.
  constexpr uint32_t kSenders = 3;
  constexpr uint32_t kFramesPerSender = 300;
  HandshakeThenSendFrom(kSenders, [this](uint32_t s) {
    std::vector<OutgoingFrame> group;
    uint32_t i = 0;
    for (uint32_t group_size = 1; i < kFramesPerSender; group_size = group_size % 20 + 1) {
      for (uint32_t k = 0; k < group_size && i < kFramesPerSender; ++k, ++i)
        group.push_back(MakeFrame(MakeBody(s, i, 1024 + i % 7)));
      if (group.size() == 1) {
        connection_->Send(std::move(group.front()));
        group.clear();
      } else {
        connection_->SendAll(group);
        EXPECT_TRUE(group.empty());
      }
    }
  });
  ReadFramesInEachSendersOrder(kSenders, kFramesPerSender, 1030 * 8);
  EXPECT_EQ(handler_.closed(), "");
}

}  // namespace
}  // namespace brook::network
