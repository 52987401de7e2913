#include "proxy/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "base/log.h"
#include "net/plain_transport.h"
#include "net/socket.h"
#include "net/tls_transport.h"
#include "proxy/client_conn.h"
#include "proxy/h2_conn.h"
#include "proxy/h2_upstream.h"
#include "proxy/tcp_conn.h"

namespace slipway::proxy {

namespace {
constexpr uint32_t kConnEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// A backend left rotation: its idle connections close (HTTP/1.1 pool, unused h2 sessions).
void CloseIdle(Worker* w, BackendState* b) {
  while (!b->idle.empty()) {
    w->CloseUpstream(std::move(b->idle.back()));
    b->idle.pop_back();
  }
  std::vector<H2UpSession*> sessions;
  for (const auto& s : b->h2) sessions.push_back(s.get());
  for (H2UpSession* s : sessions) s->CloseIfIdle();
}
}  // namespace

BackendState::BackendState() = default;
BackendState::~BackendState() = default;

Worker::Worker(int index, const ProxyOptions& options, std::unique_ptr<net::EventLoop> loop,
               DrainWatch* drain_watch)
    : index_(index),
      options_(options),
      loop_(std::move(loop)),
      drain_watch_(drain_watch),
      client_scratch_(new char[kScratch]),
      upstream_scratch_(new char[kScratch]) {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  id_prefix_ = buf;
  table_ = std::make_shared<WorkerTable>();
  auto empty = std::make_shared<CompiledTable>();
  empty->table = std::make_shared<RouteTable>();
  table_->compiled = empty;
}

Worker::~Worker() {
  Join();
  Shutdown();
}

void Worker::Start() {
  thread_ = std::thread([this] {
    // Named for top -H and perf: "proxy-<index>" (the kernel keeps 15 characters).
    pthread_setname_np(pthread_self(), ("proxy-" + std::to_string(index_)).substr(0, 15).c_str());
    loop_->Run();
    Shutdown();
  });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::PostStop() {
  loop_->Post([this] {
    stopping_ = true;
    loop_->Stop();
  });
}

void Worker::PostDrain(bool close_idle, std::function<void()> done) {
  loop_->Post([this, close_idle, done = std::move(done)] {
    draining_ = true;
    for (ListenSlot& s : slots_) {
      if (s.fd < 0) continue;
      loop_->Remove(s.fd);
      close(s.fd);
      s.fd = -1;
    }
    std::vector<ClientConn*> all;
    for (auto& [p, c] : conns_) all.push_back(p);
    for (ClientConn* c : all) c->OnDrain(close_idle);
    std::vector<H2Conn*> h2;
    for (auto& [p, c] : h2_conns_) h2.push_back(p);
    for (H2Conn* c : h2) c->OnDrain();
    CountOpen();  // tells the watch when nothing was open
    done();
  });
}

void Worker::PostApply(std::shared_ptr<const CompiledTable> table,
                       std::vector<std::pair<std::string, int>> fds, std::function<void()> done) {
  loop_->Post([this, table = std::move(table), fds = std::move(fds), done = std::move(done)] {
    Apply(table, fds);
    done();
  });
}

std::shared_ptr<const RouteTraffic> RouteTraffic::Of(const Route& r) {
  auto t = std::make_shared<RouteTraffic>();
  for (const InstanceSet& s : r.sets) t->sets.push_back({s.weight, s.draining});
  t->sticky_cookie = r.sticky_cookie;
  return t;
}

void Worker::PostRouteTraffic(std::vector<std::pair<size_t, size_t>> routes,
                              std::shared_ptr<const RouteTraffic> traffic,
                              std::function<void()> done) {
  loop_->Post(
      [this, routes = std::move(routes), traffic = std::move(traffic), done = std::move(done)] {
        UpdateRoutes(routes, traffic);
        done();
      });
}

void Worker::UpdateRoutes(const std::vector<std::pair<size_t, size_t>>& routes,
                          const std::shared_ptr<const RouteTraffic>& traffic) {
  std::unordered_map<BackendState*, bool> in_rotation;  // of the updated routes' backends
  for (const auto& [l, r] : routes) {
    if (l >= table_->listeners.size() || r >= table_->listeners[l].routes.size()) continue;
    WorkerRoute& wr = table_->listeners[l].routes[r];
    if (wr.sets.size() != traffic->sets.size()) continue;  // the proxy checked; never here
    for (size_t s = 0; s < wr.sets.size(); ++s) {
      const RouteTraffic::Set& t = traffic->sets[s];
      wr.balancer.SetTraffic(s, t.weight, t.draining);
      // Requests in flight to a set that now drains answer with "Connection: close", as
      // after a table switch.
      wr.sets[s].draining = t.draining;
      for (BackendState* b : wr.sets[s].backends) {
        in_rotation[b] = in_rotation[b] || (!t.draining && t.weight > 0);
      }
    }
    wr.traffic = traffic;
    route_updates_.fetch_add(1, std::memory_order_relaxed);
  }
  // Idle upstream connections to backends that left rotation close now (as a switch does).
  for (const auto& [b, rotating] : in_rotation) {
    if (!rotating) CloseIdle(this, b);
  }
}

std::string Worker::NextRequestId() {
  // "<prefix>-<worker, 2 hex digits>-<sequence, 12 hex digits>"; one per request, so no
  // snprintf (its format parsing was a visible share of a small request's CPU).
  static constexpr char kDigits[] = "0123456789abcdef";
  char tail[1 + 2 + 1 + 12];
  tail[0] = '-';
  tail[1] = kDigits[(index_ >> 4) & 0xf];
  tail[2] = kDigits[index_ & 0xf];
  tail[3] = '-';
  uint64_t seq = ++id_seq_;
  for (int i = 15; i >= 4; --i, seq >>= 4) tail[i] = kDigits[seq & 0xf];
  std::string id;
  id.reserve(id_prefix_.size() + sizeof tail);
  id.append(id_prefix_).append(tail, sizeof tail);
  return id;
}

int Worker::SlotFor(const std::string& key) {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].key == key) return static_cast<int>(i);
  slots_.push_back(ListenSlot{key, -1});
  return static_cast<int>(slots_.size() - 1);
}

