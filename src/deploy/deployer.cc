#include "deploy/deployer.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/log.h"
#include "config/image_ref.h"
#include "config/render.h"
#include "deploy/analysis.h"
#include "deploy/command.h"
#include "engine/spec_hash.h"

namespace slipway::deploy {

using nlohmann::json;

struct Deployer::Job {
  std::string service;
  config::Service spec;      // the new release's definition
  config::Service old_spec;  // what ran before
  std::string strategy;
  config::DeploySettings ds;
  Release release;
  std::string old_set;
  int64_t old_release = 0;
  std::string new_set;
  bool traffic_moved = false;
  std::unique_ptr<Analyzer> analyzer;
  net::EventLoop::TimerId timer = 0;
  MonoTime started{};
  MonoTime switched{};
  json numbers = json::object();
  std::shared_ptr<const config::Project> project;  // the deploy's, for database steps
  bool backup_before_migrate = true;
  bool manual_rollback = false;                  // a rollback redeploying an older definition
  bool backed_up_all = false;                    // a `backup` step of every database has run
  std::set<std::string> backed_up;               // databases a `backup` step has covered
  std::function<void(const std::string&)> fail;  // strategy-specific failure handling
  std::function<void(Status)> done;
};

namespace {

json SpecJson(const config::Service& svc) {
  config::Project one;
  one.services.emplace(svc.name, svc);
  json j = config::RenderJson(one);
  if (j.contains("services") && j["services"].contains(svc.name)) return j["services"][svc.name];
  return j;
}

double MsSince(MonoTime t, MonoTime now) {
  return std::chrono::duration<double, std::milli>(now - t).count();
}

}  // namespace

Deployer::Deployer(net::EventLoop* loop, engine::Engine* engine, ReleaseStore* releases,
                   Traffic* traffic, std::map<std::string, std::string> base_env)
    : loop_(loop),
      engine_(engine),
      releases_(releases),
      traffic_(traffic),
      base_env_(std::move(base_env)) {}

Deployer::~Deployer() {
  *alive_ = false;
  for (auto& [service, w] : warm_) loop_->Cancel(w.timer);
}

int64_t Deployer::RecordUp(const config::Service& spec, const std::string& spec_hash) {
  if (auto it = recreate_release_.find(spec.name); it != recreate_release_.end()) {
    int64_t n = it->second;
    recreate_release_.erase(it);
    return n;
  }
  Release r;
  r.service = spec.name;
  r.version = config::ImageTag(spec.image);
  r.spec_hash = spec_hash;
  r.base_hash = spec_hash;
  r.spec = SpecJson(spec);
  r.strategy = "up";
  r.status = kSucceeded;
  r.reason = "started by up";
  auto created = releases_->Create(std::move(r));
  if (!created.ok()) {
    logging::Error("deploy", "recording release: " + created.status().message(),
                   {{"service", spec.name}});
    return 0;
  }
  (void)releases_->Finish(spec.name, created->number, kSucceeded, "started by up", json::object());
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

void Deployer::Note(Job& job, const std::string& text) {
  progress_.push_back({{"seq", ++progress_seq_},
                       {"t", Clock::Real()->WallMillis()},
                       {"service", job.service},
                       {"release", job.release.number},
                       {"text", text}});
  if (progress_.size() > 2000) progress_.erase(progress_.begin(), progress_.begin() + 1000);
  logging::Info("deploy", fmt::format("{} r{}: {}", job.service, job.release.number, text),
                {{"service", job.service}, {"release", job.release.number}});
}

// ---------------------------------------------------------------------------------------

void Deployer::Deploy(DeployRequest req, std::function<void(Outcome)> done) {
  std::vector<std::string> names = req.services;
  for (const auto& name : names) {
    if (!req.project.services.count(name)) {
      done(Outcome{InvalidInput(fmt::format("deploy: no such service: \"{}\"", name))});
      return;
    }
    if (!engine_->RunningSpec(name)) {
      done(Outcome{FailedPrecondition(
          fmt::format("deploy: {} is not running (start it with slipway up)", name))});
      return;
    }
  }
  std::vector<std::shared_ptr<Job>> jobs;
  auto project = std::make_shared<const config::Project>(req.project);
  auto consider = [&](const std::string& name, bool named) {
    config::Service spec = req.project.services.at(name);
    for (const auto& [k, v] : req.env) spec.environment[k] = v;
    const config::Service* running = engine_->RunningSpec(name);
    if (!named && engine::SpecHash(spec) == engine::SpecHash(*running)) return;
    auto job = std::make_shared<Job>();
    job->service = name;
    job->spec = spec;
    job->old_spec = *running;
    job->ds = spec.deploy;
    if (!req.run_pre_hooks) job->ds.pre_hook.clear();
    job->project = project;
    job->backup_before_migrate = req.backup_before_migrate;
    job->manual_rollback = req.manual_rollback;
    job->strategy = !req.strategy.empty()                      ? req.strategy
                    : !job->ds.strategy.empty()                ? job->ds.strategy
                    : config::ServedByProxy(req.project, name) ? "blue-green"
                                                               : "recreate";
    job->release.service = name;
    // Unlabelled, a release carries its image's tag: what changed when the compose file says
    // image: app:${VERSION}.
    job->release.version = !req.version.empty() ? req.version : config::ImageTag(spec.image);
    job->release.spec_hash = engine::SpecHash(spec);
    auto base = req.base_hashes.find(name);
    job->release.base_hash = base != req.base_hashes.end()
                                 ? base->second
                                 : engine::SpecHash(req.project.services.at(name));
    job->release.spec = SpecJson(spec);
    job->release.strategy = job->strategy;
    jobs.push_back(std::move(job));
  };
  if (names.empty()) {
    for (const auto& [name, svc] : req.project.services) {
      if (engine_->RunningSpec(name)) consider(name, false);
    }
  } else {
    for (const auto& name : names) consider(name, true);
  }
  for (const auto& job : jobs) {
    const auto& known = config::DeployStrategies();
    if (std::find(known.begin(), known.end(), job->strategy) == known.end()) {
      done(
          Outcome{InvalidInput(fmt::format("deploy: --strategy \"{}\" is not one of blue-green, "
                                           "canary, rolling, recreate",
                                           job->strategy))});
      return;
    }
    if (busy_.count(job->service)) {
      done(Outcome{FailedPrecondition(fmt::format(
          "deploy: a deploy of {} is already in progress; wait for it to finish", job->service))});
      return;
    }
  }
  if (jobs.empty()) {
    done(Outcome{Status::OK()});
    return;
  }
  for (const auto& job : jobs) busy_.insert(job->service);
  // One service after another; the first failure ends the run (later ones never start).
  auto outcome = std::make_shared<Outcome>();
  auto index = std::make_shared<size_t>(0);
  auto shared_jobs = std::make_shared<std::vector<std::shared_ptr<Job>>>(std::move(jobs));
  auto alive = alive_;
  auto next = std::make_shared<std::function<void()>>();
  *next = [this, alive, outcome, index, shared_jobs, next, done = std::move(done)]() {
    if (!*alive) return;
    if (*index == shared_jobs->size()) {
      done(std::move(*outcome));
      *next = nullptr;  // break the self-reference
      return;
    }
    std::shared_ptr<Job> job = (*shared_jobs)[(*index)++];
    job->done = [this, alive, outcome, index, shared_jobs, next, job](Status st) {
      if (!*alive) return;
      outcome->releases.push_back(job->release.ToJson());
      if (!st.ok()) {
        outcome->status = st;
        for (size_t i = *index; i < shared_jobs->size(); ++i) {
          busy_.erase((*shared_jobs)[i]->service);
        }
        *index = shared_jobs->size();
      }
      auto n = *next;
      loop_->Post([n] {
        if (n) n();
      });
    };
    StartJob(job);
  };
  auto first = *next;
  first();
}

void Deployer::StartJob(std::shared_ptr<Job> job) {
  job->started = loop_->Now();
  job->old_set = engine_->PrimarySet(job->service);
  job->old_release = engine_->PrimaryRelease(job->service);
  auto created = releases_->Create(job->release);
  if (!created.ok()) {
    busy_.erase(job->service);
    job->done(created.status());
    return;
  }
  job->release = *created;
  job->new_set = engine::Engine::SetName(job->release.number);
  specs_[job->service][job->release.number] = job->spec;
  Note(*job, fmt::format("{} deploy{} from r{} started", job->strategy,
                         job->release.version.empty() ? "" : " of " + job->release.version,
                         job->old_release));
  RunPreHook(job, 0);
}

void Deployer::RunPreHook(std::shared_ptr<Job> job, size_t step) {
  auto alive = alive_;
  if (step == job->ds.pre_hook.size()) {
    if (job->strategy == "recreate") {
      Recreate(job);
    } else {
      StartNewSet(job);
    }
    return;
  }
  const config::HookStep& hs = job->ds.pre_hook[step];
  const std::string what = hs.Describe();
  auto finished = [this, alive, job, step, what](Status st, const std::string& summary) {
    if (!*alive) return;
    if (!st.ok()) {
      Finish(job,
             Aborted(fmt::format("{}: release {} aborted: pre hook {} failed: {}", job->service,
                                 job->release.number, what, st.message())),
             kFailed, "pre hook " + what + " failed: " + st.message());
      return;
    }
    Note(*job, "pre hook " + what + ": " + (summary.empty() ? "ok" : summary));
    RunPreHook(job, step + 1);
  };
  Note(*job, "pre hook " + what + ": running");
  if (hs.kind != config::HookStep::Kind::kRun) {
    if (!db_steps_) {
      finished(FailedPrecondition("no database step runner in this process"), "");
      return;
    }
    DatabaseStepRequest req;
    req.project = job->project;
    req.step = hs;
    req.service = job->service;
    if (hs.kind == config::HookStep::Kind::kBackup) {
      if (hs.database.empty()) job->backed_up_all = true;
      job->backed_up.insert(hs.database);
    } else {
      // An earlier backup step of the same database already protects this migration.
      bool covered = job->backed_up_all || job->backed_up.count(hs.database) > 0;
      req.backup_if_pending = job->backup_before_migrate && !covered;
    }
    db_steps_(req, finished);
    return;
  }
  std::map<std::string, std::string> env = base_env_;
  for (const auto& [k, v] : job->spec.environment) env[k] = v;
  env["SLIPWAY_SERVICE"] = job->service;
  env["SLIPWAY_RELEASE"] = std::to_string(job->release.number);
  env["SLIPWAY_VERSION"] = job->release.version;
  RunCommand(loop_, hs.command, env, job->spec.working_dir.string(), Duration(300'000),
             [finished](Status st) { finished(std::move(st), ""); });
}

void Deployer::StartNewSet(std::shared_ptr<Job> job) {
  auto alive = alive_;
  if (job->strategy == "rolling") {
    job->fail = [this, alive, job](const std::string& reason) {
      if (!*alive) return;
      const config::UpdateConfig& uc = job->spec.update_config;
      const std::string action = uc.failure_action;
      // As compose's update_config defines it: failures up to max_failure_ratio of the
      // replicas are tolerated; beyond it, failure_action decides (continue goes on anyway).
      engine::GroupStatus ng = engine_->Group(job->service, job->new_set);
      const int failed = std::max(0, ng.instances - ng.ready);
      const double ratio = static_cast<double>(failed) / std::max(1, job->spec.replicas);
      if (action == "continue" || (failed > 0 && ratio <= uc.max_failure_ratio)) {
        job->numbers["failed_instances"] = failed;
        Note(*job, action == "continue"
                       ? "continuing (failure_action: continue) despite: " + reason
                       : fmt::format("tolerating {} failed of {} replicas ({:.0f}% <= "
                                     "max_failure_ratio {:.0f}%): {}",
                                     failed, job->spec.replicas, ratio * 100,
                                     uc.max_failure_ratio * 100, reason));
        ContinueRolling(job);
        return;
      }
      if (action == "pause") {
        Note(*job, "paused: " + reason);
        Finish(job,
               Aborted(fmt::format("{}: release {} paused: {}", job->service, job->release.number,
                                   reason)),
               kFailed, "paused: " + reason);
        return;
      }
      // rollback (and continue, which has nothing left to continue with after a breach)
      Note(*job, "rolling back: " + reason);
      int n = job->old_spec.replicas;
      (void)engine_->ResizeGroup(job->service, job->old_set, n, Duration(0), [] {});
      WaitReadyFor(job, job->old_set, n, [this, alive, job, reason] {
        if (!*alive) return;
        (void)traffic_->ClearPlan(job->service);
        (void)engine_->StopGroup(job->service, job->new_set, job->ds.drain, [] {});
        Finish(job,
               Aborted(fmt::format("{}: release {} rolled back: {}", job->service,
                                   job->release.number, reason)),
               kRolledBack, reason);
      });
    };
    Status st = engine_->StartGroup(job->service, job->spec, job->release.number, 0);
    if (!st.ok()) {
      Finish(job, st, kFailed, st.message());
      return;
    }
    RollingBatch(job);
    return;
  }
  job->fail = [this, alive, job](const std::string& reason) {
    if (*alive) Abandon(job, reason, job->traffic_moved);
  };
  Status st = engine_->StartGroup(job->service, job->spec, job->release.number);
  if (!st.ok()) {
    Finish(job, st, kFailed, st.message());
    return;
  }
  Note(*job, fmt::format("starting {} instance(s) of {}", job->spec.replicas, job->new_set));
  WaitReadyFor(job, job->new_set, job->spec.replicas, [this, alive, job] {
    if (!*alive) return;
    job->numbers["ready_ms"] = MsSince(job->started, loop_->Now());
    Note(*job, fmt::format("{} ready in {:.0f} ms", job->new_set,
                           job->numbers["ready_ms"].get<double>()));
    RunSmoke(job);
  });
}

void Deployer::WaitReadyFor(std::shared_ptr<Job> job, const std::string& set, int want,
                            std::function<void()> next) {
  MonoTime deadline = loop_->Now() + job->ds.health_timeout;
  auto alive = alive_;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, alive, job, set, want, next, deadline, poll] {
    if (!*alive) return;
    engine::GroupStatus g = engine_->Group(job->service, set);
    if (!g.exists) {
      *poll = nullptr;
      job->fail(fmt::format("set {} is gone", set));
      return;
    }
    if (g.crashed > 0 || g.unhealthy > 0 ||
        g.max_failing_streak >= job->ds.analysis.health_failures) {
      *poll = nullptr;
      job->fail(fmt::format("{} never became ready: {}", set,
                            g.problem.empty() ? "failing health checks" : g.problem));
      return;
    }
    if (g.ready >= want) {
      *poll = nullptr;
      next();
      return;
    }
    if (loop_->Now() >= deadline) {
      *poll = nullptr;
      job->fail(fmt::format("{} not ready within {} ms ({} of {} ready)", set,
                            job->ds.health_timeout.count(), g.ready, want));
      return;
    }
    auto p = *poll;
    job->timer = loop_->RunAfter(Duration(20), [p] {
      if (p) p();
    });
  };
  auto first = *poll;  // a copy runs: the terminal branches reset *poll
  first();
}

void Deployer::RunSmoke(std::shared_ptr<Job> job) {
  auto alive = alive_;
  auto after = [this, alive, job] {
    if (!*alive) return;
    if (job->strategy == "canary") {
      CanaryStep(job, 0);
    } else {
      Switch(job);
    }
  };
  if (job->ds.smoke.empty()) {
    after();
    return;
  }
  engine::GroupStatus g = engine_->Group(job->service, job->new_set);
  std::map<std::string, std::string> env = base_env_;
  for (const auto& [k, v] : job->spec.environment) env[k] = v;
  std::string addrs;
  for (const auto& [id, port] : g.addresses) {
    addrs += fmt::format("{}127.0.0.1:{}", addrs.empty() ? "" : ",", port);
  }
  env["SLIPWAY_NEW_ADDRS"] = addrs;
  env["SLIPWAY_NEW_ADDR"] = addrs.substr(0, addrs.find(','));
  env["SLIPWAY_SERVICE"] = job->service;
  env["SLIPWAY_RELEASE"] = std::to_string(job->release.number);
  Note(*job, "smoke test: running against " + addrs);
  RunCommand(loop_, job->ds.smoke, env, job->spec.working_dir.string(), Duration(120'000),
             [this, alive, job, after](Status st) {
               if (!*alive) return;
               if (!st.ok()) {
                 job->fail("smoke test failed: " + st.message());
                 return;
               }
               Note(*job, "smoke test: ok");
               after();
             });
}

TrafficPlan Deployer::PlanFor(const Job& job, uint32_t new_weight) const {
  TrafficPlan plan;
  plan.sets[job.new_set] = SetWeight{new_weight, false};
  plan.sets[job.old_set] = SetWeight{100 - std::min<uint32_t>(new_weight, 100), false};
  if (job.strategy == "canary") plan.sticky_cookie = job.ds.sticky_cookie;
  return plan;
}

void Deployer::Switch(std::shared_ptr<Job> job) {
  MonoTime t0 = loop_->Now();
  Status st = traffic_->SetPlan(job->service, PlanFor(*job, 100));
  if (!st.ok()) {
    job->fail("switching traffic: " + st.message());
    return;
  }
  job->traffic_moved = true;
  job->switched = loop_->Now();
  job->numbers["cutover_ms"] = MsSince(t0, job->switched);
  Note(*job, fmt::format("switched all traffic from {} to {} in {:.2f} ms", job->old_set,
                         job->new_set, job->numbers["cutover_ms"].get<double>()));
  job->analyzer = std::make_unique<Analyzer>(job->ds.analysis,
                                             engine_->Group(job->service, job->new_set).restarts);
  auto alive = alive_;
  Watch(job, job->ds.monitor, [this, alive, job] {
    if (*alive) Succeed(job);
  });
}

void Deployer::CanaryStep(std::shared_ptr<Job> job, size_t step) {
  const std::vector<int>& steps = job->ds.steps;
  uint32_t w = static_cast<uint32_t>(steps[step]);
  MonoTime t0 = loop_->Now();
  Status st = traffic_->SetPlan(job->service, PlanFor(*job, w));
  if (!st.ok()) {
    job->fail("moving traffic: " + st.message());
    return;
  }
  if (!job->traffic_moved) {
    job->traffic_moved = true;
    job->switched = loop_->Now();
    job->analyzer = std::make_unique<Analyzer>(job->ds.analysis,
                                               engine_->Group(job->service, job->new_set).restarts);
  }
  Note(*job, fmt::format("canary step {}/{}: {}% to {} ({:.2f} ms)", step + 1, steps.size(), w,
                         job->new_set, MsSince(t0, loop_->Now())));
  auto alive = alive_;
  Watch(job, job->ds.step_duration, [this, alive, job, step] {
    if (!*alive) return;
    if (step + 1 < job->ds.steps.size()) {
      CanaryStep(job, step + 1);
    } else {
      Succeed(job);
    }
  });
}

void Deployer::Watch(std::shared_ptr<Job> job, Duration how_long, std::function<void()> next) {
  MonoTime until = loop_->Now() + how_long;
  if (!job->analyzer) {
    job->analyzer = std::make_unique<Analyzer>(job->ds.analysis,
                                               engine_->Group(job->service, job->new_set).restarts);
  }
  auto alive = alive_;
  auto tick = std::make_shared<std::function<void()>>();
  *tick = [this, alive, job, until, next, tick] {
    if (!*alive) return;
    MonoTime now = loop_->Now();
    job->analyzer->Add(now, traffic_->Stats(job->service, job->new_set),
                       traffic_->Stats(job->service, job->old_set));
    Verdict v = job->analyzer->Judge(engine_->Group(job->service, job->new_set));
    job->numbers["analysis"] = v.numbers;
    if (v.breach) {
      *tick = nullptr;
      job->numbers["detect_ms"] = MsSince(job->switched, now);
      job->fail(v.reason);
      return;
    }
    if (now >= until) {
      *tick = nullptr;
      next();
      return;
    }
    auto t = *tick;
    job->timer = loop_->RunAfter(job->ds.analysis.interval, [t] {
      if (t) t();
    });
  };
  auto first = *tick;  // a copy runs: the terminal branches reset *tick
  first();
}

void Deployer::RollingBatch(std::shared_ptr<Job> job) {
  const int n = job->spec.replicas;
  const config::UpdateConfig& uc = job->spec.update_config;
  const int batch = uc.parallelism <= 0 ? n : uc.parallelism;
  engine::GroupStatus ng = engine_->Group(job->service, job->new_set);
  if (ng.instances >= n) {
    Succeed(job);
    return;
  }
  const int target = std::min(n, ng.instances + batch);
  const int old_target = std::max(0, job->old_spec.replicas - target);
  auto alive = alive_;
  auto weigh = [this, job](int new_count, int old_count) {
    TrafficPlan plan;
    plan.sets[job->new_set] = SetWeight{static_cast<uint32_t>(new_count) * 10, false};
    plan.sets[job->old_set] = SetWeight{static_cast<uint32_t>(old_count) * 10, false};
    return traffic_->SetPlan(job->service, plan);
  };
  auto settle = [this, alive, job, uc] {
    if (!*alive) return;
    job->traffic_moved = true;
    if (job->switched == MonoTime{}) job->switched = loop_->Now();
    Duration watch = std::max(uc.monitor, job->ds.analysis.interval);
    loop_->RunAfter(uc.delay, [this, alive, job, watch] {
      if (!*alive) return;
      Watch(job, watch, [this, alive, job] {
        if (*alive) RollingBatch(job);
      });
    });
  };
  Note(*job, fmt::format("rolling: {} of {} replaced, next batch to {} ({})", ng.instances, n,
                         target, uc.order));
  if (uc.order == "start-first") {
    Status st = engine_->ResizeGroup(job->service, job->new_set, target, Duration(0), [] {});
    if (!st.ok()) {
      job->fail(st.message());
      return;
    }
    WaitReadyFor(job, job->new_set, target, [this, alive, job, target, old_target, weigh, settle] {
      if (!*alive) return;
      (void)weigh(target, old_target);
      Status st = engine_->ResizeGroup(job->service, job->old_set, old_target, job->ds.drain,
                                       [settle] { settle(); });
      if (!st.ok()) job->fail(st.message());
    });
    return;
  }
  // stop-first: capacity dips by a batch while it is replaced.
  (void)weigh(ng.ready, old_target);
  Status st = engine_->ResizeGroup(
      job->service, job->old_set, old_target, job->ds.drain,
      [this, alive, job, target, old_target, weigh, settle] {
        if (!*alive) return;
        Status st = engine_->ResizeGroup(job->service, job->new_set, target, Duration(0), [] {});
        if (!st.ok()) {
          job->fail(st.message());
          return;
        }
        WaitReadyFor(job, job->new_set, target, [alive, target, old_target, weigh, settle] {
          if (!*alive) return;
          (void)weigh(target, old_target);
          settle();
        });
      });
  if (!st.ok()) job->fail(st.message());
}

// A batch ended with tolerated failures: shrink the old set as if the batch had succeeded,
// weigh traffic by ready instances, and go on with the next batch after `delay`.
void Deployer::ContinueRolling(std::shared_ptr<Job> job) {
  auto alive = alive_;
  engine::GroupStatus ng = engine_->Group(job->service, job->new_set);
  const int old_target = std::max(0, job->old_spec.replicas - ng.instances);
  TrafficPlan plan;
  plan.sets[job->new_set] = SetWeight{static_cast<uint32_t>(ng.ready) * 10, false};
  plan.sets[job->old_set] = SetWeight{static_cast<uint32_t>(old_target) * 10, false};
  (void)traffic_->SetPlan(job->service, plan);
  job->traffic_moved = true;
  Duration delay = job->spec.update_config.delay;
  Status st = engine_->ResizeGroup(job->service, job->old_set, old_target, job->ds.drain,
                                   [this, alive, job, delay] {
                                     if (!*alive) return;
                                     loop_->RunAfter(delay, [this, alive, job] {
                                       if (*alive) RollingBatch(job);
                                     });
                                   });
  if (!st.ok()) {
    Finish(job, st, kFailed, st.message());
  }
}

void Deployer::Recreate(std::shared_ptr<Job> job) {
  auto alive = alive_;
  Note(*job, "recreate: stopping " + job->old_set);
  engine_->Stop({job->service}, [this, alive, job] {
    if (!*alive) return;
    engine_->SetServiceSpec(job->spec);
    recreate_release_[job->service] = job->release.number;
    engine::UpOptions opts;
    opts.wait = true;
    opts.timeout = job->ds.health_timeout;
    engine_->Up({job->service}, opts, [this, alive, job](Status st) {
      if (!*alive) return;
      if (st.ok()) {
        Succeed(job);
        return;
      }
      std::string reason = st.message().substr(0, st.message().find('\n'));
      Note(*job, "recreate failed, restoring r" + std::to_string(job->old_release) + ": " + reason);
      engine_->Stop({job->service}, [this, alive, job, reason] {
        if (!*alive) return;
        engine_->SetServiceSpec(job->old_spec);
        recreate_release_[job->service] = job->old_release;
        engine_->Up({job->service}, engine::UpOptions{}, [this, alive, job, reason](Status) {
          if (!*alive) return;
          Finish(job,
                 Aborted(fmt::format("{}: release {} rolled back: {}", job->service,
                                     job->release.number, reason)),
                 kRolledBack, reason);
        });
      });
    });
  });
}

void Deployer::Succeed(std::shared_ptr<Job> job) {
  auto alive = alive_;
  if (job->strategy != "recreate") {
    Status st = engine_->Promote(job->service, job->new_set);
    if (!st.ok()) {
      job->fail("promoting: " + st.message());
      return;
    }
    (void)traffic_->ClearPlan(job->service);
    // A set kept warm by an earlier deploy is no longer the one to return to.
    if (auto w = warm_.find(job->service); w != warm_.end()) {
      loop_->Cancel(w->second.timer);
      (void)engine_->StopGroup(job->service, w->second.set, w->second.drain, [] {});
      warm_.erase(w);
    }
    engine::GroupStatus old = engine_->Group(job->service, job->old_set);
    if (old.exists && old.instances > 0 && job->strategy != "rolling") {
      warm_[job->service] = Warm{job->old_set, job->old_release, 0, job->ds.drain};
      ScheduleRetire(job->service, job->old_set, job->ds.rollback_window, job->ds.drain);
      Note(*job, fmt::format("{} kept warm for {} ms for rollbacks", job->old_set,
                             job->ds.rollback_window.count()));
    } else if (old.exists) {
      (void)engine_->StopGroup(job->service, job->old_set, job->ds.drain, [] {});
    }
  }
  if (job->analyzer) job->numbers["totals"] = job->analyzer->Totals();
  job->numbers["total_ms"] = MsSince(job->started, loop_->Now());
  if (job->strategy == "rolling") {
    // failure_action: continue replaces every replica whatever happens, as compose defines
    // it; but a release none of whose replicas is ready is not a success, whatever the
    // setting: say so (exit 1) rather than report a deploy that took the service down as done.
    engine::GroupStatus ng = engine_->Group(job->service, job->new_set);
    if (ng.instances > 0 && ng.ready == 0) {
      const std::string reason = fmt::format(
          "none of the {} new replicas is ready (failure_action: {}); nothing was rolled back",
          ng.instances, job->spec.update_config.failure_action);
      Note(*job, reason);
      Finish(job,
             Aborted(fmt::format("{}: release {} finished with {}", job->service,
                                 job->release.number, reason)),
             kFailed, reason);
      return;
    }
  }
  if (job->ds.post_hook.empty()) {
    Finish(job, Status::OK(), kSucceeded, "");
    return;
  }
  std::map<std::string, std::string> env = base_env_;
  for (const auto& [k, v] : job->spec.environment) env[k] = v;
  env["SLIPWAY_SERVICE"] = job->service;
  env["SLIPWAY_RELEASE"] = std::to_string(job->release.number);
  env["SLIPWAY_VERSION"] = job->release.version;
  RunCommand(loop_, job->ds.post_hook, env, job->spec.working_dir.string(), Duration(300'000),
             [this, alive, job](Status st) {
               if (!*alive) return;
               Note(*job, st.ok() ? "post hook: ok" : "post hook failed: " + st.message());
               Finish(job, Status::OK(), kSucceeded,
                      st.ok() ? "" : "post hook failed: " + st.message());
             });
}

void Deployer::Abandon(std::shared_ptr<Job> job, const std::string& reason, bool traffic_moved) {
  MonoTime t0 = loop_->Now();
  Duration drain(0);
  if (traffic_moved) {
    (void)traffic_->ClearPlan(job->service);  // the old set is still primary: all back to it
    job->numbers["rollback_ms"] = MsSince(t0, loop_->Now());
    // Requests already sent to the new set finish before it stops: wait out slow ones too.
    drain = job->ds.drain;
    if (job->numbers.contains("analysis")) {
      double p95 = job->numbers["analysis"].value("p95_ms", 0.0);
      drain = std::max(drain, Duration(static_cast<int64_t>(std::min(30'000.0, 2 * p95))));
    }
  }
  Note(*job, fmt::format("{}: {}; traffic on {}{}", traffic_moved ? "rolled back" : "abandoned",
                         reason, job->old_set,
                         traffic_moved ? fmt::format(" again in {:.2f} ms",
                                                     job->numbers["rollback_ms"].get<double>())
                                       : ""));
  if (job->analyzer) job->numbers["totals"] = job->analyzer->Totals();
  Status verdict = Aborted(fmt::format("{}: release {} {}: {}", job->service, job->release.number,
                                       traffic_moved ? "rolled back" : "abandoned", reason));
  auto alive = alive_;
  // The deploy answers once the new set is drained and stopped.
  Status st =
      engine_->StopGroup(job->service, job->new_set, drain, [this, alive, job, verdict, reason] {
        if (*alive) Finish(job, verdict, kRolledBack, reason);
      });
  if (!st.ok()) Finish(job, verdict, kRolledBack, reason);
}

void Deployer::Finish(std::shared_ptr<Job> job, Status st, const std::string& status,
                      const std::string& reason) {
  loop_->Cancel(job->timer);
  job->release.status = status;
  job->release.reason = reason;
  job->release.numbers = job->numbers;
  Status fs = releases_->Finish(job->service, job->release.number, status, reason, job->numbers);
  if (!fs.ok()) {
    logging::Error("deploy", "recording the release's outcome: " + fs.message(),
                   {{"service", job->service}, {"release", job->release.number}});
  }
  Note(*job, st.ok() ? fmt::format("release {} {}", job->release.number, status) : st.message());
  busy_.erase(job->service);
  if (listener_) {
    listener_({job->service, job->release.number, job->release.version, job->strategy,
               status == kSucceeded    ? (job->manual_rollback ? "manual-rollback" : "deployed")
               : status == kRolledBack ? "rolled-back"
                                       : "failed",
               reason, job->numbers});
  }
  auto done = std::move(job->done);
  job->fail = nullptr;  // drop the job's self-references
  if (done) done(st);
}

void Deployer::ScheduleRetire(const std::string& service, const std::string& set, Duration after,
                              Duration drain) {
  auto alive = alive_;
  warm_[service].timer = loop_->RunAfter(after, [this, alive, service, set, drain] {
    if (!*alive) return;
    auto w = warm_.find(service);
    if (w == warm_.end() || w->second.set != set) return;
    warm_.erase(w);
    (void)engine_->StopGroup(service, set, drain, [] {});
  });
}

// ---------------------------------------------------------------------------------------

void Deployer::Rollback(const std::string& service, int64_t to, std::function<void(Outcome)> done) {
  const config::Service* running = engine_->RunningSpec(service);
  if (!running) {
    done(Outcome{FailedPrecondition(fmt::format("rollback: {} is not running", service))});
    return;
  }
  if (busy_.count(service)) {
    done(Outcome{FailedPrecondition(
        fmt::format("rollback: a deploy of {} is in progress; wait for it to finish", service))});
    return;
  }
  int64_t current = engine_->PrimaryRelease(service);
  auto warm = warm_.find(service);
  if (to == 0) {
    if (warm != warm_.end()) {
      to = warm->second.release;
    } else {
      auto list = releases_->List(service, 0);
      if (!list.ok()) {
        done(Outcome{list.status()});
        return;
      }
      for (const Release& r : *list) {
        if (r.number < current && r.status == kSucceeded) {
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
  if (warm != warm_.end() && warm->second.release == to &&
      engine_->Group(service, warm->second.set).ready > 0) {
    // The old set is still warm: move the traffic back and make it primary again.
    MonoTime t0 = loop_->Now();
    std::string old_primary = engine_->PrimarySet(service);
    std::string back = warm->second.set;
    Duration drain = warm->second.drain;
    TrafficPlan plan;
    plan.sets[back] = SetWeight{100, false};
    plan.sets[old_primary] = SetWeight{0, false};
    Status st = traffic_->SetPlan(service, plan);
    if (st.ok()) st = engine_->Promote(service, back);
    if (!st.ok()) {
      done(Outcome{st});
      return;
    }
    (void)traffic_->ClearPlan(service);
    double ms = MsSince(t0, loop_->Now());
    loop_->Cancel(warm->second.timer);
    warm_.erase(warm);
    (void)engine_->StopGroup(service, old_primary, drain, [] {});
    // Keep what the deploy measured; add the manual rollback's own numbers.
    json numbers = json::object();
    if (auto cur = releases_->Get(service, current); cur.ok() && cur->has_value()) {
      numbers = (*cur)->numbers;
    }
    numbers["manual_rollback_ms"] = ms;
    numbers["rolled_back_to"] = to;
    (void)releases_->Finish(service, current, kRolledBack,
                            fmt::format("manual rollback to r{}", to), numbers);
    Job note;
    note.service = service;
    note.release.number = current;
    Note(note, fmt::format("rolled back to r{} (warm set {}) in {:.2f} ms", to, back, ms));
    if (listener_) {
      DeployEvent ev{service, current,           "",
                     "",      "manual-rollback", fmt::format("manual rollback to r{}", to),
                     numbers};
      if (auto cur = releases_->Get(service, current); cur.ok() && cur->has_value()) {
        ev.version = (*cur)->version;
        ev.strategy = (*cur)->strategy;
      }
      listener_(ev);
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
  req.strategy = "blue-green";
  req.run_pre_hooks = false;
  req.manual_rollback = true;
  // The release returned to keeps the file spec it came from: a later `up` of that same file
  // keeps it running.
  if (auto target = releases_->Get(service, to); target.ok() && target->has_value()) {
    if (!(*target)->base_hash.empty()) req.base_hashes[service] = (*target)->base_hash;
  }
  Deploy(std::move(req), std::move(done));
}

}  // namespace slipway::deploy
