// The host's ingress (`slipway ingress`): one front proxy per host that owns :80 and :443 and
// routes by host name to the projects that registered with it, so several projects share
// those ports while each keeps its own proxy (weights, deploys, maintenance, metrics).
//
//   client ─▶ ingress :80/:443 (TLS by SNI with the projects' certificates)
//            ─▶ by Host ─▶ project's loopback listener 127.A.B.255:<port> (held by its keeper)
//            ─▶ the project's own proxy ─▶ its instances
//
// The ingress owns a state folder (`$SLIPWAY_STATE_DIR/ingress`, default
// /var/lib/slipway/ingress, 0700): `ingress.lock` (one ingress per folder), `ingress.pid`,
// `routes.json` (the registry, restored at start) and `ingress.sock`, the control socket
// (0600; HTTP):
//
//   POST /v1/register    a Registration (registration.h) → 200 {"changed": bool}, with
//                        `acme`: and "acme", that project's certificate report
//                        (cert_report.h: its names' rows and last attempts, numbered);
//                        400 malformed, 409 a host or name owned by another project, 413 big
//   POST /v1/deregister  {"project": NAME, "folder": PATH} → 200; 404 not registered
//   POST /v1/renew       {"project": NAME, "name": HOST} → 202, renewing now (`slipway certs
//                        renew` through the project's daemon); 404 a name not ordered for it
//   GET  /v1/watch       200 and a stream that carries nothing and ends only when this ingress
//                        hands the host over (daemons: start the successor now); 503 past
//                        256 watchers (those daemons notice at their 2 s tick)
//   GET  /v1/projects    the registry
//   GET  /v1/certs       ACME: one row per ordered name, the last attempts with the CA's reason
//   GET  /metrics        Prometheus text: the proxy's per-project series and the ingress's own
//   GET  /health         {"pid": N, "projects": N}
//
// Under its keeper (`slipway ingress` without --no-keeper) the control socket's listener is the
// keeper's too, as :80/:443 are: after a kill -9, daemons' requests wait in its queue until the
// keeper has started the ingress again, and a daemon starts an ingress only when nothing
// listens (daemon/ingress_link.h).
//
// HTTP/2: one TLS listener serves every project, so h2 is offered per SNI name, not per
// listener — for the hosts of a registration with `http2` only (net::TlsServerContext::H2Names,
// rebuilt with the certificates); other names, and clients sending no SNI, get HTTP/1.1. A
// connection that negotiated h2 is served by the proxy's H2Conn, routed by :authority as
// HTTP/1.1 is by Host, and its streams reach the project's loopback listener as HTTP/1.1. A
// connection serves its SNI name's project only: a request (either protocol) whose Host or
// :authority is another project's name gets 421 Misdirected Request (a browser coalescing
// connections then opens one for that name), never that project's answer
// (proxy::Listener::sni_pins_service).
//
// It uses `proxy`, `acme`, `net`, `http` and `base` only: it knows nothing of compose files,
// daemons or deploys. Unknown hosts get 404 (no catch-all route exists, so never another
// project's service). A project with certificates (files, or `acme` in its registration) gets
// an HTTPS route and, with `redirect`, a 308 from the plain port except for
// /.well-known/acme-challenge/. For a registration with `acme` the ingress runs an
// acme::CertManager (one per project: its CA, contact, trust and challenge) for those names
// only: HTTP-01 answered on the plain listener before routing, TLS-ALPN-01 on the TLS listener
// (net/tls_alpn_challenges.h), certificates stored 0600 under `<state>/certs`, a self-signed
// placeholder served until a name has one. Stopping cancels an attempt under way (the ACME
// client's CancelSignal wakes its poll sleeps and its HTTP exchange): a stop takes
// milliseconds even while a CA does not answer.
//
// Stopping (SIGTERM/SIGINT) drains and hands over: the listening sockets are given back (the
// ports refuse until a successor binds them), then, before any request in flight has
// finished, the folder is released — the ACME workers are joined, `ingress.sock` and
// `ingress.pid` are removed and `ingress.lock` is unlocked (in that order, so both files are
// never a successor's), the keeper is told to retire (keeper.h: it gives up its own lock and
// pid file the same way), and only then the control server closes (open but unanswered since
// the signal, so a daemon asking meanwhile waits), which ends the watchers' streams. A daemon
// told so, or finding no answer at its next tick, starts a new ingress, which
// serves :80/:443 from the same registry while the old one finishes its requests. After the
// hand-over the old process writes nothing in the folder except its log (appended) and removes
// nothing at exit.
//
// Threads: RunIngress runs the control loop on the calling thread; the proxy has its own
// workers, each CertManager its own (its events are posted to the control loop).
// BuildIngressTable is pure; any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "acme/challenge.h"
#include "base/clock.h"
#include "base/status.h"
#include "ingress/registration.h"
#include "net/tls_context.h"
#include "proxy/route_table.h"

namespace slipway::ingress {

struct ListenAddress {
  std::string host = "0.0.0.0";
  int port = 0;
};

struct IngressOptions {
  ListenAddress http{"0.0.0.0", 80};
  ListenAddress https{"0.0.0.0", 443};
  std::filesystem::path state_dir;  // empty = DefaultStateDir()
  int workers = 0;                  // proxy workers; 0 = one per core
  // On SIGTERM/SIGINT the ingress stops accepting (new connections are refused until a
  // successor binds the ports), hands the state folder over, lets the requests in flight finish
  // for at most this long, closing idle keep-alive connections and connections that sent
  // nothing yet, then exits (`--drain-timeout`). A second signal ends the wait.
  Duration drain_timeout{10'000};
};

// `$SLIPWAY_STATE_DIR/ingress`, else /var/lib/slipway/ingress.
std::filesystem::path DefaultStateDir();
std::filesystem::path ControlSocketPath(const std::filesystem::path& state_dir);

// "host:port", ":port" or "port" (any address). `what` names the flag in errors.
Result<ListenAddress> ParseListenAddress(const std::string& text, const std::string& what);

// The options from `$SLIPWAY_INGRESS_HTTP`, `$SLIPWAY_INGRESS_HTTPS` and `$SLIPWAY_STATE_DIR`
// over the defaults.
Result<IngressOptions> OptionsFromEnvironment();

// The route table for `projects`: a plain listener on `http` and, when any project has
// certificates, a TLS listener on `https` whose context (`tls`, built by the caller from
// the same projects) picks the certificate by SNI. One route per (project, host), instance
// set named after the project, one backend: its upstream.
std::shared_ptr<const proxy::RouteTable> BuildIngressTable(
    const std::map<std::string, Registration>& projects, const IngressOptions& options,
    std::shared_ptr<const net::TlsServerContext> tls, uint64_t version,
    std::shared_ptr<const acme::ChallengeTable> challenges = nullptr);

// Runs the ingress until SIGTERM/SIGINT, then drains (IngressOptions::drain_timeout). Returns the
// exit code (0 also when another ingress already holds the state folder's lock: the caller's goal,
// a running ingress, holds).
int RunIngress(IngressOptions options);

}  // namespace slipway::ingress