void Worker::Apply(std::shared_ptr<const CompiledTable> table,
                   std::vector<std::pair<std::string, int>> fds) {
  for (auto& [key, fd] : fds) {
    int slot = SlotFor(key);
    if (slots_[slot].fd >= 0) {  // already listening (should not happen): keep the old one
      close(fd);
      continue;
    }
    slots_[slot].fd = fd;
    Status st = loop_->Add(fd, EPOLLIN | EPOLLET, [this, slot](uint32_t) { OnAccept(slot); });
    if (!st.ok()) logging::Error("proxy", "listening: " + st.message(), {{"worker", index_}});
  }
  auto wt = std::make_shared<WorkerTable>();
  wt->compiled = table;
  const auto& listeners = table->listeners;
  wt->slot_to_listener.assign(slots_.size(), -1);
  for (size_t s = 0; s < slots_.size(); ++s)
    for (size_t l = 0; l < listeners.size(); ++l)
      if (listeners[l].key == slots_[s].key) wt->slot_to_listener[s] = static_cast<int>(l);
  // Stop accepting on listeners the new table dropped.
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (wt->slot_to_listener[s] < 0 && slots_[s].fd >= 0) {
      loop_->Remove(slots_[s].fd);
      close(slots_[s].fd);
      slots_[s].fd = -1;
    }
  }
  // Balancers over this worker's backend states (kept across tables: health and pools).
  std::unordered_map<std::string, bool> in_rotation;
  wt->listeners.resize(listeners.size());
  for (size_t l = 0; l < listeners.size(); ++l) {
    const Listener& lt = table->table->listeners[l];
    WorkerListener& wl = wt->listeners[l];
    wl.routes.reserve(lt.routes.size());
    for (size_t r = 0; r < lt.routes.size(); ++r) {
      const Route& route = lt.routes[r];
      std::vector<Balancer::Set> sets;
      std::vector<WorkerRoute::SetState> states;
      for (size_t s = 0; s < route.sets.size(); ++s) {
        const auto& cs = listeners[l].routes[r].sets[s];
        Balancer::Set bs;
        bs.weight = route.sets[s].weight;
        bs.draining = route.sets[s].draining;
        WorkerRoute::SetState ss;
        ss.draining = route.sets[s].draining;
        for (size_t b = 0; b < cs.backend_keys.size(); ++b) {
          auto& st = backends_[cs.backend_keys[b]];
          if (!st) {
            st = std::make_unique<BackendState>();
            st->key = cs.backend_keys[b];
            st->addr = cs.addrs[b];
            const auto& rc = listeners[l].routes[r];
            if (rc.upstream_tls) {
              st->tls = rc.upstream_tls;
              st->tls_name = rc.server_name.empty() ? cs.ips[b] : rc.server_name;
            }
            st->protocol = rc.protocol;
          }
          bs.backends.push_back(&st->health);
          ss.backends.push_back(st.get());
          if (!route.sets[s].draining && route.sets[s].weight > 0) in_rotation[st->key] = true;
        }
        sets.push_back(std::move(bs));
        states.push_back(std::move(ss));
      }
      WorkerRoute& wr = wl.routes.emplace_back(std::move(sets), options_.policy);
      wr.sets = std::move(states);
      wr.traffic = RouteTraffic::Of(route);
      routes_built_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Tell requests still running on the old table what became draining or closed, so their
  // responses carry "Connection: close".
  if (table_ && table_->compiled) {
    const auto& old = *table_->compiled;
    for (size_t l = 0; l < old.listeners.size(); ++l) {
      int nl = -1;
      for (size_t k = 0; k < listeners.size(); ++k)
        if (listeners[k].key == old.listeners[l].key) nl = static_cast<int>(k);
      if (nl < 0) {
        table_->listeners[l].closed = true;
        continue;
      }
      const auto& old_routes = old.table->listeners[l].routes;
      const auto& new_routes = table->table->listeners[nl].routes;
      for (size_t r = 0; r < old_routes.size(); ++r) {
        for (size_t s = 0; s < old_routes[r].sets.size(); ++s) {
          bool drain = true;
          for (const Route& nr : new_routes) {
            if (nr.service != old_routes[r].service || nr.host != old_routes[r].host ||
                nr.path_prefix != old_routes[r].path_prefix)
              continue;
            for (const InstanceSet& ns : nr.sets)
              if (ns.name == old_routes[r].sets[s].name && !ns.draining) drain = false;
          }
          if (drain) table_->listeners[l].routes[r].sets[s].draining = true;
        }
      }
    }
  }
  table_ = wt;
  // Idle upstream connections to backends out of rotation close now; forget unused states.
  for (auto it = backends_.begin(); it != backends_.end();) {
    BackendState* b = it->second.get();
    if (!in_rotation.count(b->key)) {
      CloseIdle(this, b);
      bool referenced = false;
      for (const WorkerListener& wl : wt->listeners)
        for (const WorkerRoute& wr : wl.routes)
          for (const WorkerRoute::SetState& ss : wr.sets)
            for (BackendState* x : ss.backends) referenced |= x == b;
      if (!referenced && b->health.active == 0) {
        it = backends_.erase(it);
        continue;
      }
    }
    ++it;
  }
  std::vector<ClientConn*> all;
  for (auto& [p, c] : conns_) all.push_back(p);
  for (ClientConn* c : all) c->OnTableChange();
  std::vector<TcpConn*> tcp;
  for (auto& [p, c] : tcp_conns_) tcp.push_back(p);
  for (TcpConn* c : tcp) c->OnTableChange();
  std::vector<H2Conn*> h2;
  for (auto& [p, c] : h2_conns_) h2.push_back(p);
  for (H2Conn* c : h2) c->OnTableChange();
}

void Worker::OnAccept(int slot) {
  int lfd = slots_[slot].fd;
  if (lfd < 0) return;
  int l = slot < static_cast<int>(table_->slot_to_listener.size()) ? table_->slot_to_listener[slot]
                                                                   : -1;
  telemetry::Gauge* active = l >= 0 ? table_->compiled->listeners[l].active : nullptr;
  const bool tcp = l >= 0 && table_->compiled->table->listeners[l].mode == ListenerMode::kTcp;
  // Bounded per wake-up so one busy listener cannot starve the loop.
  for (int i = 0; i < 256; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      const int err = errno;  // the log write below may change errno
      if (err != EAGAIN) {
        logging::Warn("proxy", std::string("accept4: ") + std::strerror(err), {{"errno", err}});
      }
      if (err == EMFILE || err == ENFILE) {
        // Out of fds: retry later instead of spinning on a still-readable listener.
        loop_->RunAfter(Duration(100), [this, slot] { OnAccept(slot); });
      }
      return;
    }
    if (!active) {
      close(fd);
      continue;
    }
    if (Status nd = net::SetNoDelay(fd); !nd.ok()) {
      logging::Debug("proxy", "TCP_NODELAY not set: " + nd.message());
    }
    if (tcp) {
      auto conn = std::make_unique<TcpConn>(this, fd, table_->compiled->listeners[l].key, active);
      TcpConn* raw = conn.get();
      tcp_conns_.emplace(raw, std::move(conn));
      CountOpen();
      Status st = loop_->Add(fd, kConnEvents, [raw](uint32_t ev) { raw->OnClientEvent(ev); });
      if (!st.ok()) {
        raw->CloseNow();
        continue;
      }
      raw->Start();
      continue;
    }
    uint32_t ip = peer.sin_family == AF_INET ? peer.sin_addr.s_addr : htonl(INADDR_LOOPBACK);
    std::unique_ptr<net::Transport> transport;
    if (const auto& tls = table_->compiled->table->listeners[l].tls) {
      transport = net::TlsTransport::Accept(tls, fd, table_->compiled->table->listeners[l].http2);
      if (!transport) {
        close(fd);
        continue;
      }
    } else {
      transport = std::make_unique<net::PlainTransport>(fd);
    }
    auto conn = std::make_unique<ClientConn>(this, fd, std::move(transport), slot, ip, active);
    ClientConn* raw = conn.get();
    Status st = loop_->Add(fd, kConnEvents, [raw](uint32_t ev) { raw->OnEvent(ev); });
    if (!st.ok()) {
      raw->CloseNow();
      continue;
    }
    conns_.emplace(raw, std::move(conn));
    CountOpen();
  }
  // Maybe more pending: edge-triggered, so come back on the next iteration.
  loop_->RunAfter(Duration(0), [this, slot] { OnAccept(slot); });
}

