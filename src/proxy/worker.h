// Worker: one proxy thread — its event loop, listening sockets, client connections, upstream
// pools and per-worker routing state. Internal to src/proxy.
//
// Everything here is owned by and used on the worker's own thread, except Start(), Join() and
// PostApply()/PostRouteTraffic()/PostStop(), which the control thread calls (they only Post()
// to the loop), and the counters, which any thread reads.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "net/event_loop.h"
#include "net/socket.h"
#include "net/tls_client_context.h"
#include "net/transport.h"
#include "proxy/balancer.h"
#include "proxy/proxy.h"
#include "proxy/proxy_metrics.h"

namespace slipway::proxy {

class ClientConn;
class H2Conn;
class H2UpSession;
class TcpConn;
class Worker;

// Where draining workers say that their last client connection closed, so the control thread
// waiting in Proxy::AwaitConnectionsClosed wakes at once instead of polling the counts: an
// eventfd, which that wait polls together with the caller's give-up fd (its signalfd). Owned
// by the Proxy, shared by its workers; any thread.
struct DrainWatch {
  net::UniqueFd event;  // eventfd, non-blocking; created by Proxy::Create
  // The notifier's count is stored before it writes: a waiter that checked the counts and then
  // polls finds the eventfd readable, so no wake is lost.
  void Notify() const {
    const uint64_t one = 1;
    if (::write(event.get(), &one, sizeof one) < 0) {
      // EAGAIN only (the counter full): it is readable anyway, which is all a waiter needs.
    }
  }
};

// Immutable, shared by all workers: a RouteTable plus what Apply() computed for it.
struct CompiledTable {
  struct Set {
    std::vector<std::string> backend_keys;  // "ip:port", parallel to InstanceSet::backends
    std::vector<sockaddr_in> addrs;
    std::vector<std::string> ips;  // each address's IP as text, formatted once by Apply()
    SetMetrics metrics;
  };
  struct RouteC {
    std::vector<Set> sets;
    // https:// upstream (HTTP listeners only): the context connections verify with; null =
    // plain. Part of each backend key, so TLS and plain connections never share a pool.
    std::shared_ptr<const net::TlsClientContext> upstream_tls;
    std::string server_name;
    // HTTP/2 to the backends (HTTP listeners only); part of each backend key too.
    UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
    SetMetrics no_set;  // set label "_none": no backend available, maintenance answers
  };
  struct ListenerC {
    std::string key;
    std::vector<RouteC> routes;
    telemetry::Gauge* active = nullptr;
  };
  std::shared_ptr<const RouteTable> table;
  std::vector<ListenerC> listeners;
  SetMetrics unmatched;  // route "_none"
};

// One backend address as this worker sees it: health, load, idle connections.
struct UpstreamConn;
struct BackendState {
  BackendState();
  ~BackendState();  // out of line: H2UpSession is complete there
  std::string key;
  sockaddr_in addr{};
  // https:// upstream: connections are TLS from this context, for `tls_name` (the route's
  // server name, else the IP: SNI unless an IP, and what the certificate must cover; see
  // net::TlsTransport::Connect). Null = plain.
  std::shared_ptr<const net::TlsClientContext> tls;
  std::string tls_name;
  BackendHealth health;
  std::vector<std::unique_ptr<UpstreamConn>> idle;  // most recent last
  // kH2: no idle pool; requests are streams on these multiplexed sessions (h2_upstream.h).
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  std::vector<std::unique_ptr<H2UpSession>> h2;
  // The stream limit the backend's last SETTINGS gave: what a new session assumes until its
  // own SETTINGS come.
  uint32_t h2_streams_hint = 100;
};

// One connection to a backend. Its bytes cross `tr` (plain or TLS, which keeps its context
// alive), never the fd directly; TLS when `backend->tls` is set. For an HTTP/2 backend it is
// one stream of a shared session instead (h2_upstream.h): fd -1, `tr` the stream.
struct UpstreamConn {
  int fd = -1;
  std::unique_ptr<net::Transport> tr;
  BackendState* backend = nullptr;
  ClientConn* owner = nullptr;  // null while idle in the pool
  bool tcp_connected = false;   // the TCP connect finished
  bool connected = false;       // ready for request bytes: TCP connected and TLS established
  bool reused = false;
  bool readable = false;  // edge-triggered readiness we have not consumed yet
  bool writable = false;
  // The peer's FIN was reported (EPOLLRDHUP): a short read no longer means "wait for the next
  // edge", since none will come; reading goes on until it returns EOF.
  bool peer_closed = false;
  bool read_wants_write = false;  // the transport's read waits for the writable edge (TLS)
  bool write_wants_read = false;  // its write waits for the readable edge (TLS)
  // Set by an HTTP/2 stream that failed: what its transport's kError means (else a failed
  // handshake is kTls and a failed read kReset).
  std::optional<UpstreamError> failure;
};

// The traffic settings of one route: per instance set (parallel to Route::sets) its weight and
// draining mark, and the sticky cookie. Immutable once built; a route update hands every
// worker the same snapshot.
struct RouteTraffic {
  struct Set {
    uint32_t weight = 0;
    bool draining = false;
  };
  std::vector<Set> sets;
  std::string sticky_cookie;  // "" = off
  static std::shared_ptr<const RouteTraffic> Of(const Route& r);
};

// One route of one listener as a worker sees it: its balancer and, per instance set, the
// worker's backend states (the health the balancer reads and the keep-alive pools) and whether
// the set drains. The balancer holds pointers into those BackendStates, which the worker owns
// and keeps while any table references them.
struct WorkerRoute {
  struct SetState {
    std::vector<BackendState*> backends;  // parallel to InstanceSet::backends
    // Out of rotation: set by the table itself, or later when a newer table drains or drops
    // the set (so responses still running on this table carry "Connection: close").
    bool draining = false;
  };
  WorkerRoute(std::vector<Balancer::Set> balancer_sets, BalancePolicy policy)
      : balancer(std::move(balancer_sets), policy) {}
  Balancer balancer;
  std::vector<SetState> sets;
  std::shared_ptr<const RouteTraffic> traffic;  // the sticky cookie is read from here
};

struct WorkerListener {
  std::vector<WorkerRoute> routes;  // parallel to Listener::routes
  bool closed = false;              // a newer table no longer has this listener
};

// A worker's view of one CompiledTable (mutable, worker-only). Requests in flight keep the
// table they started on alive through their Exchange.
struct WorkerTable {
  std::shared_ptr<const CompiledTable> compiled;
  std::vector<int> slot_to_listener;      // listen slot → listener index, -1 when gone
  std::vector<WorkerListener> listeners;  // parallel to RouteTable::listeners
};

class Worker {
 public:
  // `drain_watch` (may be null) is told whenever a draining worker's last connection closes.
  Worker(int index, const ProxyOptions& options, std::unique_ptr<net::EventLoop> loop,
         DrainWatch* drain_watch = nullptr);
  ~Worker();

