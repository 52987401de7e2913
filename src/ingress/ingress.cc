#include "ingress/ingress.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <set>

#include "acme/cert_manager.h"
#include "acme/key.h"
#include "acme/tls_alpn.h"
#include "base/clock.h"
#include "base/file_signature.h"
#include "base/log.h"
#include "http/server.h"
#include "ingress/cert_report.h"
#include "ingress/registry.h"
#include "keeper/client.h"
#include "net/event_loop.h"
#include "net/host_port.h"
#include "net/socket.h"
#include "net/tls_alpn_challenges.h"
#include "proxy/proxy.h"
#include "telemetry/metrics.h"

namespace slipway::ingress {
namespace {

using nlohmann::json;

constexpr char kLog[] = "slipway-ingress";

http::Response Json(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

http::Response Error(int status, const std::string& message) {
  return Json(status, json{{"error", message}});
}

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidInput:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

using CertificatePaths = net::TlsServerContext::CertificatePaths;

// Path and signature of every certificate file: a change (a renewal) rebuilds the context.
std::string CertificateSignature(const std::vector<CertificatePaths>& certs) {
  std::string sig;
  for (const CertificatePaths& f : certs) {
    for (const std::string& p : {f.cert, f.key}) sig += p + ':' + FileSignature(p) + '\n';
  }
  return sig;
}

// Every HTTPS host of `projects` and whether its project speaks HTTP/2 there. The hosts
// without it are listed too: an exact host of a project without `http2` is not offered h2
// through another project's wildcard.
net::TlsServerContext::H2Names H2NamesFor(const std::map<std::string, Registration>& projects) {
  net::TlsServerContext::H2Names names;
  for (const auto& [name, r] : projects) {
    if (!r.https()) continue;
    for (const std::string& host : r.hosts) names[host] = r.http2;
  }
  return names;
}

// The context for `certs` (null when there are none), offering h2 by name as `projects` ask,
// answering TLS-ALPN-01 validations from `alpn`.
Result<std::shared_ptr<const net::TlsServerContext>> BuildTls(
    const std::vector<CertificatePaths>& certs, const std::map<std::string, Registration>& projects,
    std::shared_ptr<net::TicketKeys> tickets, std::shared_ptr<const net::TlsAlpnChallenges> alpn) {
  if (certs.empty()) return std::shared_ptr<const net::TlsServerContext>();
  ASSIGN_OR_RETURN(
      std::shared_ptr<const net::TlsServerContext> ctx,
      net::TlsServerContext::Create(certs, std::move(tickets), Clock::Real()->WallMillis() / 1000,
                                    H2NamesFor(projects)));
  RETURN_IF_ERROR(net::AnswerAlpnChallenges(*ctx, std::move(alpn)));
  return ctx;
}

// The placeholder is remade when older than this (it is valid for 30 days).
constexpr int64_t kPlaceholderMaxAgeS = 14 * 86400;
constexpr size_t kMaxCertEvents = 256;

// The listening sockets of :80/:443 come from the ingress's keeper, which keeps its copies
// while the ingress restarts: connections wait in the accept queue instead of being refused.
class KeeperListeners final : public proxy::ListenerSource {
 public:
  explicit KeeperListeners(keeper::KeeperClient* client) : client_(client) {}
  Result<std::vector<net::UniqueFd>> Acquire(const std::string& host, int port, int count,
                                             int* bound_port) override {
    if (client_->gone()) return BindHere(host, port, count, bound_port);
    auto fds = client_->ListenTcp(host, port, count, /*reuseport=*/true, bound_port);
    if (fds.ok() || !client_->gone()) return fds;
    return BindHere(host, port, count, bound_port);  // the keeper died: as without one
  }
  void Release(const std::string& host, int port) override {
    if (client_->gone()) return;
    // Nothing else can be done: the keeper keeps the socket until it exits.
    if (Status st = client_->ReleaseTcp(host, port); !st.ok()) {
      logging::Warn(kLog,
                    "keeper: releasing " + host + ":" + std::to_string(port) + ": " + st.message());
    }
  }

 private:
  static Result<std::vector<net::UniqueFd>> BindHere(const std::string& host, int port, int count,
                                                     int* bound_port) {
    std::vector<net::UniqueFd> out;
    for (int i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp(host, port, 1024, /*reuseport=*/true));
      if (port == 0) {
        ASSIGN_OR_RETURN(port, net::LocalPort(fd.get()));
      }
      out.push_back(std::move(fd));
    }
    *bound_port = port;
    return out;
  }
  keeper::KeeperClient* client_;
};

class Ingress {
 public:
  explicit Ingress(IngressOptions options) : options_(std::move(options)) {}

