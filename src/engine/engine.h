// Engine: brings a project's services up in dependency order and keeps them there.
//
// The engine holds the desired project (config::Project) and, per service, the supervised
// instances that run it (runtime::Instance) with their health monitors. Up() starts the
// requested services and their dependencies: a service starts only when each of its
// `depends_on` conditions holds (started, healthy, completed successfully); independent
// services start together. Every instance change is recorded as an event in the store and
// re-evaluates the pending work, so progress is driven by process and probe events, never by
// polling.
//
// `depends_on.<dep>.restart: true`: when the engine starts a service's instances again after it
// had run (`slipway restart`, an `up` that recreates it or re-runs a failed job, a deploy's
// recreate) or a deploy promotes a new group of it (a deploy or a rollback), each running
// dependent that says so is restarted once `dep` meets that dependent's own condition again
// (started, healthy, completed). A crash restart by the restart policy does not count, as with
// compose (which leaves those to the container runtime); nor does a dependent with a deploy of
// its own under way (its new instances start against the new `dep`), which is recorded.
//
// Ownership and threads: the daemon owns the engine, the store and the log store; every
// method and every callback runs on the control loop's thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/project.h"
#include "engine/host.h"
#include "health/monitor.h"
#include "net/event_loop.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/instance.h"
#include "runtime/log_store.h"
#include "runtime/process_keeper.h"
#include "store/store.h"