  void Start();
  void Join();
  // Control thread: switch to `table`; `fds` are this worker's new listening sockets
  // (listener key → fd, ownership passes). `done` is called on the worker once switched.
  // Stops accepting for good (closes this worker's copies of the listening sockets) and lets
  // each client connection finish: its next answer carries "Connection: close"; with
  // `close_idle` (Proxy::DrainFor::kExit) idle ones that served a request close at once.
  // `done` runs on the worker's thread.
  void PostDrain(bool close_idle, std::function<void()> done);
  void PostApply(std::shared_ptr<const CompiledTable> table,
                 std::vector<std::pair<std::string, int>> fds, std::function<void()> done);
  void PostStop();
  // Control thread: routes (listener, route) of the current table take `traffic` in place:
  // their balancers keep their positions, every other route is untouched. `done` runs on the
  // worker's thread once done.
  void PostRouteTraffic(std::vector<std::pair<size_t, size_t>> routes,
                        std::shared_ptr<const RouteTraffic> traffic, std::function<void()> done);
  // Any thread: work done so far (WorkerRoutes built by table switches, routes updated in place).
  uint64_t routes_built() const { return routes_built_.load(std::memory_order_relaxed); }
  uint64_t route_updates() const { return route_updates_.load(std::memory_order_relaxed); }
  // Any thread: client connections (HTTP and TCP) open on this worker, as of its last change.
  size_t open_connections() const { return open_.load(std::memory_order_relaxed); }

  // --- worker thread only ---
  int index() const { return index_; }
  const ProxyOptions& options() const { return options_; }
  net::EventLoop* loop() { return loop_.get(); }
  const std::shared_ptr<WorkerTable>& table() const { return table_; }
  MonoTime Now() const { return options_.clock->Now(); }