  int Run() {
    if (Status st = Init(); !st.ok()) {
      if (st.code() == StatusCode::kAlreadyExists) {
        logging::Info(kLog, st.message());
        return 0;
      }
      logging::Error(kLog, st.message());
      return st.ExitCode();
    }
    logging::Info(kLog, "serving " + std::to_string(registry_->projects().size()) +
                            " project(s) on " + options_.http.host + ":" +
                            std::to_string(options_.http.port) + " and " + options_.https.host +
                            ":" + std::to_string(options_.https.port));
    if (keeper_) {
      if (Status st = keeper_->Ready(); !st.ok()) {
        logging::Warn(kLog, "keeper: " + st.message());
      }
    }
    loop_->Run();
    logging::Info(
        kLog, fmt::format("stopping: draining for at most {} ms", options_.drain_timeout.count()));
    // Stopped on purpose: the keeper ends too instead of starting another ingress.
    if (keeper_ && !keeper_->gone()) {
      if (Status st = keeper_->Stopping(); !st.ok()) {
        logging::Warn(kLog, "keeper: " + st.message() + " (it may start the ingress again)");
      }
    }
    // Every attempt under way is cancelled at once (the raise wakes its sleep or exchange:
    // acme/client.h); its worker is joined at the hand-over.
    for (auto& [name, o] : acme_) {
      if (o.manager) o.manager->Cancel();
    }
    Drain();
    proxy_->Stop();
    // Nothing is removed here: the control socket, pid file and lock may be a successor's.
    return 0;
  }

 private:
  Status Init() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    std::error_code ec;
    std::filesystem::create_directories(options_.state_dir, ec);
    if (ec) return IoError("create " + options_.state_dir.string() + ": " + ec.message());
    ::chmod(options_.state_dir.c_str(), 0700);
    std::string lock_path = (options_.state_dir / "ingress.lock").string();
    lock_fd_ = net::UniqueFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_fd_) return ErrnoError("open " + lock_path, errno);
    if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      return AlreadyExists("an ingress already serves " + options_.state_dir.string());
    }
    std::string pid_path = (options_.state_dir / "ingress.pid").string();
    {
      net::UniqueFd pf(::open(pid_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      std::string pid = std::to_string(getpid()) + "\n";
      if (!pf || ::write(pf.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) {
        return ErrnoError("write " + pid_path, errno);
      }
    }
    epoch_ms_ = Clock::Real()->WallMillis();
    ASSIGN_OR_RETURN(Registry reg, Registry::Open(options_.state_dir));
    registry_ = std::make_unique<Registry>(std::move(reg));

    ASSIGN_OR_RETURN(loop_, net::EventLoop::Create());
    proxy::ProxyOptions popts;
    popts.workers = options_.workers;
    // Run by `slipway ingress`'s keeper ($SLIPWAY_KEEPER_FD): it holds :80/:443.
    ASSIGN_OR_RETURN(keeper_, keeper::KeeperClient::FromEnvironment());
    if (keeper_) {
      auto hello = keeper_->SayHello();
      if (!hello.ok()) {
        logging::Warn(kLog, "keeper: " + hello.status().message() + "; binding here");
        keeper_->MarkGone();
      } else if (hello->generation > 1) {
        logging::Info(kLog, "started again by the keeper (" + std::to_string(hello->generation) +
                                "), on the same sockets");
      }
      listeners_ = std::make_unique<KeeperListeners>(keeper_.get());
      popts.listeners = listeners_.get();
    }
    metrics_ = std::make_unique<telemetry::Registry>(proxy::Proxy::ShardsFor(popts.workers));
    ASSIGN_OR_RETURN(proxy_, proxy::Proxy::Create(popts, metrics_.get()));
    SyncAcme();
    // Certificates that no longer load (a project folder gone) leave HTTPS out until the
    // project registers again; the plain routes still serve.
    const std::vector<CertificatePaths> certs = CertificatesFor(registry_->projects());
    auto tls = BuildTls(certs, registry_->projects(), tickets_, tls_alpn_);
    if (!tls.ok()) logging::Warn(kLog, "certificates: " + tls.status().message());
    tls_ = tls.ok() ? *tls : nullptr;
    cert_signature_ = CertificateSignature(certs);
    RETURN_IF_ERROR(proxy_->Apply(BuildIngressTable(
        registry_->projects(), options_, tls_, ++version_, ChallengesFor(registry_->projects()))));

    std::string sock = ControlSocketPath(options_.state_dir).string();
    ASSIGN_OR_RETURN(net::UniqueFd fd, ControlListener(sock));
    ::chmod(sock.c_str(), 0600);
    http::ServerOptions sopts;
    sopts.head_check = [](const http::Request& head) {
      http::HeadVerdict v;
      v.max_body = kMaxRegistrationBytes;  // a chunked body is counted as it arrives
      const std::string* cl = head.Header("content-length");
      if (cl != nullptr &&
          (cl->size() > 12 || std::strtoull(cl->c_str(), nullptr, 10) > kMaxRegistrationBytes)) {
        v.reject = Error(
            413, "body too large (at most " + std::to_string(kMaxRegistrationBytes) + " bytes)");
      }
      return v;
    };
    ASSIGN_OR_RETURN(server_, http::HttpServer::Create(
                                  loop_.get(), std::move(fd),
                                  [this](const http::Request& r, http::ResponseWriter w) {
                                    if (r.Path() == "/v1/watch" && r.method == "GET") {
                                      return Watch(std::move(w));
                                    }
                                    http::Response resp;
                                    try {
                                      resp = Handle(r);
                                    } catch (const std::exception& e) {
                                      logging::Error(kLog,
                                                     std::string("internal error: ") + e.what());
                                      resp = Error(500, "internal error");
                                    }
                                    w.Send(std::move(resp));
                                  },
                                  sopts));
    WatchCertificates();
    signal_fd_ = net::UniqueFd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!signal_fd_) return ErrnoError("signalfd", errno);
    return loop_->Add(signal_fd_.get(), EPOLLIN, [this](uint32_t) {
      signalfd_siginfo info;
      while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) loop_->Stop();
    });
  }

