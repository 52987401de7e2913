// IngressLink: a project's daemon and the host's ingress (src/ingress). With
// `x-slipway.ingress: true` and routes that name a host, the daemon's route table has a
// loopback listener for those hosts (routes.h, IngressUpstreamHost); this link tells the
// ingress about it — project, folder, hosts, that listener's address, the certificate files
// of `x-slipway.tls`, redirect and HSTS — by `POST /v1/register` on the ingress's control
// socket, at start and every 2 s after (the ingress answers "unchanged" cheaply), so an
// ingress that restarted, or a project whose files changed, is in step within 2 s. No answer
// on the socket starts the ingress (ingress/launch.h; at most once per 5 s). `down` (and
// SIGTERM) deregister; a crash or a handover does not: the keeper keeps the listener, so the
// ingress's connections wait for the next daemon instead of failing.
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
// Threads: the daemon's control loop only.
#pragma once

#include <functional>
#include <string>

#include "config/project.h"
#include "daemon/ingress_certs.h"
#include "http/client.h"
#include "net/event_loop.h"
#include "proxy/proxy.h"

namespace slipway::daemon {

class IngressLink {
 public:
  // `project` is read on every tick (it changes with `up`). `binary` is the slipway binary the
  // daemon started from (what starts an ingress). `log` writes one daemon log line.
  // `certs` (borrowed, may be null) receives the certificate reports.
  IngressLink(net::EventLoop* loop, std::function<const config::Project&()> project,
              proxy::Proxy* proxy, std::string binary, std::function<void(const std::string&)> log,
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
  void Answered(Result<http::ClientResponse> r, const std::vector<std::string>& acme_names);
  void Problem(const std::string& problem);

  net::EventLoop* loop_;
  std::function<const config::Project&()> project_;
  proxy::Proxy* proxy_;
  std::string binary_;
  std::function<void(const std::string&)> log_;
  IngressCerts* certs_;
  net::EventLoop::TimerId timer_ = 0;
  bool stopped_ = false;
  bool in_flight_ = false;
  bool registered_ = false;
  int64_t last_spawn_ms_ = -1'000'000;
  std::string last_problem_;  // logged once until it changes
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::daemon
