#include "engine/engine.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/log.h"
#include "config/name_table.h"
#include "engine/graph.h"
#include "engine/spec_hash.h"
#include "net/port_owner.h"
#include "runtime/container_assets.h"
#include "runtime/host_mounts.h"
#include "runtime/sandbox.h"

namespace slipway::engine {

using config::DependsCondition;
using health::HealthState;
using runtime::InstanceState;

struct Engine::InstanceRun {
  ~InstanceRun() {
    instance.reset();  // kills what still runs
    if (cgroup.empty()) return;
    // A process killed just now may not be reaped yet (EBUSY): the group is left, empty,
    // and reused by the next instance of the same name.
    if (::rmdir(cgroup.c_str()) != 0 && errno != ENOENT && errno != EBUSY) {
      logging::Warn("engine", "removing cgroup " + cgroup.string() + ": " + std::strerror(errno));
    }
  }
  std::filesystem::path cgroup;  // the host process's own cgroup (deploy.resources.limits)
  std::unique_ptr<runtime::Instance> instance;
  std::unique_ptr<health::HealthMonitor> health;
  bool ever_started = false;
  bool leaving = false;  // out of the routes, about to be stopped
  bool spawn_failed = false;
};

// One group of a service's instances started from one spec (see GroupEndpoints). The primary
// group and a deploy's side groups are the same thing; which one is primary is a name in
// ServiceRun.
struct Engine::Group {
  std::string set;
  int64_t release = 0;
  config::Service spec;  // the definition the instances were started from
  std::string spec_hash;
  std::vector<std::unique_ptr<InstanceRun>> instances;
};

struct Engine::ServiceRun {
  std::string name;
  std::map<std::string, std::unique_ptr<Group>> groups;  // by set name
  // The primary group's set. Its group stays after a stop (its release and spec hash decide
  // whether the next start is the same release); it is absent before the first start.
  std::string primary = Engine::SetName(0);
  bool started = false;  // StartService ran for the current generation
  bool stopping = false;
  std::string spawn_error;  // set when an instance could not be started
  bool ran_before = false;  // StartService ran once already: the next one is a restart