  // The control socket's listener. Under a keeper it is the keeper's too, as :80/:443 are:
  // after a kill -9 a daemon's registration waits in its queue until the keeper has started
  // this process again, instead of being refused — a daemon that is refused starts an ingress,
  // which would only lose on the keeper's lock and spend the daemon's one start per 5 s. Once
  // nothing listens (the keeper gone too, or retired at a hand-over), a daemon is refused and
  // starts one at once.
  Result<net::UniqueFd> ControlListener(const std::string& path) {
    if (keeper_ && !keeper_->gone()) {
      Result<net::UniqueFd> fd = keeper_->ListenUnix(path);
      if (fd.ok() || !keeper_->gone()) return fd;
    }
    return net::ListenUnix(path);  // run by hand, or the keeper died: as without one
  }

  // Nothing takes over inside this process: the ports refuse until a successor binds them (the
  // keeper's copies close too), the folder is handed over (HandOver), the requests in flight
  // finish with "Connection: close" and idle keep-alive and silent connections close, for at
  // most drain_timeout; proxy_->Stop() then cuts what is left. A second SIGTERM/SIGINT stops
  // the wait.
  void Drain() {
    const MonoTime start = Clock::Real()->Now();
    Status drained = proxy_->Drain(proxy::Proxy::DrainFor::kExit);
    HandOver();
    if (!drained.ok()) {
      logging::Warn(kLog, "drain: " + drained.message());
      return;
    }
    const size_t open =
        proxy_->AwaitConnectionsClosed(options_.drain_timeout, signal_fd_.get(), [this] {
          signalfd_siginfo info;
          return ::read(signal_fd_.get(), &info, sizeof info) == sizeof info;
        });
    const auto took = std::chrono::duration_cast<Duration>(Clock::Real()->Now() - start).count();
    if (open == 0) {
      logging::Info(kLog, fmt::format("drained: the last connection finished after {} ms", took));
    } else {
      logging::Warn(
          kLog, fmt::format("drain: closing {} connection(s) still open after {} ms", open, took));
    }
  }

  // The drain hands the state folder over at once (the ports are already given back): a
  // daemon that finds no answer starts a successor, which takes :80/:443 while this process
  // still finishes its requests. Before the lock goes, everything that could write in the
  // folder stops (the ACME workers are joined: an attempt ends as its cancel is raised; the
  // control server answers nothing more, its loop having stopped, so the registry is not
  // written again; that loop, which writes the placeholder, does not run again), and the control
  // socket and pid file are removed while the lock still guards them, so they are never a
  // successor's. From here on the only thing this process writes is its log (appended). The keeper,
  // told to retire, gives up its own lock and pid file the same way and ends with this process.
  //
  // The control socket stays open (unanswered: the loop has stopped) until just before the
  // locks go: a daemon that asked meanwhile sees its connection reset now, when a successor it
  // starts finds the folder free, not while the locks still hold (it would exit, and the
  // daemon try again only 5 s later).
  //
  // The watchers (GET /v1/watch: daemons) learn of the hand-over when their connection closes,
  // which is last, once both locks are free: a successor they start then finds the folder free
  // at once, and two daemons that both start one leave one running (the locks arbitrate; the
  // other exits 0).
  void HandOver() {
    acme_.clear();
    std::error_code ec;
    std::filesystem::remove(ControlSocketPath(options_.state_dir), ec);
    if (ec) logging::Warn(kLog, "remove the control socket: " + ec.message());
    std::filesystem::remove(options_.state_dir / "ingress.pid", ec);
    if (ec) logging::Warn(kLog, "remove ingress.pid: " + ec.message());
    lock_fd_.Reset();
    if (keeper_ && !keeper_->gone()) {
      if (Status st = keeper_->Retire(); !st.ok()) {
        logging::Warn(kLog, "keeper: " + st.message() + " (its folder stays locked until it ends)");
      }
    }
    const size_t watchers = watchers_.size();
    server_.reset();  // closes every control connection, the watchers' too
    watchers_.clear();
    logging::Info(kLog, fmt::format("handed the state folder over: another ingress may start now "
                                    "({} watcher(s) told)",
                                    watchers));
  }

  // GET /v1/watch: a stream that never carries a byte after its head and ends only when this
  // ingress hands the folder over (HandOver closes it), so a daemon learns at once that it must
  // start a successor instead of at its next registration tick. At most kMaxWatchers; the
  // connection's close (the daemon gone) forgets it.
  void Watch(http::ResponseWriter w) {
    if (watchers_.size() >= kMaxWatchers) {
      return w.Send(Error(503, "too many watchers (at most " + std::to_string(kMaxWatchers) + ")"));
    }
    const uint64_t id = ++watcher_seq_;
    w.OnClose([this, id] { watchers_.erase(id); });
    w.StartStream(200, {{"Content-Type", "text/plain"}, {"Cache-Control", "no-store"}});
    watchers_.emplace(id, std::move(w));
  }

