#include "deploy/job_runner.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/log.h"
#include "deploy/command.h"

namespace slipway::deploy {

using nlohmann::json;

namespace {

double MsSince(MonoTime t, MonoTime now) {
  return std::chrono::duration<double, std::milli>(now - t).count();
}

}  // namespace

std::string_view JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kPreHooks:
      return "pre-hooks";
    case JobState::kStarting:
      return "starting";
    case JobState::kResizing:
      return "resizing";
    case JobState::kSmokeTest:
      return "smoke-test";
    case JobState::kShifting:
      return "shifting";
    case JobState::kWatching:
      return "watching";
    case JobState::kWaiting:
      return "waiting";
    case JobState::kPromoting:
      return "promoting";
    case JobState::kReplacing:
      return "replacing";
    case JobState::kRollingBack:
      return "rolling-back";
    case JobState::kPostHook:
      return "post-hook";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kRolledBack:
      return "rolled-back";
    case JobState::kPaused:
      return "paused";
    case JobState::kFailed:
      return "failed";
  }
  return "?";
}

bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kRolledBack || s == JobState::kFailed;
}

namespace {

bool IsWorking(JobState s) {
  switch (s) {
    case JobState::kStarting:
    case JobState::kResizing:
    case JobState::kSmokeTest:
    case JobState::kShifting:
    case JobState::kWatching:
    case JobState::kWaiting:
    case JobState::kPromoting:
    case JobState::kReplacing:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool CanTransition(JobState from, JobState to) {
  if (IsTerminal(from) || from == to) return false;
  switch (from) {
    case JobState::kPending:
      // kPaused: a paused job restored after a daemon restart (Restore) holds again at once.
      return to == JobState::kPreHooks || to == JobState::kFailed || to == JobState::kPaused;
    case JobState::kPreHooks:
      return IsWorking(to) || to == JobState::kRollingBack || to == JobState::kFailed ||
             to == JobState::kPaused;
    case JobState::kRollingBack:
      return to == JobState::kRolledBack || to == JobState::kFailed || to == JobState::kPaused;
    case JobState::kPostHook:
      return to == JobState::kSucceeded;
    case JobState::kPaused:
      // Resume goes back to where it held; a rollback or a failed step ends the hold.
      return IsWorking(to) || to == JobState::kPreHooks || to == JobState::kRollingBack ||
             to == JobState::kFailed;
    default:
      break;
  }
  // A working state.
  return IsWorking(to) || to == JobState::kRollingBack || to == JobState::kPostHook ||
         to == JobState::kSucceeded || to == JobState::kFailed || to == JobState::kPaused;
}

std::string_view DeployEventKindName(DeployEventKind k) {
  switch (k) {
    case DeployEventKind::kDeployed:
      return "deployed";
    case DeployEventKind::kRolledBack:
      return "rolled-back";
    case DeployEventKind::kFailed:
      return "failed";
    case DeployEventKind::kManualRollback:
      return "manual-rollback";
    case DeployEventKind::kPaused:
      return "deploy-paused";
    case DeployEventKind::kResumed:
      return "deploy-resumed";
  }
  return "failed";
}

json PausedJob::ToJson() const {
  json j = {{"service", service},
            {"release", release},
            {"strategy", std::string(config::DeployStrategyName(strategy))},
            {"old_set", old_set},
            {"old_release", old_release},
            {"new_set", new_set},
            {"step", position.step},
            {"started", position.started},
            {"moved", position.moved},
            {"watch_left_ms", watch_left.count()},
            {"who", who},
            {"why", why}};
  if (plan) {
    json sets = json::object();
    for (const auto& [set, w] : plan->sets) sets[set] = w.weight;
    j["plan"] = {{"sets", sets}, {"sticky_cookie", plan->sticky_cookie}};
  }
  return j;
}

Result<PausedJob> PausedJob::FromJson(const json& j) {
  if (!j.is_object()) return InvalidInput("expected an object");
  auto str = [&](const char* key, std::string* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().size() > 4096) {
      return InvalidInput(fmt::format("{}: expected a string", key));
    }
    *out = it->get<std::string>();
    return Status::OK();
  };
  auto num = [&](const char* key, int64_t max, int64_t* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() > max) {
      return InvalidInput(fmt::format("{}: expected an integer from 0 to {}", key, max));
    }
    *out = it->get<int64_t>();
    return Status::OK();
  };
  auto flag = [&](const char* key, bool* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_boolean()) {
      return InvalidInput(fmt::format("{}: expected true or false", key));
    }
    *out = it->get<bool>();
    return Status::OK();
  };
  PausedJob p;
  std::string strategy;
  int64_t step = 0, watch_ms = 0;
  RETURN_IF_ERROR(str("service", &p.service));
  RETURN_IF_ERROR(num("release", INT64_MAX, &p.release));
  RETURN_IF_ERROR(str("strategy", &strategy));
  RETURN_IF_ERROR(str("old_set", &p.old_set));
  RETURN_IF_ERROR(num("old_release", INT64_MAX, &p.old_release));
  RETURN_IF_ERROR(str("new_set", &p.new_set));
  RETURN_IF_ERROR(num("step", 1000, &step));
  RETURN_IF_ERROR(flag("started", &p.position.started));
  RETURN_IF_ERROR(flag("moved", &p.position.moved));
  RETURN_IF_ERROR(num("watch_left_ms", int64_t{24} * 3600 * 1000, &watch_ms));
  RETURN_IF_ERROR(str("who", &p.who));
  RETURN_IF_ERROR(str("why", &p.why));
  std::optional<config::DeployStrategy> kind = config::ParseDeployStrategy(strategy);
  if (!kind) return InvalidInput(fmt::format("strategy: \"{}\" is not a strategy", strategy));
  p.strategy = *kind;
  p.position.step = static_cast<size_t>(step);
  p.watch_left = Duration(watch_ms);
  if (auto plan = j.find("plan"); plan != j.end()) {
    if (!plan->is_object()) return InvalidInput("plan: expected an object");
    TrafficPlan tp;
    auto sets = plan->find("sets");
    if (sets == plan->end() || !sets->is_object())
      return InvalidInput("plan.sets: expected an object");
    for (const auto& [set, w] : sets->items()) {
      if (!w.is_number_unsigned() || w.get<uint64_t>() > 100) {
        return InvalidInput(fmt::format("plan.sets.{}: expected a weight from 0 to 100", set));
      }
      tp.sets[set] = SetWeight{static_cast<uint32_t>(w.get<uint64_t>()), false};
    }
    auto sticky = plan->find("sticky_cookie");
    if (sticky != plan->end()) {
      if (!sticky->is_string()) return InvalidInput("plan.sticky_cookie: expected a string");
      tp.sticky_cookie = sticky->get<std::string>();
    }
    p.plan = std::move(tp);
  }
  return p;
}