  Group* Primary() {
    auto it = groups.find(primary);
    return it == groups.end() ? nullptr : it->second.get();
  }
  const Group* Primary() const {
    auto it = groups.find(primary);
    return it == groups.end() ? nullptr : it->second.get();
  }
  // The primary group's instances (none before the first start).
  const std::vector<std::unique_ptr<InstanceRun>>& PrimaryInstances() const {
    static const std::vector<std::unique_ptr<InstanceRun>> kNone;
    const Group* g = Primary();
    return g ? g->instances : kNone;
  }
  bool HasSideGroups() const { return groups.size() > (Primary() ? 1u : 0u); }
  // Primary first, then the side groups by set name: the order of ps rows and endpoints.
  std::vector<const Group*> Ordered() const {
    std::vector<const Group*> out;
    if (const Group* p = Primary()) out.push_back(p);
    for (const auto& [set, g] : groups) {
      if (set != primary) out.push_back(g.get());
    }
    return out;
  }
  // Instances of every group (leaving ones included).
  size_t InstanceCount() const {
    size_t n = 0;
    for (const auto& [set, g] : groups) n += g->instances.size();
    return n;
  }
};

struct Engine::UpOp {
  std::vector<std::string> order;  // targets and their dependencies, dependencies first
  std::set<std::string> targets;   // what the caller asked for (all of order when empty)
  UpOptions opts;
  std::function<void(Status)> done;
  net::EventLoop::TimerId timer = 0;
};

Engine::Engine(net::EventLoop* loop, store::Store* store, runtime::LogStore* logs,
               EngineOptions opts)
    : loop_(loop),
      store_(store),
      logs_(logs),
      opts_(std::move(opts)),
      host_(opts_.host != nullptr ? opts_.host : Host::Real()) {}

Engine::~Engine() {
  *alive_ = false;
  for (auto& op : ops_) loop_->Cancel(op->timer);
}

void Engine::SetProject(config::Project project) {
  project_ = std::move(project);
  pinned_release_.clear();
}

void Engine::SetServiceSpec(const config::Service& svc, int64_t release) {
  project_.services[svc.name] = svc;
  if (release > 0) {
    pinned_release_[svc.name] = release;
  } else {
    pinned_release_.erase(svc.name);
  }
}

Status Engine::SetProjectIfStartable(config::Project project,
                                     const std::vector<std::string>& services) {
  auto order = StartOrder(project, services);
  RETURN_IF_ERROR(order.status());
  RETURN_IF_ERROR(CheckStartable(project, *order));
  project_ = std::move(project);
  return Status::OK();
}

Engine::ServiceRun& Engine::Run(const std::string& name) {
  auto& slot = runs_[name];
  if (!slot) {
    slot = std::make_unique<ServiceRun>();
    slot->name = name;
  }
  return *slot;
}

const Engine::ServiceRun* Engine::FindRun(const std::string& name) const {
  auto it = runs_.find(name);
  return it == runs_.end() ? nullptr : it->second.get();
}

namespace {

// The one table of the engine's event names (EventKindName, ParseEventKind). The health
// kinds are health::HealthStateName's names (a test holds them equal).
constexpr auto kEventKindNames = config::MakeNameTable<EventKind>({
    {EventKind::kStarted, "started"},
    {EventKind::kRestarted, "restarted"},
    {EventKind::kExited, "exited"},
    {EventKind::kFailed, "failed"},
    {EventKind::kStarting, "starting"},
    {EventKind::kHealthy, "healthy"},
    {EventKind::kUnhealthy, "unhealthy"},
    {EventKind::kWarning, "warning"},
    {EventKind::kRestarting, "restarting"},
    {EventKind::kStopped, "stopped"},
    {EventKind::kAdopted, "adopted"},
    {EventKind::kRecovered, "recovered"},
});

// The event of a health change.
std::optional<EventKind> HealthEventKind(HealthState s) {
  switch (s) {
    case HealthState::kStarting:
      return EventKind::kStarting;
    case HealthState::kHealthy:
      return EventKind::kHealthy;
    case HealthState::kUnhealthy:
      return EventKind::kUnhealthy;
    case HealthState::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace

std::string_view EventKindName(EventKind k) { return kEventKindNames.Name(k); }

Result<EventKind> ParseEventKind(std::string_view name) {
  if (std::optional<EventKind> k = kEventKindNames.Parse(name)) return *k;
  return InvalidInput(fmt::format("\"{}\" is not an engine event kind (expected {})",
                                  name.substr(0, std::min<size_t>(name.size(), 64)),
                                  kEventKindNames.List()));
}

void Engine::Record(const std::string& service, int instance, EventKind kind,
                    const std::string& message) {
  if (!store_) return;
  store::Event e;
  e.service = service;
  e.instance = instance;
  e.kind = std::string(EventKindName(kind));
  e.message = message;
  while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == ' ')) {
    e.message.pop_back();
  }
  Status st = store_->AppendEvent(std::move(e));
  if (!st.ok()) {
    logging::Error("engine", "recording event: " + st.message(),
                   {{"service", service}, {"kind", EventKindName(kind)}});
  }
}

std::string Engine::LastLogLines(const std::string& service, size_t n) const {
  if (!logs_) return "";
  std::string out;
  for (const auto& line : logs_->Tail({service}, n, 0)) {
    out += "\n  ";
    out += runtime::FormatLogLine(line);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Up

Status Engine::CheckStartable(const config::Project& project,
                              const std::vector<std::string>& order) {
  for (const std::string& name : order) {
    const config::Service& svc = project.services.at(name);
    for (const config::Dependency& dep : svc.depends_on) {
      auto it = project.services.find(dep.service);
      if (it == project.services.end()) continue;  // optional and absent: StartOrder allowed it
      if (dep.condition == DependsCondition::kHealthy &&
          it->second.healthcheck.kind == config::Healthcheck::Kind::kNone) {
        return InvalidInput(
            fmt::format("{}: services.{}.depends_on.{}: condition service_healthy, but {} has no "
                        "healthcheck (add one, or use condition service_started)",
                        svc.loc.ToString(), name, dep.service, dep.service));
      }
    }
    const ServiceRun* run = FindRun(name);
    const bool running = run && run->started && !run->stopping;
    const Group* primary = running ? run->Primary() : nullptr;
    if (primary && primary->spec_hash == SpecHash(svc)) continue;  // already up: its ports are ours
    // A running service about to be recreated keeps the ports it publishes; new ones are
    // checked like a fresh service's.
    std::set<int> own_ports;
    if (primary) {
      for (const config::PortMapping& p : primary->spec.ports) own_ports.insert(p.published);
    }
    if (svc.RunsInContainer()) {
      if (!container_)
        container_ =
            opts_.detect_container_engine
                ? opts_.detect_container_engine()
                : Result<runtime::ContainerEngine>(NotFound("no container engine configured"));
      if (!container_->ok()) {
        // A malformed $SLIPWAY_CONTAINER_FLAGS is the user's input: say so, exit 2.
        if (container_->status().code() == StatusCode::kInvalidInput) return container_->status();
        return FailedPrecondition(fmt::format(
            "service {} runs image \"{}\", which needs podman or docker, and none answers ({}); "
            "give it x-slipway.command to run on the host, or start a container engine",
            name, svc.image, container_->status().message()));
      }
      // Volumes, secret files, external secrets, and a build's image (container_assets.h).
      RETURN_IF_ERROR(runtime::PrepareContainerService(**container_, project, svc));
      if (svc.build) {
        ASSIGN_OR_RETURN(bool built,
                         runtime::ImageExists(**container_, svc.ImageName(project.name)));
        if (!built) {
          return FailedPrecondition(fmt::format(
              "service {}: image \"{}\" is not built yet (run `slipway build {}` or `slipway "
              "up --build`)",
              name, svc.ImageName(project.name), name));
        }
      }
    } else {
      // Volumes, tmpfs, secrets and configs in its mount namespace (runtime/host_mounts.h).
      RETURN_IF_ERROR(runtime::PrepareHostService(project_, svc));
    }
    for (const config::PortMapping& port : svc.ports) {
      if (port.published <= 0 || own_ports.count(port.published)) continue;
      std::string host = port.host_ip.empty() ? "0.0.0.0" : port.host_ip;
      if (opts_.port_is_ours && opts_.port_is_ours(host, port.published)) continue;
      if (!net::PortInUse(host, port.published)) continue;
      std::string msg = fmt::format("{}: services.{}.ports: port {} is already in use",
                                    port.loc.ToString(), name, port.published);
      if (auto owner = net::FindPortOwner(port.published)) {
        msg += fmt::format(" by pid {} ({})", owner->pid, owner->command);
      }
      if (!port.published_var.empty()) {
        msg += fmt::format("; set {} to a free port", port.published_var);
      } else {
        msg += "; stop that process or publish another port";
      }
      return FailedPrecondition(msg);
    }
  }
  return Status::OK();
}

void Engine::Up(std::vector<std::string> services, UpOptions opts,
                std::function<void(Status)> done) {
  auto order = StartOrder(project_, services);
  if (!order.ok()) {
    done(order.status());
    return;
  }
  // Checked before anything stops: a refused `up` leaves what runs untouched.
  if (Status st = CheckStartable(project_, *order); !st.ok()) {
    done(st);
    return;
  }
  // A running service whose definition changed is recreated, and a job that failed (or a
  // service whose restarts gave up) runs again: stop it first, then come back. A job that
  // completed with the same definition is not run again.
  std::vector<std::string> stale;
  for (const std::string& name : *order) {
    const ServiceRun* run = FindRun(name);
    if (!run || !run->started || run->stopping) continue;
    // Failed: nothing of it runs any more and something ended badly (a replica still serving
    // is left alone: its restart policy deals with its siblings).
    bool failed = !run->spawn_error.empty();
    bool live = false;
    for (const auto& ir : run->PrimaryInstances()) {
      const runtime::Instance& inst = *ir->instance;
      live = live ||
             (inst.state() != InstanceState::kExited && inst.state() != InstanceState::kFailed);
      failed = failed || inst.state() == InstanceState::kFailed ||
               (inst.state() == InstanceState::kExited && inst.last_exit() &&
                !inst.last_exit()->success());
    }
    failed = failed && !live;
    const Group* primary = run->Primary();
    if (failed || !primary || primary->spec_hash != SpecHash(project_.services.at(name))) {
      stale.push_back(name);
    }
  }
  if (!stale.empty()) {
    auto alive = alive_;
    Stop(stale, [this, alive, services = std::move(services), opts, done = std::move(done)] {
      if (*alive) Up(services, opts, done);
    });
    return;
  }
  auto op = std::make_unique<UpOp>();
  op->order = std::move(order).value();
  op->targets = services.empty() ? std::set<std::string>(op->order.begin(), op->order.end())
                                 : std::set<std::string>(services.begin(), services.end());
  op->opts = opts;
  op->done = std::move(done);
  UpOp* raw = op.get();
  auto alive = alive_;
  op->timer = loop_->RunAfter(opts.timeout, [this, alive, raw] {
    if (!*alive) return;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].get() != raw) continue;
      std::string pending;
      for (const auto& name : raw->order) {
        std::string why;
        if (ServiceGoal(*runs_[name], raw->opts.wait, &why) != Settle::kSettled) {
          pending += pending.empty() ? name : ", " + name;
        }
      }
      FinishOp(i, DeadlineExceeded(fmt::format("timed out after {} ms waiting for {}",
                                               raw->opts.timeout.count(), pending)));
      return;
    }
  });
  for (const std::string& name : op->order) Run(name);
  ops_.push_back(std::move(op));
  Pump();
}

Engine::Settle Engine::DependencyState(const config::Dependency& dep, std::string* why) const {
  const ServiceRun* run = FindRun(dep.service);
  if (!run || !run->started) return Settle::kPending;
  if (!run->spawn_error.empty()) {
    *why = run->spawn_error;
    return Settle::kFailed;
  }
  size_t running = 0, healthy = 0, completed = 0;
  const auto& instances = run->PrimaryInstances();
  for (const auto& ir : instances) {
    const runtime::Instance& inst = *ir->instance;
    switch (inst.state()) {
      case InstanceState::kRunning:
        ++running;
        break;
      case InstanceState::kExited:
        if (inst.last_exit() && inst.last_exit()->success()) {
          ++completed;
        } else if (dep.condition != DependsCondition::kStarted) {
          *why = fmt::format("{}.{} {}", dep.service, inst.spec().index,
                             inst.last_exit() ? inst.last_exit()->ToString() : "exited");
          return Settle::kFailed;
        }
        break;
      case InstanceState::kFailed:
        *why = fmt::format("{}.{} failed", dep.service, inst.spec().index);
        return Settle::kFailed;
      default:
        break;
    }
    if (ir->health && ir->health->state() == HealthState::kHealthy) ++healthy;
    if (dep.condition == DependsCondition::kHealthy && ir->health &&
        ir->health->state() == HealthState::kUnhealthy) {
      *why = fmt::format("{}.{} is unhealthy", dep.service, inst.spec().index);
      return Settle::kFailed;
    }
  }
  size_t n = instances.size();
  switch (dep.condition) {
    case DependsCondition::kStarted:
      return Settle::kSettled;  // every instance was started
    case DependsCondition::kHealthy:
      return healthy == n ? Settle::kSettled : Settle::kPending;
    case DependsCondition::kCompletedSuccessfully:
      return completed == n ? Settle::kSettled : Settle::kPending;
  }
  return Settle::kPending;
}

Engine::Settle Engine::ServiceGoal(const ServiceRun& run, bool wait, std::string* why) const {
  if (!run.spawn_error.empty()) {
    *why = run.spawn_error;
    return Settle::kFailed;
  }
  const Group* primary = run.Primary();
  if (!run.started || !primary) return Settle::kPending;
  bool has_health = primary->spec.healthcheck.kind != config::Healthcheck::Kind::kNone;
  bool all_done = true;
  for (const auto& ir : primary->instances) {
    const runtime::Instance& inst = *ir->instance;
    if (inst.state() == InstanceState::kFailed) {
      *why = fmt::format("{}.{} failed{}", run.name, inst.spec().index,
                         inst.last_exit() ? ": " + inst.last_exit()->ToString() : "");
      return Settle::kFailed;
    }
    if (inst.state() == InstanceState::kExited) {
      if (inst.last_exit() && !inst.last_exit()->success()) {
        *why = fmt::format("{}.{} {}", run.name, inst.spec().index, inst.last_exit()->ToString());
        return Settle::kFailed;
      }
      continue;  // completed successfully: a one-shot job is done
    }
    if (!wait) continue;
    // A crash loop will not settle by waiting: `up --wait` fails now, with the last lines.
    if (inst.state() == InstanceState::kBackoff && inst.restarts() >= kCrashLoopRestarts) {
      *why = fmt::format("{}.{} is crash-looping ({} restarts; last {})", run.name,
                         inst.spec().index, inst.restarts(),
                         inst.last_exit() ? inst.last_exit()->ToString() : "exit unknown");
      return Settle::kFailed;
    }
    if (inst.state() != InstanceState::kRunning) {
      all_done = false;
      continue;
    }
    if (has_health && ir->health) {
      if (ir->health->state() == HealthState::kUnhealthy) {
        *why = fmt::format("{}.{} is unhealthy", run.name, inst.spec().index);
        if (ir->health->last() && !ir->health->last()->output.empty()) {
          *why += ": " + ir->health->last()->output;
        }
        return Settle::kFailed;
      }
      if (ir->health->state() != HealthState::kHealthy) all_done = false;
    }
  }
  return all_done ? Settle::kSettled : Settle::kPending;
}

void Engine::Pump() {
  // Callbacks fired while starting services re-enter here; run again instead of recursing.
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    for (size_t i = 0; i < ops_.size();) {
      UpOp& op = *ops_[i];
      Status failure;
      bool all_settled = true;
      for (const std::string& name : op.order) {
        ServiceRun& run = Run(name);
        if (!run.started && !run.stopping) {
          const config::Service& svc = project_.services.at(name);
          bool ready = true;
          for (const config::Dependency& dep : svc.depends_on) {
            if (!project_.services.count(dep.service)) continue;
            std::string why;
            Settle s = DependencyState(dep, &why);
            if (s == Settle::kPending) {
              ready = false;
            } else if (s == Settle::kFailed) {
              if (!dep.required) {
                Record(name, 0, EventKind::kWarning,
                       fmt::format("optional dependency {} failed: {}", dep.service, why));
                continue;
              }
              failure = FailedPrecondition(
                  fmt::format("{} cannot start: dependency {} failed: {}{}", name, dep.service, why,
                              LastLogLines(dep.service, 10)));
              break;
            }
          }
          if (!failure.ok()) break;
          if (ready) {
            Status st = StartService(run);
            if (!st.ok()) {
              failure = st;
              break;
            }
          }
        }
        std::string why;
        Settle s = ServiceGoal(run, op.opts.wait, &why);
        if (s == Settle::kFailed) {
          failure = FailedPrecondition(why + LastLogLines(name, 10));
          break;
        }
        if (s == Settle::kPending) all_settled = false;
      }
      if (!failure.ok()) {
        FinishOp(i, failure);
        continue;  // FinishOp erased index i
      }
      if (all_settled) {
        FinishOp(i, Status::OK());
        continue;
      }
      ++i;
    }
    RestartDueDependents();
  } while (pump_again_);
  pumping_ = false;
}