  // Every 5 s, as the daemon does: a certificate or key file written since (a renewal) builds
  // a new TLS context; open connections keep theirs.
  void WatchCertificates() {
    loop_->RunAfter(Duration(5'000), [this] {
      std::string sig = CertificateSignature(CertificatesFor(registry_->projects()));
      if (sig != cert_signature_ && sig != failed_signature_) {
        if (Status st = ApplyFor(registry_->projects(), /*force_tls=*/false); !st.ok()) {
          failed_signature_ = sig;  // warned once; tried again when the files change again
          logging::Warn(kLog, "certificates changed but do not load, serving the previous ones: " +
                                  st.message());
        }
      }
      WatchCertificates();
    });
  }

  void Count(const std::string& outcome) {
    metrics_
        ->GetCounter("slipway_ingress_registrations_total",
                     "Registrations and deregistrations the ingress answered, by outcome.",
                     {"outcome"}, {outcome})
        ->Add(0, 1);
  }

  http::Response Handle(const http::Request& r) {
    std::string_view path = r.Path();
    auto only = [&](const char* method) { return r.method == method; };
    if (path == "/v1/register") {
      if (!only("POST")) return Error(405, "use POST");
      return Register(r.body);
    }
    if (path == "/v1/deregister") {
      if (!only("POST")) return Error(405, "use POST");
      return Deregister(r.body);
    }
    if (path == "/v1/renew") {
      if (!only("POST")) return Error(405, "use POST");
      return Renew(r.body);
    }
    if (path == "/v1/watch") return Error(405, "use GET");  // a GET is Watch()'s, not here
    if (path == "/v1/projects") {
      if (!only("GET")) return Error(405, "use GET");
      json list = json::array();
      for (const auto& [_, reg] : registry_->projects()) {
        list.push_back(json::parse(RegistrationJson(reg)));
      }
      return Json(200, json{{"projects", list}});
    }
    if (path == "/metrics") {
      if (!only("GET")) return Error(405, "use GET");
      metrics_->GetGauge("slipway_ingress_projects", "Projects registered with the ingress.")
          ->Set(0, static_cast<int64_t>(registry_->projects().size()));
      UpdateExpiry();
      return http::Response::Text(200, metrics_->RenderPrometheus(),
                                  "text/plain; version=0.0.4; charset=utf-8");
    }
    if (path == "/v1/certs") {
      if (!only("GET")) return Error(405, "use GET");
      return Json(200, CertsJson());
    }
    if (path == "/health") {
      if (!only("GET")) return Error(405, "use GET");
      return Json(200, json{{"pid", getpid()},
                            {"projects", registry_->projects().size()},
                            {"https", tls_ != nullptr}});
    }
    return Error(404,
                 "unknown path (expected /v1/register, /v1/deregister, /v1/renew, "
                 "/v1/projects, /v1/certs, /metrics or /health)");
  }

  // Builds and applies the table for `projects`; nothing changes on error.
  Status ApplyFor(const std::map<std::string, Registration>& projects, bool force_tls) {
    const std::vector<CertificatePaths> certs = CertificatesFor(projects);
    std::string sig = CertificateSignature(certs);
    std::shared_ptr<const net::TlsServerContext> tls = tls_;
    if (force_tls || sig != cert_signature_) {
      auto built = BuildTls(certs, projects, tickets_, tls_alpn_);
      if (!built.ok()) return InvalidInput("tls: " + built.status().message());
      tls = *built;
    }
    RETURN_IF_ERROR(proxy_->Apply(
        BuildIngressTable(projects, options_, tls, version_ + 1, ChallengesFor(projects))));
    ++version_;
    tls_ = tls;
    cert_signature_ = sig;
    return Status::OK();
  }

  http::Response Register(const std::string& body) {
    auto reg = ParseRegistration(body);
    if (!reg.ok()) {
      Count("invalid");
      return Error(400, reg.status().message());
    }
    if (Status st = registry_->CheckConflicts(*reg); !st.ok()) {
      Count("conflict");
      return Error(409, st.message());
    }
    auto it = registry_->projects().find(reg->project);
    if (it != registry_->projects().end() && it->second == *reg) {
      // A daemon's heartbeat (every 2 s): its routes stand; renewed certificate files are
      // WatchCertificates()' work.
      Count("unchanged");
      return RegisterAnswer(*reg, false);
    }
    std::map<std::string, Registration> next = registry_->projects();
    next[reg->project] = *reg;
    if (Status st = ApplyFor(next, /*force_tls=*/true); !st.ok()) {
      Count("refused");
      return Error(HttpStatusOf(st), st.message());
    }
    bool changed = false;
    if (Status st = registry_->Register(*reg, &changed); !st.ok()) {
      Count("error");
      if (Status back = ApplyFor(registry_->projects(), true); !back.ok()) {
        logging::Error(kLog, "restoring the previous routes: " + back.message());
      }
      return Error(HttpStatusOf(st), st.message());
    }
    if (changed && SyncAcme()) {
      // Certificates the store already holds for newly ordered names join at once.
      if (Status st = ApplyFor(registry_->projects(), true); !st.ok()) {
        logging::Warn(kLog, "certificates: " + st.message());
      }
    }
    if (changed) {
      Count("changed");
      std::string hosts;
      for (const std::string& h : reg->hosts) hosts += (hosts.empty() ? "" : ", ") + h;
      logging::Info(kLog, "registered " + reg->project + " (" + reg->folder + "): " + hosts +
                              " → " + reg->upstream_ip + ":" + std::to_string(reg->upstream_port));
    } else {
      Count("unchanged");
    }
    return RegisterAnswer(*reg, changed);
  }

