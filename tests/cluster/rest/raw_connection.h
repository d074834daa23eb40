// RawConnection: a plain blocking TCP client for tests that must send what HttpClient never
// would (malformed requests, half a body, pipelined requests) or read a stream byte by byte.
// Every read is bounded by a deadline, so a test fails instead of hanging.
//
// Threading: one thread. Life cycle: connects in the constructor, closes in the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace brook::http::testing {

class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  // False if the peer is gone (EPIPE, reset).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data.remove_prefix(static_cast<size_t>(sent));
    }
    return true;
  }

  // Reads until `needle` is in what was received (returns everything so far), or the peer
  // closes, or the deadline passes.
  std::string ReadUntil(std::string_view needle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle) == std::string::npos && !closed_) {
      if (!ReadSome(deadline)) break;
    }
    return received_;
  }

  // Reads one response with a Content-Length body; returns it and removes it from what was
  // received, so the next call reads the next response. "" if none arrived in time.
  std::string ReadResponse(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t header_end = received_.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        size_t length = 0;
        std::string header = received_.substr(0, header_end);
        for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (size_t at = header.find("content-length:"); at != std::string::npos)
          length = std::stoul(header.substr(at + 15));
        size_t total = header_end + 4 + length;
        if (received_.size() >= total) {
          std::string response = received_.substr(0, total);
          received_.erase(0, total);
          return response;
        }
      }
      if (closed_ || !ReadSome(deadline)) return {};
    }
  }

  // True if the peer closes the connection before the deadline (data before it is kept).
  bool WaitForClose(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_)
      if (!ReadSome(deadline)) break;
    return closed_;
  }

  const std::string& received() const { return received_; }

 private:
  // One read; false on deadline.
  bool ReadSome(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[4096];
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) {
      closed_ = true;  // orderly close or reset
    } else {
      received_.append(chunk, static_cast<size_t>(got));
    }
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string received_;
};

}  // namespace brook::http::testing