void Engine::MarkDependentsDue(const std::string& dep) {
  for (const auto& [name, svc] : project_.services) {
    if (name == dep) continue;
    const ServiceRun* run = FindRun(name);
    // Only what runs now: a dependent that is stopped, or not started yet, starts after `dep`
    // anyway.
    if (!run || !run->started || run->stopping) continue;
    for (const config::Dependency& d : svc.depends_on) {
      if (d.service == dep && d.restart) due_restarts_[name].insert(dep);
    }
  }
}

void Engine::RestartDueDependents() {
  for (auto it = due_restarts_.begin(); it != due_restarts_.end();) {
    const std::string name = it->first;
    const ServiceRun* run = FindRun(name);
    auto svc = project_.services.find(name);
    if (!run || !run->started || run->stopping || svc == project_.services.end()) {
      it = due_restarts_.erase(it);  // stopped meanwhile: its next start is after `dep`
      continue;
    }
    std::string deps;
    for (const auto& d : it->second) deps += (deps.empty() ? "" : ", ") + d;
    if (run->HasSideGroups()) {
      Record(name, 0, EventKind::kWarning,
             fmt::format("not restarted after {} (depends_on restart): a deploy of {} is under "
                         "way, its new instances start against the new {}",
                         deps, name, deps));
      it = due_restarts_.erase(it);
      continue;
    }
    bool pending = false;
    std::string failed;
    for (const config::Dependency& d : svc->second.depends_on) {
      if (!it->second.count(d.service)) continue;
      std::string why;
      Settle st = DependencyState(d, &why);
      if (st == Settle::kPending) pending = true;
      if (st == Settle::kFailed) failed = d.service + ": " + why;
    }
    if (!failed.empty()) {
      Record(
          name, 0, EventKind::kWarning,
          fmt::format("not restarted after {} (depends_on restart): dependency {}", deps, failed));
      it = due_restarts_.erase(it);
      continue;
    }
    if (pending) {
      ++it;
      continue;
    }
    it = due_restarts_.erase(it);
    Record(name, 0, EventKind::kRestarting, "after " + deps + " (depends_on restart)");
    // From the loop: Restart stops services, whose callbacks come back here.
    auto alive = alive_;
    loop_->Post([this, alive, name] {
      if (!*alive) return;
      Restart({name}, [this, alive, name](Status st) {
        if (*alive && !st.ok()) Record(name, 0, EventKind::kFailed, "restart: " + st.message());
      });
    });
  }
}

void Engine::FinishOp(size_t index, Status st) {
  std::shared_ptr<UpOp> op = std::move(ops_[index]);
  ops_.erase(ops_.begin() + static_cast<long>(index));
  loop_->Cancel(op->timer);
  // Run the callback after the current dispatch: it may call back into the engine.
  loop_->Post([op = std::move(op), st = std::move(st)] { op->done(st); });
}

Result<runtime::InstanceSpec> Engine::BuildInstanceSpec(const config::Service& svc, int index,
                                                        const std::string& set, int port) {
  runtime::InstanceSpec spec;
  spec.service = svc.name;
  spec.set = set;
  spec.index = index;
  if (port > 0) {
    spec.port = port;
  } else {
    ASSIGN_OR_RETURN(spec.port, runtime::PickFreePort());
  }
  spec.restart = svc.restart;
  spec.stop_signal = svc.stop_signal;
  spec.stop_grace = svc.stop_grace_period;

  std::map<std::string, std::string> env = svc.environment;
  env["PORT"] = std::to_string(spec.port);
  env["SLIPWAY_PROJECT"] = project_.name;
  env["SLIPWAY_SERVICE"] = svc.name;
  env["SLIPWAY_INSTANCE"] = std::to_string(index);

  if (svc.RunsInContainer()) {
    SLIPWAY_CHECK(container_ && container_->ok());  // CheckStartable ran first
    spec.process =
        (*container_)
            ->BuildRunSpec(project_.name, svc, index, env, set, runtime::HostEntries(project_));
    spec.process.env = opts_.base_env;
    spec.process.cwd = svc.working_dir;
    return spec;
  }
  std::vector<std::string> argv;
  if (svc.host_command) {
    argv = *svc.host_command;
  } else {
    if (svc.entrypoint) argv = *svc.entrypoint;
    if (svc.command) argv.insert(argv.end(), svc.command->begin(), svc.command->end());
  }
  if (argv.empty()) {
    return InvalidInput(
        fmt::format("{}: services.{}: nothing to run on the host (give it "
                    "command, entrypoint or x-slipway.command)",
                    svc.loc.ToString(), svc.name));
  }
  spec.process.argv = std::move(argv);
  spec.process.env = opts_.base_env;
  for (auto& [k, v] : env) spec.process.env[k] = v;
  spec.process.cwd = svc.working_dir;
  spec.process.user = svc.user;
  spec.process.hosts_file = runtime::ServiceNamesFor(project_, svc.name);  // `db` resolves
  runtime::HostMounts mounts = runtime::HostMountsFor(project_, svc);
  spec.process.mounts = std::move(mounts.mounts);
  for (auto& [k, v] : mounts.env) spec.process.env[k] = v;
  if (svc.resources.HasLimits()) {
    if (!cgroups_) {
      cgroups_ = opts_.probe_cgroups ? opts_.probe_cgroups() : runtime::CgroupHost::Probe();
    }
    if (cgroups_->usable()) {
      std::string name = fmt::format("slipway-{}-{}{}-{}", project_.name, svc.name,
                                     set.empty() ? "" : "-" + set, index);
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
          c = '_';
        }
      }
      auto group = cgroups_->Create(name, svc.resources);
      if (!group.ok()) {
        return group.status().WithContext(
            fmt::format("services.{}: deploy.resources.limits", svc.name));
      }
      spec.process.cgroup = *group;
    } else if (limit_warned_.insert(svc.name).second) {
      std::string w = fmt::format(
          "services.{}: deploy.resources.limits ({}) not applied to the host process: {}", svc.name,
          svc.resources.LimitsText(), cgroups_->why_not());
      Record(svc.name, 0, EventKind::kWarning, w);
      logging::Warn("engine", w, {{"service", svc.name}});
      warnings_.push_back(std::move(w));
    }
  }
  return spec;
}

Result<std::unique_ptr<Engine::InstanceRun>> Engine::MakeInstance(const config::Service& svc,
                                                                  int index, const std::string& set,
                                                                  int port) {
  const std::string tag = set.empty() ? "" : set + ": ";  // prefix of its event messages
  auto spec = BuildInstanceSpec(svc, index, set, port);
  if (!spec.ok()) return spec.status();
  auto alive = alive_;
  const std::string name = svc.name;
  auto ir = std::make_unique<InstanceRun>();
  ir->cgroup = spec->process.cgroup;
  InstanceRun* irp = ir.get();
  runtime::Instance::Observer obs;
  obs.on_started = [this, alive, irp, name, tag](runtime::Instance& inst) {
    if (!*alive) return;
    Record(name, inst.spec().index, irp->ever_started ? EventKind::kRestarted : EventKind::kStarted,
           fmt::format("{}pid {}, PORT {}", tag, inst.pid(), inst.spec().port));
    irp->ever_started = true;
    if (irp->health) irp->health->Start();
    NotifyTopology();
    Pump();
  };
  obs.on_exit = [this, alive, irp, name, tag](runtime::Instance& inst, runtime::ExitStatus st,
                                              bool will_restart) {
    if (!*alive) return;
    if (irp->health) irp->health->Stop();
    std::string msg = tag + st.ToString();
    if (will_restart) {
      auto wait = std::chrono::duration_cast<Duration>(inst.next_restart_at() - loop_->Now());
      msg += fmt::format("; restarting in {} ms", std::max<int64_t>(0, wait.count()));
    }
    Record(name, inst.spec().index, EventKind::kExited, msg);
    NotifyTopology();
    Pump();
  };
  obs.on_spawn_error = [this, alive, irp, name, tag](runtime::Instance& inst, const Status& st) {
    if (!*alive) return;
    irp->spawn_failed = true;
    Record(name, inst.spec().index, EventKind::kFailed, tag + st.message());
    Pump();
  };
  ir->instance =
      std::make_unique<runtime::Instance>(loop_, std::move(spec).value(), logs_, std::move(obs));
  ir->instance->SetProcessHost(host_);
  ir->instance->SetProcessKeeper(opts_.process_keeper);
  if (svc.healthcheck.kind != config::Healthcheck::Kind::kNone) {
    health::ProbeTarget target;
    target.port = ir->instance->spec().port;
    target.exec_base = ir->instance->spec().process;
    if (svc.RunsInContainer()) {  // CMD probes run inside the container, as compose does
      target.exec_prefix = (*container_)
                               ->ExecArgv(runtime::ContainerEngine::ContainerName(
                                   project_.name, svc.name, index, set));
    }
    Host* host = host_;
    net::EventLoop* loop = loop_;
    auto prober = [host, loop, hc = svc.healthcheck,
                   target = std::move(target)](std::function<void(health::ProbeResult)> done) {
      host->Probe(loop, hc, target, std::move(done));
    };
    ir->health = health::HealthMonitor::WithProber(
        loop_, svc.healthcheck, std::move(prober),
        [this, alive, name, index, tag](HealthState, HealthState now,
                                        const health::ProbeResult& last) {
          if (!*alive) return;
          // A monitor exists only with a probe: its state is never kNone.
          if (std::optional<EventKind> kind = HealthEventKind(now)) {
            Record(name, index, *kind, tag + last.output);
          }
          NotifyTopology();
          Pump();
        });
  }
  return ir;
}