  // {"changed"}, and for a project with `acme` what the ingress knows of its certificates
  // (cert_report.h): its own names only.
  http::Response RegisterAnswer(const Registration& reg, bool changed) {
    json answer{{"changed", changed}};
    if (reg.acme) answer["acme"] = CertReportToJson(ReportFor(reg.project, reg.acme->names));
    return Json(200, answer);
  }

  CertReport ReportFor(const std::string& project, const std::vector<std::string>& names) const {
    CertReport r;
    r.epoch_ms = epoch_ms_;
    const std::set<std::string> own(names.begin(), names.end());
    if (auto it = acme_.find(project); it != acme_.end() && it->second.manager) {
      for (acme::CertStatusRow& row : it->second.manager->Rows()) {
        if (own.count(row.name) != 0) r.certificates.push_back(std::move(row));
      }
    }
    for (auto it = cert_events_.rbegin();
         it != cert_events_.rend() && r.events.size() < kMaxReportedEvents; ++it) {
      if (it->first != project) continue;
      const std::vector<std::string>& en = it->second.event.names;
      if (std::all_of(en.begin(), en.end(),
                      [&](const std::string& n) { return own.count(n) != 0; })) {
        r.events.push_back(it->second);
      }
    }
    std::reverse(r.events.begin(), r.events.end());
    return r;
  }

