#include "net/fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slipway::net {

Status SendMessage(int sock, std::string_view data, std::span<const int> fds) {
  if (data.empty()) return InvalidInput("fd passing: empty message");
  if (fds.size() > kMaxPassedFds) return InvalidInput("fd passing: too many fds");
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  while (true) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(data.size())) return Status::OK();
    if (n >= 0) return IoError("fd passing: short send");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Unavailable("fd passing: would block");
    return ErrnoError("fd passing: sendmsg", errno);
  }
}

Result<Message> RecvMessage(int sock, size_t max_bytes) {
  Message out;
  out.data.resize(max_bytes + 1);  // one spare byte tells a full message from a longer one
  iovec iov{out.data.data(), out.data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while (true) {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    // SO_RCVTIMEO on a blocking socket answers EAGAIN too.
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return Unavailable("fd passing: nothing to receive");
    return ErrnoError("fd passing: recvmsg", errno);
  }
  // Take ownership of every fd first, so any error below closes them.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return IoError("fd passing: too many fds in one message");
  if ((msg.msg_flags & MSG_TRUNC) || static_cast<size_t>(n) > max_bytes) {
    return IoError("fd passing: message longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (n == 0 && out.fds.empty()) {
    out.eof = true;
    out.data.clear();
    return out;
  }
  out.data.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace slipway::net
