#include "daemon/route_publisher.h"

#include <algorithm>

#include "base/log.h"

namespace slipway::daemon {

Status RoutePublisher::Publish() {
  if (before_publish_) before_publish_();
  std::shared_ptr<const proxy::RouteTable> table =
      BuildRoutes(engine_->project(), engine_->Endpoints(), ++version_, plans_, maintenance_, tls_,
                  acme_challenges_);
  if (Status st = proxy_->Apply(table); !st.ok()) {
    // A drained or stopped proxy refuses every table: another daemon serves, nothing to retry.
    if (st.code() != StatusCode::kFailedPrecondition) RetryLater();
    return st;
  }
  loop_->Cancel(retry_timer_);
  retry_timer_ = 0;
  retry_delay_ = Duration(500);
  if (after_publish_) after_publish_(*table);
  return Status::OK();
}

void RoutePublisher::RetryLater() {
  if (retry_timer_ != 0) return;
  retry_timer_ = loop_->RunAfter(retry_delay_, [this] {
    retry_timer_ = 0;
    ScheduleUpdate();
  });
  retry_delay_ = std::min(retry_delay_ * 2, Duration(30'000));
}

void RoutePublisher::ScheduleUpdate() {
  if (pending_) return;
  pending_ = true;
  loop_->Post([this] {
    pending_ = false;
    if (held_) return;  // published once released
    if (Status st = Publish(); !st.ok()) {
      logging::Error("slipwayd", "proxy: " + st.message());
    }
  });
}

Status RoutePublisher::SetMaintenance(Maintenance next) {
  maintenance_ = std::move(next);
  return Publish();
}

Status RoutePublisher::SetPlan(const std::string& service, deploy::TrafficPlan plan) {
  plans_[service] = std::move(plan);
  return PublishTraffic(service);
}

Status RoutePublisher::ClearPlan(const std::string& service) {
  plans_.erase(service);
  return PublishTraffic(service);
}

Status RoutePublisher::PublishTraffic(const std::string& service) {
  std::optional<proxy::Route> route =
      ServiceRouteOf(engine_->project(), engine_->Endpoints(), service, plans_, maintenance_);
  if (route) {
    Status st = proxy_->UpdateRoute(*route);
    if (st.ok()) {
      ++route_updates_;
      return st;
    }
    // The proxy's table lags the engine (or has no route of the service): the whole table
    // carries the plan instead. A drained or stopped proxy refuses both alike.
    if (st.code() != StatusCode::kFailedPrecondition && st.code() != StatusCode::kNotFound) {
      return st;
    }
  }
  ++table_publishes_;
  return Publish();
}

proxy::SetStats RoutePublisher::Stats(const std::string& service, const std::string& set) const {
  return proxy::ReadSetStats(*registry_, service, set);
}

}  // namespace slipway::daemon