std::unique_ptr<UpstreamConn> Worker::TakeIdle(BackendState* b) {
  if (b->idle.empty()) return nullptr;
  std::unique_ptr<UpstreamConn> u = std::move(b->idle.back());
  b->idle.pop_back();
  u->reused = true;
  return u;
}

std::unique_ptr<UpstreamConn> Worker::Connect(BackendState* b, ClientConn* owner, int* err) {
  if (b->protocol == UpstreamProtocol::kH2) return OpenH2Stream(this, b, owner, err);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return nullptr;
  }
  if (Status nd = net::SetNoDelay(fd); !nd.ok()) {
    logging::Debug("proxy", "TCP_NODELAY not set: " + nd.message());
  }
  auto u = std::make_unique<UpstreamConn>();
  u->fd = fd;
  u->backend = b;
  u->owner = owner;
  if (b->tls) {
    u->tr = net::TlsTransport::Connect(b->tls, fd, b->tls_name);
  } else {
    u->tr = std::make_unique<net::PlainTransport>(fd);
  }
  if (!u->tr) {
    *err = ENOMEM;
    close(fd);
    return nullptr;
  }
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&b->addr), sizeof b->addr);
  if (rc != 0 && errno != EINPROGRESS) {
    *err = errno;
    u->tr.reset();
    close(fd);
    return nullptr;
  }
  u->tcp_connected = rc == 0;
  u->connected = rc == 0 && !b->tls;  // TLS: the owner drives the handshake first
  u->writable = rc == 0;
  UpstreamConn* raw = u.get();
  Status st = loop_->Add(fd, kConnEvents, [this, raw](uint32_t ev) {
    if (raw->owner) {
      raw->owner->OnUpstreamEvent(ev);
      return;
    }
    if (ev & EPOLLOUT) raw->writable = true;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      // An idle connection spoke or closed: it is no longer usable.
      BackendState* bs = raw->backend;
      for (size_t i = 0; i < bs->idle.size(); ++i) {
        if (bs->idle[i].get() == raw) {
          std::unique_ptr<UpstreamConn> dead = std::move(bs->idle[i]);
          bs->idle.erase(bs->idle.begin() + i);
          CloseUpstream(std::move(dead));
          return;
        }
      }
    }
  });
  if (!st.ok()) {
    *err = EIO;
    u->tr.reset();
    close(fd);
    return nullptr;
  }
  return u;
}