void Engine::Bury(std::vector<std::unique_ptr<InstanceRun>> dead) {
  // Instances may be the very ones whose callback led here: destroy them from the loop.
  if (dead.empty()) return;
  auto graveyard = std::make_shared<std::vector<std::unique_ptr<InstanceRun>>>(std::move(dead));
  loop_->Post([graveyard] {});
}

Status Engine::StartService(ServiceRun& run) {
  const config::Service& svc = project_.services.at(run.name);
  std::string hash = SpecHash(svc);
  // A restart of the same definition is the same release; a changed one is a new release; a
  // deploy's recreate names the release it runs (SetServiceSpec), changed or not.
  const Group* before = run.Primary();
  int64_t release = before ? before->release : 0;
  bool same = release > 0 && hash == before->spec_hash;
  if (auto pin = pinned_release_.find(run.name); pin != pinned_release_.end()) {
    release = pin->second;
    same = true;
    pinned_release_.erase(pin);
  }
  for (auto& [set, g] : run.groups) Bury(std::move(g->instances));
  run.groups.clear();
  run.spawn_error.clear();
  run.started = true;
  // Started again after it ran: what asks for it restarts once this is ready again.
  if (run.ran_before) MarkDependentsDue(run.name);
  run.ran_before = true;
  if (!same) release = record_release_ ? record_release_(svc, hash) : 0;
  auto group = std::make_unique<Group>();
  group->set = SetName(release);
  group->release = release;
  group->spec = svc;
  group->spec_hash = hash;
  run.primary = group->set;
  Group& g = *group;
  run.groups[run.primary] = std::move(group);
  const std::string name = svc.name;

  for (int index = 1; index <= svc.replicas; ++index) {
    auto ir = MakeInstance(svc, index, "");
    if (!ir.ok()) {
      run.spawn_error = ir.status().message();
      Record(name, index, EventKind::kFailed, run.spawn_error);
      return ir.status();
    }
    g.instances.push_back(std::move(ir).value());
  }
  for (auto& ir : g.instances) {
    Status st = ir->instance->Start();
    if (!st.ok()) {
      run.spawn_error = st.message();
      Record(name, ir->instance->spec().index, EventKind::kFailed, st.message());
      return st;
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------
// Groups

namespace {
// The set of a group started without releases (release 0); a release's is "r<number>".
constexpr std::string_view kUnreleasedSet = "current";
}  // namespace

std::string Engine::SetName(int64_t release) {
  return release > 0 ? fmt::format("r{}", release) : std::string(kUnreleasedSet);
}

Result<int64_t> Engine::ParseSetName(std::string_view name) {
  if (name == kUnreleasedSet) return int64_t{0};
  int64_t release = 0;
  if (name.size() >= 2 && name.size() <= 20 && name[0] == 'r' && name[1] != '0') {
    auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), release);
    if (ec == std::errc() && end == name.data() + name.size() && release > 0) return release;
  }
  return InvalidInput(fmt::format("\"{}\" is not an instance set name (\"{}\" or r<release>)",
                                  name.substr(0, std::min<size_t>(name.size(), 64)),
                                  kUnreleasedSet));
}

Engine::Group* Engine::FindGroup(const std::string& service, const std::string& set) {
  auto it = runs_.find(service);
  if (it == runs_.end() || !it->second->started) return nullptr;
  auto g = it->second->groups.find(set);
  return g == it->second->groups.end() ? nullptr : g->second.get();
}

Status Engine::StartGroup(const std::string& service, const config::Service& spec, int64_t release,
                          int count) {
  auto it = runs_.find(service);
  if (it == runs_.end() || !it->second->started || it->second->stopping) {
    return FailedPrecondition(fmt::format("service {} is not running (start it with up)", service));
  }
  ServiceRun& run = *it->second;
  std::string set = SetName(release);
  if (run.groups.count(set)) {
    return AlreadyExists(fmt::format("{}: set {} already exists", service, set));
  }
  auto group = std::make_unique<Group>();
  group->set = set;
  group->release = release;
  group->spec = spec;
  group->spec_hash = SpecHash(spec);
  run.groups[set] = std::move(group);
  if (count < 0) count = spec.replicas;
  return ResizeGroup(service, set, count, Duration(0), [] {});
}

Status Engine::ResizeGroup(const std::string& service, const std::string& set, int count,
                           Duration drain, std::function<void()> done) {
  Group* group = FindGroup(service, set);
  if (!group) return NotFound(fmt::format("{}: no instance set {}", service, set));
  std::vector<InstanceRun*> staying;
  int top = 0;
  for (auto& ir : group->instances) {
    top = std::max(top, ir->instance->spec().index);
    if (!ir->leaving) staying.push_back(ir.get());
  }
  const config::Service svc = group->spec;  // copy: MakeInstance may outlive a promotion
  while (static_cast<int>(staying.size()) < count) {
    ASSIGN_OR_RETURN(auto ir, MakeInstance(svc, ++top, set));
    InstanceRun* raw = ir.get();
    group->instances.push_back(std::move(ir));
    staying.push_back(raw);
    RETURN_IF_ERROR(raw->instance->Start());
  }
  std::vector<InstanceRun*> leaving;
  std::sort(staying.begin(), staying.end(), [](InstanceRun* a, InstanceRun* b) {
    return a->instance->spec().index > b->instance->spec().index;
  });
  for (InstanceRun* ir : staying) {
    if (static_cast<int>(staying.size() - leaving.size()) <= count) break;
    ir->leaving = true;
    leaving.push_back(ir);
  }
  if (leaving.empty()) {
    loop_->Post(std::move(done));
    return Status::OK();
  }
  NotifyTopology();  // out of the routes first, then stopped after the drain
  auto alive = alive_;
  loop_->RunAfter(drain, [this, alive, service, set, done = std::move(done)]() mutable {
    if (!*alive) return;
    Group* g = FindGroup(service, set);
    if (!g) {
      done();
      return;
    }
    auto remaining = std::make_shared<size_t>(0);
    auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
    std::vector<InstanceRun*> to_stop;
    for (auto& ir : g->instances) {
      if (ir->leaving) to_stop.push_back(ir.get());
    }
    *remaining = to_stop.size();
    if (to_stop.empty()) {
      (*shared_done)();
      return;
    }
    for (InstanceRun* ir : to_stop) {
      if (ir->health) ir->health->Stop();
      ir->instance->Stop([this, alive, service, set, ir, remaining, shared_done] {
        if (!*alive) return;
        if (Group* left = FindGroup(service, set)) {
          auto& list = left->instances;
          for (auto it = list.begin(); it != list.end(); ++it) {
            if (it->get() != ir) continue;
            std::vector<std::unique_ptr<InstanceRun>> dead;
            dead.push_back(std::move(*it));
            list.erase(it);
            Bury(std::move(dead));
            break;
          }
        }
        NotifyTopology();
        if (--*remaining == 0) loop_->Post([shared_done] { (*shared_done)(); });
      });
    }
  });
  return Status::OK();
}

Status Engine::StopGroup(const std::string& service, const std::string& set, Duration drain,
                         std::function<void()> done) {
  auto it = runs_.find(service);
  if (it == runs_.end()) return NotFound("no such service: " + service);
  ServiceRun& run = *it->second;
  if (run.primary == set) {
    return FailedPrecondition(fmt::format("{}: {} is the primary set", service, set));
  }
  if (!run.groups.count(set)) return NotFound(fmt::format("{}: no instance set {}", service, set));
  auto alive = alive_;
  return ResizeGroup(service, set, 0, drain, [this, alive, service, set, done = std::move(done)] {
    if (!*alive) return;
    auto r = runs_.find(service);
    if (r != runs_.end()) {
      auto g = r->second->groups.find(set);
      if (set != r->second->primary && g != r->second->groups.end() &&
          g->second->instances.empty()) {
        r->second->groups.erase(g);
      }
    }
    NotifyTopology();
    done();
  });
}

Status Engine::Promote(const std::string& service, const std::string& set) {
  auto it = runs_.find(service);
  if (it == runs_.end() || !it->second->started) return NotFound("no such service: " + service);
  ServiceRun& run = *it->second;
  if (run.primary == set) return Status::OK();
  auto next = run.groups.find(set);
  if (next == run.groups.end()) {
    return NotFound(fmt::format("{}: no instance set {}", service, set));
  }
  // The former primary group stays as a side group (still running, still routable) unless
  // nothing of it is left.
  auto old = run.groups.find(run.primary);
  if (old != run.groups.end() && old->second->instances.empty()) run.groups.erase(old);
  run.primary = set;
  run.spawn_error.clear();
  project_.services[service] = next->second->spec;
  // Replaced by a deploy or a rollback: dependents that ask for it restart (once ready).
  MarkDependentsDue(service);
  NotifyTopology();
  Pump();
  return Status::OK();
}

GroupStatus Engine::GroupState(const std::string& service, const std::string& set) const {
  GroupStatus gs;
  const ServiceRun* run = FindRun(service);
  if (!run || !run->started) return gs;
  auto found = run->groups.find(set);
  if (found == run->groups.end()) return gs;
  const Group& group = *found->second;
  gs.primary = run->primary == set;
  gs.release = group.release;
  gs.exists = true;
  bool has_health = group.spec.healthcheck.kind != config::Healthcheck::Kind::kNone;
  for (const auto& ir : group.instances) {
    if (ir->leaving) continue;
    const runtime::Instance& inst = *ir->instance;
    ++gs.instances;
    gs.restarts += inst.restarts();
    bool running = inst.state() == InstanceState::kRunning;
    if (running) {
      ++gs.running;
      gs.addresses.emplace_back(fmt::format("{}.{}", service, inst.spec().index), inst.spec().port);
    }
    bool crashed = ir->spawn_failed || inst.state() == InstanceState::kFailed ||
                   (inst.last_exit() && !inst.last_exit()->success() &&
                    inst.state() != InstanceState::kStopping);
    if (crashed) {
      ++gs.crashed;
      if (gs.problem.empty()) {
        gs.problem = fmt::format("{}.{} {}", service, inst.spec().index,
                                 inst.last_exit() ? inst.last_exit()->ToString() : "failed");
      }
    }
    if (ir->health) {
      gs.max_failing_streak = std::max(gs.max_failing_streak, ir->health->failing_streak());
      if (ir->health->state() == HealthState::kUnhealthy) {
        ++gs.unhealthy;
        if (gs.problem.empty()) {
          gs.problem = fmt::format("{}.{} is unhealthy", service, inst.spec().index);
          if (ir->health->last() && !ir->health->last()->output.empty()) {
            gs.problem += ": " + ir->health->last()->output;
          }
        }
      }
    }
    if (running && (!has_health || (ir->health && ir->health->state() == HealthState::kHealthy))) {
      ++gs.ready;
    }
  }
  return gs;
}

std::string Engine::PrimarySet(const std::string& service) const {
  const ServiceRun* run = FindRun(service);
  return run && run->started ? run->primary : "";
}

int64_t Engine::PrimaryRelease(const std::string& service) const {
  const ServiceRun* run = FindRun(service);
  const Group* g = run && run->started ? run->Primary() : nullptr;
  return g ? g->release : 0;
}

const config::Service* Engine::RunningSpec(const std::string& service) const {
  const ServiceRun* run = FindRun(service);
  const Group* g = run && run->started ? run->Primary() : nullptr;
  return g ? &g->spec : nullptr;
}

const config::Service* Engine::GroupSpec(const std::string& service, const std::string& set) const {
  const ServiceRun* run = FindRun(service);
  if (!run || !run->started) return nullptr;
  auto g = run->groups.find(set);
  return g == run->groups.end() ? nullptr : &g->second->spec;
}

// ---------------------------------------------------------------------------------------
// Stop

void Engine::Stop(std::vector<std::string> services, std::function<void()> done) {
  // Only the named services stop (as compose does): dependents keep running and their own
  // health checks report what they think of it.
  std::set<std::string> names;
  if (services.empty()) {
    for (const auto& [name, run] : runs_) {
      if (run->started) names.insert(name);
    }
  } else {
    names.insert(services.begin(), services.end());
  }
  // Up operations waiting on a service that is going away can never finish.
  for (size_t i = 0; i < ops_.size();) {
    bool hit = std::any_of(ops_[i]->order.begin(), ops_[i]->order.end(),
                           [&](const std::string& n) { return names.count(n) > 0; });
    if (hit) {
      FinishOp(i, Aborted("stopped while starting"));
    } else {
      ++i;
    }
  }
  std::vector<std::string> order =
      StopOrder(project_, std::vector<std::string>(names.begin(), names.end()));
  StopServices(std::move(order), std::move(done));
}

// Services stop in parallel except where one depends on another: a service stops once
// every service in the plan that depends on it (directly, or through services outside the
// plan) has stopped. Blockers are only taken from earlier in StopOrder, so a dependency
// cycle cannot deadlock the plan.
struct Engine::StopPlan {
  std::vector<std::string> order;
  std::map<std::string, std::set<std::string>> waits_for;  // service → blockers still running
  std::set<std::string> launched;
  size_t remaining = 0;
  std::function<void()> done;
};

void Engine::StopServices(std::vector<std::string> order, std::function<void()> done) {
  auto plan = std::make_shared<StopPlan>();
  plan->remaining = order.size();
  plan->done = std::move(done);
  for (size_t i = 0; i < order.size(); ++i) {
    // Everything that depends on order[i], transitively through the whole project.
    std::set<std::string> dependents;
    std::vector<std::string> todo = {order[i]};
    while (!todo.empty()) {
      std::string n = todo.back();
      todo.pop_back();
      for (const std::string& d : Dependents(project_, n)) {
        if (dependents.insert(d).second) todo.push_back(d);
      }
    }
    std::set<std::string>& waits = plan->waits_for[order[i]];
    for (size_t j = 0; j < i; ++j) {
      if (dependents.count(order[j])) waits.insert(order[j]);
    }
  }
  plan->order = std::move(order);
  if (plan->remaining == 0) {
    plan->done();
    return;
  }
  LaunchReadyStops(std::move(plan));
}

void Engine::LaunchReadyStops(std::shared_ptr<StopPlan> plan) {
  auto alive = alive_;
  for (const std::string& name : plan->order) {
    if (plan->launched.count(name) || !plan->waits_for[name].empty()) continue;
    plan->launched.insert(name);
    StopService(name, [this, alive, plan, name] {
      if (!*alive) return;
      for (auto& [_, waits] : plan->waits_for) waits.erase(name);
      if (--plan->remaining == 0) {
        plan->done();
        return;
      }
      LaunchReadyStops(plan);
    });
  }
}

// Stops every instance of `name` (and its deploy side groups); `stopped` runs from the loop
// once the last one has exited.
void Engine::StopService(const std::string& name, std::function<void()> stopped) {
  auto alive = alive_;
  auto it = runs_.find(name);
  if (it == runs_.end() || !it->second->started || it->second->InstanceCount() == 0) {
    if (it != runs_.end()) it->second->started = false;
    loop_->Post([alive, stopped = std::move(stopped)] {
      if (*alive) stopped();
    });
    return;
  }
  ServiceRun& run = *it->second;
  run.stopping = true;
  std::vector<InstanceRun*> all;
  for (auto& [set, g] : run.groups) {
    for (auto& ir : g->instances) all.push_back(ir.get());
  }
  auto remaining = std::make_shared<size_t>(all.size());
  auto shared_stopped = std::make_shared<std::function<void()>>(std::move(stopped));
  for (InstanceRun* ir : all) {
    if (ir->health) ir->health->Stop();
    ir->instance->Stop([this, alive, &run, remaining, shared_stopped] {
      if (!*alive || --*remaining > 0) return;
      run.started = false;
      run.stopping = false;
      // Side groups go; the primary group's (stopped) instances stay for ps and for the
      // next start's release.
      for (auto it = run.groups.begin(); it != run.groups.end();) {
        if (it->first == run.primary) {
          ++it;
          continue;
        }
        Bury(std::move(it->second->instances));
        it = run.groups.erase(it);
      }
      Record(run.name, 0, EventKind::kStopped, "");
      NotifyTopology();
      // Continue from the loop, not from inside the last instance's callback.
      loop_->Post([alive, shared_stopped] {
        if (*alive) (*shared_stopped)();
      });
    });
  }
}

Status Engine::CheckServices(const std::vector<std::string>& services) const {
  return CheckServiceNames(project_, services);
}

void Engine::Restart(std::vector<std::string> services, std::function<void(Status)> done) {
  // Checked before the stop: a refused restart leaves what runs untouched.
  if (Status st = CheckServices(services); !st.ok()) {
    done(st);
    return;
  }
  auto alive = alive_;
  Stop(services, [this, alive, services, done = std::move(done)] {
    if (*alive) Up(services, UpOptions{}, done);
  });
}

void Engine::NotifyTopology() {
  SaveRunningSnapshot();
  if (on_topology_) on_topology_();
}

namespace {

constexpr char kRunningKey[] = "engine.running";

// A group or instance read back from the snapshot; anything malformed is skipped.
struct SavedInstance {
  int index = 0;
  int port = 0;
  pid_t pid = 0;
  uint64_t start_time = 0;
  int restarts = 0;
  std::optional<runtime::InstanceState> state;  // saved as InstanceStateName; unknown: none
  health::HealthState health = HealthState::kNone;
  std::string made_for;  // InstanceSpec::set
  std::optional<runtime::ExitStatus> exit;
};

struct SavedGroup {
  std::string service;
  std::string set;
  int64_t release = 0;
  std::string spec_hash;
  bool primary = false;
  std::vector<SavedInstance> instances;
};

// The snapshot holds the runtime's and the health module's own names for their states; they
// are read back through the same name functions, so each name is written once.
std::optional<runtime::InstanceState> ParseInstanceState(const std::string& s) {
  using S = runtime::InstanceState;
  for (S v : {S::kCreated, S::kRunning, S::kBackoff, S::kStopping, S::kExited, S::kFailed}) {
    if (runtime::InstanceStateName(v) == s) return v;
  }
  return std::nullopt;
}

health::HealthState ParseHealth(const std::string& s) {
  for (HealthState v : {HealthState::kStarting, HealthState::kHealthy, HealthState::kUnhealthy}) {
    if (health::HealthStateName(v) == s) return v;
  }
  return HealthState::kNone;
}

// Typed reads of one row of the snapshot. nlohmann's value()/get<>() throw on a key present
// with another type, and the snapshot is a file on disk that a crash, a disk fault or a hand
// may have damaged: a key that is absent keeps its default, one of the wrong type or out of
// range is remembered (the first one) so the row is retired with a warning naming it.
class SnapshotRow {
 public:
  explicit SnapshotRow(const nlohmann::json& row) : row_(row) {}

  std::string Str(const char* key, size_t max_size = 256) {
    const nlohmann::json* v = Find(key);
    if (!v) return "";
    if (!v->is_string() || v->get_ref<const std::string&>().size() > max_size) {
      Bad(key, fmt::format("expected a string of at most {} bytes", max_size));
      return "";
    }
    return v->get<std::string>();
  }
  int64_t Int(const char* key, int64_t min, int64_t max) {
    const nlohmann::json* v = Find(key);
    if (!v) return std::max<int64_t>(min, 0);
    bool in_range = false;
    int64_t n = 0;
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      in_range = u <= static_cast<uint64_t>(max);
      n = in_range ? static_cast<int64_t>(u) : 0;
      in_range = in_range && n >= min;
    } else if (v->is_number_integer()) {
      n = v->get<int64_t>();
      in_range = n >= min && n <= max;
    }
    if (!in_range) {
      Bad(key, fmt::format("expected an integer from {} to {}", min, max));
      return std::max<int64_t>(min, 0);
    }
    return n;
  }
  uint64_t Unsigned(const char* key) {
    const nlohmann::json* v = Find(key);
    if (!v) return 0;
    if (!v->is_number_unsigned()) {
      Bad(key, "expected an unsigned integer");
      return 0;
    }
    return v->get<uint64_t>();
  }
  bool Bool(const char* key, bool fallback) {
    const nlohmann::json* v = Find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) {
      Bad(key, "expected true or false");
      return fallback;
    }
    return v->get<bool>();
  }
  // An array (absent: empty); anything else is a mistake.
  const nlohmann::json& Array(const char* key) {
    static const nlohmann::json kEmpty = nlohmann::json::array();
    const nlohmann::json* v = Find(key);
    if (!v) return kEmpty;
    if (!v->is_array()) {
      Bad(key, "expected an array");
      return kEmpty;
    }
    return *v;
  }
  // A nested object (absent: nullptr); anything else is a mistake.
  const nlohmann::json* Object(const char* key) {
    const nlohmann::json* v = Find(key);
    if (v && !v->is_object()) {
      Bad(key, "expected an object");
      return nullptr;
    }
    return v;
  }
  void Bad(std::string_view key, std::string_view what) {
    if (problem_.empty()) problem_ = fmt::format("\"{}\": {}", key, what);
  }
  // The first mistake ("" when none): `"port": expected an integer from 0 to 65535`.
  const std::string& problem() const { return problem_; }

 private:
  const nlohmann::json* Find(const char* key) const {
    if (!row_.is_object()) return nullptr;
    auto it = row_.find(key);
    return it == row_.end() ? nullptr : &*it;
  }

  const nlohmann::json& row_;
  std::string problem_;
};

