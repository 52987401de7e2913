// RoutePublisher: what the proxy routes by, and the deploy controller's Traffic port. It holds
// the deploys' traffic plans (per service) and the maintenance messages, and publishes the
// route table built from them and the engine's endpoints (daemon/routes.h). A plan change
// takes effect when SetPlan returns: every proxy worker routes by it, so a deploy can time a
// cutover. Topology changes arrive in bursts and are coalesced into one publish; while held
// (a restarted daemon taking over its services) they wait. TLS listeners get the certificates
// the daemon last loaded (SetTls); plain ones answer ACME challenges (SetAcmeChallenges).
//
// A plan change (a deploy's weight step) changes only that service's routes: the proxy takes
// the service's route as BuildRoutes would make it and updates the traffic settings of its
// routes in place (proxy::Proxy::UpdateRoute); nothing else is rebuilt and every other route
// keeps its state. When the service's instance sets differ from the table the proxy serves
// (a topology change not published yet) or it has no route, the whole table is published.
//
// A table the proxy refuses (a published port another process holds) is published again
// after 0.5 s, doubling to 30 s, until one is accepted: the port is served once it is free,
// without waiting for the next topology change.
//
// Threads: the control loop only. The engine, the proxy and the registry must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "daemon/routes.h"
#include "deploy/traffic.h"
#include "engine/engine.h"
#include "net/event_loop.h"
#include "net/tls_context.h"
#include "proxy/proxy.h"
#include "proxy/proxy_metrics.h"
#include "telemetry/metrics.h"

namespace slipway::daemon {

class RoutePublisher final : public deploy::Traffic {
 public:
  RoutePublisher(net::EventLoop* loop, engine::Engine* engine, proxy::Proxy* proxy,
                 telemetry::Registry* registry)
      : loop_(loop), engine_(engine), proxy_(proxy), registry_(registry) {}
  ~RoutePublisher() override { loop_->Cancel(retry_timer_); }
  RoutePublisher(const RoutePublisher&) = delete;
  RoutePublisher& operator=(const RoutePublisher&) = delete;

  // Publishes the routes now.
  Status Publish();
  // Publishes soon, once for a burst of calls; a failure goes to `log`.
  void ScheduleUpdate();
  // Publishes now unless held (then OK: the release publishes). `up` calls it before it
  // answers, so its answer says whether the proxy serves what it started: a published port
  // taken since up's check is an error there, not only a log line.
  Status PublishUnlessHeld() { return held_ ? Status::OK() : Publish(); }
  // While held, scheduled updates are dropped (Publish() once released).
  void Hold(bool held) { held_ = held; }

  const Maintenance& maintenance() const { return maintenance_; }
  // Replaces the maintenance messages and publishes.
  Status SetMaintenance(Maintenance next);
  // Sets the messages without publishing (at start, before anything runs).
  void LoadMaintenance(Maintenance m) { maintenance_ = std::move(m); }

  // The certificates TLS listeners serve with from the next publish on (nullptr: none).
  void SetTls(std::shared_ptr<const net::TlsServerContext> tls) { tls_ = std::move(tls); }
  // The ACME HTTP-01 answers plain listeners serve from the next publish on (nullptr: none).
  void SetAcmeChallenges(std::shared_ptr<const acme::ChallengeTable> t) {
    acme_challenges_ = std::move(t);
  }
  // Runs before every publish (the daemon follows certificate files a new project names).
  void SetBeforePublish(std::function<void()> f) { before_publish_ = std::move(f); }

  // Runs after every publish the proxy accepted, with the table it now serves.
  void SetAfterPublish(std::function<void(const proxy::RouteTable&)> f) {
    after_publish_ = std::move(f);
  }

  // Plan changes that went out as one-service route updates, and as whole tables.
  uint64_t route_updates() const { return route_updates_; }
  uint64_t table_publishes() const { return table_publishes_; }

  // deploy::Traffic
  Status SetPlan(const std::string& service, deploy::TrafficPlan plan) override;
  Status ClearPlan(const std::string& service) override;
  proxy::SetStats Stats(const std::string& service, const std::string& set) const override;

 private:
  net::EventLoop* loop_;
  engine::Engine* engine_;
  proxy::Proxy* proxy_;
  telemetry::Registry* registry_;
  Plans plans_;
  Maintenance maintenance_;
  std::shared_ptr<const net::TlsServerContext> tls_;
  std::shared_ptr<const acme::ChallengeTable> acme_challenges_;
  std::function<void()> before_publish_;
  std::function<void(const proxy::RouteTable&)> after_publish_;
  Status PublishTraffic(const std::string& service);
  // Arms the next attempt after a refused table (once; the delay doubles up to 30 s).
  void RetryLater();

  uint64_t version_ = 0;
  uint64_t route_updates_ = 0;
  uint64_t table_publishes_ = 0;
  bool pending_ = false;
  bool held_ = false;
  net::EventLoop::TimerId retry_timer_ = 0;  // 0: no attempt armed
  Duration retry_delay_{500};
};

}  // namespace slipway::daemon