void Worker::ReleaseUpstream(std::unique_ptr<UpstreamConn> u, bool reusable) {
  u->owner = nullptr;
  if (u->fd < 0) return;  // an HTTP/2 stream: destroying it detaches it from its session
  BackendState* b = u->backend;
  if (reusable && u->readable && !u->read_wants_write) {
    // Readiness not consumed yet (no read said the socket was drained): a connection
    // with nothing more to read goes back to the pool; one with bytes after its response
    // does not.
    net::IoResult r = u->tr->Read(upstream_scratch_.get(), kScratch);
    u->readable = r.status != net::IoStatus::kWantRead;
  }
  if (!reusable || stopping_ || u->readable || u->read_wants_write || u->write_wants_read ||
      b->idle.size() >= options_.max_idle_per_backend) {
    CloseUpstream(std::move(u));
    return;
  }
  b->idle.push_back(std::move(u));
}

void Worker::CloseUpstream(std::unique_ptr<UpstreamConn> u) {
  if (!u || u->fd < 0) return;
  loop_->Remove(u->fd);
  u->tr.reset();  // before the fd it speaks through closes
  close(u->fd);
  u->fd = -1;
  // Destroyed here: the loop holds its callback alive while it runs, and the callback does
  // not touch `u` after returning from the code that closed it.
}

