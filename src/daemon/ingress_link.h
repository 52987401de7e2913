// IngressLink: a project's daemon and the host's ingress (src/ingress). With
// `x-slipway.ingress: true` and routes that name a host, the daemon's route table has a
// loopback listener for those hosts (routes.h, IngressUpstreamHost); this link tells the
// ingress about it — project, folder, hosts, that listener's address, the certificate files
// of `x-slipway.tls`, redirect and HSTS — by `POST /v1/register` on the ingress's control
// socket, at start and every 2 s after (the ingress answers "unchanged" cheaply), so an
// ingress that restarted, or a project whose files changed, is in step within 2 s. No answer
// on the socket starts the ingress (ingress/launch.h; at most once per 5 s) when nothing
// listens on it: an ingress's keeper holds the socket while it starts the ingress again after a
// kill -9 (ingress.h), and an ingress started then would only lose on the keeper's lock and
// spend the one start that is needed at once if that keeper goes too. `down` (and
// SIGTERM) deregister; a crash or a handover does not: the keeper keeps the listener, so the
// ingress's connections wait for the next daemon instead of failing.
//
// Between ticks the link holds `GET /v1/watch` open on the control socket: the ingress never
// answers more than its head and closes it when it hands the host over (SIGTERM: its ports are
// given back, its folder freed), so the link registers at once — finding no answer, it starts
// the successor (at most once per 5 s, as before) — instead of at its next tick, up to 2 s
// later while :80/:443 refuse. A connection rather than inotify on the state folder: its close
// comes after the ingress has unlocked its folder and its keeper retired (a successor started
// earlier would exit on the lock), it needs no file-system events (bind mounts, other hosts'
// folders), and a crash closes it too (after a kill -9 the registration then waits in the queue
// of the socket the ingress's keeper holds, and the ingress it starts again answers it). The 2 s
// tick stays the fallback (an older ingress that answers the watch with an error, a watch that
// could not be opened).
//
// A refusal (a host another project owns) is logged once per distinct message and retried
// on the same schedule, so it clears once the other project leaves.
//
// Certificates the ingress orders for the project (x-slipway.tls.acme) come back in the
// answer to each registration (ingress/cert_report.h): the link hands them to IngressCerts,
// which makes them project facts. A malformed answer is one log line (once per message) and
// changes nothing; an answer naming other names than the project's is filtered there.
// `slipway certs renew` reaches the ingress through Renew(), asynchronously as the
// registration: the API's answer waits for the ingress's, the loop does not.
//
// What the link needs from the host is IngressLinkEnv: the ingress's folder (its control
// socket), the port of the project's listener and how an ingress is started; time is the
// loop's clock. The daemon passes the real ones; the unit tests a fake ingress on a unix socket
// in a temporary folder, a counted start and a FakeClock loop.
//
// Threads: the daemon's control loop only.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "config/project.h"
#include "daemon/ingress_certs.h"
#include "http/client.h"
#include "net/event_loop.h"
#include "proxy/proxy.h"

namespace slipway::daemon {

// The link's view of the host (see above).
struct IngressLinkEnv {
  std::string binary;               // the slipway binary that starts an ingress
  std::filesystem::path state_dir;  // the ingress's folder; empty: ingress::DefaultStateDir()
  // The port of the project's loopback listener for the ingress (`ip`: routes.h's
  // IngressUpstreamHost); an error while none is bound.
  std::function<Result<int>(const std::string& ip)> listener_port;
  // Starts an ingress, detached; null: ingress::SpawnIngress(binary, state_dir).
  std::function<Status()> start_ingress;
};

class IngressLink {
 public:
  // `project` is read on every tick (it changes with `up`). `binary` is the slipway binary the
  // daemon started from (what starts an ingress); the listener's port is `proxy`'s. `log`
  // writes one daemon log line. `certs` (borrowed, may be null) receives the certificate
  // reports.
  IngressLink(net::EventLoop* loop, std::function<const config::Project&()> project,
              proxy::Proxy* proxy, std::string binary, std::function<void(const std::string&)> log,
              IngressCerts* certs = nullptr);
  // The same with the host seen through `env` (tests).
  IngressLink(net::EventLoop* loop, std::function<const config::Project&()> project,
              IngressLinkEnv env, std::function<void(const std::string&)> log,
              IngressCerts* certs = nullptr);
  ~IngressLink();
  IngressLink(const IngressLink&) = delete;
  IngressLink& operator=(const IngressLink&) = delete;

  void Start();
  // Stops registering (handover, shutdown). Idempotent.
  void Stop();
  // Blocking (at most 2 s): removes the project's routes from the ingress, when it had any.
  void Deregister();
  // Asks the ingress to renew `name` now, without blocking the loop: `done` runs later on the
  // loop, exactly once, with OK once the ingress accepted, NotFound when it does not order that
  // name for the project, InvalidInput when it refused the request, Unavailable when it does
  // not answer within 2 s (or the link is destroyed first).
  void Renew(const std::string& name, std::function<void(Status)> done);

 private:
  void Schedule(Duration after);
  void Tick();
  // What a registration came to, and one step for each.
  enum class Outcome {
    kRegistered,     // 200: watch it, apply its certificate report
    kRefused,        // another status (409: a host another project owns): logged, next tick
    kAnswerRefused,  // an answer we refuse (too large, malformed): logged, next tick
    kNoAnswer,       // none: start an ingress unless something holds the control socket
                     // (at most once per 5 s), ask again in 300 ms
  };
  static Outcome Classify(const Result<http::ClientResponse>& r);
  void Answered(Result<http::ClientResponse> r, const std::vector<std::string>& acme_names);
  void Registered(const std::string& body, const std::vector<std::string>& acme_names);
  void NoAnswer(const Status& why);
  void Problem(const std::string& problem);
  // Opens GET /v1/watch unless open (or refused by this ingress); its close calls WatchEnded.
  void OpenWatch();
  void OnWatch();
  void CloseWatch();
  http::Endpoint ControlEndpoint() const;

  net::EventLoop* loop_;
  std::function<const config::Project&()> project_;
  IngressLinkEnv env_;
  std::function<void(const std::string&)> log_;
  IngressCerts* certs_;
  net::EventLoop::TimerId timer_ = 0;
  bool stopped_ = false;
  bool in_flight_ = false;
  bool registered_ = false;
  std::optional<MonoTime> last_start_;  // of an ingress, on the loop's clock
  std::string last_problem_;            // logged once until it changes
  // The watch's connection (-1: none); what it read so far (its head, bounded); whether its
  // head said 200. watch_refused_: this ingress answered the watch otherwise (an older one), so
  // it is not asked again until a registration fails (another ingress).
  int watch_fd_ = -1;
  std::string watch_head_;
  bool watch_streaming_ = false;
  bool watch_refused_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::daemon
