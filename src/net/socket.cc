#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slipway::net {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

// Resolves host:port into a sockaddr. Numeric addresses skip the resolver.
Status Resolve(const std::string& host, int port, sockaddr_storage* out, socklen_t* len) {
  if (port < 0 || port > 65535) return InvalidInput("port out of range: " + std::to_string(port));
  std::memset(out, 0, sizeof *out);
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (h.empty() || h == "0.0.0.0" || inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    if (h.empty()) v4->sin_addr.s_addr = htonl(INADDR_ANY);
    *len = sizeof(sockaddr_in);
    return Status::OK();
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return Status::OK();
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Unavailable("cannot resolve host '" + host + "': " + gai_strerror(rc));
  }
  // Prefer IPv4: services started by the runtime listen on 127.0.0.1.
  addrinfo* pick = res;
  for (addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  std::memcpy(out, pick->ai_addr, pick->ai_addrlen);
  *len = pick->ai_addrlen;
  freeaddrinfo(res);
  if (out->ss_family == AF_INET) {
    v4->sin_port = htons(static_cast<uint16_t>(port));
  } else {
    v6->sin6_port = htons(static_cast<uint16_t>(port));
  }
  return Status::OK();
}

Status UnixAddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    return InvalidInput("unix socket path empty or too long (max " +
                        std::to_string(sizeof(addr->sun_path) - 1) + " bytes): " + path);
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  return Status::OK();
}

}  // namespace

Result<UniqueFd> ListenTcp(const std::string& host, int port, int backlog, bool reuseport) {
  sockaddr_storage addr;
  socklen_t len;
  RETURN_IF_ERROR(Resolve(host, port, &addr, &len));
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("socket", errno);
  int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    return ErrnoError("setsockopt(SO_REUSEADDR)", errno);
  if (reuseport && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return ErrnoError("setsockopt(SO_REUSEPORT)", errno);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    return ErrnoError("bind " + host + ":" + std::to_string(port), errno);
  if (::listen(fd.get(), backlog) != 0) return ErrnoError("listen", errno);
  return fd;
}

Result<UniqueFd> ListenUnix(const std::string& path, int backlog) {
  sockaddr_un addr;
  RETURN_IF_ERROR(UnixAddr(path, &addr));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return FailedPrecondition("not a socket, refusing to remove: " + path);
    if (::unlink(path.c_str()) != 0) return ErrnoError("unlink " + path, errno);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("socket", errno);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return ErrnoError("bind " + path, errno);
  if (::listen(fd.get(), backlog) != 0) return ErrnoError("listen", errno);
  return fd;
}

Result<int> LocalPort(int fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return ErrnoError("getsockname", errno);
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return InvalidInput("not a TCP socket");
}

Result<UniqueFd> ConnectTcp(const std::string& host, int port) {
  sockaddr_storage addr;
  socklen_t len;
  RETURN_IF_ERROR(Resolve(host, port, &addr, &len));
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS)
    return ErrnoError("connect " + host + ":" + std::to_string(port), errno);
  return fd;
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  sockaddr_un addr;
  RETURN_IF_ERROR(UnixAddr(path, &addr));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS)
    return ErrnoError("connect " + path, errno);
  return fd;
}

Status ConnectError(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return ErrnoError("getsockopt", errno);
  if (err != 0) return ErrnoError("connect", err);
  return Status::OK();
}

Result<UniqueFd> Accept(int listen_fd) {
  while (true) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return UniqueFd();
    return ErrnoError("accept", errno);
  }
}

Status SetNonBlocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0) return ErrnoError("fcntl(F_GETFL)", errno);
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) != 0) return ErrnoError("fcntl(F_SETFL)", errno);
  return Status::OK();
}

Status SetNoDelay(int fd, bool on) {
  int v = on ? 1 : 0;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0)
    return ErrnoError("setsockopt(TCP_NODELAY)", errno);
  return Status::OK();
}

std::string PeerName(int fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    std::string out;  // appended piecewise: GCC 12 misreports "[" + s as overlapping
    out.append("[").append(buf).append("]:").append(std::to_string(ntohs(a->sin6_port)));
    return out;
  }
  if (addr.ss_family == AF_UNIX) return "unix";
  return "";
}

}  // namespace slipway::net
