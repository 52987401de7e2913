// Proxy: Slipway's HTTP/1.1 reverse proxy, and a TCP forwarder on ListenerMode::kTcp
// listeners. Owns N worker threads; each worker has its own
// net::EventLoop, its own SO_REUSEPORT listening socket per listener, its own upstream
// keep-alive pools and balancer state, so the request path takes no lock.
//
// Threads: Create(), Apply(), BoundPort(), table() and Stop() are for the control thread
// (one thread at a time). Apply() validates and opens sockets on the calling thread, then hands
// the new table to every worker and waits until each has switched. The Registry passed to
// Create() must outlive the Proxy; worker i writes shard i of it, so give it at least
// `workers` shards (see Proxy::ShardsFor()).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "http/parser.h"
#include "net/socket.h"
#include "net/tls_client_context_cache.h"
#include "proxy/balancer.h"
#include "proxy/route_table.h"
#include "telemetry/metrics.h"

namespace slipway::proxy {

class ListenerSource;

struct ProxyOptions {
  int workers = 0;  // 0 = one per core
  // Client request limits: head bytes and header count (431), body bytes (413).
  http::ParserLimits limits{64 * 1024, 100, 2ull << 30};
  Duration head_timeout{10'000};            // first byte of a head to its end (slowloris) → 408
  Duration idle_timeout{60'000};            // keep-alive connection with no request
  Duration connect_timeout{3'000};          // upstream TCP connect → retry or 504
  Duration response_head_timeout{60'000};   // request dispatched to response head → 504
  Duration request_timeout{300'000};        // whole exchange; 0 = unlimited
  Duration tunnel_idle_timeout{3'600'000};  // Upgrade tunnels with no traffic
  Duration passive_down{2'000};             // backend skipped after refused/reset connects
  // TCP listeners (tcp_conn.h): a connection with no byte either way closes after
  // tcp_idle_timeout; one whose backend left the table closes after tcp_drain_timeout.
  Duration tcp_idle_timeout{3'600'000};
  Duration tcp_drain_timeout{30'000};
  int retry_after_seconds = 30;          // Retry-After in maintenance mode
  size_t max_buffer_bytes = 256 * 1024;  // per direction before reading pauses
  size_t max_idle_per_backend = 1024;    // idle upstream connections kept per worker
  BalancePolicy policy = BalancePolicy::kRoundRobin;
  Duration tick{50};  // timeout check granularity (a worker with no connections does not tick)
  Clock* clock = Clock::Real();         // must outlive the proxy
  ListenerSource* listeners = nullptr;  // null: bind here; else must outlive the proxy
};

class Worker;
struct CompiledTable;
struct DrainWatch;

// Work the proxy did to route by new settings, summed over its life: what a full table switch
// costs against a one-route traffic update (the daemon's weight changes).
struct ProxyWork {
  uint64_t tables_applied = 0;        // Apply() calls that switched the workers
  uint64_t routes_compiled = 0;       // routes compiled (metrics, addresses) on the control thread
  uint64_t worker_routes_built = 0;   // per-worker route states (balancers) built, all workers
  uint64_t route_updates = 0;         // UpdateRoute() calls that switched the workers
  uint64_t worker_route_updates = 0;  // per-worker route states updated in place, all workers
};

// Where listening sockets come from. Without one the proxy binds its own; the daemon hands in
// its keeper's, which keeps the sockets across daemon restarts (src/keeper). Called on the
// control thread only.
class ListenerSource {
 public:
  virtual ~ListenerSource() = default;
  // `count` listening sockets for host:port, non-blocking, SO_REUSEPORT; `bound_port` gets
  // the port (useful when `port` is 0).
  virtual Result<std::vector<net::UniqueFd>> Acquire(const std::string& host, int port, int count,
                                                     int* bound_port) = 0;
  // The proxy no longer listens on host:port (as given to Acquire).
  virtual void Release(const std::string& host, int port) = 0;
};

class Proxy {
 public:
  // Starts the workers (with an empty table: no listeners). `registry` must outlive the proxy.
  static Result<std::unique_ptr<Proxy>> Create(ProxyOptions options, telemetry::Registry* registry);
  ~Proxy();  // Stop()s
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Makes `table` the routing table. Validates it and opens the sockets of new listeners first:
  // on any error (invalid table, bind failure) nothing changes and the error is returned
  // (InvalidInput for a bad table, IoError for a socket). Then every worker switches; listeners
  // absent from `table` stop accepting, their idle client connections close and in-flight
  // requests finish with "Connection: close". Returns after every worker switched.
  Status Apply(std::shared_ptr<const RouteTable> table);

  // Changes only the traffic settings (each set's weight and draining mark, the sticky cookie)
  // of every route of `update.service`, taken from `update`, without compiling or rebuilding
  // any route: each worker gets one immutable snapshot of the settings (posted to its loop)
  // and updates that service's route states in place, keeping their balancers' positions;
  // every other route's state is untouched. The routes must have the same sets as `update`
  // (names and backends, in order): otherwise FailedPrecondition (the service's instances
  // changed: Apply a whole table). NotFound when no route serves the service. Returns after
  // every worker switched; table() then shows the new settings.
  Status UpdateRoute(const Route& update);

  // What routing changes cost so far (any thread).
  ProxyWork work() const;

  // The table last applied (empty table before the first Apply()). Lock-free read.
  std::shared_ptr<const RouteTable> table() const { return table_.load(); }

  // The port a listener is bound to (useful when its table entry says port 0).
  Result<int> BoundPort(const std::string& host, int port) const;

  // Closes listeners and connections and joins the workers. Idempotent.
  void Stop();

  // Hands the listeners over to a successor process (`slipway daemon restart`): every worker
  // stops accepting and closes its copies of the listening sockets, but the ListenerSource
  // keeps its own (they are not Released), so new connections wait in the kernel's accept
  // queues for the successor. The route table stays: every connection's next answer (the one
  // in flight, the first one of a connection accepted just before, the next one of an idle
  // keep-alive connection) carries "Connection: close" and the connection closes after it; idle
  // connections are not closed at once, which would race with a request being sent (HAProxy's
  // soft stop does the same). Idle ones that never speak again end at the idle timeout or at
  // Stop(). TCP connections run on until Stop(). Apply() is refused afterwards. Watch
  // OpenConnections() fall, then Stop().
  //
  // DrainFor::kExit is the same for a process that ends with nobody after it (`slipway
  // ingress` on SIGTERM): the listening sockets are also given back to the ListenerSource, so
  // new connections are refused rather than queued for nobody, and idle keep-alive connections
  // that have served a request close at once (a client retries a request that raced with that
  // close on a new connection, as it does when any server closes an idle one; nginx's graceful
  // stop does the same), and so do connections that have received no byte yet (nor a TLS
  // handshake's: they would hold the exit until their timeout; nginx closes connections waiting
  // for a first request the same way). One with part of a request head is served.
  enum class DrainFor : uint8_t { kHandover, kExit };
  Status Drain(DrainFor why = DrainFor::kHandover);
  // Client connections open on all workers (any thread; each worker's count as of its last
  // accept or close).
  size_t OpenConnections() const;
  // After Drain(): waits until no client connection is open, at most `timeout`, or until
  // `give_up_fd` (the caller's signalfd; -1: none) turns readable and `give_up()` (null: yes)
  // says to stop waiting — it must consume what made the fd readable (read the signal), else
  // it is asked again at once. Returns the connections still open. One poll() on that fd and
  // an eventfd the worker whose last connection closes writes: nothing is asked in slices.
  // Control thread; the workers keep serving meanwhile.
  size_t AwaitConnectionsClosed(Duration timeout, int give_up_fd = -1,
                                const std::function<bool()>& give_up = nullptr);

  int workers() const { return static_cast<int>(workers_.size()); }
  // Registry shards a proxy with this many workers wants (0 = one per core).
  static int ShardsFor(int workers);

 private:
  Proxy(ProxyOptions options, telemetry::Registry* registry);
  Status ApplyTable(std::shared_ptr<const RouteTable> table);
  // Runs `post(worker, done)` for every worker and waits until each called `done`.
  void OnEveryWorker(const std::function<void(Worker&, std::function<void()>)>& post);
  // The client context for an https:// upstream's CA file ("" = system store): made once and
  // made again when the file changes; the last one is kept when the file has become unreadable
  // since. Control thread.
  Result<std::shared_ptr<const net::TlsClientContext>> UpstreamTlsContext(const std::string& ca);

  ProxyOptions options_;
  telemetry::Registry* registry_;
  // Before workers_: they point to it. Woken when a draining worker's last connection closes.
  std::unique_ptr<DrainWatch> drain_watch_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::shared_ptr<const RouteTable>> table_;
  // What the workers route by (control thread); its listeners and routes are parallel to
  // table_'s, which UpdateRoute() replaces with a copy of the same shape.
  std::shared_ptr<const CompiledTable> compiled_;
  std::atomic<uint64_t> tables_applied_{0};
  std::atomic<uint64_t> routes_compiled_{0};
  std::atomic<uint64_t> route_updates_{0};
  std::map<std::string, int> bound_ports_;  // listener key → bound port (control thread)
  // listener key → host and port as the table gave them (for ListenerSource::Release)
  std::map<std::string, std::pair<std::string, int>> addrs_;
  std::set<std::string> skipped_warned_;     // best-effort listeners left out (logged once)
  net::TlsClientContextCache upstream_tls_;  // by CA file
  bool stopped_ = false;
  bool drained_ = false;
};

}  // namespace slipway::proxy