namespace slipway::engine {

struct EngineOptions {
  // Environment every host process starts from (PATH, HOME, ...); the service's own
  // `environment` and Slipway's variables (PORT, SLIPWAY_*) go on top.
  std::map<std::string, std::string> base_env;
  // Finds a container engine for image-only services. Called at most once, lazily.
  std::function<Result<runtime::ContainerEngine>()> detect_container_engine;
  // True when host:port is held for this project already (by the daemon's keeper): the
  // published-port check of Up() does not count it as taken.
  std::function<bool(const std::string& host, int port)> port_is_ours;
  // Where spawned processes' output pipes are parked and adopted processes' exits come from
  // (the daemon's keeper); null: nothing is parked and Recover() adopts nothing.
  runtime::ProcessKeeper* process_keeper = nullptr;
  // The machine: processes and probes (engine/host.h). Null: Host::Real(). Tests pass a
  // FakeHost.
  Host* host = nullptr;
  // Where host processes with deploy.resources.limits get their cgroup (runtime/cgroup.h);
  // empty: CgroupHost::Probe() of the machine, once, at the first such start.
  std::function<runtime::CgroupHost()> probe_cgroups;
};

// What an engine event (store::Event::kind) says happened to a service or an instance. The
// stored names are on the wire (the API's and the CLI's events, the dashboard) and do not
// change; the health kinds are health::HealthStateName's.
enum class EventKind {
  kStarted,     // an instance's first start
  kRestarted,   // an instance started again (restart policy, `restart`, a recovery)
  kExited,      // an instance's process ended
  kFailed,      // an instance or a service could not start
  kStarting,    // health: probing, not healthy yet
  kHealthy,     // health
  kUnhealthy,   // health
  kWarning,     // something the user should know (limits not applied, ...)
  kRestarting,  // a dependent restarted after its dependency (depends_on restart)
  kStopped,     // a service stopped
  kAdopted,     // an instance taken over as it runs (Recover)
  kRecovered,   // what Recover did about a dead daemon's leftovers
};
// "started", "restarted", "exited", "failed", "starting", "healthy", "unhealthy", "warning",
// "restarting", "stopped", "adopted", "recovered".
std::string_view EventKindName(EventKind k);
// The kind a stored name stands for; InvalidInput naming it when it is not an engine event's
// (other modules record events of their own kinds in the same table).
Result<EventKind> ParseEventKind(std::string_view name);

// What Recover() did.
struct RecoverReport {
  int adopted = 0;    // instances taken over as they run
  int restarted = 0;  // instances that had died meanwhile and were started again by policy
  int stopped = 0;    // processes stopped instead (their service is gone, or not adoptable)
};

// With UpOptions::wait, an instance restarted this many times and backing off again is a
// crash loop: Up() fails instead of waiting out its timeout.
inline constexpr int kCrashLoopRestarts = 3;

struct UpOptions {
  bool wait = false;          // also wait for health (running is enough otherwise)
  Duration timeout{300'000};  // the whole operation
};

// What a `ps` row says an instance (or a service without instances) is doing: an instance's
// runtime state, plus "not started" for a service with no instances and "completed" for a
// one-shot job that exited 0 (done, not down).
enum class PsState {
  kNotStarted,
  kCreated,
  kRunning,
  kBackoff,
  kStopping,
  kExited,
  kFailed,
  kCompleted,
};
std::string_view PsStateName(PsState s);  // "not started", "running", "completed", ...

// One row of `ps`: an instance of any of a service's groups, or one row for a service that
// has no instances (never started, or it could not spawn: state kFailed, `exit` says why).
struct PsRow {
  std::string service;
  int instance = 0;  // 0 on a service's row without instances
  PsState state = PsState::kNotStarted;
  // Only while running with a healthcheck.
  std::optional<health::HealthState> health;
  int pid = 0;                                 // 0 unless running
  int port = 0;                                // the PORT handed to it
  std::vector<config::PortMapping> published;  // the service's published ports
  int restarts = 0;
  double uptime_s = 0;  // 0 unless running
  int64_t release = 0;
  std::string set;  // its group's proxy set ("" on a row without instances)
  // The instance set it was started for ("" for `up`'s): its container's name has it
  // (runtime::ContainerEngine::ContainerName).
  std::string made_for;
  bool container = false;  // runs through the container engine
  std::string exit;        // how it last exited, or why the service could not start
};

// One group of a service's instances started from one spec (one release), routed as one
// proxy instance set. The primary group is what `up` started or the last deploy promoted;
// side groups are a deploy's new set, or the old set kept warm for a rollback.
struct GroupEndpoints {
  std::string set;  // proxy instance set name (Engine::SetName of `release`)
  int64_t release = 0;
  bool primary = false;
  std::vector<std::pair<std::string, int>> instances;  // (id, port), ready and not leaving
};

// What the proxy needs to route to a service: its instances' internal ports.
struct ServiceEndpoints {
  std::string service;
  bool started = false;  // the service is up (its published ports belong to the proxy)
  std::vector<std::pair<std::string, int>> instances;  // (id "api.2", port), primary, ready only
  std::vector<GroupEndpoints> groups;                  // every group, primary first
};

// What a deploy watches about one group.
struct GroupStatus {
  bool exists = false;
  bool primary = false;
  int64_t release = 0;
  int instances = 0;  // instances in the group (leaving ones excluded)
  int running = 0;
  int ready = 0;  // running, and healthy when the service has a probe
  int unhealthy = 0;
  int max_failing_streak = 0;  // longest current run of failed probes among instances
  int restarts = 0;            // restarts done by the restart policy, summed
  int crashed = 0;             // instances that exited with an error or failed to spawn
  std::string problem;         // the first problem seen, for messages
  std::vector<std::pair<std::string, int>> addresses;  // (id, port) of running instances
};

// Called when `up` starts a service: records a release and returns its number (0 = none).
using ReleaseRecorder =
    std::function<int64_t(const config::Service& spec, const std::string& spec_hash)>;

class Engine {
 public:
  Engine(net::EventLoop* loop, store::Store* store, runtime::LogStore* logs, EngineOptions opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Installs a newly loaded project. Running services keep running; a running service whose
  // resolved definition changed is recreated by the next Up() that covers it.
  void SetProject(config::Project project);
  const config::Project& project() const { return project_; }
  // SetProject() only when Up(services) of `project` would pass its checks (dependency order,
  // published ports, container engine, images); otherwise the current project stays, nothing
  // changes, and the error says why (`up` refused changes nothing).
  Status SetProjectIfStartable(config::Project project, const std::vector<std::string>& services);
  // Replaces one service's definition and the release it runs (a deploy's recreate, or its
  // restore of the old release): the next Up() starts that spec as release `release` even
  // when its spec hash did not change, so `ps` and the routes name the release that runs.
  // `release` 0: the next start decides as `up` does (same hash, same release).
  void SetServiceSpec(const config::Service& svc, int64_t release);

  // Starts `services` (empty = all) and what they depend on. `done` gets OK once each of them
  // is settled (started, or healthy/running with opts.wait, or completed), or the first
  // failure: a service that could not start, exited while others wait on it, became
  // unhealthy with opts.wait, or the timeout. Bad requests (unknown service, cycle, a port in
  // use, no container engine) fail before anything starts.
  void Up(std::vector<std::string> services, UpOptions opts, std::function<void(Status)> done);

  // Stops `services` (empty = all running, dependents before what they depend on). Only the
  // named services stop, as with compose. `done` runs once every process is gone. Names not
  // in the project are skipped; a request from outside is checked with CheckServices first.
  void Stop(std::vector<std::string> services, std::function<void()> done);

  // Stop then Up (no dependency waits for the restarted services beyond their own). A name
  // not in the project fails it with kInvalidInput before anything stops.
  void Restart(std::vector<std::string> services, std::function<void(Status)> done);

  // kInvalidInput naming the first of `services` that is not in the project: what a request
  // to stop or restart is checked with before anything changes.
  Status CheckServices(const std::vector<std::string>& services) const;

  // True while an Up() (or Restart()) has not called its `done` yet.
  bool Busy() const { return !ops_.empty(); }

  // One row per instance of every group, primary group first (or one per service without
  // instances), services by name: the `ps` table, rendered by the API.
  std::vector<PsRow> Ps() const;
  // Running instances per service, for the proxy's routing table.
  std::vector<ServiceEndpoints> Endpoints() const;

  // Warnings given since the last call (a host service's limits that cannot be applied: once
  // per service for the daemon's life), for the answer of the `up` that caused them.
  std::vector<std::string> TakeWarnings() { return std::exchange(warnings_, {}); }
  // Whether deploy.resources.limits hold for host processes here, and why not ("" when they
  // do; "not probed" before the first host service with limits started).
  std::string HostLimitsProblem() const {
    return !cgroups_ ? "not probed" : cgroups_->usable() ? "" : cgroups_->why_not();
  }

  // Runs after any instance starts, stops or changes health (the proxy's routes follow it).
  void SetTopologyListener(std::function<void()> fn) { on_topology_ = std::move(fn); }

  // After a daemon died: takes over what it ran, from the snapshot kept in the store's meta
  // (`engine.running`, rewritten on every topology change): each service's groups with their
  // sets, release numbers and spec hashes, and each instance's pid, /proc start time, port,
  // restart count and health. An instance whose process still runs (same pid and start time)
  // and whose pipes the keeper holds is adopted: watched through a pidfd, its buffered output
  // read, its health probes resumed in the state last seen, its endpoint unchanged. One that
  // died meanwhile is started again when its restart policy says so (its status from the
  // keeper). A group's spec is the compose file's when the hashes match, else rebuilt from
  // the running process's environment (a deploy's --env) and checked against the saved hash.
  // Processes of services no longer in the project, or that cannot be adopted, are stopped
  // (SIGTERM, SIGKILL after 10 s); services that had nothing left start again. No release
  // is recorded for what is adopted. `done` runs once the adopted services are in place and
  // the services restarted from nothing are ready (60 s at most); when every service had
  // something to take over, at once (restarts follow once the stopped processes are gone).
  void Recover(std::function<void(Status, RecoverReport)> done);
  void SetReleaseRecorder(ReleaseRecorder fn) { record_release_ = std::move(fn); }

  // --- Groups (deploys). The service must be started. ---
  // The proxy instance set name of a release's group: "r7" for release 7, "current" for a
  // group started without releases (release 0). The names are on the wire (routes, ps, the
  // snapshot) and do not change.
  static std::string SetName(int64_t release);
  // The release a set name stands for (0 for "current"); InvalidInput naming it when it is
  // neither form (a damaged snapshot).
  static Result<int64_t> ParseSetName(std::string_view name);
  // Starts a side group of `count` instances (-1 = spec.replicas) from `spec`, as release
  // `release`. It gets no traffic until the route publisher gives its set a weight.
  Status StartGroup(const std::string& service, const config::Service& spec, int64_t release,
                    int count = -1);
  // Grows the group to `count` instances (new ones start now) or shrinks it: the highest
  // instances leave the routes at once and are stopped after `drain`. `done` runs when the
  // group has `count` instances that are not stopping (started ones may not be ready yet).
  Status ResizeGroup(const std::string& service, const std::string& set, int count, Duration drain,
                     std::function<void()> done);
  // Takes the group out of the routes, waits `drain`, stops it and forgets it. The primary
  // group cannot be stopped this way.
  Status StopGroup(const std::string& service, const std::string& set, Duration drain,
                   std::function<void()> done);
  // Makes a side group the primary one: the service's definition becomes that group's spec and
  // the former primary group becomes a side group (still running, still routable).
  Status Promote(const std::string& service, const std::string& set);
  // What a deploy watches about the group of set `set` (exists = false when there is none).
  GroupStatus GroupState(const std::string& service, const std::string& set) const;
  // The primary group's set name and release ("" / 0 when the service is not started).
  std::string PrimarySet(const std::string& service) const;
  int64_t PrimaryRelease(const std::string& service) const;
  // The spec the primary group runs (nullptr when the service is not started).
  const config::Service* RunningSpec(const std::string& service) const;
  // The spec the group of `set` runs (nullptr when the service is not started or has no such
  // group).
  const config::Service* GroupSpec(const std::string& service, const std::string& set) const;

 private:
  struct InstanceRun;
  struct Group;
  struct ServiceRun;
  struct UpOp;
  enum class Settle { kPending, kSettled, kFailed };

  ServiceRun& Run(const std::string& name);
  const ServiceRun* FindRun(const std::string& name) const;
  Status CheckStartable(const config::Project& project, const std::vector<std::string>& order);
  Status StartService(ServiceRun& run);
  // `set`: the deploy's instance set the instance belongs to ("" for the one `up` starts).
  // `port`: the PORT to hand it (0: a free one).
  Result<runtime::InstanceSpec> BuildInstanceSpec(const config::Service& svc, int index,
                                                  const std::string& set, int port = 0);
  Result<std::unique_ptr<InstanceRun>> MakeInstance(const config::Service& svc, int index,
                                                    const std::string& set, int port = 0);
  // Recover(): the spec a saved group runs (see there); `pids` are its live processes.
  config::Service RecoveredSpec(const std::string& service, const std::string& saved_hash,
                                const std::vector<pid_t>& pids);
  // The group of `set` of a started service (nullptr when there is none).
  Group* FindGroup(const std::string& service, const std::string& set);
  void Bury(std::vector<std::unique_ptr<InstanceRun>> dead);
  // Whether `dep`'s condition holds (kSettled), cannot hold any more (kFailed, with reason).
  Settle DependencyState(const config::Dependency& dep, std::string* why) const;
  Settle ServiceGoal(const ServiceRun& run, bool wait, std::string* why) const;
  void Pump();
  void FinishOp(size_t index, Status st);
  void Record(const std::string& service, int instance, EventKind kind, const std::string& message);
  std::string LastLogLines(const std::string& service, size_t n) const;
  struct StopPlan;
  void StopServices(std::vector<std::string> order, std::function<void()> done);
  void LaunchReadyStops(std::shared_ptr<StopPlan> plan);
  void StopService(const std::string& name, std::function<void()> stopped);
  void NotifyTopology();
  // depends_on.restart: `dep` was started again or replaced; its dependents that ask for it
  // become due, and are restarted by RestartDueDependents() (from Pump) once ready.
  void MarkDependentsDue(const std::string& dep);
  void RestartDueDependents();

  net::EventLoop* loop_;
  store::Store* store_;
  runtime::LogStore* logs_;
  EngineOptions opts_;
  Host* host_;  // opts_.host or the real one
  config::Project project_;
  std::map<std::string, std::unique_ptr<ServiceRun>> runs_;
  std::vector<std::unique_ptr<UpOp>> ops_;
  std::optional<Result<runtime::ContainerEngine>> container_;
  std::optional<runtime::CgroupHost> cgroups_;  // probed at the first host start with limits
  std::set<std::string> limit_warned_;          // services warned about unapplied limits
  std::vector<std::string> warnings_;           // for TakeWarnings()
  std::function<void()> on_topology_;
  ReleaseRecorder record_release_;
  // Service → the release its next StartService() runs (SetServiceSpec); cleared by use and
  // by SetProject().
  std::map<std::string, int64_t> pinned_release_;
  void SaveRunningSnapshot();
  std::string saved_snapshot_;             // last written, to skip identical writes
  std::map<pid_t, uint64_t> start_times_;  // pid → /proc start time, read once
  // Dependent → the restarted dependencies it waits for before its own restart.
  std::map<std::string, std::set<std::string>> due_restarts_;
  bool pumping_ = false;
  bool pump_again_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::engine
