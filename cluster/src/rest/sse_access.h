// SseAccess: how the server's connection code opens an SseStream and detaches it when the
// connection ends (sse_stream.h keeps these out of the public interface).
//
// Threading: any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "brook/cluster/rest/sse_stream.h"

namespace brook::http::detail {

class SseAccess {
 public:
  // An open stream whose Send() calls `write` and whose Close() calls `close`, both under the
  // stream's lock, so they must only queue work (post to the connection's strand).
  static std::shared_ptr<SseStream> Open(std::function<void(std::string)> write,
                                         std::function<void()> close);
  // Marks the stream closed and drops its sink. After this returns, the stream calls neither
  // function again; the connection calls it when it ends, so the functions may hold it alive.
  static void Detach(SseStream& stream);
};

}  // namespace brook::http::detail
