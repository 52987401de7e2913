#include "deploy/deployer.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/log.h"
#include "config/image_ref.h"
#include "config/render.h"
#include "config/routes_settings.h"
#include "engine/spec_hash.h"

namespace slipway::deploy {

using nlohmann::json;

namespace {

json SpecJson(const config::Service& svc) {
  config::Project one;
  one.services.emplace(svc.name, svc);
  json j = config::RenderJson(one);
  if (j.contains("services") && j["services"].contains(svc.name)) return j["services"][svc.name];
  return j;
}

// The store's meta key of the paused jobs a restart can restore.
constexpr char kPausedKey[] = "deploy.paused";

double MsSince(MonoTime t, MonoTime now) {
  return std::chrono::duration<double, std::milli>(now - t).count();
}

}  // namespace

// The jobs of one Deploy() call, run one after another.
struct Deployer::Batch {
  std::vector<JobInput> jobs;
  size_t next = 0;
  Outcome outcome;
  std::function<void(Outcome)> done;
};

Deployer::Deployer(net::EventLoop* loop, Groups* groups, ReleaseStore* releases, Traffic* traffic,
                   std::map<std::string, std::string> base_env)
    : loop_(loop),
      groups_(groups),
      releases_(releases),
      traffic_(traffic),
      base_env_(std::move(base_env)),
      warm_(loop, groups) {
  groups_->SetChangeListener([this] { OnGroupsChanged(); });
}

Deployer::~Deployer() {
  *alive_ = false;
  groups_->SetChangeListener(nullptr);
}

const JobRunner* Deployer::Job(const std::string& service) const {
  auto it = jobs_.find(service);
  return it == jobs_.end() ? nullptr : it->second.get();
}

std::vector<Transition> Deployer::LastJobPath(const std::string& service) const {
  auto it = last_paths_.find(service);
  return it == last_paths_.end() ? std::vector<Transition>{} : it->second;
}

void Deployer::OnGroupsChanged() {
  // A runner may finish (and be dropped) while told: walk a snapshot of the names.
  std::vector<std::string> names;
  for (const auto& [service, job] : jobs_) names.push_back(service);
  for (const std::string& service : names) {
    auto it = jobs_.find(service);
    if (it != jobs_.end() && it->second) it->second->OnGroupsChanged();
  }
}

int64_t Deployer::RecordUp(const config::Service& spec, const std::string& spec_hash) {
  Release r;
  r.service = spec.name;
  r.version = config::ImageTag(spec.image);
  r.spec_hash = spec_hash;
  r.base_hash = spec_hash;
  r.spec = SpecJson(spec);
  r.strategy = std::nullopt;  // started by up
  r.status = ReleaseStatus::kSucceeded;
  r.reason = "started by up";
  auto created = releases_->Create(std::move(r));
  if (!created.ok()) {
    logging::Error("deploy", "recording release: " + created.status().message(),
                   {{"service", spec.name}});
    return 0;
  }
  if (Status st = releases_->Finish(spec.name, created->number, ReleaseStatus::kSucceeded,
                                    "started by up", json::object());
      !st.ok()) {
    logging::Error("deploy", "recording release: " + st.message(), {{"service", spec.name}});
  }
  specs_[spec.name][created->number] = spec;
  return created->number;
}

json Deployer::Progress(int64_t after) const {
  json out = json::array();
  for (const auto& p : progress_) {
    if (p.value("seq", int64_t{0}) > after) out.push_back(p);
  }
  return out;
}

json Deployer::Live(size_t max_lines) const {
  json jobs = json::array();
  for (const auto& [service, job] : jobs_) {
    if (job) jobs.push_back(job->Live());
  }
  json lines = json::array();
  const size_t n = progress_.size();
  for (size_t i = n > max_lines ? n - max_lines : 0; i < n; ++i) lines.push_back(progress_[i]);
  return {{"jobs", std::move(jobs)}, {"progress", std::move(lines)}};
}

std::map<std::string, LiveNumbers> Deployer::SampleLive() {
  std::map<std::string, LiveNumbers> out;
  for (auto& [service, job] : jobs_) {
    if (!job) continue;
    if (std::optional<LiveNumbers> n = job->SampleLive()) out.emplace(service, *n);
  }
  return out;
}

void Deployer::Note(const std::string& service, int64_t release, const std::string& text) {
  progress_.push_back({{"seq", ++progress_seq_},
                       {"t", Clock::Real()->WallMillis()},
                       {"service", service},
                       {"release", release},
                       {"text", text}});
  if (progress_.size() > 2000) progress_.erase(progress_.begin(), progress_.begin() + 1000);
  logging::Info("deploy", fmt::format("{} r{}: {}", service, release, text),
                {{"service", service}, {"release", release}});
}

// ---------------------------------------------------------------------------------------

void Deployer::Deploy(DeployRequest req, std::function<void(Outcome)> done) {
  for (const auto& name : req.services) {
    if (!req.project.services.count(name)) {
      done(Outcome{InvalidInput(fmt::format("deploy: no such service: \"{}\"", name))});
      return;
    }
    if (!groups_->RunningSpec(name)) {
      done(Outcome{FailedPrecondition(
          fmt::format("deploy: {} is not running (start it with slipway up)", name))});
      return;
    }
  }
  auto batch = std::make_shared<Batch>();
  auto project = std::make_shared<const config::Project>(req.project);
  auto consider = [&](const std::string& name, bool named) {
    config::Service spec = req.project.services.at(name);
    for (const auto& [k, v] : req.env) spec.environment[k] = v;
    const config::Service* running = groups_->RunningSpec(name);
    if (!named && engine::SpecHash(spec) == engine::SpecHash(*running)) return;
    JobInput in;
    in.spec = spec;
    in.old_spec = *running;
    in.ds = spec.deploy;
    if (!req.run_pre_hooks) in.ds.pre_hook.clear();
    in.project = project;
    in.backup_before_migrate = req.backup_before_migrate;
    in.manual_rollback = req.manual_rollback;
    // The parser admitted only known names; unset = blue-green behind the proxy, else recreate.
    std::optional<config::DeployStrategy> chosen = req.strategy ? req.strategy : in.ds.strategy;
    in.strategy = chosen                                     ? *chosen
                  : config::ServedByProxy(req.project, name) ? config::DeployStrategy::kBlueGreen
                                                             : config::DeployStrategy::kRecreate;
    in.release.service = name;
    // Unlabelled, a release carries its image's tag: what changed when the compose file says
    // image: app:${VERSION}.
    in.release.version = !req.version.empty() ? req.version : config::ImageTag(spec.image);
    in.release.spec_hash = engine::SpecHash(spec);
    auto base = req.base_hashes.find(name);
    in.release.base_hash = base != req.base_hashes.end()
                               ? base->second
                               : engine::SpecHash(req.project.services.at(name));
    in.release.spec = SpecJson(spec);
    in.release.strategy = in.strategy;
    batch->jobs.push_back(std::move(in));
  };
  if (req.services.empty()) {
    for (const auto& [name, svc] : req.project.services) {
      if (groups_->RunningSpec(name)) consider(name, false);
    }
  } else {
    for (const auto& name : req.services) consider(name, true);
  }
  for (const auto& job : batch->jobs) {
    if (!busy_.count(job.spec.name)) continue;
    const JobRunner* running = Job(job.spec.name);
    if (running && running->state() == JobState::kPaused) {
      done(Outcome{FailedPrecondition(fmt::format(
          "deploy: the deploy of {} r{} is paused; resume it (slipway deploy resume {}) or roll "
          "it back (slipway rollback {}) first",
          job.spec.name, running->release().number, job.spec.name, job.spec.name))});
      return;
    }
    done(Outcome{FailedPrecondition(fmt::format(
        "deploy: a deploy of {} is already in progress; wait for it to finish", job.spec.name))});
    return;
  }
  if (batch->jobs.empty()) {
    done(Outcome{Status::OK()});
    return;
  }
  for (const auto& job : batch->jobs) busy_.insert(job.spec.name);
  batch->done = std::move(done);
  RunNext(std::move(batch));
}

JobPorts Deployer::Ports(std::function<void(Status, const Release&)> held) {
  JobPorts ports;
  ports.loop = loop_;
  ports.groups = groups_;
  ports.traffic = traffic_;
  ports.releases = releases_;
  ports.warm = &warm_;
  ports.db_steps = &db_steps_;
  ports.base_env = &base_env_;
  ports.note = [this](const std::string& s, int64_t r, const std::string& text) {
    Note(s, r, text);
  };
  ports.listener = listener_;
  ports.metrics = metrics_;
  ports.held = std::move(held);
  auto alive = alive_;
  ports.paused = [this, alive](const std::string& service, const PausedJob* job) {
    if (*alive) SavePaused(service, job);
  };
  return ports;
}

void Deployer::SavePaused(const std::string& service, const PausedJob* job) {
  if (job != nullptr) {
    paused_[service] = job->ToJson();
  } else if (paused_.erase(service) == 0) {
    return;  // nothing was saved for it: nothing to write
  }
  if (pause_store_ == nullptr) return;
  json all = json::object();
  for (const auto& [name, j] : paused_) all[name] = j;
  if (Status st = pause_store_->SetMeta(kPausedKey, all.dump()); !st.ok()) {
    logging::Error("deploy", "saving the paused deploys: " + st.message(), {{"service", service}});
  }
}

// One service after another; the first failure ends the run (later ones never start).
void Deployer::RunNext(std::shared_ptr<Batch> batch) {
  if (batch->next == batch->jobs.size()) {
    auto done = std::move(batch->done);
    if (done) done(std::move(batch->outcome));
    return;
  }
  JobInput in = std::move(batch->jobs[batch->next++]);
  const std::string service = in.spec.name;
  const config::Service spec = in.spec;
  auto alive = alive_;
  // failure_action: pause: the caller hears it now (later services do not start); the job
  // stays, holding, until resumed or rolled back.
  JobPorts ports = Ports([this, alive, batch](Status st, const Release& release) {
    if (!*alive) return;
    batch->outcome.releases.push_back(release.ToJson());
    batch->outcome.status = st;
    for (size_t i = batch->next; i < batch->jobs.size(); ++i) {
      busy_.erase(batch->jobs[i].spec.name);
    }
    batch->next = batch->jobs.size();
    auto done = std::move(batch->done);
    batch->done = nullptr;
    if (done) done(batch->outcome);
  });
  auto runner = std::make_unique<JobRunner>(
      std::move(in), std::move(ports),
      [this, alive, batch, service](Status st, const Release& release) {
        if (!*alive) return;
        busy_.erase(service);
        if (auto j = jobs_.find(service); j != jobs_.end() && j->second) {
          last_paths_[service] = j->second->transitions();
        }
        batch->outcome.releases.push_back(release.ToJson());
        if (!st.ok()) {
          batch->outcome.status = st;
          for (size_t i = batch->next; i < batch->jobs.size(); ++i) {
            busy_.erase(batch->jobs[i].spec.name);
          }
          batch->next = batch->jobs.size();
        }
        // Rollbacks asked for while it ran get this job's outcome.
        if (auto w = waiters_.find(service); w != waiters_.end()) {
          auto waiters = std::move(w->second);
          waiters_.erase(w);
          Outcome o{st, json::array({release.ToJson()})};
          for (auto& fn : waiters) fn(o);
        }
        // The runner is inside its own callback: drop it, and go on, from the loop.
        loop_->Post([this, alive, batch, service] {
          if (!*alive) return;
          jobs_.erase(service);
          RunNext(batch);
        });
      });
  JobRunner* r = runner.get();
  jobs_[service] = std::move(runner);
  r->Start();
  if (r->release().number > 0) specs_[service][r->release().number] = spec;
}

// ---------------------------------------------------------------------------------------

void Deployer::Rollback(const std::string& service, int64_t to, std::function<void(Outcome)> done) {
  const config::Service* running = groups_->RunningSpec(service);
  if (!running) {
    done(Outcome{FailedPrecondition(fmt::format("rollback: {} is not running", service))});
    return;
  }
  if (busy_.count(service)) {
    auto job = jobs_.find(service);
    if (to == 0 && job != jobs_.end() && job->second &&
        job->second->RequestRollback("manual rollback requested")) {
      waiters_[service].push_back(std::move(done));
      return;
    }
    done(Outcome{FailedPrecondition(
        fmt::format("rollback: a deploy of {} is in progress; wait for it to finish", service))});
    return;
  }
  int64_t current = groups_->PrimaryRelease(service);
  const WarmSets::Warm* warm = warm_.Find(service);
  if (to == 0) {
    if (warm != nullptr) {
      to = warm->release;
    } else {
      auto list = releases_->List(service, 0);
      if (!list.ok()) {
        done(Outcome{list.status()});
        return;
      }
      for (const Release& r : *list) {
        if (r.number < current && r.status == ReleaseStatus::kSucceeded) {
          to = r.number;
          break;
        }
      }
    }
    if (to == 0) {
      done(Outcome{FailedPrecondition(fmt::format(
          "rollback: {} has no earlier successful release than r{}", service, current))});
      return;
    }
  }
  if (to == current) {
    done(Outcome{FailedPrecondition(fmt::format("rollback: {} already runs r{}", service, to))});
    return;
  }
  if (warm != nullptr && warm->release == to && groups_->Group(service, warm->set).ready > 0) {
    // The old set is still warm: move the traffic back and make it primary again.
    MonoTime t0 = loop_->Now();
    std::string old_primary = groups_->PrimarySet(service);
    std::string back = warm->set;
    Duration drain = warm->drain;
    TrafficPlan plan;
    plan.sets[back] = SetWeight{100, false};
    plan.sets[old_primary] = SetWeight{0, false};
    Status st = traffic_->SetPlan(service, plan);
    if (st.ok()) st = groups_->Promote(service, back);
    if (!st.ok()) {
      done(Outcome{st});
      return;
    }
    double ms = MsSince(t0, loop_->Now());
    if (Status cs = traffic_->ClearPlan(service); !cs.ok()) {
      // The plan still gives the restored set everything; the next route change clears it.
      logging::Error("deploy", "clearing the traffic plan: " + cs.message(),
                     {{"service", service}});
    }
    warm_.Forget(service);
    if (Status ss = groups_->Stop(service, old_primary, drain, [] {}); !ss.ok()) {
      logging::Error("deploy", "stopping " + old_primary + ": " + ss.message(),
                     {{"service", service}});
    }
    // Keep what the deploy measured; add the manual rollback's own numbers.
    json numbers = json::object();
    std::string version;
    std::optional<config::DeployStrategy> strategy;
    if (auto cur = releases_->Get(service, current); cur.ok() && cur->has_value()) {
      numbers = (*cur)->numbers;
      version = (*cur)->version;
      strategy = (*cur)->strategy;
    }
    numbers["manual_rollback_ms"] = ms;
    numbers["rolled_back_to"] = to;
    const std::string reason = fmt::format("manual rollback to r{}", to);
    if (Status fs =
            releases_->Finish(service, current, ReleaseStatus::kRolledBack, reason, numbers);
        !fs.ok()) {
      logging::Error("deploy", "recording the rollback: " + fs.message(), {{"service", service}});
    }
    Note(service, current,
         fmt::format("rolled back to r{} (warm set {}) in {:.2f} ms", to, back, ms));
    if (metrics_) metrics_->RolledBack(service, RollbackReason::kManual);
    if (listener_) {
      listener_({service, current, version, strategy, DeployEventKind::kManualRollback, reason,
                 numbers, ""});
    }
    Outcome out;
    auto r = releases_->Get(service, to);
    if (r.ok() && r->has_value()) out.releases.push_back((*r)->ToJson());
    done(std::move(out));
    return;
  }
  auto spec = specs_[service].find(to);
  if (spec == specs_[service].end()) {
    done(Outcome{FailedPrecondition(fmt::format(
        "rollback: the definition of {} r{} is not held by this daemon (it ran before a "
        "restart); deploy that version from its compose file instead",
        service, to))});
    return;
  }
  DeployRequest req;
  req.project.services[service] = spec->second;
  req.services = {service};
  req.version = fmt::format("rollback to r{}", to);
  req.strategy = config::DeployStrategy::kBlueGreen;
  req.run_pre_hooks = false;
  req.manual_rollback = true;
  // The release returned to keeps the file spec it came from: a later `up` of that same file
  // keeps it running.
  if (auto target = releases_->Get(service, to); target.ok() && target->has_value()) {
    if (!(*target)->base_hash.empty()) req.base_hashes[service] = (*target)->base_hash;
  }
  Deploy(std::move(req), std::move(done));
}

Result<JobRunner*> Deployer::ControlledJob(const std::string& verb, const std::string& service) {
  auto it = jobs_.find(service);
  if (it != jobs_.end() && it->second && !IsTerminal(it->second->state())) return it->second.get();
  if (!groups_->RunningSpec(service)) {
    return FailedPrecondition(fmt::format("{}: {} is not running", verb, service));
  }
  auto last = releases_->List(service, 1);
  if (last.ok() && !last->empty()) {
    const Release& r = last->front();
    return FailedPrecondition(
        fmt::format("{}: no deploy of {} is in progress (its last release, r{}, {})", verb, service,
                    r.number, ReleaseStatusName(r.status)));
  }
  return FailedPrecondition(fmt::format("{}: no deploy of {} is in progress", verb, service));
}

Status Deployer::Pause(const std::string& service, const std::string& who, const std::string& why) {
  ASSIGN_OR_RETURN(JobRunner * job, ControlledJob("pause", service));
  return job->Pause(who, why);
}

Status Deployer::Resume(const std::string& service, const std::string& who,
                        const std::string& why) {
  ASSIGN_OR_RETURN(JobRunner * job, ControlledJob("resume", service));
  return job->Resume(who, why);
}

Status Deployer::Promote(const std::string& service, const std::string& who,
                         const std::string& why) {
  ASSIGN_OR_RETURN(JobRunner * job, ControlledJob("promote", service));
  return job->Promote(who, why);
}

void Deployer::RestorePaused(const config::Project& project,
                             const std::function<void(const std::string&)>& log) {
  if (pause_store_ == nullptr) return;
  auto saved = pause_store_->GetMeta(kPausedKey);
  if (!saved.ok()) {
    log("recovery: reading the paused deploys: " + saved.status().message());
    return;
  }
  if (!saved->has_value() || (*saved)->empty()) return;
  json all = json::parse(**saved, nullptr, /*allow_exceptions=*/false);
  paused_.clear();
  if (!all.is_object()) {
    log("recovery: the saved paused deploys are not a JSON object (damaged?); none is restored");
    all = json::object();
  }
  for (const auto& [name, j] : all.items()) {
    auto job = PausedJob::FromJson(j);
    if (!job.ok() || job->service != name) {
      log(fmt::format("recovery: the saved paused deploy of {} is malformed ({}); it is retired",
                      name, job.ok() ? "another service's" : job.status().message()));
      continue;
    }
    const std::string& service = job->service;
    auto why_not = [&]() -> std::string {
      if (!project.services.count(service)) return "the service is no longer in the project";
      const config::Service* running = groups_->RunningSpec(service);
      if (!running) return "the service is not running";
      if (groups_->PrimarySet(service) != job->old_set) {
        return "its old set " + job->old_set + " is not the primary one";
      }
      if (!groups_->GroupSpec(service, job->new_set)) {
        return "its new set " + job->new_set + " did not come back";
      }
      return "";
    }();
    auto release = releases_->Get(service, job->release);
    if (why_not.empty() &&
        (!release.ok() || !release->has_value() || (*release)->status != ReleaseStatus::kRunning)) {
      why_not = fmt::format("its release r{} is not running", job->release);
    }
    if (!why_not.empty()) {
      log(fmt::format("{} r{}: the paused deploy cannot be held again ({}); it is retired", service,
                      job->release, why_not));
      continue;
    }
    JobInput in;
    in.spec = *groups_->GroupSpec(service, job->new_set);
    in.old_spec = *groups_->RunningSpec(service);
    in.ds = in.spec.deploy;
    in.strategy = job->strategy;
    in.release = **release;
    in.project = std::make_shared<const config::Project>(project);
    auto alive = alive_;
    auto runner = std::make_unique<JobRunner>(
        std::move(in), Ports(nullptr), [this, alive, service](Status st, const Release& rel) {
          if (!*alive) return;
          busy_.erase(service);
          if (auto j = jobs_.find(service); j != jobs_.end() && j->second) {
            last_paths_[service] = j->second->transitions();
          }
          if (auto w = waiters_.find(service); w != waiters_.end()) {
            auto waiters = std::move(w->second);
            waiters_.erase(w);
            Outcome o{st, json::array({rel.ToJson()})};
            for (auto& fn : waiters) fn(o);
          }
          // The runner is inside its own callback: drop it from the loop.
          loop_->Post([this, alive, service] {
            if (*alive) jobs_.erase(service);
          });
        });
    if (Status st = runner->Restore(*job, **release); !st.ok()) {
      log(fmt::format("{} r{}: the paused deploy cannot be held again ({}); it is retired", service,
                      job->release, st.message()));
      continue;
    }
    busy_.insert(service);
    jobs_[service] = std::move(runner);
    log(fmt::format("{} r{}: the paused {} deploy is held again (paused by {})", service,
                    job->release, config::DeployStrategyName(job->strategy), job->who));
  }
  // What was not restored is not saved any more.
  json kept = json::object();
  for (const auto& [name, j] : paused_) kept[name] = j;
  if (Status st = pause_store_->SetMeta(kPausedKey, kept.dump()); !st.ok()) {
    log("recovery: saving the paused deploys: " + st.message());
  }
}

void Deployer::RetireInterrupted(const std::function<void(const std::string&)>& log) {
  for (const SideGroupRef& g : groups_->SideGroups()) {
    if (jobs_.count(g.service)) continue;  // a restored job's sets stay as it holds them
    log(fmt::format("{}: stopping set {} (its deploy ended with the daemon that died)", g.service,
                    g.set));
    if (Status st = groups_->Stop(g.service, g.set, Duration(0), [] {}); !st.ok()) {
      log("recovery: " + st.message());
    }
  }
  auto list = releases_->List("", 0);
  if (!list.ok()) {
    log("recovery: " + list.status().message());
    return;
  }
  for (const Release& r : *list) {
    if (r.status != ReleaseStatus::kRunning) continue;
    if (auto j = jobs_.find(r.service);
        j != jobs_.end() && j->second && j->second->release().number == r.number) {
      continue;  // restored: still in progress
    }
    if (Status st = releases_->Finish(r.service, r.number, ReleaseStatus::kFailed,
                                      "interrupted: the daemon died during the deploy", r.numbers);
        !st.ok()) {
      log("recovery: " + st.message());
    }
  }
}

}  // namespace slipway::deploy
