#include "brook/cluster/rest/sse_stream.h"

#include "sse_access.h"

namespace brook::http {

std::string FormatSseEvent(std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(event.size() + data.size() + 16);
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  // One data line per line; a "\r\n" or lone "\r" also ends a line in the SSE grammar.
  size_t begin = 0;
  for (;;) {
    size_t end = data.find_first_of("\r\n", begin);
    out += "data: ";
    out += data.substr(begin, end - begin);
    out += '\n';
    if (end == std::string_view::npos) break;
    begin = end + (data.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  out += '\n';
  return out;
}

SseStream::~SseStream() = default;

bool SseStream::Send(std::string_view event, std::string_view data) {
  if (event.find_first_of("\r\n") != std::string_view::npos) return false;
  std::string wire = FormatSseEvent(event, data);
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  sink_.write(std::move(wire));
  return true;
}

bool SseStream::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void SseStream::Close() {
  // Under the lock, like Send(): once Detach() has run, the sink may refer to a stopped server.
  std::lock_guard lock(mutex_);
  if (closed_) return;
  closed_ = true;
  if (sink_.close) sink_.close();
  sink_ = {};
}

namespace detail {

std::shared_ptr<SseStream> SseAccess::Open(std::function<void(std::string)> write,
                                           std::function<void()> close) {
  std::shared_ptr<SseStream> stream(new SseStream());
  stream->sink_ = {std::move(write), std::move(close)};
  return stream;
}

void SseAccess::Detach(SseStream& stream) {
  std::lock_guard lock(stream.mutex_);
  stream.closed_ = true;
  stream.sink_ = {};
}

}  // namespace detail
}  // namespace brook::http