  // POST /v1/renew {"project", "name"}: renews one of the project's names now (`slipway certs
  // renew` through the project's daemon); the outcome is an event like any attempt's.
  http::Response Renew(const std::string& body) {
    if (body.size() > kMaxRegistrationBytes) return Error(413, "body too large");
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Error(400, "renew: expected a JSON object {\"project\", \"name\"}");
    }
    std::string project, name;
    for (const auto& [k, v] : doc.items()) {
      if ((k != "project" && k != "name") || !v.is_string()) {
        return Error(400, "renew: " + k + ": expected only the strings project and name");
      }
      (k == "project" ? project : name) = v.get<std::string>();
    }
    if (!IsProjectName(project)) return Error(400, "renew: project: expected a project name");
    if (name.empty() || name.size() > 253) return Error(400, "renew: name: expected a host name");
    auto it = acme_.find(project);
    if (it == acme_.end() || !it->second.manager) {
      return Error(404, "project \"" + project + "\" orders no certificates here");
    }
    if (Status st = it->second.manager->RenewNow(name); !st.ok()) {
      return Error(HttpStatusOf(st), st.message());
    }
    logging::Info(kLog, "acme: renewing " + name + " (" + project + ") now, as asked");
    return Json(202, json{{"name", name}, {"renewing", true}});
  }

  http::Response Deregister(const std::string& body) {
    if (body.size() > kMaxRegistrationBytes) return Error(413, "body too large");
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Error(400, "deregistration: expected a JSON object {\"project\", \"folder\"}");
    }
    std::string project, folder;
    for (const auto& [k, v] : doc.items()) {
      if ((k != "project" && k != "folder") || !v.is_string()) {
        return Error(400,
                     "deregistration: " + k + ": expected only the strings project and folder");
      }
      (k == "project" ? project : folder) = v.get<std::string>();
    }
    if (!IsProjectName(project)) {
      return Error(400, "deregistration: project: expected a project name");
    }
    auto it = registry_->projects().find(project);
    if (it == registry_->projects().end()) {
      return Error(404, "project \"" + project + "\" is not registered");
    }
    if (!folder.empty() && it->second.folder != folder) {
      return Error(409, "project \"" + project + "\" is registered from " + it->second.folder +
                            ", not " + folder);
    }
    std::map<std::string, Registration> next = registry_->projects();
    next.erase(project);
    if (Status st = ApplyFor(next, true); !st.ok()) return Error(HttpStatusOf(st), st.message());
    if (Status st = registry_->Deregister(project, folder); !st.ok()) {
      if (Status back = ApplyFor(registry_->projects(), true); !back.ok()) {
        logging::Error(kLog, "restoring the previous routes: " + back.message());
      }
      return Error(HttpStatusOf(st), st.message());
    }
    Count("deregistered");
    logging::Info(kLog, "deregistered " + project);
    SyncAcme();
    return Json(200, json{{"deregistered", project}});
  }

  // ---- ACME: one CertManager per project that asks for certificates (each its own CA,
  // account and challenge), all answering from the ingress's two challenge tables.
  struct Ordering {
    std::string key;  // directory, contact, trust, challenge: a change makes a new manager
    std::vector<std::string> names;
    std::unique_ptr<acme::CertManager> manager;
  };

  std::string PlaceholderCert() const { return (options_.state_dir / "placeholder.pem").string(); }
  std::string PlaceholderKey() const { return (options_.state_dir / "placeholder.key").string(); }

  // The self-signed certificate HTTPS answers with for a name until its certificate is issued
  // (clients refuse it, as they should): the TLS listener exists before anything is issued,
  // which TLS-ALPN-01 needs. Remade when missing or old.
  Status EnsurePlaceholder() {
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(PlaceholderCert(), ec);
    if (!ec && std::filesystem::exists(PlaceholderKey(), ec)) {
      auto age = std::filesystem::file_time_type::clock::now() - mtime;
      if (std::chrono::duration_cast<std::chrono::seconds>(age).count() < kPlaceholderMaxAgeS) {
        return Status::OK();
      }
    }
    ASSIGN_OR_RETURN(acme::EcKey key, acme::EcKey::Generate());
    ASSIGN_OR_RETURN(std::string pem,
                     acme::MakePlaceholderCertificate({"placeholder.slipway.invalid"}, key,
                                                      Clock::Real()->WallMillis() / 1000));
    ASSIGN_OR_RETURN(std::string key_pem, key.PrivatePem());
    // The key first: a reader never sees a certificate without its key.
    RETURN_IF_ERROR(acme::WritePrivateFile(PlaceholderKey(), key_pem));
    return acme::WritePrivateFile(PlaceholderCert(), pem);
  }

  // Every certificate to serve for `projects`: the projects' files, then the issued ones that
  // load, then the placeholder while an ordered name has none.
  std::vector<CertificatePaths> CertificatesFor(
      const std::map<std::string, Registration>& projects) {
    std::vector<CertificatePaths> out;
    for (const auto& [name, r] : projects) {
      for (const CertificateFiles& f : r.tls) out.push_back({f.cert, f.key});
    }
    bool pending = false;
    const int64_t now_s = Clock::Real()->WallMillis() / 1000;
    for (const auto& [name, r] : projects) {
      if (!r.acme) continue;
      auto it = acme_.find(name);
      std::map<std::string, std::pair<std::string, std::string>> held;
      if (it != acme_.end() && it->second.manager) held = it->second.manager->Certificates();
      for (const std::string& n : r.acme->names) {
        auto h = held.find(n);
        if (h == held.end()) {
          pending = true;
          continue;
        }
        // An expired or damaged stored pair must not take the whole context down.
        net::LoadResult lr = net::LoadCertificate(h->second.first, h->second.second, now_s);
        if (!lr.cert) {
          pending = true;
          continue;
        }
        out.push_back({h->second.first, h->second.second});
      }
    }
    if (pending) {
      if (Status st = EnsurePlaceholder(); !st.ok()) {
        logging::Warn(kLog, "acme: placeholder certificate: " + st.message());
      } else {
        out.push_back({PlaceholderCert(), PlaceholderKey()});
      }
    }
    return out;
  }

  // The http-01 table on the plain listener when any project orders certificates; else the
  // challenge paths are routed to the projects as before.
  std::shared_ptr<const acme::ChallengeTable> ChallengesFor(
      const std::map<std::string, Registration>& projects) const {
    for (const auto& [name, r] : projects) {
      if (r.acme) return http01_;
    }
    return nullptr;
  }

  // Follows the registry: a manager per project with `acme`, retargeted when its settings or
  // names change, stopped when the project leaves. True when the managed names changed.
  bool SyncAcme() {
    bool changed = false;
    const auto& projects = registry_->projects();
    for (auto it = acme_.begin(); it != acme_.end();) {
      auto p = projects.find(it->first);
      if (p == projects.end() || !p->second.acme) {
        logging::Info(kLog, "acme: no longer ordering certificates for " + it->first);
        it = acme_.erase(it);  // stops its worker
        changed = true;
      } else {
        ++it;
      }
    }
    for (const auto& [project, r] : projects) {
      if (!r.acme) continue;
      const AcmeRequest& a = *r.acme;
      const std::string key = a.directory + "\n" + a.email + "\n" + a.ca_file + "\n" +
                              std::string(AcmeChallengeKindName(a.challenge));
      Ordering& o = acme_[project];
      if (!o.manager || o.key != key) {
        o.manager.reset();
        o.names.clear();
        acme::AcmeOptions opts;
        opts.directory_url = a.directory;
        if (!a.email.empty()) opts.contact.push_back("mailto:" + a.email);
        opts.tls.ca_file = a.ca_file;
        // Bounds an attempt, and so how long stopping the ingress may wait for one.
        opts.order_timeout = Duration(60'000);
        acme::CertManagerOptions mopts;
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        mopts.seed = std::hash<std::string>{}(std::string(host) + "/ingress/" + project);
        mopts.post = [loop = loop_.get()](std::function<void()> task) {
          loop->Post(std::move(task));
        };
        mopts.on_event = [this, name = project](const acme::CertEvent& e) { OnCertEvent(name, e); };
        mopts.challenge = a.challenge == AcmeChallengeKind::kTlsAlpn01
                              ? acme::ChallengeType::kTlsAlpn01
                              : acme::ChallengeType::kHttp01;
        mopts.tls_alpn = tls_alpn_;
        mopts.http01 = http01_;
        acme::CertStore store((options_.state_dir / "certs").string());
        auto issuer = std::make_shared<acme::AcmeIssuer>(std::move(opts), store);
        o.manager = std::make_unique<acme::CertManager>(std::move(mopts), issuer, store);
        o.key = key;
        changed = true;
      }
      if (o.names != a.names) {
        o.names = a.names;
        o.manager->SetNames(o.names);  // only the registration's own hosts (registration.h)
        logging::Info(kLog, fmt::format("acme: ordering certificates for {} ({}) from {} ({})",
                                        fmt::join(a.names, ", "), project, a.directory,
                                        AcmeChallengeKindName(a.challenge)));
        changed = true;
      }
      o.manager->Start();
    }
    return changed;
  }

  void OnCertEvent(const std::string& project, const acme::CertEvent& e) {
    const std::string_view kind = acme::CertEventKindName(e.kind);
    if (e.kind == acme::CertEventKind::kFailed) {
      logging::Warn(kLog, fmt::format("acme: {} {} ({}, {}): {}", kind, fmt::join(e.names, ", "),
                                      project, acme::RenewalReasonName(e.reason), e.error));
    } else {
      logging::Info(
          kLog, fmt::format("acme: {} {} ({}, {}): valid until {}", kind, fmt::join(e.names, ", "),
                            project, acme::RenewalReasonName(e.reason),
                            net::FormatUtc(e.not_after_ms / 1000)));
    }
    ReportedCertEvent reported;
    reported.seq = ++event_seq_;
    reported.time_ms = Clock::Real()->WallMillis();
    reported.event = e;
    reported.event.cert_path.clear();  // paths stay here
    reported.event.key_path.clear();
    cert_events_.emplace_back(project, std::move(reported));
    while (cert_events_.size() > kMaxCertEvents) cert_events_.pop_front();
    if (e.kind != acme::CertEventKind::kFailed) {
      if (Status st = ApplyFor(registry_->projects(), true); !st.ok()) {
        logging::Warn(kLog,
                      "acme: the new certificate does not load, serving the previous "
                      "ones: " +
                          st.message());
      }
    }
  }

  json CertsJson() const {
    json rows = json::array();
    for (const auto& [project, o] : acme_) {
      if (!o.manager) continue;
      for (const acme::CertStatusRow& r : o.manager->Rows()) {
        json row{{"project", project},
                 {"name", r.name},
                 {"state", std::string(acme::CertStateName(r.state))},
                 {"plan", std::string(acme::RenewalReasonName(r.plan))},
                 {"next_attempt_ms", r.next_attempt_ms},
                 {"detail", r.detail},
                 {"consecutive_failures", r.consecutive_failures}};
        if (r.not_after_ms > 0) {
          row["not_before_ms"] = r.not_before_ms;
          row["not_after_ms"] = r.not_after_ms;
          row["issuer"] = r.issuer;
        }
        if (r.last_attempt_ms > 0) row["last_attempt_ms"] = r.last_attempt_ms;
        if (!r.last_error.empty()) row["last_error"] = r.last_error;
        rows.push_back(std::move(row));
      }
    }
    json events = json::array();
    for (const auto& [project, e] : cert_events_) {
      json ev{{"seq", e.seq},
              {"time_ms", e.time_ms},
              {"project", project},
              {"kind", std::string(acme::CertEventKindName(e.event.kind))},
              {"names", e.event.names},
              {"reason", std::string(acme::RenewalReasonName(e.event.reason))}};
      if (e.event.kind == acme::CertEventKind::kFailed) {
        ev["error"] = e.event.error;
      } else {
        ev["not_after_ms"] = e.event.not_after_ms;
      }
      events.push_back(std::move(ev));
    }
    return json{{"certificates", rows}, {"events", events}};
  }

  // slipway_tls_cert_expiry_seconds{name} for every certificate served (not the placeholder),
  // the series the daemon exports and the built-in SlipwayTlsCertExpiring alert reads.
  void UpdateExpiry() {
    if (!tls_) return;
    const int64_t now_s = Clock::Real()->WallMillis() / 1000;
    for (const net::CertificateInfo& c : tls_->certificates()) {
      if (c.cert_path == PlaceholderCert()) continue;
      metrics_
          ->GetGauge("slipway_tls_cert_expiry_seconds",
                     "Seconds until a served TLS certificate expires (negative once expired).",
                     {"name"}, {c.label()})
          ->Set(0, c.not_after - now_s);
    }
  }

  IngressOptions options_;
  std::unique_ptr<keeper::KeeperClient> keeper_;  // null: run by hand, binds its own sockets
  std::unique_ptr<KeeperListeners> listeners_;    // before proxy_: it outlives the proxy
  net::UniqueFd lock_fd_;
  net::UniqueFd signal_fd_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<telemetry::Registry> metrics_;
  std::unique_ptr<proxy::Proxy> proxy_;
  // Open GET /v1/watch streams by id (control loop only). Declared before server_, which closes
  // their connections when destroyed: their OnClose erases from here.
  static constexpr size_t kMaxWatchers = 256;
  std::map<uint64_t, http::ResponseWriter> watchers_;
  uint64_t watcher_seq_ = 0;
  std::unique_ptr<http::HttpServer> server_;
  std::shared_ptr<net::TicketKeys> tickets_ = std::make_shared<net::TicketKeys>();
  std::shared_ptr<const net::TlsServerContext> tls_;
  std::string cert_signature_;    // of the certificate files tls_ was built from
  std::string failed_signature_;  // of files that did not load (WatchCertificates)
  uint64_t version_ = 0;
  std::shared_ptr<acme::ChallengeTable> http01_ = std::make_shared<acme::ChallengeTable>();
  std::shared_ptr<net::TlsAlpnChallenges> tls_alpn_ = std::make_shared<net::TlsAlpnChallenges>();
  // The last kMaxCertEvents attempts of every project, for GET /v1/certs and the daemons'
  // reports; `seq` counts from 1 in each run (epoch_ms_).
  std::deque<std::pair<std::string, ReportedCertEvent>> cert_events_;
  uint64_t event_seq_ = 0;
  int64_t epoch_ms_ = 0;
  // Last: destroyed first, so no worker outlives what its events reach.
  std::map<std::string, Ordering> acme_;
};

}  // namespace

