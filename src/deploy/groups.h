// Groups: the deploy controller's port to a service's instance groups (one group per release
// set: the primary one that `up` started or a deploy promoted, and side groups a deploy starts).
// EngineGroups (deploy/engine_groups.h) implements it over the engine; unit tests fake it.
//
// Threads: the control loop only. Callbacks run on the loop's thread, possibly before the call
// that registered them returns; callers may call back into the port from them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/project.h"

namespace slipway::deploy {

// What the controller reads of one group: its readiness and its failures.
struct GroupView {
  bool exists = false;
  int64_t release = 0;
  int instances = 0;  // not counting leaving ones
  int ready = 0;      // running, and healthy when the service has a probe
  int unhealthy = 0;
  int max_failing_streak = 0;  // longest current run of failed probes among instances
  int restarts = 0;            // restarts done by the restart policy, summed
  int crashed = 0;             // exited with an error or failed to spawn
  std::string problem;         // the first problem seen, for messages
  std::vector<std::pair<std::string, int>> addresses;  // (id, port) of running instances
};

// A group that is not its service's primary one.
struct SideGroupRef {
  std::string service;
  std::string set;
};

class Groups {
 public:
  virtual ~Groups() = default;

  // The spec the primary group runs (nullptr when the service is not started).
  virtual const config::Service* RunningSpec(const std::string& service) const = 0;
  // The spec a group runs (nullptr when there is no such group): a paused deploy restored
  // after a daemon restart takes its new release's definition from its running group.
  virtual const config::Service* GroupSpec(const std::string& service,
                                           const std::string& set) const = 0;
  virtual std::string PrimarySet(const std::string& service) const = 0;
  virtual int64_t PrimaryRelease(const std::string& service) const = 0;
  // The set name of a release's group.
  virtual std::string SetName(int64_t release) const = 0;
  virtual GroupView Group(const std::string& service, const std::string& set) const = 0;
  // Every side group of every service.
  virtual std::vector<SideGroupRef> SideGroups() const = 0;

  // Starts a side group of `count` instances of `spec` as release `release`; it gets no
  // traffic until a Traffic plan gives its set a weight.
  virtual Status Start(const std::string& service, const config::Service& spec, int64_t release,
                       int count) = 0;
  // Grows or shrinks a group; shrinking takes instances out of the routes first and stops them
  // after `drain`. `done` runs once the group has `count` instances not stopping.
  virtual Status Resize(const std::string& service, const std::string& set, int count,
                        Duration drain, std::function<void()> done) = 0;
  // Takes a side group out of the routes, waits `drain`, stops and forgets it.
  virtual Status Stop(const std::string& service, const std::string& set, Duration drain,
                      std::function<void()> done) = 0;
  // The side group becomes the primary one (the former primary stays, as a side group).
  virtual Status Promote(const std::string& service, const std::string& set) = 0;
  // Recreate: stops the whole service, then runs `spec` in its place as release `release`
  // (whether or not the spec changed); with `wait`, `done` runs once it is ready (or failed,
  // or `timeout` passed), else once it runs.
  virtual void Replace(const config::Service& spec, int64_t release, bool wait, Duration timeout,
                       std::function<void(Status)> done) = 0;

  // Told after any instance of any service started, exited or changed health. One listener.
  virtual void SetChangeListener(std::function<void()> fn) = 0;
};

}  // namespace slipway::deploy
