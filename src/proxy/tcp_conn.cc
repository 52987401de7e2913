#include "proxy/tcp_conn.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "net/socket.h"

namespace slipway::proxy {
namespace {

constexpr uint32_t kConnEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr int kMaxAttempts = 3;
// Buffers moved per wake-up and direction before yielding to other connections.
constexpr int kMaxRoundsPerPump = 16;

int ListenerIndex(const WorkerTable& wt, const std::string& key) {
  const auto& ls = wt.compiled->listeners;
  for (size_t l = 0; l < ls.size(); ++l)
    if (ls[l].key == key) return static_cast<int>(l);
  return -1;
}

}  // namespace

TcpConn::TcpConn(Worker* w, int fd, std::string listener_key, telemetry::Gauge* active)
    : w_(w), client_fd_(fd), listener_key_(std::move(listener_key)), active_(active) {
  up_.buf.reset(new char[kBufferBytes]);
  down_.buf.reset(new char[kBufferBytes]);
  down_.writable = true;  // the client socket is fresh
  active_->Add(w_->index(), 1);
  last_activity_ = w_->Now();
}

TcpConn::~TcpConn() {
  *alive_ = false;
  CloseNow();
}

void TcpConn::Start() { Connect(); }

MonoTime TcpConn::deadline() const {
  MonoTime d = connected_ ? last_activity_ + w_->options().tcp_idle_timeout : connect_deadline_;
  return std::min(d, drain_deadline_);
}

void TcpConn::Connect() {
  const std::shared_ptr<WorkerTable>& wt = w_->table();
  int l = ListenerIndex(*wt, listener_key_);
  MonoTime now = w_->Now();
  if (l < 0 || wt->listeners[l].closed || wt->listeners[l].routes.empty()) {
    CloseNow();
    return;
  }
  const BackendHealth* avoid = backend_ ? &backend_->health : nullptr;
  if (backend_) {
    --backend_->health.active;
    backend_ = nullptr;
  }
  WorkerRoute& route = wt->listeners[l].routes[0];
  Balancer::Pick pick = route.balancer.Select(now, -1, avoid);
  const auto& route_c = wt->compiled->listeners[l].routes[0];
  if (!pick.ok()) {
    route_c.no_set.CountError(w_->index(), UpstreamError::kNoBackend);
    route_c.no_set.CountResponse(w_->index(), 503, 0);
    CloseNow();
    return;
  }
  backend_ = route.sets[pick.set].backends[pick.backend];
  ++backend_->health.active;
  metrics_ = route_c.sets[pick.set].metrics;
  have_metrics_ = true;
  ++attempts_;
  connect_start_ = now;
  connect_deadline_ = now + w_->options().connect_timeout;

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ConnectFailed(UpstreamError::kConnectRefused);
    return;
  }
  if (Status nd = net::SetNoDelay(fd); !nd.ok()) {
    logging::Debug("proxy", "TCP_NODELAY not set: " + nd.message());
  }
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&backend_->addr), sizeof backend_->addr);
  if (rc != 0 && errno != EINPROGRESS) {
    close(fd);
    ConnectFailed(UpstreamError::kConnectRefused);
    return;
  }
  upstream_fd_ = fd;
  up_.writable = down_.readable = false;
  Status st = w_->loop()->Add(fd, kConnEvents, [this](uint32_t ev) { OnUpstreamEvent(ev); });
  if (!st.ok()) {
    close(fd);
    upstream_fd_ = -1;
    ConnectFailed(UpstreamError::kConnectRefused);
    return;
  }
  if (rc == 0) FinishConnect();
}

void TcpConn::FinishConnect() {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(upstream_fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    ConnectFailed(UpstreamError::kConnectRefused);
    return;
  }
  connected_ = true;
  up_.writable = true;
  MonoTime now = w_->Now();
  last_activity_ = now;
  metrics_.CountResponse(w_->index(), 200,
                         std::chrono::duration<double>(now - connect_start_).count());
  Pump();
}

void TcpConn::ConnectFailed(UpstreamError kind) {
  if (upstream_fd_ >= 0) {
    w_->loop()->Remove(upstream_fd_);
    close(upstream_fd_);
    upstream_fd_ = -1;
  }
  if (have_metrics_) {
    metrics_.CountError(w_->index(), kind);
    if (backend_) backend_->health.down_until = w_->Now() + w_->options().passive_down;
  }
  if (attempts_ < kMaxAttempts && client_fd_ >= 0) {
    Connect();
    return;
  }
  if (have_metrics_) {
    metrics_.CountResponse(w_->index(), kind == UpstreamError::kConnectTimeout ? 504 : 502,
                           std::chrono::duration<double>(w_->Now() - connect_start_).count());
  }
  CloseNow();
}