std::filesystem::path DefaultStateDir() {
  const char* dir = std::getenv("SLIPWAY_STATE_DIR");
  std::filesystem::path base = dir != nullptr && *dir != '\0' ? dir : "/var/lib/slipway";
  return base / "ingress";
}

std::filesystem::path ControlSocketPath(const std::filesystem::path& state_dir) {
  return state_dir / "ingress.sock";
}

Result<ListenAddress> ParseListenAddress(const std::string& text, const std::string& what) {
  // "port" alone is accepted too, as ":port" (every address).
  std::optional<net::HostPort> hp = text.find(':') == std::string::npos
                                        ? net::SplitHostPort(":" + text)
                                        : net::SplitHostPort(text);
  if (!hp || hp->port < 1) {
    return InvalidInput(what + ": \"" + text +
                        "\" is not an address (expected host:port, :port or port, port 1-65535)");
  }
  ListenAddress a;
  a.host = hp->host.empty() ? "0.0.0.0" : hp->host;
  a.port = hp->port;
  return a;
}

Result<IngressOptions> OptionsFromEnvironment() {
  IngressOptions o;
  if (const char* v = std::getenv("SLIPWAY_INGRESS_HTTP"); v != nullptr && *v != '\0') {
    ASSIGN_OR_RETURN(o.http, ParseListenAddress(v, "SLIPWAY_INGRESS_HTTP"));
  }
  if (const char* v = std::getenv("SLIPWAY_INGRESS_HTTPS"); v != nullptr && *v != '\0') {
    ASSIGN_OR_RETURN(o.https, ParseListenAddress(v, "SLIPWAY_INGRESS_HTTPS"));
  }
  o.state_dir = DefaultStateDir();
  return o;
}

