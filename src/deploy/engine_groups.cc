#include "deploy/engine_groups.h"

namespace slipway::deploy {

void EngineGroups::Changed() {
  if (pending_) return;
  pending_ = true;
  auto alive = alive_;
  loop_->Post([this, alive] {
    if (!*alive) return;
    pending_ = false;
    if (listener_) listener_();
  });
}

const config::Service* EngineGroups::RunningSpec(const std::string& service) const {
  return engine_->RunningSpec(service);
}

const config::Service* EngineGroups::GroupSpec(const std::string& service,
                                               const std::string& set) const {
  return engine_->GroupSpec(service, set);
}

std::string EngineGroups::PrimarySet(const std::string& service) const {
  return engine_->PrimarySet(service);
}

int64_t EngineGroups::PrimaryRelease(const std::string& service) const {
  return engine_->PrimaryRelease(service);
}

std::string EngineGroups::SetName(int64_t release) const {
  return engine::Engine::SetName(release);
}

GroupView EngineGroups::Group(const std::string& service, const std::string& set) const {
  engine::GroupStatus g = engine_->GroupState(service, set);
  GroupView v;
  v.exists = g.exists;
  v.release = g.release;
  v.instances = g.instances;
  v.ready = g.ready;
  v.unhealthy = g.unhealthy;
  v.max_failing_streak = g.max_failing_streak;
  v.restarts = g.restarts;
  v.crashed = g.crashed;
  v.problem = g.problem;
  v.addresses = g.addresses;
  return v;
}

std::vector<SideGroupRef> EngineGroups::SideGroups() const {
  std::vector<SideGroupRef> out;
  for (const engine::ServiceEndpoints& ep : engine_->Endpoints()) {
    for (const engine::GroupEndpoints& g : ep.groups) {
      if (!g.primary) out.push_back({ep.service, g.set});
    }
  }
  return out;
}

Status EngineGroups::Start(const std::string& service, const config::Service& spec, int64_t release,
                           int count) {
  return engine_->StartGroup(service, spec, release, count);
}

Status EngineGroups::Resize(const std::string& service, const std::string& set, int count,
                            Duration drain, std::function<void()> done) {
  return engine_->ResizeGroup(service, set, count, drain, std::move(done));
}

Status EngineGroups::Stop(const std::string& service, const std::string& set, Duration drain,
                          std::function<void()> done) {
  return engine_->StopGroup(service, set, drain, std::move(done));
}

Status EngineGroups::Promote(const std::string& service, const std::string& set) {
  return engine_->Promote(service, set);
}

void EngineGroups::Replace(const config::Service& spec, int64_t release, bool wait,
                           Duration timeout, std::function<void(Status)> done) {
  auto alive = alive_;
  engine_->Stop({spec.name}, [this, alive, spec, release, wait, timeout, done = std::move(done)] {
    if (!*alive) return;
    engine_->SetServiceSpec(spec, release);
    engine::UpOptions opts;
    opts.wait = wait;
    if (wait) opts.timeout = timeout;
    engine_->Up({spec.name}, opts, [alive, done](Status st) {
      if (*alive) done(std::move(st));
    });
  });
}

}  // namespace slipway::deploy