void Worker::Retire(ClientConn* c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  dead_.push_back(std::move(it->second));
  conns_.erase(it);
  CountOpen();
  ReapLater();
}

void Worker::RetireTcp(TcpConn* c) {
  auto it = tcp_conns_.find(c);
  if (it == tcp_conns_.end()) return;
  dead_tcp_.push_back(std::move(it->second));
  tcp_conns_.erase(it);
  CountOpen();
  ReapLater();
}

void Worker::RetireH2(H2Conn* c) {
  auto it = h2_conns_.find(c);
  if (it == h2_conns_.end()) return;
  dead_h2_.push_back(std::move(it->second));
  h2_conns_.erase(it);
  CountOpen();
  ReapLater();
}

void Worker::RetireStream(std::unique_ptr<ClientConn> c) {
  dead_.push_back(std::move(c));
  ReapLater();
}

void Worker::StartH2(int fd, std::unique_ptr<net::Transport> tr, int slot, uint32_t peer_ipv4,
                     telemetry::Gauge* active) {
  auto conn = std::make_unique<H2Conn>(this, fd, std::move(tr), slot, peer_ipv4, active);
  H2Conn* raw = conn.get();
  h2_conns_.emplace(raw, std::move(conn));
  CountOpen();
  // The fd changes hands: its events go to the H2Conn from now on.
  loop_->Remove(fd);
  Status st = loop_->Add(fd, kConnEvents, [raw](uint32_t ev) { raw->OnEvent(ev); });
  if (!st.ok()) {
    raw->CloseNow();
    return;
  }
  raw->Start();
}

