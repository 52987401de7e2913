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
  for (;;) {
    ssize_t n = ::writev(fd_, iov, count);
    if (n >= 0) return {IoStatus::kOk, static_cast<size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return {IoStatus::kWantWrite};
    return {IoStatus::kError};
  }
}

void PlainTransport::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

}  // namespace slipway::net
