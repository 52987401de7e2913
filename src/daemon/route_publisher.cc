#include "daemon/route_publisher.h"

#include "base/log.h"

namespace slipway::daemon {

Status RoutePublisher::Publish() {
  if (before_publish_) before_publish_();
  std::shared_ptr<const proxy::RouteTable> table =
      BuildRoutes(engine_->project(), engine_->Endpoints(), ++version_, plans_, maintenance_, tls_,
                  acme_challenges_);
  RETURN_IF_ERROR(proxy_->Apply(table));
  if (after_publish_) after_publish_(*table);
  return Status::OK();
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
  return Publish();
}

Status RoutePublisher::ClearPlan(const std::string& service) {
  plans_.erase(service);
  return Publish();
}

proxy::SetStats RoutePublisher::Stats(const std::string& service, const std::string& set) const {
  return proxy::ReadSetStats(*registry_, service, set);
}

}  // namespace slipway::daemon
