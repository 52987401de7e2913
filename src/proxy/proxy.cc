#include "proxy/proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "net/socket.h"
#include "proxy/worker.h"

namespace slipway::proxy {

namespace {

int DefaultWorkers(int workers) {
  if (workers > 0) return workers;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Result<sockaddr_in> Resolve(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1) return a;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) return InvalidInput("backend host " + host + ": cannot resolve");
  a.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return a;
}

}  // namespace

int Proxy::ShardsFor(int workers) { return DefaultWorkers(workers) + 1; }

Proxy::Proxy(ProxyOptions options, telemetry::Registry* registry)
    : options_(std::move(options)),
      registry_(registry),
      drain_watch_(std::make_unique<DrainWatch>()) {
  table_.store(std::make_shared<const RouteTable>());
}

Result<std::unique_ptr<Proxy>> Proxy::Create(ProxyOptions options, telemetry::Registry* registry) {
  if (!registry) return InvalidInput("proxy: a metrics registry is required");
  if (!options.clock) options.clock = Clock::Real();
  options.workers = DefaultWorkers(options.workers);
  std::unique_ptr<Proxy> p(new Proxy(options, registry));
  p->drain_watch_->event = net::UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!p->drain_watch_->event) return ErrnoError("eventfd", errno);
  for (int i = 0; i < options.workers; ++i) {
    ASSIGN_OR_RETURN(auto loop, net::EventLoop::Create(options.clock));
    p->workers_.push_back(
        std::make_unique<Worker>(i, p->options_, std::move(loop), p->drain_watch_.get()));
  }
  for (auto& w : p->workers_) w->Start();
  return p;
}

Proxy::~Proxy() { Stop(); }

void Proxy::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_) w->PostStop();
  for (auto& w : workers_) w->Join();
  workers_.clear();
}

Status Proxy::Drain(DrainFor why) {
  if (stopped_) return FailedPrecondition("proxy stopped");
  if (drained_) return Status::OK();
  const bool exiting = why == DrainFor::kExit;
  // The table stays (requests still arriving on open connections are routed as before);
  // the workers close their copies of the listening sockets, and nothing is given back to the
  // source, whose copies the successor takes.
  drained_ = true;
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  for (auto& w : workers_) {
    w->PostDrain(/*close_idle=*/exiting, [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == workers_.size(); });
    SLIPWAY_CHECK(done == workers_.size());
  }
  // Nobody takes over: the source's copies close too (a keeper's would queue connections).
  if (exiting && options_.listeners) {
    for (const auto& [key, addr] : addrs_) options_.listeners->Release(addr.first, addr.second);
    addrs_.clear();
  }
  return Status::OK();
}

size_t Proxy::AwaitConnectionsClosed(Duration timeout, int give_up_fd,
                                     const std::function<bool()>& give_up) {
  // One poll on the workers' eventfd (DrainWatch: the last connection of a draining worker
  // closed) and the caller's fd (its signalfd): nothing is asked in slices.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int event = drain_watch_->event.get();
  while (true) {
    const size_t open = OpenConnections();
    if (open == 0) return 0;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return open;
    // Rounded up, so the last wait does not end just short of the deadline and spin.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd fds[2] = {{event, POLLIN, 0}, {give_up_fd, POLLIN, 0}};
    const int n =
        ::poll(fds, give_up_fd >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (n < 0 && errno != EINTR) {
      logging::Warn("proxy", std::string("drain wait: poll: ") + std::strerror(errno));
      return OpenConnections();
    }
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      if (::read(event, &count, sizeof count) < 0) {
        // EAGAIN: another read took it; the counts are checked again anyway.
      }
    }
    if (give_up_fd >= 0 && fds[1].revents != 0) {
      if (!give_up || give_up()) return OpenConnections();
    }
  }
}

size_t Proxy::OpenConnections() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w->open_connections();
  return n;
}

Result<int> Proxy::BoundPort(const std::string& host, int port) const {
  Listener l;
  l.host = host;
  l.port = port;
  auto it = bound_ports_.find(ListenerKey(l));
  if (it == bound_ports_.end()) return NotFound("no listener " + ListenerKey(l));
  return it->second;
}

Result<std::shared_ptr<const net::TlsClientContext>> Proxy::UpstreamTlsContext(
    const std::string& ca) {
  const net::TlsClientOptions options{ca, true};
  Result<std::shared_ptr<const net::TlsClientContext>> made = upstream_tls_.Get(options);
  if (made.ok()) return made;
  if (std::shared_ptr<const net::TlsClientContext> last = upstream_tls_.Previous(options)) {
    logging::Warn("proxy",
                  "upstream CA file: " + made.status().message() + "; keeping the last one",
                  {{"ca_file", ca}});
    return last;
  }
  return made.status();
}

Status Proxy::Apply(std::shared_ptr<const RouteTable> table) {
  if (drained_) return FailedPrecondition("proxy drained: a successor serves the listeners");
  return ApplyTable(std::move(table));
}