void Worker::RetireH2Upstream(BackendState* b, H2UpSession* s) {
  for (size_t i = 0; i < b->h2.size(); ++i) {
    if (b->h2[i].get() != s) continue;
    dead_h2up_.push_back(std::move(b->h2[i]));
    b->h2.erase(b->h2.begin() + static_cast<std::ptrdiff_t>(i));
    ReapLater();
    return;
  }
}

void Worker::ReapLater() {
  if (reap_scheduled_) return;
  reap_scheduled_ = true;
  loop_->RunAfter(Duration(0), [this] {
    reap_scheduled_ = false;
    dead_.clear();
    dead_tcp_.clear();
    dead_h2_.clear();
    dead_h2up_.clear();
  });
}

void Worker::ArmSweep() {
  if (sweep_armed_ || stopping_) return;
  sweep_armed_ = true;
  loop_->RunAfter(options_.tick, [this] { Sweep(); });
}

void Worker::Sweep() {
  sweep_armed_ = false;
  MonoTime now = Now();
  // HTTP/2 upstream sessions first: connect and first-SETTINGS deadlines (a server that sends
  // no SETTINGS fails its waiting streams with a 502 before their connect deadline, the same
  // length, says 504), idle time.
  std::vector<H2UpSession*> sessions;
  for (auto& [k, b] : backends_)
    for (const auto& s : b->h2) sessions.push_back(s.get());
  for (H2UpSession* s : sessions) s->CheckTimeout(now);
  std::vector<ClientConn*> due;
  for (auto& [p, c] : conns_)
    if (c->deadline() <= now) due.push_back(p);
  for (ClientConn* c : due)
    if (conns_.count(c)) c->CheckTimeout(now);
  std::vector<TcpConn*> tcp_due;
  for (auto& [p, c] : tcp_conns_)
    if (c->deadline() <= now) tcp_due.push_back(p);
  for (TcpConn* c : tcp_due)
    if (tcp_conns_.count(c)) c->CheckTimeout(now);
  // HTTP/2 connections check their own deadline and their streams'.
  std::vector<H2Conn*> h2;
  for (auto& [p, c] : h2_conns_) h2.push_back(p);
  for (H2Conn* c : h2)
    if (h2_conns_.count(c)) c->CheckTimeout(now);
  // Idle (no connection left): the next connection arms it again (CountOpen).
  if (open_connections() > 0) ArmSweep();
}

void Worker::Shutdown() {
  stopping_ = true;
  std::vector<ClientConn*> all;
  for (auto& [p, c] : conns_) all.push_back(p);
  for (ClientConn* c : all) c->CloseNow();
  std::vector<TcpConn*> tcp;
  for (auto& [p, c] : tcp_conns_) tcp.push_back(p);
  for (TcpConn* c : tcp) c->CloseNow();
  std::vector<H2Conn*> h2;
  for (auto& [p, c] : h2_conns_) h2.push_back(p);
  for (H2Conn* c : h2) c->CloseNow();
  dead_.clear();
  dead_tcp_.clear();
  dead_h2_.clear();
  for (auto& [k, b] : backends_) {
    while (!b->idle.empty()) {
      CloseUpstream(std::move(b->idle.back()));
      b->idle.pop_back();
    }
    for (const auto& h : b->h2) h->Close();
  }
  dead_h2up_.clear();
  for (auto& s : slots_) {
    if (s.fd >= 0) {
      loop_->Remove(s.fd);
      close(s.fd);
      s.fd = -1;
    }
  }
}

}  // namespace slipway::proxy
