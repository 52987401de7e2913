// Socket helpers: listening and connecting TCP / unix-domain sockets, and UniqueFd.
//
// Every fd created here is close-on-exec, so children spawned by the runtime never inherit
// listeners or connections. Listeners and connections are non-blocking (the event loop drives
// them). Functions are stateless and safe from any thread; a UniqueFd is owned by one thread
// at a time.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace slipway::net {

// Owns one file descriptor; closes it on destruction. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the current fd (if any) and takes `fd`.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A non-blocking TCP listener on host:port. `host` is a numeric IPv4/IPv6 address or a name
// ("localhost", "" or "0.0.0.0" = any IPv4). Port 0 picks an ephemeral port (see LocalPort).
// SO_REUSEADDR always; SO_REUSEPORT when `reuseport` (several listeners, one per thread).
Result<UniqueFd> ListenTcp(const std::string& host, int port, int backlog = 1024,
                           bool reuseport = false);

// A non-blocking unix-domain stream listener at `path`. A stale socket file left by a previous
// process is removed first; any other kind of file at `path` is an error.
Result<UniqueFd> ListenUnix(const std::string& path, int backlog = 1024);

// The local port a TCP socket is bound to.
Result<int> LocalPort(int fd);

// Starts a non-blocking TCP connect. The connect may still be in progress (EINPROGRESS):
// wait for EPOLLOUT and check ConnectError(). `host` may be a name (resolved, blocking).
Result<UniqueFd> ConnectTcp(const std::string& host, int port);

// Starts a non-blocking unix-domain connect (usually completes at once).
Result<UniqueFd> ConnectUnix(const std::string& path);

// After EPOLLOUT on a connecting socket: OK if connected, else the connect's error.
Status ConnectError(int fd);

// Accepts one connection as non-blocking + CLOEXEC. Returns an invalid fd (not an error)
// when none is pending (EAGAIN).
Result<UniqueFd> Accept(int listen_fd);

Status SetNonBlocking(int fd, bool on = true);
Status SetNoDelay(int fd, bool on = true);

// "ip:port" of the peer of a connected TCP socket, "unix" for unix sockets.
std::string PeerName(int fd);

}  // namespace slipway::net
