#include "net/plain_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace slipway::net {

IoResult PlainTransport::Read(char* buf, size_t len) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, len);
    if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n), static_cast<size_t>(n) < len};
    if (n == 0) return {IoStatus::kEof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return {IoStatus::kWantRead};
    return {IoStatus::kError};
  }
}

IoResult PlainTransport::Writev(const iovec* iov, int count) {
  // sendmsg with MSG_NOSIGNAL: a peer that has gone is EPIPE, not a SIGPIPE that kills a
  // process keeping the signal's default action (the CLI, tests).
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(count);
  for (;;) {
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n >= 0) return {IoStatus::kOk, static_cast<size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return {IoStatus::kWantWrite};
    return {IoStatus::kError};
  }
}

void PlainTransport::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

}  // namespace slipway::net