json JobNumbers::ToJson() const {
  json j = json::object();
  if (ready_ms) j["ready_ms"] = *ready_ms;
  if (cutover_ms) j["cutover_ms"] = *cutover_ms;
  if (detect_ms) j["detect_ms"] = *detect_ms;
  if (rollback_ms) j["rollback_ms"] = *rollback_ms;
  if (total_ms) j["total_ms"] = *total_ms;
  if (failed_instances) j["failed_instances"] = *failed_instances;
  if (analysis) j["analysis"] = analysis->ToJson();
  if (judged) j["totals"] = totals ? totals->ToJson() : json::object();
  return j;
}

// ---------------------------------------------------------------------------------------

WarmSets::~WarmSets() {
  *alive_ = false;
  for (auto& [service, w] : warm_) loop_->Cancel(w.timer);
}

void WarmSets::Keep(const std::string& service, const std::string& set, int64_t release,
                    Duration window, Duration drain) {
  auto alive = alive_;
  Warm w{set, release, 0, drain};
  w.timer = loop_->RunAfter(window, [this, alive, service, set, drain] {
    if (!*alive) return;
    auto it = warm_.find(service);
    if (it == warm_.end() || it->second.set != set) return;
    warm_.erase(it);
    if (Status st = groups_->Stop(service, set, drain, [] {}); !st.ok()) {
      logging::Error("deploy", "retiring the warm set " + set + ": " + st.message(),
                     {{"service", service}});
    }
  });
  warm_[service] = w;
}

Status WarmSets::Retire(const std::string& service) {
  auto it = warm_.find(service);
  if (it == warm_.end()) return Status::OK();
  Warm w = it->second;
  loop_->Cancel(w.timer);
  warm_.erase(it);
  return groups_->Stop(service, w.set, w.drain, [] {});
}

void WarmSets::Forget(const std::string& service) {
  auto it = warm_.find(service);
  if (it == warm_.end()) return;
  loop_->Cancel(it->second.timer);
  warm_.erase(it);
}

