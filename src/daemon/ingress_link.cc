#include "daemon/ingress_link.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/routes.h"
#include "ingress/cert_report.h"
#include "ingress/ingress.h"
#include "ingress/launch.h"
#include "ingress/registration.h"
#include "net/socket.h"

namespace slipway::daemon {
namespace {

constexpr Duration kPeriod{2'000};
constexpr Duration kRetry{300};
constexpr Duration kStartEvery{5'000};

// A POST of the JSON `body` to `target` on the ingress's control socket (ControlEndpoint()).
http::Request ControlPost(std::string target, std::string body) {
  http::Request req;
  req.method = "POST";
  req.target = std::move(target);
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  return req;
}

// Whether a listener holds the unix socket at `path`: a connection is accepted or queued (or
// the queue is full), rather than refused or the socket absent. The probe connection is closed
// at once; its peer reads end of file.
bool SomethingListens(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  net::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  return errno == EAGAIN || errno == EINPROGRESS;
}

std::vector<std::string> IngressHosts(const config::Project& p) {
  std::set<std::string> hosts;
  for (const config::RouteSettings& r : p.routes) {
    if (!r.host.empty()) hosts.insert(r.host);
  }
  return {hosts.begin(), hosts.end()};
}

}  // namespace

IngressLink::IngressLink(net::EventLoop* loop, std::function<const config::Project&()> project,
                         proxy::Proxy* proxy, std::string binary,
                         std::function<void(const std::string&)> log, IngressCerts* certs)
    : IngressLink(loop, std::move(project),
                  IngressLinkEnv{std::move(binary),
                                 {},
                                 [proxy](const std::string& ip) { return proxy->BoundPort(ip, 0); },
                                 nullptr},
                  std::move(log), certs) {}

IngressLink::IngressLink(net::EventLoop* loop, std::function<const config::Project&()> project,
                         IngressLinkEnv env, std::function<void(const std::string&)> log,
                         IngressCerts* certs)
    : loop_(loop),
      project_(std::move(project)),
      env_(std::move(env)),
      log_(std::move(log)),
      certs_(certs) {
  if (env_.state_dir.empty()) env_.state_dir = ingress::DefaultStateDir();
  if (!env_.start_ingress) {
    env_.start_ingress = [binary = env_.binary, dir = env_.state_dir] {
      return ingress::SpawnIngress(binary, dir);
    };
  }
}

http::Endpoint IngressLink::ControlEndpoint() const {
  http::Endpoint ep;
  ep.unix_path = ingress::ControlSocketPath(env_.state_dir).string();
  return ep;
}

IngressLink::~IngressLink() {
  *alive_ = false;
  Stop();
}

void IngressLink::Start() {
  stopped_ = false;
  Schedule(Duration(0));
}

void IngressLink::Stop() {
  stopped_ = true;
  CloseWatch();
  if (timer_ != 0) loop_->Cancel(timer_);
  timer_ = 0;
}

void IngressLink::Schedule(Duration after) {
  if (stopped_) return;
  if (timer_ != 0) loop_->Cancel(timer_);
  timer_ = loop_->RunAfter(after, [this] {
    timer_ = 0;
    Tick();
  });
}

void IngressLink::Tick() {
  Schedule(kPeriod);
  if (in_flight_) return;
  const config::Project& p = project_();
  std::vector<std::string> hosts = IngressHosts(p);
  if (!p.ingress || hosts.empty() || !p.tls.acme) {
    if (certs_) certs_->Clear();
  }
  if (!p.ingress || hosts.empty()) return;
  // The listener exists once a service behind it runs (routes.h); until then nothing to say.
  Result<int> port = env_.listener_port(IngressUpstreamHost(p.name));
  if (!port.ok()) return;
  ingress::Registration reg;
  reg.project = p.name;
  reg.folder = p.dir.string();
  reg.hosts = std::move(hosts);
  reg.upstream_ip = IngressUpstreamHost(p.name);
  reg.upstream_port = *port;
  for (const config::TlsCertificateSettings& c : p.tls.certificates) {
    reg.tls.push_back({c.cert, c.key});
  }
  if (p.tls.acme) {
    // The ingress owns the names behind it, so it orders their certificates (AutoCert stays
    // idle for such a project).
    const config::AcmeSettings& a = *p.tls.acme;
    ingress::AcmeRequest req;
    req.directory = a.directory_url;
    req.email = a.email;
    req.ca_file = a.ca_file;
    req.challenge = a.challenge == config::AcmeChallenge::kTlsAlpn01
                        ? ingress::AcmeChallengeKind::kTlsAlpn01
                        : ingress::AcmeChallengeKind::kHttp01;
    req.names = a.names;
    reg.acme = std::move(req);
  }
  if (reg.https()) {
    reg.redirect = p.tls.redirect;
    if (p.tls.hsts_seconds) reg.hsts_seconds = *p.tls.hsts_seconds;
    reg.http2 = p.tls.http2;
  }
  const http::Request req = ControlPost("/v1/register", ingress::RegistrationJson(reg));
  in_flight_ = true;
  std::weak_ptr<bool> alive = alive_;
  std::vector<std::string> acme_names = reg.acme ? reg.acme->names : std::vector<std::string>();
  // Bounded: the answer carries the certificate report, read as hostile input.
  http::FetchBoundedAsync(loop_, ControlEndpoint(), req, Duration(2'000),
                          ingress::kMaxCertReportBytes,
                          [this, alive, acme_names](Result<http::ClientResponse> r) {
                            if (alive.expired()) return;
                            in_flight_ = false;
                            Answered(std::move(r), acme_names);
                          });
}

void IngressLink::Problem(const std::string& problem) {
  if (problem != last_problem_) log_(problem);
  last_problem_ = problem;
}

IngressLink::Outcome IngressLink::Classify(const Result<http::ClientResponse>& r) {
  if (r.ok()) return r->status == 200 ? Outcome::kRegistered : Outcome::kRefused;
  // It answered, with something we refuse (too large, malformed): no new ingress helps.
  if (r.status().code() == StatusCode::kInvalidInput) return Outcome::kAnswerRefused;
  return Outcome::kNoAnswer;
}

void IngressLink::Answered(Result<http::ClientResponse> r,
                           const std::vector<std::string>& acme_names) {
  switch (Classify(r)) {
    case Outcome::kRegistered:
      return Registered(r->body, acme_names);
    case Outcome::kRefused: {
      std::string problem = "the ingress refused the registration: " + r->body;
      while (!problem.empty() && problem.back() == '\n') problem.pop_back();
      return Problem(problem);  // asked again at the next tick: it clears once the owner leaves
    }
    case Outcome::kAnswerRefused:
      return Problem("the ingress's answer is refused: " + r.status().message());
    case Outcome::kNoAnswer:
      return NoAnswer(r.status());
  }
}

void IngressLink::Registered(const std::string& body, const std::vector<std::string>& acme_names) {
  if (!registered_)
    log_("registered with the host's ingress (" + ControlEndpoint().unix_path + ")");
  registered_ = true;
  OpenWatch();
  if (acme_names.empty() || certs_ == nullptr) {
    last_problem_.clear();
    return;
  }
  Result<ingress::ParsedCertReport> parsed = ingress::ParseRegisterAnswer(body, acme_names);
  if (!parsed.ok()) return Problem("certificates: " + parsed.status().message());
  if (!parsed->report) {
    return Problem("certificates: the ingress's answer has no report (an older ingress?)");
  }
  certs_->Apply(*parsed->report);
  if (parsed->dropped > 0) {
    return Problem(
        fmt::format("certificates: ignored {} row(s) or event(s) of the ingress's answer for "
                    "names this project does not order",
                    parsed->dropped));
  }
  last_problem_.clear();
}

void IngressLink::NoAnswer(const Status& why) {
  std::string problem = "the ingress does not answer: " + why.message();
  watch_refused_ = false;  // the next ingress is asked again
  const MonoTime now = loop_->Now();
  if (SomethingListens(ControlEndpoint().unix_path)) {
    // An ingress's keeper holds the socket while it starts the ingress again (a kill -9), or an
    // ingress is slow: one started now would lose on their lock, and spend the start that is
    // needed at once if that keeper goes too.
    problem +=
        "; its control socket is held (an ingress starting again under its keeper?): "
        "waiting for it";
  } else if (!last_start_ || now - *last_start_ >= kStartEvery) {
    last_start_ = now;
    if (Status st = env_.start_ingress(); !st.ok()) {
      problem += "; starting it failed: " + st.message();
    } else {
      problem += "; started it (" + env_.binary + " ingress)";
    }
  }
  Schedule(kRetry);
  Problem(problem);
}

void IngressLink::OpenWatch() {
  if (stopped_ || watch_fd_ >= 0 || watch_refused_) return;
  Result<net::UniqueFd> fd = net::ConnectUnix(ControlEndpoint().unix_path);
  if (!fd.ok()) return;  // the tick covers it
  // A few dozen bytes into an empty unix socket buffer: sent whole or not at all.
  const std::string req = "GET /v1/watch HTTP/1.1\r\nHost: ingress\r\n\r\n";
  if (::send(fd->get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return;
  }
  const int raw = fd->get();
  if (!loop_->Add(raw, EPOLLIN | EPOLLRDHUP, [this](uint32_t) { OnWatch(); }).ok()) return;
  watch_fd_ = fd->Release();
  watch_head_.clear();
  watch_streaming_ = false;
}

void IngressLink::OnWatch() {
  char buf[1024];
  bool ended = false;
  for (int reads = 0; reads < 64; ++reads) {  // the rest at the next event: the loop serves
    const ssize_t n = ::recv(watch_fd_, buf, sizeof buf, 0);
    if (n > 0) {
      if (!watch_streaming_) watch_head_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    ended = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    break;
  }
  if (!watch_streaming_ && watch_head_.find("\r\n\r\n") != std::string::npos) {
    if (watch_head_.rfind("HTTP/1.1 200", 0) != 0) {
      // An ingress without the watch (404) or with too many (503): the tick alone, for it.
      watch_refused_ = true;
      return CloseWatch();
    }
    watch_streaming_ = true;
    watch_head_.clear();
  } else if (!watch_streaming_ && watch_head_.size() > 4096) {
    watch_refused_ = true;
    return CloseWatch();
  }
  if (!ended) return;
  const bool was_streaming = watch_streaming_;
  CloseWatch();
  if (!was_streaming) return;  // closed before its head: the tick covers it
  // The ingress handed the host over (or died): register now; no answer starts its successor.
  log_("the host's ingress closed its watch (stopping or gone): registering now");
  registered_ = false;
  Schedule(Duration(0));
}

void IngressLink::CloseWatch() {
  if (watch_fd_ < 0) return;
  loop_->Remove(watch_fd_);
  ::close(watch_fd_);
  watch_fd_ = -1;
  watch_streaming_ = false;
  watch_head_.clear();
}

namespace {

// The ingress's answer to POST /v1/renew as a Status.
Status RenewOutcome(const Result<http::ClientResponse>& r) {
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kInvalidInput) {
      return Unavailable("the host's ingress: its answer is refused: " + r.status().message());
    }
    return Unavailable("the host's ingress does not answer: " + r.status().message());
  }
  if (r->status / 100 == 2) return Status::OK();
  // {"error": "..."}; anything else is shown cut to one short line.
  nlohmann::json doc = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  std::string why = doc.is_object() && doc.contains("error") && doc["error"].is_string()
                        ? doc["error"].get<std::string>()
                        : r->body.substr(0, 200);
  while (!why.empty() && why.back() == '\n') why.pop_back();
  why = "the host's ingress: " + why;
  if (r->status == 404) return NotFound(why);
  if (r->status == 400) return InvalidInput(why);
  return Unavailable(why);
}

constexpr size_t kMaxRenewAnswerBytes = 64 * 1024;

}  // namespace

void IngressLink::Renew(const std::string& name, std::function<void(Status)> done) {
  const config::Project& p = project_();
  const http::Request req =
      ControlPost("/v1/renew", nlohmann::json{{"project", p.name}, {"name", name}}.dump(
                                   -1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::weak_ptr<bool> alive = alive_;
  // Bounded: an answer is only a status and a short error.
  http::FetchBoundedAsync(loop_, ControlEndpoint(), req, Duration(2'000), kMaxRenewAnswerBytes,
                          [alive, done = std::move(done)](Result<http::ClientResponse> r) {
                            if (alive.expired()) {
                              return done(Unavailable("the daemon is stopping"));
                            }
                            done(RenewOutcome(r));
                          });
}

void IngressLink::Deregister() {
  Stop();
  const config::Project& p = project_();
  if (!p.ingress || IngressHosts(p).empty()) return;
  Result<http::ClientResponse> r = http::Fetch(
      ControlEndpoint(),
      ControlPost("/v1/deregister", ingress::DeregistrationJson(p.name, p.dir.string())),
      Duration(2'000));
  if (!r.ok()) {
    log_("ingress: deregistering failed: " + r.status().message());
  } else if (r->status != 200 && r->status != 404) {
    log_("ingress: deregistering failed: " + r->body);
  } else {
    log_("deregistered from the host's ingress");
  }
  registered_ = false;
}

}  // namespace slipway::daemon