std::shared_ptr<const proxy::RouteTable> BuildIngressTable(
    const std::map<std::string, Registration>& projects, const IngressOptions& options,
    std::shared_ptr<const net::TlsServerContext> tls, uint64_t version,
    std::shared_ptr<const acme::ChallengeTable> challenges) {
  proxy::Listener plain;
  plain.host = options.http.host;
  plain.port = options.http.port;
  // Answered before routing and never redirected (the CA asks over plain HTTP).
  plain.acme_challenges = std::move(challenges);
  // Each route's one backend is a project's keeper-held listener: a request a dying daemon cut
  // is resent there, and the next daemon accepts it.
  plain.retry_same_backend = true;
  proxy::Listener secure;
  secure.host = options.https.host;
  secure.port = options.https.port;
  secure.tls = tls;
  secure.retry_same_backend = true;
  // One listener for every project: a connection serves the project of its SNI name only
  // (HTTP/2 coalescing, or a Host unlike the SNI, gets 421), whatever the protocol.
  secure.sni_pins_service = true;
  for (const auto& [name, r] : projects) {
    proxy::InstanceSet set;
    set.name = name;
    proxy::Backend b;
    b.host = r.upstream_ip;
    b.port = r.upstream_port;
    b.id = name;
    set.backends.push_back(std::move(b));
    for (const std::string& host : r.hosts) {
      proxy::Route route;
      route.service = name;
      route.host = host;
      route.sets.push_back(set);
      // The project's own proxy answers maintenance and health: nothing of that here.
      route.health_path.clear();
      proxy::Route https_route = route;
      if (r.https() && tls) {
        if (r.redirect) route.https_redirect_port = options.https.port;
        if (r.hsts_seconds >= 0) https_route.hsts = "max-age=" + std::to_string(r.hsts_seconds);
        secure.routes.push_back(std::move(https_route));
      }
      plain.routes.push_back(std::move(route));
    }
  }
  auto table = std::make_shared<proxy::RouteTable>();
  table->version = version;
  table->listeners.push_back(std::move(plain));
  if (tls) table->listeners.push_back(std::move(secure));
  return table;
}

int RunIngress(IngressOptions options) {
  if (options.state_dir.empty()) options.state_dir = DefaultStateDir();
  Ingress ingress(std::move(options));
  return ingress.Run();
}

}  // namespace slipway::ingress
