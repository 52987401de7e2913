// EngineGroups: deploy::Groups over the engine. The daemon forwards the engine's topology
// notifications to Changed(); they reach the listener coalesced, from a posted task, so the
// controller never re-enters the engine from inside one of its callbacks.
//
// Threads: the control loop only. The engine and the loop must outlive it.
#pragma once

#include <memory>

#include "deploy/groups.h"
#include "engine/engine.h"
#include "net/event_loop.h"

namespace slipway::deploy {

class EngineGroups final : public Groups {
 public:
  EngineGroups(net::EventLoop* loop, engine::Engine* engine) : loop_(loop), engine_(engine) {}
  ~EngineGroups() override { *alive_ = false; }

  // An instance changed (the engine's topology listener).
  void Changed();

  const config::Service* RunningSpec(const std::string& service) const override;
  const config::Service* GroupSpec(const std::string& service,
                                   const std::string& set) const override;
  std::string PrimarySet(const std::string& service) const override;
  int64_t PrimaryRelease(const std::string& service) const override;
  std::string SetName(int64_t release) const override;
  GroupView Group(const std::string& service, const std::string& set) const override;
  std::vector<SideGroupRef> SideGroups() const override;
  Status Start(const std::string& service, const config::Service& spec, int64_t release,
               int count) override;
  Status Resize(const std::string& service, const std::string& set, int count, Duration drain,
                std::function<void()> done) override;
  Status Stop(const std::string& service, const std::string& set, Duration drain,
              std::function<void()> done) override;
  Status Promote(const std::string& service, const std::string& set) override;
  void Replace(const config::Service& spec, int64_t release, bool wait, Duration timeout,
               std::function<void(Status)> done) override;
  void SetChangeListener(std::function<void()> fn) override { listener_ = std::move(fn); }

 private:
  net::EventLoop* loop_;
  engine::Engine* engine_;
  std::function<void()> listener_;
  bool pending_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::deploy