void TcpConn::OnClientEvent(uint32_t ev) {
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_.readable = true;
  if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_.hup = true;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) down_.writable = true;
  if (!connected_) {
    // Nothing is read before the backend answers (the kernel keeps it), but a client that
    // hung up or failed before that is not worth a backend connection.
    if (ev & (EPOLLHUP | EPOLLERR)) CloseNow();
    return;
  }
  Pump();
}

void TcpConn::OnUpstreamEvent(uint32_t ev) {
  if (!connected_) {
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) FinishConnect();
    return;
  }
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) down_.readable = true;
  if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) down_.hup = true;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) up_.writable = true;
  Pump();
}

TcpConn::Step TcpConn::Move(Flow& f, int from, int to, telemetry::Counter* bytes) {
  if (f.off == f.len) {
    f.off = f.len = 0;
    if (f.eof) {
      if (!f.shut) {
        shutdown(to, SHUT_WR);
        f.shut = true;
      }
      return Step::kWait;
    }
    if (!f.readable) return Step::kWait;
    ssize_t n = read(from, f.buf.get(), kBufferBytes);
    if (n > 0) {
      f.len = static_cast<size_t>(n);
      // A short read drained the socket: edge-triggered epoll reports the next arrival, so
      // the read that would only say EAGAIN is saved (one syscall per message).
      // Not when the peer's FIN came with that edge: no further event would say so.
      if (f.len < kBufferBytes && !f.hup) f.readable = false;
      if (bytes) bytes->Add(w_->index(), static_cast<uint64_t>(n));
    } else if (n == 0) {
      f.eof = true;
      return Step::kMore;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      f.readable = false;
      return Step::kWait;
    } else if (errno == EINTR) {
      return Step::kMore;
    } else {
      return Step::kFailed;
    }
  }
  if (!f.writable) return Step::kWait;
  ssize_t m = send(to, f.buf.get() + f.off, f.len - f.off, MSG_NOSIGNAL);
  if (m > 0) {
    f.off += static_cast<size_t>(m);
    if (f.off < f.len) f.writable = false;  // the send buffer is full: wait for EPOLLOUT
    return Step::kMore;
  }
  if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    f.writable = false;
    return Step::kWait;
  }
  if (m < 0 && errno == EINTR) return Step::kMore;
  return Step::kFailed;
}

void TcpConn::Pump() {
  if (client_fd_ < 0 || !connected_) return;
  last_activity_ = w_->Now();
  bool more_up = true, more_down = true;
  for (int round = 0; round < kMaxRoundsPerPump && (more_up || more_down); ++round) {
    if (more_up) {
      Step s = Move(up_, client_fd_, upstream_fd_, metrics_.bytes_in);
      if (s == Step::kFailed) return CloseNow();
      more_up = s == Step::kMore;
    }
    if (more_down) {
      Step s = Move(down_, upstream_fd_, client_fd_, metrics_.bytes_out);
      if (s == Step::kFailed) return CloseNow();
      more_down = s == Step::kMore;
    }
  }
  if (up_.shut && down_.shut) return CloseNow();  // both sides said FIN and got it
  if ((more_up || more_down) && !resume_scheduled_) {
    // Still readable with no new edge to come: continue after the others had their turn.
    resume_scheduled_ = true;
    std::weak_ptr<bool> alive = alive_;
    w_->loop()->RunAfter(Duration(0), [this, alive] {
      if (alive.expired() || !*alive.lock()) return;
      resume_scheduled_ = false;
      Pump();
    });
  }
}

void TcpConn::CheckTimeout(MonoTime now) {
  if (closed() || deadline() > now) return;
  if (!connected_ && now < drain_deadline_) {
    ConnectFailed(UpstreamError::kConnectTimeout);
    return;
  }
  CloseNow();
}

void TcpConn::OnTableChange() {
  if (closed() || !backend_ || drain_deadline_ != MonoTime::max()) return;
  const std::shared_ptr<WorkerTable>& wt = w_->table();
  int l = ListenerIndex(*wt, listener_key_);
  bool routed = false;
  if (l >= 0) {
    for (const WorkerRoute::SetState& set : wt->listeners[l].routes[0].sets)
      for (BackendState* b : set.backends) routed |= b == backend_;
  }
  if (!routed) drain_deadline_ = w_->Now() + w_->options().tcp_drain_timeout;
}

void TcpConn::CloseNow() {
  if (client_fd_ < 0) return;
  w_->loop()->Remove(client_fd_);
  close(client_fd_);
  client_fd_ = -1;
  if (upstream_fd_ >= 0) {
    w_->loop()->Remove(upstream_fd_);
    close(upstream_fd_);
    upstream_fd_ = -1;
  }
  if (backend_) {
    --backend_->health.active;
    backend_ = nullptr;
  }
  active_->Add(w_->index(), -1);
  w_->RetireTcp(this);
}

}  // namespace slipway::proxy