Status Proxy::ApplyTable(std::shared_ptr<const RouteTable> table) {
  if (stopped_) return FailedPrecondition("proxy stopped");
  if (!table) return InvalidInput("proxy: null route table");
  RETURN_IF_ERROR(ValidateRouteTable(*table));

  // Open the sockets of new listeners, one per worker (SO_REUSEPORT). All or nothing.
  std::vector<std::vector<std::pair<std::string, int>>> per_worker(workers_.size());
  std::map<std::string, int> new_ports;
  std::vector<std::pair<std::string, int>> acquired;  // released again if Apply fails
  auto undo = [&] {
    for (auto& v : per_worker)
      for (auto& [k, fd] : v) close(fd);
    if (options_.listeners) {
      for (auto& [host, port] : acquired) options_.listeners->Release(host, port);
    }
  };
  std::set<std::string> keys;
  std::set<std::string> skipped;  // best-effort listeners whose sockets failed
  for (const Listener& l : table->listeners) {
    std::string key = ListenerKey(l);
    keys.insert(key);
    if (bound_ports_.count(key)) continue;
    int port = l.port;
    if (options_.listeners) {
      auto fds =
          options_.listeners->Acquire(l.host, l.port, static_cast<int>(workers_.size()), &port);
      if (!fds.ok() && l.best_effort) {
        if (skipped_warned_.insert(key).second) {
          logging::Warn("proxy", "listener " + key + " left out: " + fds.status().message(),
                        {{"listener", key}});
        }
        skipped.insert(key);
        keys.erase(key);
        continue;
      }
      if (!fds.ok() || fds->size() != workers_.size()) {
        undo();
        if (fds.ok()) return Internal("listener " + key + ": wrong number of sockets");
        return fds.status().WithContext("listener " + key);
      }
      skipped_warned_.erase(key);
      acquired.emplace_back(l.host, l.port);
      for (size_t w = 0; w < workers_.size(); ++w) {
        per_worker[w].emplace_back(key, (*fds)[w].Release());
      }
      new_ports[key] = port;
      addrs_[key] = {l.host, l.port};
      continue;
    }
    std::vector<std::pair<std::string, int>> mine;  // this listener's sockets so far
    Status failed;
    for (size_t w = 0; w < workers_.size() && failed.ok(); ++w) {
      auto fd = net::ListenTcp(l.host, port, 1024, /*reuseport=*/true);
      if (!fd.ok()) {
        failed = fd.status();
        break;
      }
      if (port == 0) {
        auto bound = net::LocalPort(fd->get());
        if (!bound.ok()) {
          close(fd->Release());
          failed = bound.status();
          break;
        }
        port = *bound;
      }
      mine.emplace_back(key, fd->Release());
    }
    if (!failed.ok()) {
      for (auto& [k, fd] : mine) close(fd);
      if (!l.best_effort) {
        undo();
        return failed.WithContext("listener " + key);
      }
      if (skipped_warned_.insert(key).second) {
        logging::Warn("proxy", "listener " + key + " left out: " + failed.message(),
                      {{"listener", key}});
      }
      skipped.insert(key);
      keys.erase(key);
      continue;
    }
    skipped_warned_.erase(key);
    for (size_t w = 0; w < workers_.size(); ++w) per_worker[w].push_back(mine[w]);
    new_ports[key] = port;
    addrs_[key] = {l.host, l.port};
  }
  if (!skipped.empty()) {  // the table the workers get leaves those listeners out
    auto kept = std::make_shared<RouteTable>(*table);
    std::erase_if(kept->listeners,
                  [&](const Listener& l) { return skipped.count(ListenerKey(l)) > 0; });
    table = kept;
  }

  // Compile: metric handles and resolved backend addresses (may block on DNS: control thread).
  auto compiled = std::make_shared<CompiledTable>();
  compiled->table = table;
  compiled->unmatched = SetMetrics::Create(registry_, kNoRoute, kNoRoute);
  for (const Listener& l : table->listeners) {
    CompiledTable::ListenerC lc;
    lc.key = ListenerKey(l);
    lc.active =
        registry_->GetGauge(kActiveConnections, "Open client connections.", {"listener"}, {lc.key});
    for (const Route& r : l.routes) {
      CompiledTable::RouteC rc;
      rc.no_set = SetMetrics::Create(registry_, r.service, kNoRoute);
      std::string key_suffix;  // TLS and plain connections to one address never share a pool
      if (r.upstream_tls.enabled && l.mode == ListenerMode::kHttp) {
        Result<std::shared_ptr<const net::TlsClientContext>> ctx =
            UpstreamTlsContext(r.upstream_tls.ca_file);
        if (!ctx.ok()) {
          undo();
          return ctx.status().WithContext("service " + r.service + ": upstream TLS");
        }
        rc.upstream_tls = *ctx;
        rc.server_name = r.upstream_tls.server_name;
        char id[32];
        std::snprintf(id, sizeof id, "%p", static_cast<const void*>(rc.upstream_tls.get()));
        key_suffix = " tls " + rc.server_name + " " + id;
      }
      if (r.upstream_protocol == UpstreamProtocol::kH2 && l.mode == ListenerMode::kHttp) {
        rc.protocol = UpstreamProtocol::kH2;
        key_suffix += " h2";  // sessions, never an HTTP/1.1 pool
      }
      for (const InstanceSet& s : r.sets) {
        CompiledTable::Set cs;
        cs.metrics = SetMetrics::Create(registry_, r.service, s.name);
        for (const Backend& b : s.backends) {
          Result<sockaddr_in> resolved = Resolve(b.host, b.port);
          if (!resolved.ok()) {
            undo();
            return resolved.status();
          }
          const sockaddr_in& addr = *resolved;
          char ip[INET_ADDRSTRLEN];
          inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
          cs.backend_keys.push_back(std::string(ip) + ":" + std::to_string(b.port) + key_suffix);
          cs.addrs.push_back(addr);
          cs.ips.emplace_back(ip);
        }
        rc.sets.push_back(std::move(cs));
      }
      lc.routes.push_back(std::move(rc));
    }
    compiled->listeners.push_back(std::move(lc));
  }

  table_.store(table);
  compiled_ = compiled;
  for (const auto& lc : compiled->listeners) routes_compiled_ += lc.routes.size();
  ++tables_applied_;
  size_t w = 0;
  OnEveryWorker([&](Worker& worker, std::function<void()> done) {
    worker.PostApply(compiled, std::move(per_worker[w++]), std::move(done));
  });
  for (auto it = bound_ports_.begin(); it != bound_ports_.end();) {
    if (!keys.count(it->first)) {
      // Workers closed their copies; the source may close its own (the port refuses again).
      auto addr = addrs_.find(it->first);
      if (addr != addrs_.end()) {
        if (options_.listeners && !drained_) {
          options_.listeners->Release(addr->second.first, addr->second.second);
        }
        addrs_.erase(addr);
      }
      it = bound_ports_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [k, p] : new_ports) bound_ports_[k] = p;
  return Status::OK();
}

void Proxy::OnEveryWorker(const std::function<void(Worker&, std::function<void()>)>& post) {
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  for (auto& worker : workers_) {
    post(*worker, [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  // Workers switch within one loop iteration; the wait is bounded anyway.
  cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == workers_.size(); });
  SLIPWAY_CHECK(done == workers_.size());
}

namespace {

bool SameSets(const Route& a, const Route& b) {
  if (a.sets.size() != b.sets.size()) return false;
  for (size_t s = 0; s < a.sets.size(); ++s) {
    const InstanceSet& x = a.sets[s];
    const InstanceSet& y = b.sets[s];
    if (x.name != y.name || x.backends.size() != y.backends.size()) return false;
    for (size_t i = 0; i < x.backends.size(); ++i) {
      if (x.backends[i].host != y.backends[i].host || x.backends[i].port != y.backends[i].port) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

Status Proxy::UpdateRoute(const Route& update) {
  if (drained_) return FailedPrecondition("proxy drained: a successor serves the listeners");
  if (stopped_) return FailedPrecondition("proxy stopped");
  std::shared_ptr<const RouteTable> current = table_.load();
  if (!compiled_ || !current) return NotFound("proxy: no route serves " + update.service);
  // The new value of table() for its readers: the same shape, this service's settings changed.
  auto next = std::make_shared<RouteTable>(*current);
  std::vector<std::pair<size_t, size_t>> where;
  for (size_t l = 0; l < next->listeners.size(); ++l) {
    for (size_t r = 0; r < next->listeners[l].routes.size(); ++r) {
      Route& route = next->listeners[l].routes[r];
      if (route.service != update.service) continue;
      if (!SameSets(route, update)) {
        return FailedPrecondition("proxy: the instance sets of " + update.service +
                                  " changed: apply a whole table");
      }
      for (size_t s = 0; s < route.sets.size(); ++s) {
        route.sets[s].weight = update.sets[s].weight;
        route.sets[s].draining = update.sets[s].draining;
      }
      route.sticky_cookie = update.sticky_cookie;
      where.emplace_back(l, r);
    }
  }
  if (where.empty()) return NotFound("proxy: no route serves " + update.service);
  if (compiled_->listeners.size() != next->listeners.size()) {
    return FailedPrecondition("proxy: the table changed shape: apply a whole table");
  }
  std::shared_ptr<const RouteTraffic> traffic = RouteTraffic::Of(update);
  table_.store(next);
  ++route_updates_;
  OnEveryWorker([&](Worker& worker, std::function<void()> done) {
    worker.PostRouteTraffic(where, traffic, std::move(done));
  });
  return Status::OK();
}

ProxyWork Proxy::work() const {
  ProxyWork w;
  w.tables_applied = tables_applied_.load();
  w.routes_compiled = routes_compiled_.load();
  w.route_updates = route_updates_.load();
  for (const auto& worker : workers_) {
    w.worker_routes_built += worker->routes_built();
    w.worker_route_updates += worker->route_updates();
  }
  return w;
}

}  // namespace slipway::proxy