// One line about a row of the snapshot that is left out (Recover() takes over the rest).
void RetireRow(const std::string& where, const std::string& problem) {
  logging::Warn("engine", fmt::format("snapshot {}: {}: {}; that row is left out", kRunningKey,
                                      where, problem));
}

std::vector<SavedGroup> ParseGroups(const nlohmann::json& j) {
  std::vector<SavedGroup> out;
  SnapshotRow top(j);
  const nlohmann::json& groups = top.Array("groups");
  if (!top.problem().empty()) RetireRow("top level", top.problem());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const nlohmann::json& g = groups[gi];
    const std::string where = fmt::format("groups[{}]", gi);
    if (!g.is_object()) {
      RetireRow(where, "expected an object");
      continue;
    }
    SnapshotRow row(g);
    SavedGroup sg;
    sg.service = row.Str("service");
    sg.set = row.Str("set");
    sg.release = row.Int("release", 0, std::numeric_limits<int64_t>::max());
    sg.spec_hash = row.Str("spec_hash");
    sg.primary = row.Bool("primary", false);
    const nlohmann::json& instances = row.Array("instances");
    if (row.problem().empty() && (sg.service.empty() || sg.set.empty())) {
      row.Bad(sg.service.empty() ? "service" : "set", "missing");
    }
    if (row.problem().empty()) {
      // The set is the release's (Engine::SetName): anything else is not a group we made.
      Result<int64_t> named = Engine::ParseSetName(sg.set);
      if (!named.ok()) {
        row.Bad("set", named.status().message());
      } else if (*named != sg.release) {
        row.Bad("set",
                fmt::format("names release {}, not the group's release {}", *named, sg.release));
      }
    }
    if (!row.problem().empty()) {
      RetireRow(where, row.problem());
      continue;
    }
    for (size_t ii = 0; ii < instances.size(); ++ii) {
      const nlohmann::json& i = instances[ii];
      const std::string iwhere = fmt::format("{} ({}).instances[{}]", where, sg.service, ii);
      if (!i.is_object()) {
        RetireRow(iwhere, "expected an object");
        continue;
      }
      SnapshotRow irow(i);
      SavedInstance si;
      si.index = static_cast<int>(irow.Int("index", 1, 100'000));
      si.port = static_cast<int>(irow.Int("port", 0, 65535));
      si.pid = static_cast<pid_t>(irow.Int("pid", 0, std::numeric_limits<pid_t>::max()));
      si.start_time = irow.Unsigned("start");
      si.restarts = static_cast<int>(irow.Int("restarts", 0, std::numeric_limits<int>::max()));
      si.state = ParseInstanceState(irow.Str("state"));
      si.health = ParseHealth(irow.Str("health"));
      si.made_for = irow.Str("made_for");
      if (const nlohmann::json* e = irow.Object("exit")) {
        SnapshotRow erow(*e);
        runtime::ExitStatus st;
        st.signaled = erow.Bool("signaled", false);
        st.code = static_cast<int>(
            erow.Int("code", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
        st.signal = static_cast<int>(erow.Int("signal", 0, 255));
        st.known = erow.Bool("known", true);
        if (!erow.problem().empty()) irow.Bad("exit", erow.problem());
        si.exit = st;
      }
      if (irow.problem().empty() && !i.contains("index")) irow.Bad("index", "missing");
      if (!irow.problem().empty()) {
        RetireRow(iwhere, irow.problem());
        continue;
      }
      sg.instances.push_back(std::move(si));
    }
    out.push_back(std::move(sg));
  }
  return out;
}

bool RestartsAfter(const config::RestartPolicy& policy, const runtime::ExitStatus& st,
                   int restarts) {
  using Mode = config::RestartPolicy::Mode;
  switch (policy.mode) {
    case Mode::kNo:
      return false;
    case Mode::kAlways:
    case Mode::kUnlessStopped:
      return true;
    case Mode::kOnFailure:
      return !st.success() && (policy.max_attempts <= 0 || restarts < policy.max_attempts);
  }
  return false;
}

}  // namespace

// What Recover() needs after a SIGKILL of the daemon:
//   {"version": 2, "services": [names that are up],
//    "processes": [[pid, start time], ...],            (every live process, for stopping)
//    "groups": [{"service", "set", "release", "spec_hash", "primary",
//                "instances": [{"index", "port", "pid", "start", "restarts", "state",
//                               "health", "made_for", "exit"}]}]}
// No environment and no spec: nothing secret is written here.
void Engine::SaveRunningSnapshot() {
  nlohmann::json services = nlohmann::json::array();
  nlohmann::json procs = nlohmann::json::array();
  nlohmann::json groups = nlohmann::json::array();
  std::map<pid_t, uint64_t> seen;
  auto add = [&](const std::string& service, const std::string& set, int64_t release,
                 const std::string& hash, bool primary,
                 const std::vector<std::unique_ptr<InstanceRun>>& list) {
    nlohmann::json instances = nlohmann::json::array();
    for (const auto& ir : list) {
      if (!ir->instance) continue;
      const runtime::Instance& inst = *ir->instance;
      pid_t pid =
          inst.state() == InstanceState::kRunning || inst.state() == InstanceState::kStopping
              ? inst.pid()
              : 0;
      uint64_t t = 0;
      if (pid > 0) {
        auto it = start_times_.find(pid);
        t = it != start_times_.end() ? it->second : host_->StartTime(pid);
        if (t != 0) {
          seen[pid] = t;
          procs.push_back({pid, t});
        }
      }
      if (ir->leaving) continue;  // on its way out: stopped after a crash, not adopted
      nlohmann::json row = {
          {"index", inst.spec().index},
          {"port", inst.spec().port},
          {"restarts", inst.restarts()},
          {"state", std::string(runtime::InstanceStateName(inst.state()))},
          {"health", ir->health ? std::string(health::HealthStateName(ir->health->state())) : ""},
          {"made_for", inst.spec().set}};
      if (inst.last_exit()) {
        row["exit"] = {{"signaled", inst.last_exit()->signaled},
                       {"code", inst.last_exit()->code},
                       {"signal", inst.last_exit()->signal},
                       {"known", inst.last_exit()->known}};
      }
      if (pid > 0 && t != 0) {
        row["pid"] = pid;
        row["start"] = t;
      }
      instances.push_back(std::move(row));
    }
    groups.push_back({{"service", service},
                      {"set", set},
                      {"release", release},
                      {"spec_hash", hash},
                      {"primary", primary},
                      {"instances", std::move(instances)}});
  };
  for (const auto& [name, run] : runs_) {
    if (!run->started || run->stopping) continue;
    services.push_back(name);
    for (const Group* g : run->Ordered()) {
      add(name, g->set, g->release, g->spec_hash, g->set == run->primary, g->instances);
    }
  }
  // Processes of services on their way down are still ours to stop after a crash.
  for (const auto& [name, run] : runs_) {
    if (!run->stopping) continue;
    auto note = [&](const std::vector<std::unique_ptr<InstanceRun>>& list) {
      for (const auto& ir : list) {
        pid_t pid = ir->instance ? ir->instance->pid() : 0;
        uint64_t t = pid > 0 ? host_->StartTime(pid) : 0;
        if (t == 0) continue;
        seen[pid] = t;
        procs.push_back({pid, t});
      }
    };
    for (const auto& [set, g] : run->groups) note(g->instances);
  }
  start_times_ = std::move(seen);
  std::string text = nlohmann::json{
      {"version", 2},
      {"services", services},
      {"processes", procs},
      {"groups", groups}}.dump();
  if (text == saved_snapshot_) return;
  saved_snapshot_ = text;
  if (Status st = store_->SetMeta(kRunningKey, text); !st.ok()) {
    logging::Error("engine", "saving the running services: " + st.message());
  }
}

config::Service Engine::RecoveredSpec(const std::string& service, const std::string& saved_hash,
                                      const std::vector<pid_t>& pids) {
  const config::Service& file = project_.services.at(service);
  if (SpecHash(file) == saved_hash) return file;
  if (!file.RunsInContainer()) {
    // A deploy's spec is the file's plus --env values (or the file under another
    // environment): rebuild `environment` from what the process was started with.
    for (pid_t pid : pids) {
      std::map<std::string, std::string> env = host_->Environment(pid);
      if (env.empty()) continue;
      config::Service candidate = file;
      candidate.environment.clear();
      for (const auto& [k, v] : env) {
        bool ours = k == "PORT" || k == "SLIPWAY_PROJECT" || k == "SLIPWAY_SERVICE" ||
                    k == "SLIPWAY_INSTANCE";
        if (ours) {
          if (auto f = file.environment.find(k); f != file.environment.end()) {
            candidate.environment[k] = f->second;
          }
          continue;
        }
        if (!file.environment.count(k)) {
          auto b = opts_.base_env.find(k);
          if (b != opts_.base_env.end() && b->second == v) continue;
        }
        candidate.environment[k] = v;
      }
      if (SpecHash(candidate) == saved_hash) return candidate;
    }
  }
  logging::Warn("engine",
                "the running definition of " + service +
                    " could not be rebuilt exactly; its instances are adopted, and restarts "
                    "use the compose file's definition",
                {{"service", service}});
  return file;
}

void Engine::Recover(std::function<void(Status, RecoverReport)> done) {
  auto saved = store_->GetMeta(kRunningKey);
  nlohmann::json j =
      saved.ok() && *saved ? nlohmann::json::parse(**saved, nullptr, false) : nlohmann::json();
  if (!j.is_object()) {
    // Truncated or damaged: nothing can be taken over, and every service starts again.
    if (saved.ok() && *saved) {
      logging::Warn("engine", fmt::format("snapshot {}: not a JSON object (damaged?); nothing "
                                          "is taken over",
                                          kRunningKey));
    }
    j = nlohmann::json::object();
  }
  SnapshotRow top(j);
  std::vector<std::string> services;
  const nlohmann::json& saved_services = top.Array("services");
  for (size_t i = 0; i < saved_services.size(); ++i) {
    const nlohmann::json& s = saved_services[i];
    if (!s.is_string()) {
      RetireRow(fmt::format("services[{}]", i), "expected a service name");
      continue;
    }
    if (project_.services.count(s.get_ref<const std::string&>())) {
      services.push_back(s.get<std::string>());
    }
  }
  // A container service's specs need the container engine (up's CheckStartable finds it
  // first); without one, that service is not taken over and its leftovers are stopped.
  std::erase_if(services, [this](const std::string& name) {
    if (!project_.services.at(name).RunsInContainer()) return false;
    if (!container_) {
      container_ =
          opts_.detect_container_engine
              ? opts_.detect_container_engine()
              : Result<runtime::ContainerEngine>(NotFound("no container engine configured"));
    }
    if (container_->ok()) return false;
    logging::Warn("engine", "not taking over a container service: no container engine answers",
                  {{"service", name}, {"error", container_->status().message()}});
    return true;
  });
  std::map<pid_t, uint64_t> leftovers;  // everything the dead daemon ran, minus what we adopt
  const nlohmann::json& saved_procs = top.Array("processes");
  for (size_t i = 0; i < saved_procs.size(); ++i) {
    const nlohmann::json& p = saved_procs[i];
    const bool pair =
        p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_unsigned();
    // An unsigned pid above INT64_MAX reads as negative here: refused with the rest.
    const int64_t pid = pair ? p[0].get<int64_t>() : 0;
    if (pair && pid > 1 && pid <= std::numeric_limits<pid_t>::max()) {
      leftovers[static_cast<pid_t>(pid)] = p[1].get<uint64_t>();
    } else {
      RetireRow(fmt::format("processes[{}]", i), "expected [pid, start time]");
    }
  }
  if (!top.problem().empty()) RetireRow("top level", top.problem());
  std::vector<SavedGroup> groups = ParseGroups(j);
  RecoverReport report;
  std::set<std::string> adopted_services;
  std::vector<std::pair<InstanceRun*, int>> to_start;  // died meanwhile: (run, restarts)
  runtime::ProcessKeeper* keeper = opts_.process_keeper;
  const std::set<std::string> up(services.begin(), services.end());
  MonoTime now = loop_->Now();

  // Primary groups first: a side group needs its service's run in place.
  std::stable_sort(groups.begin(), groups.end(),
                   [](const SavedGroup& a, const SavedGroup& b) { return a.primary > b.primary; });
  for (const SavedGroup& g : groups) {
    if (!up.count(g.service)) {  // gone from the project: its processes are stopped
      for (const SavedInstance& si : g.instances) {
        if (si.pid > 0 && keeper) {
          keeper->Drop(runtime::Instance::PipeKey(g.service, si.made_for, si.index, si.pid));
        }
      }
      continue;
    }
    auto existing = runs_.find(g.service);
    bool primary_in_place = existing != runs_.end() && existing->second->started;
    // One primary group per service; side groups only beside a primary group taken over
    // (else their processes are stopped with the leftovers).
    if (g.primary == primary_in_place) continue;
    if (!g.primary && existing->second->groups.count(g.set)) continue;
    std::vector<pid_t> live;
    for (const SavedInstance& si : g.instances) {
      if (si.pid > 1 && si.start_time != 0 && host_->StartTime(si.pid) == si.start_time) {
        live.push_back(si.pid);
      }
    }
    config::Service spec = RecoveredSpec(g.service, g.spec_hash, live);
    std::vector<std::unique_ptr<InstanceRun>> list;
    int kept = 0;
    for (const SavedInstance& si : g.instances) {
      bool alive = std::find(live.begin(), live.end(), si.pid) != live.end();
      const std::string tag = si.made_for.empty() ? "" : si.made_for + ": ";
      if (alive && keeper) {
        auto ir = MakeInstance(spec, si.index, si.made_for, si.port);
        if (ir.ok()) {
          runtime::AdoptedProcess ap;
          ap.pid = si.pid;
          ap.start_time = si.start_time;
          ap.restarts = si.restarts;
          ap.started_at = now - host_->Age(si.start_time);
          Status st = (*ir)->instance->Adopt(ap);
          if (st.ok()) {
            leftovers.erase(si.pid);
            (*ir)->ever_started = true;
            if ((*ir)->health) (*ir)->health->Resume(si.health);
            Record(g.service, si.index, EventKind::kAdopted,
                   fmt::format("{}pid {}, PORT {}, release {}, {} restart(s)", tag, si.pid, si.port,
                               g.release, si.restarts));
            ++report.adopted;
            ++kept;
            list.push_back(std::move(ir).value());
            continue;
          }
          logging::Warn("engine",
                        fmt::format("cannot adopt {}.{} (pid {}): {}; it is stopped and started "
                                    "again",
                                    g.service, si.index, si.pid, st.message()),
                        {{"service", g.service}});
        }
      }
      // Died meanwhile (or not adoptable: stopped with the leftovers, then started again).
      if (si.pid > 0 && keeper) {
        keeper->Drop(runtime::Instance::PipeKey(g.service, si.made_for, si.index, si.pid));
      }
      runtime::ExitStatus status;
      status.known = false;
      using runtime::InstanceState;
      const bool was_running = si.state == InstanceState::kRunning ||
                               si.state == InstanceState::kBackoff ||
                               si.state == InstanceState::kCreated;
      if (si.pid > 0 && keeper && !alive) {
        if (auto ws = keeper->ExitOf(si.pid)) status = runtime::ExitStatusFromWait(*ws);
      } else if (!was_running && si.exit) {
        status = *si.exit;
      }
      bool restart = alive || (was_running && RestartsAfter(spec.restart, status, si.restarts));
      auto ir = MakeInstance(spec, si.index, si.made_for);
      if (!ir.ok()) {
        Record(g.service, si.index, EventKind::kFailed, tag + ir.status().message());
        continue;
      }
      if (restart) {
        (*ir)->ever_started = true;  // its start is recorded as "restarted"
        to_start.emplace_back(ir->get(), si.restarts);
        if (si.pid > 0 && !alive) {
          Record(g.service, si.index, EventKind::kExited,
                 fmt::format("{}{} while no daemon ran; restarting", tag, status.ToString()));
        }
      } else {
        (*ir)->instance->MarkExited(status);
        if (si.pid > 0 && !alive) {
          Record(g.service, si.index, EventKind::kExited,
                 fmt::format("{}{} while no daemon ran", tag, status.ToString()));
        }
      }
      ++kept;
      list.push_back(std::move(ir).value());
    }
    ServiceRun& run = Run(g.service);
    if (!g.primary && list.empty()) continue;
    auto group = std::make_unique<Group>();
    group->set = g.set;
    group->release = g.release;
    group->spec = spec;
    group->spec_hash = SpecHash(spec);
    group->instances = std::move(list);
    if (g.primary) run.groups.clear();
    run.groups[g.set] = std::move(group);
    if (!g.primary) continue;
    run.primary = g.set;
    if (kept == 0) continue;  // nothing to take over: started again below, same release
    run.started = true;
    run.ran_before = true;  // a later restart of it is one (depends_on restart)
    // As after a promotion: the engine's definition is what the primary group runs, so
    // nothing takes it for a changed spec.
    project_.services[g.service] = spec;
    adopted_services.insert(g.service);
  }
  std::vector<std::string> restart_services;
  for (const std::string& s : services) {
    if (!adopted_services.count(s)) restart_services.push_back(s);
  }
  std::vector<runtime::LeftoverProcess> procs;
  procs.reserve(leftovers.size());
  for (const auto& [pid, t] : leftovers) procs.push_back({pid, t});
  report.stopped = static_cast<int>(procs.size());
  if (report.adopted > 0) NotifyTopology();
  // When every service has something taken over, the proxy need not wait for leftovers to
  // stop (up to 10 s): the answer goes now, the restarts follow once they are gone.
  if (restart_services.empty()) {
    report.restarted = static_cast<int>(to_start.size());
    done(Status::OK(), report);
    done = nullptr;
  }

  std::weak_ptr<bool> alive = alive_;
  runtime::StopLeftovers(
      loop_, std::move(procs), Duration(10'000),
      [this, alive, report, to_start, restart_services,
       done = std::move(done)](int stopped) mutable {
        if (alive.expired()) return;
        report.stopped = stopped;
        if (stopped > 0) {
          Record("", 0, EventKind::kRecovered,
                 fmt::format("stopped {} process(es) a dead daemon left", stopped));
        }
        // Only those still in place: a `down` may have come meanwhile.
        std::set<const InstanceRun*> present;
        for (const auto& [name, run] : runs_) {
          if (!run->started || run->stopping) continue;
          for (const auto& [set, g] : run->groups) {
            for (const auto& ir : g->instances) present.insert(ir.get());
          }
        }
        for (auto [ir, restarts] : to_start) {
          if (!present.count(ir) || ir->instance->state() != InstanceState::kCreated) continue;
          Status st = ir->instance->Start();
          if (!st.ok()) {
            Record(ir->instance->spec().service, ir->instance->spec().index, EventKind::kFailed,
                   st.message());
            continue;
          }
          ir->instance->set_restarts(restarts + 1);
          if (done) ++report.restarted;
        }
        if (restart_services.empty()) {
          NotifyTopology();
          if (done) done(Status::OK(), report);
          return;
        }
        UpOptions opts;
        opts.wait = true;  // the daemon publishes routes once they are ready
        opts.timeout = Duration(60'000);
        Up(std::move(restart_services), opts,
           [report, done = std::move(done)](Status st) { done(st, report); });
      });
}

// ---------------------------------------------------------------------------------------
// Views

std::string_view PsStateName(PsState s) {
  // The states an instance has are named as the runtime names them; ps adds two of its own.
  switch (s) {
    case PsState::kNotStarted:
      return "not started";
    case PsState::kCompleted:
      return "completed";
    case PsState::kCreated:
      return runtime::InstanceStateName(InstanceState::kCreated);
    case PsState::kRunning:
      return runtime::InstanceStateName(InstanceState::kRunning);
    case PsState::kBackoff:
      return runtime::InstanceStateName(InstanceState::kBackoff);
    case PsState::kStopping:
      return runtime::InstanceStateName(InstanceState::kStopping);
    case PsState::kExited:
      return runtime::InstanceStateName(InstanceState::kExited);
    case PsState::kFailed:
      return runtime::InstanceStateName(InstanceState::kFailed);
  }
  return "unknown";
}

namespace {

PsState StateOf(const runtime::Instance& inst) {
  switch (inst.state()) {
    case InstanceState::kCreated:
      return PsState::kCreated;
    case InstanceState::kRunning:
      return PsState::kRunning;
    case InstanceState::kBackoff:
      return PsState::kBackoff;
    case InstanceState::kStopping:
      return PsState::kStopping;
    case InstanceState::kExited:
      // A one-shot job that exited 0 is done, not down.
      return inst.last_exit() && inst.last_exit()->success() ? PsState::kCompleted
                                                             : PsState::kExited;
    case InstanceState::kFailed:
      return PsState::kFailed;
  }
  return PsState::kFailed;
}

}  // namespace

std::vector<PsRow> Engine::Ps() const {
  std::vector<PsRow> rows;
  MonoTime now = loop_->Now();
  for (const auto& [name, svc] : project_.services) {
    std::vector<config::PortMapping> published;
    for (const auto& p : svc.ports) {
      if (p.published > 0) published.push_back(p);
    }
    const ServiceRun* run = FindRun(name);
    if (!run || run->InstanceCount() == 0) {
      PsRow row;
      row.service = name;
      row.state = run && !run->spawn_error.empty() ? PsState::kFailed : PsState::kNotStarted;
      row.published = published;
      row.exit = run ? run->spawn_error : "";
      rows.push_back(std::move(row));
      continue;
    }
    for (const Group* g : run->Ordered()) {
      for (const auto& ir : g->instances) {
        const runtime::Instance& inst = *ir->instance;
        bool running = inst.state() == InstanceState::kRunning;
        PsRow row;
        row.service = name;
        row.instance = inst.spec().index;
        row.state = StateOf(inst);
        if (ir->health && running) row.health = ir->health->state();
        row.pid = running ? inst.pid() : 0;
        row.port = inst.spec().port;
        row.published = published;
        row.restarts = inst.restarts();
        row.uptime_s =
            running ? std::chrono::duration<double>(now - inst.started_at()).count() : 0.0;
        row.release = g->release;
        row.set = g->set;
        row.made_for = inst.spec().set;
        row.container = g->spec.RunsInContainer();
        row.exit = inst.last_exit() ? inst.last_exit()->ToString() : "";
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

std::vector<ServiceEndpoints> Engine::Endpoints() const {
  std::vector<ServiceEndpoints> out;
  for (const auto& entry : runs_) {
    // Named, not a structured binding: the lambda below reads it (clang 14 refuses those).
    const std::string& name = entry.first;
    const auto& run = entry.second;
    ServiceEndpoints ep;
    ep.service = name;
    ep.started = run->started && !run->stopping;
    auto ready = [&](const Group& g, bool primary) {
      std::vector<std::pair<std::string, int>> v;
      for (const auto& ir : g.instances) {
        const runtime::Instance& inst = *ir->instance;
        if (ir->leaving || inst.state() != InstanceState::kRunning) continue;
        if (ir->health && ir->health->state() != HealthState::kHealthy) continue;
        // Ids are unique per route: side sets carry their set name.
        v.emplace_back(primary && g.release == 0
                           ? fmt::format("{}.{}", name, inst.spec().index)
                           : fmt::format("{}.{}.{}", name, g.set, inst.spec().index),
                       inst.spec().port);
      }
      return v;
    };
    // The primary group comes first, also before the first start (with no instances).
    if (run->Primary() == nullptr) ep.groups.push_back(GroupEndpoints{run->primary, 0, true, {}});
    for (const Group* g : run->Ordered()) {
      bool primary = g->set == run->primary;
      ep.groups.push_back(GroupEndpoints{g->set, g->release, primary, ready(*g, primary)});
    }
    ep.instances = ep.groups.front().instances;
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace slipway::engine