const WarmSets::Warm* WarmSets::Find(const std::string& service) const {
  auto it = warm_.find(service);
  return it == warm_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------

JobRunner::JobRunner(JobInput in, JobPorts ports, std::function<void(Status, const Release&)> done)
    : in_(std::move(in)), ports_(std::move(ports)), done_(std::move(done)) {
  strategy_ = MakeStrategy(in_.strategy, MakeStrategyInput(in_.spec, in_.old_spec, in_.ds));
  release_ = in_.release;
}

JobRunner::~JobRunner() {
  *alive_ = false;
  CancelTimer();
}

void JobRunner::CancelTimer() {
  if (timer_ != 0) ports_.loop->Cancel(timer_);
  timer_ = 0;
}

uint32_t JobRunner::Weight(const std::string& set) const {
  if (plan_) {
    auto it = plan_->sets.find(set);
    return it == plan_->sets.end() ? 0 : it->second.weight;
  }
  // No plan: the primary group takes everything, which is the new set once promoted.
  const bool primary = promoted_ ? set == new_set_ : set == old_set_;
  return primary ? 100 : 0;
}

json JobRunner::Live(size_t max_transitions) const {
  const MonoTime now = Now();
  const int64_t wall = Clock::Real()->WallMillis();
  const auto wall_of = [&](MonoTime t) { return wall - static_cast<int64_t>(MsSince(t, now)); };
  json steps = json::array();
  const size_t first =
      transitions_.size() > max_transitions ? transitions_.size() - max_transitions : 0;
  for (size_t i = first; i < transitions_.size(); ++i) {
    const Transition& t = transitions_[i];
    steps.push_back({{"from", std::string(JobStateName(t.from))},
                     {"to", std::string(JobStateName(t.to))},
                     {"reason", t.reason},
                     {"t", wall_of(t.at)}});
  }
  json j = {{"service", service()},
            {"release", release_.number},
            {"version", release_.version},
            {"strategy", std::string(config::DeployStrategyName(in_.strategy))},
            {"state", std::string(JobStateName(state_))},
            {"pausing", pausing_},
            {"new_set", new_set_},
            {"old_set", old_set_},
            {"old_release", old_release_},
            {"new_weight", Weight(new_set_)},
            {"old_weight", Weight(old_set_)},
            {"transitions", std::move(steps)}};
  if (started_ != MonoTime{}) j["started"] = wall_of(started_);
  if (numbers_.analysis) j["analysis"] = numbers_.analysis->ToJson();
  if (pause_) j["paused"] = {{"by", pause_->who}, {"reason", pause_->why}};
  return j;
}

std::optional<LiveNumbers> JobRunner::SampleLive() {
  if (new_set_.empty() || old_set_.empty() || IsTerminal(state_)) return std::nullopt;
  live_sets_.Add(Now(), Clock::Real()->WallMillis(), ports_.traffic->Stats(service(), new_set_),
                 ports_.traffic->Stats(service(), old_set_));
  return live_sets_.Numbers();
}

void JobRunner::Enter(JobState to, const std::string& reason) {
  if (to == state_) return;
  if (!CanTransition(state_, to)) {
    ++invalid_transitions_;
    logging::Error("deploy",
                   fmt::format("{} r{}: no transition {} -> {} in the job machine", service(),
                               release_.number, JobStateName(state_), JobStateName(to)));
  }
  // Leaving a hold: nothing of it is to be restored any more.
  if (state_ == JobState::kPaused && ports_.paused) ports_.paused(service(), nullptr);
  transitions_.push_back({state_, to, reason, Now()});
  logging::Info("deploy",
                fmt::format("{} r{}: {} -> {}{}", service(), release_.number, JobStateName(state_),
                            JobStateName(to), reason.empty() ? "" : " (" + reason + ")"),
                {{"service", service()},
                 {"release", release_.number},
                 {"from", std::string(JobStateName(state_))},
                 {"to", std::string(JobStateName(to))}});
  state_ = to;
}

void JobRunner::Note(const std::string& text) {
  if (ports_.note) ports_.note(service(), release_.number, text);
}

std::map<std::string, std::string> JobRunner::HookEnv() const {
  std::map<std::string, std::string> env;
  if (ports_.base_env) env = *ports_.base_env;
  for (const auto& [k, v] : in_.spec.environment) env[k] = v;
  env["SLIPWAY_SERVICE"] = service();
  env["SLIPWAY_RELEASE"] = std::to_string(release_.number);
  env["SLIPWAY_VERSION"] = release_.version;
  return env;
}

void JobRunner::Start() {
  started_ = Now();
  old_set_ = ports_.groups->PrimarySet(service());
  old_release_ = ports_.groups->PrimaryRelease(service());
  auto created = ports_.releases->Create(release_);
  if (!created.ok()) {
    Enter(JobState::kFailed, "recording the release: " + created.status().message());
    auto done = std::move(done_);
    if (done) done(created.status(), release_);
    return;
  }
  release_ = *created;
  new_set_ = ports_.groups->SetName(release_.number);
  Note(fmt::format("{} deploy{} from r{} started", config::DeployStrategyName(in_.strategy),
                   release_.version.empty() ? "" : " of " + release_.version, old_release_));
  if (in_.strategy != config::DeployStrategy::kRolling &&
      RolloutOf(in_.spec.rollback_config).given) {
    // rollback_config says how instances are replaced on a rollback; this strategy replaces
    // none (it switches traffic back to the old set, or starts the old definition again).
    Note(
        fmt::format("deploy.rollback_config: ignored by the {} strategy (it acts on rolling "
                    "deploys)",
                    config::DeployStrategyName(in_.strategy)));
  }
  Enter(JobState::kPreHooks, "started");
  RunPreHook(0);
}

bool JobRunner::RequestRollback(const std::string& reason) {
  if (IsTerminal(state_) || state_ == JobState::kRollingBack || rollback_requested_) return false;
  if (state_ == JobState::kPaused) {
    if (pause_ && pause_->from == JobState::kRollingBack) {
      // A rollback that paused (rollback_config failure_action: pause): it goes on.
      return Resume("", reason).ok();
    }
    // From the hold: whatever it held is dropped, the strategy rolls back from here.
    Note("rollback asked for while paused: " + reason);
    held_ = Held{};
    pause_.reset();
    FailStep(FailureKind::kRequested, reason);
    return true;
  }
  // A pause still pending is withdrawn: the rollback wins.
  pausing_ = false;
  pause_.reset();
  rollback_requested_ = reason;
  // Waiting on a timer or on readiness: act now. Otherwise the step in flight reports first.
  if (ready_wait_ || watch_until_ || waiting_timer_) {
    CancelTimer();
    ready_wait_.reset();
    watch_until_.reset();
    waiting_timer_ = false;
    rollback_requested_.reset();
    FailStep(FailureKind::kRequested, reason);
  }
  return true;
}

Status JobRunner::Pause(const std::string& who, const std::string& why) {
  const std::string job = fmt::format("{} r{}", service(), release_.number);
  if (IsTerminal(state_)) {
    return FailedPrecondition(
        fmt::format("pause: the deploy of {} has finished ({})", job, JobStateName(state_)));
  }
  if (state_ == JobState::kPaused) {
    return FailedPrecondition(fmt::format(
        "pause: the deploy of {} is already paused ({})", job,
        pause_ && !pause_->who.empty() ? "by " + pause_->who : "failure_action: pause"));
  }
  if (pausing_) {
    return FailedPrecondition(
        fmt::format("pause: the deploy of {} is already pausing (once its {} step finishes)", job,
                    JobStateName(state_)));
  }
  if (state_ == JobState::kRollingBack || rollback_requested_) {
    return FailedPrecondition(
        fmt::format("pause: the deploy of {} is rolling back; a rollback is not paused", job));
  }
  if (state_ == JobState::kPostHook) {
    return FailedPrecondition(
        fmt::format("pause: the deploy of {} has succeeded; its post hook is running", job));
  }
  pause_ = PauseInfo{who, why, state_, Now()};
  if (ready_wait_ || watch_until_ || waiting_timer_) {
    HoldNow();
    return Status::OK();
  }
  pausing_ = true;
  Note(fmt::format("pausing (asked by {}{}): once the {} step in flight finishes", who,
                   why.empty() ? "" : ": " + why, JobStateName(state_)));
  return Status::OK();
}

Status JobRunner::Promote(const std::string& who, const std::string& why) {
  const std::string job = fmt::format("{} r{}", service(), release_.number);
  if (in_.strategy != config::DeployStrategy::kBlueGreen &&
      in_.strategy != config::DeployStrategy::kCanary) {
    return FailedPrecondition(
        fmt::format("promote: the deploy of {} is {}; only blue-green and canary deploys are "
                    "promoted by hand",
                    job, config::DeployStrategyName(in_.strategy)));
  }
  if (state_ != JobState::kWatching || !watch_until_ || pausing_ || rollback_requested_) {
    return FailedPrecondition(
        fmt::format("promote: the deploy of {} is {}; it can be promoted while its new set is "
                    "being judged",
                    job, JobStateName(state_)));
  }
  watch_until_.reset();
  CancelTimer();
  const std::string because = why.empty() ? "" : ": " + why;
  Note(fmt::format("promoted by {}{}: {} takes all the traffic now", who, because, new_set_));
  Enter(JobState::kPromoting, fmt::format("promoted by {}{}", who, because));
  Decision d;
  d.kind = Decision::Kind::kPromote;
  d.keep_warm = true;
  Execute(d);
  return Status::OK();
}

Status JobRunner::Resume(const std::string& who, const std::string& why) {
  const std::string job = fmt::format("{} r{}", service(), release_.number);
  const std::string by = who.empty() ? "" : " by " + who;
  const std::string because = why.empty() ? "" : ": " + why;
  if (pausing_ && state_ != JobState::kPaused) {
    pausing_ = false;
    pause_.reset();
    Note("pause withdrawn" + by + because);
    return Status::OK();
  }
  if (state_ != JobState::kPaused || !pause_) {
    return FailedPrecondition(
        fmt::format("resume: the deploy of {} is not paused ({})", job,
                    IsTerminal(state_) ? "it has finished: " + std::string(JobStateName(state_))
                                       : "it is " + std::string(JobStateName(state_))));
  }
  const PauseInfo p = *pause_;
  pause_.reset();
  Held h = std::move(held_);
  held_ = Held{};
  const double held_ms = MsSince(p.at, Now());
  Enter(p.from, "resumed" + by + because);
  Note(fmt::format("resumed{} after {:.0f} ms{}", by, held_ms, because));
  if (ports_.listener) {
    DeployEvent e{service(),
                  release_.number,
                  release_.version,
                  in_.strategy,
                  DeployEventKind::kResumed,
                  why,
                  numbers_.ToJson(),
                  who};
    ports_.listener(e);
  }
  if (h.strategy) {
    // The release is in progress again; its end decides its status.
    if (Status st = ports_.releases->Finish(service(), release_.number, ReleaseStatus::kRunning,
                                            "resumed" + by + because, numbers_.ToJson());
        !st.ok()) {
      Note("recording the resume failed: " + st.message());
    }
    release_.status = ReleaseStatus::kRunning;
    Advance(Base(Happened::kResumed));
    return Status::OK();
  }
  if (h.obs) {
    // The outcome of the step that finished while pausing, with the groups as they are now.
    Observation o = Base(h.obs->what);
    o.failure_kind = h.obs->failure_kind;
    o.failure = h.obs->failure;
    o.took_ms = h.obs->took_ms;
    Proceed(std::move(o));
  } else if (h.ready) {
    WaitReady(h.ready->set, h.ready->want, h.ready->then, h.ready_left);
  } else if (h.watch_left) {
    watch_until_ = Now() + *h.watch_left;
    Tick();
  } else if (h.wait_left) {
    StartWait(*h.wait_left);
  }
  return Status::OK();
}

void JobRunner::SavePause() {
  if (!ports_.paused) return;
  std::optional<StrategyPosition> pos = strategy_->Position();
  // Restorable: an operator's hold while the strategy judged a step (the analysis' time left
  // is all the step holds); any other hold is retired after a restart, as before.
  if (!pause_ || pause_->who.empty() || pause_->from != JobState::kWatching || !pos ||
      !held_.watch_left || held_.obs || held_.ready || held_.wait_left || held_.strategy) {
    ports_.paused(service(), nullptr);
    return;
  }
  PausedJob job;
  job.service = service();
  job.release = release_.number;
  job.strategy = in_.strategy;
  job.old_set = old_set_;
  job.old_release = old_release_;
  job.new_set = new_set_;
  job.position = *pos;
  job.plan = plan_;
  job.watch_left = *held_.watch_left;
  job.who = pause_->who;
  job.why = pause_->why;
  ports_.paused(service(), &job);
}

Status JobRunner::Restore(const PausedJob& saved, const Release& release) {
  if (!strategy_->Restore(saved.position)) {
    return FailedPrecondition(fmt::format("the {} strategy cannot be put back at step {}",
                                          config::DeployStrategyName(in_.strategy),
                                          saved.position.step + 1));
  }
  started_ = Now();
  switched_ = Now();
  release_ = release;
  old_set_ = saved.old_set;
  old_release_ = saved.old_release;
  new_set_ = saved.new_set;
  traffic_moved_ = saved.position.moved;
  plan_ = saved.plan;
  if (plan_) {
    if (Status st = ports_.traffic->SetPlan(service(), *plan_); !st.ok()) {
      return st.WithContext("restoring the traffic split");
    }
  }
  analyzer_ = std::make_unique<Analyzer>(in_.ds.analysis,
                                         ports_.groups->Group(service(), new_set_).restarts);
  numbers_.judged = true;
  held_ = Held{};
  held_.watch_left = saved.watch_left;
  pause_ = PauseInfo{saved.who, saved.why, JobState::kWatching, Now()};
  // Straight into the hold it was in (no working state is entered again).
  transitions_.push_back({state_, JobState::kPaused, "restored after a daemon restart", Now()});
  state_ = JobState::kPaused;
  Note(
      fmt::format("still paused (by {}) after a daemon restart; traffic keeps its weights; "
                  "resume with `slipway deploy resume {}` or roll back with `slipway rollback "
                  "{}`",
                  saved.who, service(), service()));
  SavePause();
  return Status::OK();
}

// Stops the timers of what the job waits for, keeps the time each had left, and holds.
void JobRunner::HoldNow() {
  const MonoTime now = Now();
  auto left = [now](MonoTime until) {
    return std::max(Duration(0), std::chrono::duration_cast<Duration>(until - now));
  };
  CancelTimer();
  if (ready_wait_) {
    held_.ready = ready_wait_;
    held_.ready_left = left(ready_wait_->deadline);
    ready_wait_.reset();
  }
  if (watch_until_) {
    held_.watch_left = left(*watch_until_);
    watch_until_.reset();
  }
  if (waiting_timer_) {
    held_.wait_left = left(wait_until_);
    waiting_timer_ = false;
  }
  EnterPaused();
}

void JobRunner::EnterPaused() {
  pausing_ = false;
  if (!pause_) pause_ = PauseInfo{};
  pause_->from = state_;
  pause_->at = Now();
  const PauseInfo& p = *pause_;
  const std::string why = p.why.empty() ? "" : ": " + p.why;
  Enter(JobState::kPaused, p.who.empty() ? "failure_action: pause" + why : "by " + p.who + why);
  SavePause();
  if (!p.who.empty()) {
    Note(fmt::format(
        "paused by {}{} at {}; traffic keeps its weights; resume with `slipway deploy resume {}` "
        "or roll back with `slipway rollback {}`",
        p.who, why, JobStateName(p.from), service(), service()));
  }
  if (ports_.listener) {
    DeployEvent e{service(),
                  release_.number,
                  release_.version,
                  in_.strategy,
                  DeployEventKind::kPaused,
                  p.why,
                  numbers_.ToJson(),
                  p.who};
    ports_.listener(e);
  }
}

void JobRunner::OnGroupsChanged() {
  if (ready_wait_) {
    CheckReady();
  } else if (watch_until_) {
    // A crash or a failing probe is judged at once, not at the next sample.
    CancelTimer();
    Tick();
  }
}

// --- Pre hooks ---------------------------------------------------------------------------

void JobRunner::RunPreHook(size_t step) {
  if (step == in_.ds.pre_hook.size()) {
    if (rollback_requested_) {
      Finish(Aborted(fmt::format("{}: release {} aborted: {}", service(), release_.number,
                                 *rollback_requested_)),
             JobState::kFailed, ReleaseStatus::kFailed, *rollback_requested_);
      return;
    }
    Proceed(Base(Happened::kBegin));
    return;
  }
  const config::HookStep& hs = in_.ds.pre_hook[step];
  const std::string what = hs.Describe();
  auto alive = alive_;
  auto finished = [this, alive, step, what](Status st, const std::string& summary) {
    if (!*alive) return;
    if (!st.ok()) {
      Finish(Aborted(fmt::format("{}: release {} aborted: pre hook {} failed: {}", service(),
                                 release_.number, what, st.message())),
             JobState::kFailed, ReleaseStatus::kFailed,
             "pre hook " + what + " failed: " + st.message());
      return;
    }
    Note("pre hook " + what + ": " + (summary.empty() ? "ok" : summary));
    RunPreHook(step + 1);
  };
  Note("pre hook " + what + ": running");
  if (hs.kind != config::HookStep::Kind::kRun) {
    if (ports_.db_steps == nullptr || !*ports_.db_steps) {
      finished(FailedPrecondition("no database step runner in this process"), "");
      return;
    }
    DatabaseStepRequest req;
    req.project = in_.project;
    req.step = hs;
    req.service = service();
    if (hs.kind == config::HookStep::Kind::kBackup) {
      if (hs.database.empty()) backed_up_all_ = true;
      backed_up_.insert(hs.database);
    } else {
      // An earlier backup step of the same database already protects this migration.
      bool covered = backed_up_all_ || backed_up_.count(hs.database) > 0;
      req.backup_if_pending = in_.backup_before_migrate && !covered;
    }
    (*ports_.db_steps)(req, finished);
    return;
  }
  RunCommand(ports_.loop, hs.command, HookEnv(), in_.spec.working_dir.string(), Duration(300'000),
             [finished](Status st) { finished(std::move(st), ""); });
}

// --- The decision loop -------------------------------------------------------------------

Observation JobRunner::Base(Happened what) const {
  Observation o;
  o.what = what;
  o.new_set = new_set_;
  o.old_set = old_set_;
  o.old_release = old_release_;
  o.new_group = ports_.groups->Group(service(), new_set_);
  o.old_group = ports_.groups->Group(service(), old_set_);
  o.now = Now();
  o.elapsed = std::chrono::duration_cast<Duration>(o.now - started_);
  if (numbers_.analysis) o.last_p95_ms = numbers_.analysis->p95_ms;
  return o;
}

void JobRunner::Observe(Happened what) { Proceed(Base(what)); }

RollbackReason JobRunner::ReasonOf(FailureKind kind) const {
  switch (kind) {
    case FailureKind::kBreach:
      switch (last_breach_) {
        case BreachKind::kCrash:
          return RollbackReason::kCrash;
        case BreachKind::kErrorRate:
          return RollbackReason::kErrorRate;
        case BreachKind::kLatency:
          return RollbackReason::kLatency;
        case BreachKind::kHealth:
        case BreachKind::kNone:
          return RollbackReason::kHealth;
      }
      return RollbackReason::kHealth;
    case FailureKind::kNotReady: {
      // Crashed or could not spawn, versus never passing its health checks in time. Recreate
      // has no new set: the replaced service's primary group is the new release.
      const std::string set = new_set_.empty() ? ports_.groups->PrimarySet(service()) : new_set_;
      return ports_.groups->Group(service(), set).crashed > 0 ? RollbackReason::kCrash
                                                              : RollbackReason::kHealth;
    }
    case FailureKind::kRequested:
      return RollbackReason::kManual;
    case FailureKind::kCommand:  // the smoke test is a health check run once
      return RollbackReason::kHealth;
    case FailureKind::kPort:  // the new set could not be started, resized or routed
    case FailureKind::kNone:
      return RollbackReason::kCrash;
  }
  return RollbackReason::kCrash;
}

void JobRunner::RecordMetrics(ReleaseStatus status) {
  DeployMetrics* m = ports_.metrics;
  if (!m) return;
  const std::string& svc = service();
  if (in_.manual_rollback) {
    if (status == ReleaseStatus::kSucceeded) m->RolledBack(svc, RollbackReason::kManual);
    return;
  }
  const DeployResult result = status == ReleaseStatus::kSucceeded    ? DeployResult::kSucceeded
                              : status == ReleaseStatus::kRolledBack ? DeployResult::kRolledBack
                                                                     : DeployResult::kFailed;
  m->Deployed(svc, config::DeployStrategyName(in_.strategy), result,
              MsSince(started_, Now()) / 1000.0);
  if (result == DeployResult::kRolledBack) {
    m->RolledBack(svc, rollback_reason_.value_or(RollbackReason::kHealth));
  }
}

void JobRunner::FailStep(FailureKind kind, const std::string& why) {
  if (!rollback_reason_ && state_ != JobState::kRollingBack) rollback_reason_ = ReasonOf(kind);
  rollback_requested_.reset();
  Observation o = Base(Happened::kFailed);
  o.failure_kind = kind;
  o.failure = why;
  Proceed(std::move(o));
}

// A step finished: its outcome goes to the strategy, unless a pause holds it, or a rollback
// asked for meanwhile comes first.
void JobRunner::Proceed(Observation obs) {
  if (IsTerminal(state_)) return;
  if (pausing_) {
    held_.obs = std::move(obs);
    EnterPaused();
    return;
  }
  if (rollback_requested_ && obs.what != Happened::kFailed) {
    const std::string reason = *rollback_requested_;
    FailStep(FailureKind::kRequested, reason);
    return;
  }
  Advance(std::move(obs));
}

void JobRunner::Advance(Observation obs) {
  if (IsTerminal(state_)) return;
  Decision d = strategy_->Next(obs);
  if (!d.note.empty()) Note(d.note);
  if (d.failed_instances) numbers_.failed_instances = d.failed_instances;
  Execute(d);
}

void JobRunner::Execute(const Decision& d) {
  auto alive = alive_;
  const bool back = state_ == JobState::kRollingBack;
  auto enter = [&](JobState s, const std::string& why) { Enter(back ? state_ : s, why); };
  const std::string& svc = service();
  switch (d.kind) {
    case Decision::Kind::kStart: {
      enter(JobState::kStarting, fmt::format("start {} instance(s) of {}", d.count, new_set_));
      if (Status st = ports_.groups->Start(svc, in_.spec, release_.number, d.count); !st.ok()) {
        FailStep(FailureKind::kPort, st.message());
        return;
      }
      WaitReady(new_set_, d.count, Happened::kStarted, in_.ds.health_timeout);
      return;
    }
    case Decision::Kind::kResize: {
      const std::string& set = d.set == Decision::Set::kNew ? new_set_ : old_set_;
      const GroupView g = ports_.groups->Group(svc, set);
      const bool grow = d.count > g.instances;
      enter(JobState::kResizing, fmt::format("resize {} to {}", set, d.count));
      Status st = ports_.groups->Resize(
          svc, set, d.count, d.duration, [this, alive, set, grow, count = d.count] {
            if (!*alive || IsTerminal(state_)) return;
            if (grow) {
              WaitReady(set, count, Happened::kResized, in_.ds.health_timeout);
            } else {
              Observe(Happened::kResized);
            }
          });
      if (!st.ok()) FailStep(FailureKind::kPort, st.message());
      return;
    }
    case Decision::Kind::kSetWeights: {
      enter(JobState::kShifting,
            fmt::format("weights {} {} / {} {}", new_set_, d.new_weight, old_set_, d.old_weight));
      TrafficPlan plan;
      plan.sets[new_set_] = SetWeight{d.new_weight, false};
      plan.sets[old_set_] = SetWeight{d.old_weight, false};
      if (d.sticky || in_.strategy == config::DeployStrategy::kCanary) {
        plan.sticky_cookie = in_.ds.sticky_cookie;
      }
      const MonoTime t0 = Now();
      if (Status st = ports_.traffic->SetPlan(svc, plan); !st.ok()) {
        FailStep(FailureKind::kPort,
                 (d.cutover ? "switching traffic: " : "moving traffic: ") + st.message());
        return;
      }
      plan_ = plan;
      const MonoTime t1 = Now();
      if (d.new_weight > 0 && !traffic_moved_) {
        traffic_moved_ = true;
        switched_ = t1;
      }
      if (d.cutover) numbers_.cutover_ms = MsSince(t0, t1);
      Observation o = Base(Happened::kWeightsSet);
      o.took_ms = MsSince(t0, t1);
      Proceed(std::move(o));
      return;
    }
    case Decision::Kind::kClearWeights: {
      enter(JobState::kShifting, "all traffic to " + old_set_);
      const MonoTime t0 = Now();
      plan_.reset();
      if (Status st = ports_.traffic->ClearPlan(svc); !st.ok()) {
        // Traffic did not go back: say so where the deploy's progress is read, and let the
        // strategy retry or fail the job.
        logging::Error("deploy", "moving traffic back: " + st.message(),
                       {{"service", svc}, {"release", release_.number}});
        Note("moving traffic back to " + old_set_ + " failed: " + st.message());
        FailStep(FailureKind::kPort, st.message());
        return;
      }
      Observation o = Base(Happened::kWeightsSet);
      o.took_ms = MsSince(t0, Now());
      if (back && traffic_moved_) numbers_.rollback_ms = o.took_ms;
      Advance(std::move(o));
      return;
    }
    case Decision::Kind::kSmoke:
      enter(JobState::kSmokeTest, "smoke test");
      RunSmoke();
      return;
    case Decision::Kind::kWatch:
      enter(JobState::kWatching, fmt::format("judge {} for {} ms", new_set_, d.duration.count()));
      BeginWatch(d.duration);
      return;
    case Decision::Kind::kWait:
      enter(JobState::kWaiting, fmt::format("wait {} ms", d.duration.count()));
      StartWait(d.duration);
      return;
    case Decision::Kind::kPromote:
      enter(JobState::kPromoting, "promote " + new_set_);
      Promote(d);
      return;
    case Decision::Kind::kStopNew: {
      enter(JobState::kRollingBack, "stop " + new_set_);
      auto stopped = [this, alive] {
        if (*alive && !IsTerminal(state_)) Advance(Base(Happened::kStopped));
      };
      Status st = ports_.groups->Stop(
          svc, new_set_, d.duration, d.wait ? std::function<void()>(stopped) : [] {});
      if (!st.ok()) {
        logging::Error("deploy", "stopping " + new_set_ + ": " + st.message(),
                       {{"service", svc}, {"release", release_.number}});
        Note("stopping " + new_set_ + ": " + st.message());
        stopped();
        return;
      }
      if (!d.wait) stopped();
      return;
    }
    case Decision::Kind::kReplace: {
      const bool fresh = d.set == Decision::Set::kNew;
      enter(JobState::kReplacing, fresh ? "recreate with " + new_set_ : "restore " + old_set_);
      ports_.groups->Replace(fresh ? in_.spec : in_.old_spec,
                             fresh ? release_.number : old_release_, /*wait=*/fresh,
                             in_.ds.health_timeout, [this, alive](Status st) {
                               if (!*alive || IsTerminal(state_)) return;
                               if (st.ok()) {
                                 Observe(Happened::kReplaced);
                               } else {
                                 FailStep(FailureKind::kNotReady, st.message());
                               }
                             });
      return;
    }
    case Decision::Kind::kRollBack:
      Enter(JobState::kRollingBack, d.reason);
      Advance(Base(Happened::kRollbackBegun));
      return;
    case Decision::Kind::kDone:
      Succeed();
      return;
    case Decision::Kind::kRolledBack: {
      if (analyzer_) {
        numbers_.judged = true;
        numbers_.totals = analyzer_->Totals();
      }
      const bool abandoned = d.abandoned;
      Finish(Aborted(fmt::format("{}: release {} {}: {}", svc, release_.number,
                                 abandoned ? "abandoned" : "rolled back", d.reason)),
             JobState::kRolledBack, ReleaseStatus::kRolledBack, d.reason);
      return;
    }
    case Decision::Kind::kPause: {
      // failure_action: pause. The deploy's caller hears it now and the release reads failed
      // ("paused: ...") while it holds; a resume or a rollback decides its end.
      held_ = Held{};
      held_.strategy = true;
      pause_ = PauseInfo{"", d.reason, state_, Now()};
      EnterPaused();
      release_.status = ReleaseStatus::kFailed;
      release_.reason = "paused: " + d.reason;
      release_.numbers = numbers_.ToJson();
      if (Status fs = ports_.releases->Finish(svc, release_.number, ReleaseStatus::kFailed,
                                              release_.reason, release_.numbers);
          !fs.ok()) {
        Note("recording the pause failed: " + fs.message());
      }
      Note(fmt::format(
          "paused (failure_action: pause): {}; resume with `slipway deploy resume {}` or roll "
          "back with `slipway rollback {}`",
          d.reason, svc, svc));
      if (ports_.held) {
        ports_.held(
            Aborted(fmt::format("{}: release {} paused: {}", svc, release_.number, d.reason)),
            release_);
      }
      return;
    }
    case Decision::Kind::kFail:
      Finish(Aborted(fmt::format(
                 "{}: release {} {}: {}", svc, release_.number,
                 in_.strategy == config::DeployStrategy::kRolling && state_ == JobState::kPromoting
                     ? "finished with"
                     : "failed",
                 d.reason)),
             JobState::kFailed, ReleaseStatus::kFailed, d.reason);
      return;
  }
}

// --- Readiness ----------------------------------------------------------------------------

void JobRunner::WaitReady(const std::string& set, int want, Happened then, Duration timeout) {
  ready_wait_ = ReadyWait{set, want, Now() + timeout, then};
  auto alive = alive_;
  // The deadline; readiness itself arrives as a change event.
  timer_ = ports_.loop->RunAfter(timeout, [this, alive] {
    if (!*alive) return;
    timer_ = 0;
    CheckReady();
  });
  CheckReady();
  // A pause asked for while a resize was in flight holds the wait it led to.
  if (ready_wait_ && pausing_) HoldNow();
}

void JobRunner::StartWait(Duration how_long) {
  auto alive = alive_;
  waiting_timer_ = true;
  wait_until_ = Now() + how_long;
  timer_ = ports_.loop->RunAfter(how_long, [this, alive] {
    if (!*alive) return;
    timer_ = 0;
    waiting_timer_ = false;
    Observe(Happened::kWaited);
  });
}

void JobRunner::CheckReady() {
  if (!ready_wait_) return;
  const ReadyWait w = *ready_wait_;
  GroupView g = ports_.groups->Group(service(), w.set);
  std::string failure;
  if (!g.exists) {
    failure = fmt::format("set {} is gone", w.set);
  } else if (g.crashed > 0 || g.unhealthy > 0 ||
             g.max_failing_streak >= in_.ds.analysis.health_failures) {
    failure = fmt::format("{} never became ready: {}", w.set,
                          g.problem.empty() ? "failing health checks" : g.problem);
  } else if (g.ready >= w.want) {
    ready_wait_.reset();
    CancelTimer();
    if (w.then == Happened::kStarted) {
      numbers_.ready_ms = MsSince(started_, Now());
      Note(fmt::format("{} ready in {:.0f} ms", w.set, *numbers_.ready_ms));
    }
    Observe(w.then);
    return;
  } else if (Now() >= w.deadline) {
    failure = fmt::format("{} not ready within {} ms ({} of {} ready)", w.set,
                          in_.ds.health_timeout.count(), g.ready, w.want);
  } else {
    return;  // the next change event or the deadline
  }
  ready_wait_.reset();
  CancelTimer();
  FailStep(FailureKind::kNotReady, failure);
}

// --- Analysis -----------------------------------------------------------------------------

void JobRunner::BeginWatch(Duration how_long) {
  if (!analyzer_) {
    analyzer_ = std::make_unique<Analyzer>(in_.ds.analysis,
                                           ports_.groups->Group(service(), new_set_).restarts);
  }
  numbers_.judged = true;
  watch_until_ = Now() + how_long;
  Tick();
}

void JobRunner::Tick() {
  if (!watch_until_) return;
  const MonoTime now = Now();
  analyzer_->Add(now, ports_.traffic->Stats(service(), new_set_),
                 ports_.traffic->Stats(service(), old_set_));
  Verdict v = analyzer_->Judge(ports_.groups->Group(service(), new_set_));
  numbers_.analysis = v.numbers;
  if (v.breach) {
    watch_until_.reset();
    CancelTimer();
    numbers_.detect_ms = MsSince(traffic_moved_ ? switched_ : started_, now);
    last_breach_ = v.kind;
    if (ports_.metrics) ports_.metrics->Detected(service(), *numbers_.detect_ms / 1000.0);
    FailStep(FailureKind::kBreach, v.reason);
    return;
  }
  if (now >= *watch_until_) {
    watch_until_.reset();
    CancelTimer();
    Observe(Happened::kWatched);
    return;
  }
  auto alive = alive_;
  timer_ = ports_.loop->RunAfter(in_.ds.analysis.interval, [this, alive] {
    if (!*alive) return;
    timer_ = 0;
    Tick();
  });
}

// --- Smoke, promote, finish ----------------------------------------------------------------

void JobRunner::RunSmoke() {
  GroupView g = ports_.groups->Group(service(), new_set_);
  std::map<std::string, std::string> env = HookEnv();
  env.erase("SLIPWAY_VERSION");
  std::string addrs;
  for (const auto& [id, port] : g.addresses) {
    addrs += fmt::format("{}127.0.0.1:{}", addrs.empty() ? "" : ",", port);
  }
  env["SLIPWAY_NEW_ADDRS"] = addrs;
  env["SLIPWAY_NEW_ADDR"] = addrs.substr(0, addrs.find(','));
  Note("smoke test: running against " + addrs);
  auto alive = alive_;
  RunCommand(ports_.loop, in_.ds.smoke, env, in_.spec.working_dir.string(), Duration(120'000),
             [this, alive](Status st) {
               if (!*alive || IsTerminal(state_)) return;
               if (!st.ok()) {
                 FailStep(FailureKind::kCommand, "smoke test failed: " + st.message());
                 return;
               }
               Note("smoke test: ok");
               Observe(Happened::kSmokePassed);
             });
}

void JobRunner::Promote(const Decision& d) {
  const std::string& svc = service();
  if (Status st = ports_.groups->Promote(svc, new_set_); !st.ok()) {
    FailStep(FailureKind::kPort, "promoting: " + st.message());
    return;
  }
  promoted_ = true;
  plan_.reset();
  if (Status st = ports_.traffic->ClearPlan(svc); !st.ok()) {
    // The plan still sends the promoted set its weight; the next route change corrects it.
    logging::Error("deploy", "clearing the traffic plan: " + st.message(),
                   {{"service", svc}, {"release", release_.number}});
    Note("clearing the traffic plan failed: " + st.message());
  }
  // A set kept warm by an earlier deploy is no longer the one to return to.
  if (Status st = ports_.warm->Retire(svc); !st.ok()) {
    logging::Error("deploy", "stopping the set an earlier deploy kept warm: " + st.message(),
                   {{"service", svc}});
  }
  GroupView old = ports_.groups->Group(svc, old_set_);
  if (old.exists && old.instances > 0 && d.keep_warm) {
    ports_.warm->Keep(svc, old_set_, old_release_, in_.ds.rollback_window, in_.ds.drain);
    Note(fmt::format("{} kept warm for {} ms for rollbacks", old_set_,
                     in_.ds.rollback_window.count()));
  } else if (old.exists) {
    if (Status st = ports_.groups->Stop(svc, old_set_, in_.ds.drain, [] {}); !st.ok()) {
      logging::Error("deploy", "stopping " + old_set_ + ": " + st.message(), {{"service", svc}});
      Note("stopping " + old_set_ + " failed: " + st.message());
    }
  }
  Observe(Happened::kPromoted);
}

void JobRunner::Succeed() {
  if (analyzer_) numbers_.totals = analyzer_->Totals();
  numbers_.total_ms = MsSince(started_, Now());
  if (in_.ds.post_hook.empty()) {
    Finish(Status::OK(), JobState::kSucceeded, ReleaseStatus::kSucceeded, "");
    return;
  }
  Enter(JobState::kPostHook, "post hook");
  auto alive = alive_;
  RunCommand(ports_.loop, in_.ds.post_hook, HookEnv(), in_.spec.working_dir.string(),
             Duration(300'000), [this, alive](Status st) {
               if (!*alive) return;
               Note(st.ok() ? "post hook: ok" : "post hook failed: " + st.message());
               Finish(Status::OK(), JobState::kSucceeded, ReleaseStatus::kSucceeded,
                      st.ok() ? "" : "post hook failed: " + st.message());
             });
}

void JobRunner::Finish(Status st, JobState terminal, ReleaseStatus status,
                       const std::string& reason) {
  CancelTimer();
  ready_wait_.reset();
  watch_until_.reset();
  waiting_timer_ = false;
  pausing_ = false;
  pause_.reset();
  held_ = Held{};
  Enter(terminal, reason);
  release_.status = status;
  release_.reason = reason;
  release_.numbers = numbers_.ToJson();
  Status fs = ports_.releases->Finish(service(), release_.number, status, reason, release_.numbers);
  if (!fs.ok()) {
    logging::Error("deploy", "recording the release's outcome: " + fs.message(),
                   {{"service", service()}, {"release", release_.number}});
    Note("recording the release's outcome failed: " + fs.message());
  }
  Note(st.ok() ? fmt::format("release {} {}", release_.number, ReleaseStatusName(status))
               : st.message());
  RecordMetrics(status);
  if (ports_.listener) {
    DeployEventKind kind =
        status == ReleaseStatus::kSucceeded
            ? (in_.manual_rollback ? DeployEventKind::kManualRollback : DeployEventKind::kDeployed)
        : status == ReleaseStatus::kRolledBack ? DeployEventKind::kRolledBack
                                               : DeployEventKind::kFailed;
    ports_.listener({service(), release_.number, release_.version, in_.strategy, kind, reason,
                     release_.numbers, ""});
  }
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(st, release_);
}

}  // namespace slipway::deploy