  // An idle pooled connection to `b`, or null.
  std::unique_ptr<UpstreamConn> TakeIdle(BackendState* b);
  // Starts a non-blocking connect; the conn's events go to `owner`. Null + errno on failure.
  std::unique_ptr<UpstreamConn> Connect(BackendState* b, ClientConn* owner, int* err);
  // Returns a finished upstream connection: pooled when `reusable`, else closed.
  void ReleaseUpstream(std::unique_ptr<UpstreamConn> u, bool reusable);
  void CloseUpstream(std::unique_ptr<UpstreamConn> u);
  // Destroys a client connection after the current callback returns.
  void Retire(ClientConn* c);
  void RetireTcp(TcpConn* c);
  void RetireH2(H2Conn* c);
  // A ClientConn serving an HTTP/2 stream, handed back by its H2Conn once closed: destroyed
  // after the current callback returns.
  void RetireStream(std::unique_ptr<ClientConn> c);
  // A dead HTTP/2 upstream session with no stream left leaves `b`: destroyed after the
  // current callback returns.
  void RetireH2Upstream(BackendState* b, H2UpSession* s);
  // A TLS connection that negotiated ALPN h2: an H2Conn takes over `fd` and `tr`.
  void StartH2(int fd, std::unique_ptr<net::Transport> tr, int slot, uint32_t peer_ipv4,
               telemetry::Gauge* active);
  std::string NextRequestId();

  char* client_scratch() { return client_scratch_.get(); }
  char* upstream_scratch() { return upstream_scratch_.get(); }
  static constexpr size_t kScratch = 64 * 1024;
  // Where a client response head is built, so no response allocates one. A head is sent (or
  // copied into the connection's queue) before the next is built, so one per worker does.
  std::string& head_scratch() { return head_scratch_; }

 private:
  void Apply(std::shared_ptr<const CompiledTable> table,
             std::vector<std::pair<std::string, int>> fds);
  void UpdateRoutes(const std::vector<std::pair<size_t, size_t>>& routes,
                    const std::shared_ptr<const RouteTraffic>& traffic);
  void OnAccept(int slot);
  void Sweep();
  // Schedules a Sweep() one tick from now unless one is scheduled: a worker without
  // connections has nothing to time out and does not wake up for it.
  void ArmSweep();
  void Shutdown();
  void ReapLater();
  int SlotFor(const std::string& key);

  int index_;
  ProxyOptions options_;
  std::unique_ptr<net::EventLoop> loop_;
  std::thread thread_;
  std::shared_ptr<WorkerTable> table_;
  std::unordered_map<std::string, std::unique_ptr<BackendState>> backends_;
  struct ListenSlot {
    std::string key;
    int fd = -1;
  };
  std::vector<ListenSlot> slots_;
  std::atomic<size_t> open_{0};  // conns_ + tcp_conns_ + h2_conns_, for open_connections()
  std::atomic<uint64_t> routes_built_{0};
  std::atomic<uint64_t> route_updates_{0};
  void CountOpen() {
    const size_t open = conns_.size() + tcp_conns_.size() + h2_conns_.size();
    open_.store(open, std::memory_order_relaxed);
    if (open > 0) ArmSweep();
    if (open == 0 && draining_ && drain_watch_ != nullptr) drain_watch_->Notify();
  }
  DrainWatch* drain_watch_;
  // ClientConns serving HTTP/2 streams (owned by their H2Conn): what a deferred resume checks.
  // Declared before the connections, so it outlives them.
  std::unordered_set<ClientConn*> stream_conns_;
  std::unordered_map<ClientConn*, std::unique_ptr<ClientConn>> conns_;
  std::vector<std::unique_ptr<ClientConn>> dead_;
  std::unordered_map<TcpConn*, std::unique_ptr<TcpConn>> tcp_conns_;  // TCP listeners' conns
  std::vector<std::unique_ptr<TcpConn>> dead_tcp_;
  std::unordered_map<H2Conn*, std::unique_ptr<H2Conn>> h2_conns_;  // HTTP/2 connections
  std::vector<std::unique_ptr<H2Conn>> dead_h2_;
  std::vector<std::unique_ptr<H2UpSession>> dead_h2up_;
  bool reap_scheduled_ = false;
  std::unique_ptr<char[]> client_scratch_;
  std::unique_ptr<char[]> upstream_scratch_;
  std::string head_scratch_;
  std::string id_prefix_;
  uint64_t id_seq_ = 0;
  bool stopping_ = false;
  bool sweep_armed_ = false;
  bool draining_ = false;  // PostDrain ran: every response closes its connection

  friend class ClientConn;
  friend class H2Conn;
};

}  // namespace slipway::proxy
