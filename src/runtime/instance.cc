#include "runtime/instance.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/log.h"

namespace slipway::runtime {

std::string_view InstanceStateName(InstanceState s) {
  switch (s) {
    case InstanceState::kCreated:
      return "created";
    case InstanceState::kRunning:
      return "running";
    case InstanceState::kBackoff:
      return "backoff";
    case InstanceState::kStopping:
      return "stopping";
    case InstanceState::kExited:
      return "exited";
    case InstanceState::kFailed:
      return "failed";
  }
  return "unknown";
}

Duration RestartBackoff(const InstanceSpec& spec, int attempt) {
  Duration d = spec.backoff_initial;
  for (int i = 0; i < attempt && d < spec.backoff_max; ++i) d *= 2;
  return std::min(d, spec.backoff_max) + spec.restart.delay;
}

Instance::Instance(net::EventLoop* loop, InstanceSpec spec, LogStore* logs, Observer obs)
    : loop_(loop),
      spec_(std::move(spec)),
      logs_(logs),
      obs_(std::move(obs)),
      alive_(std::make_shared<bool>(true)) {}

Instance::~Instance() {
  if (restart_timer_) loop_->Cancel(restart_timer_);
  process_.reset();  // SIGKILL to the group and reap, no callbacks
}

Status Instance::Start() {
  if (state_ == InstanceState::kRunning || state_ == InstanceState::kBackoff ||
      state_ == InstanceState::kStopping) {
    return FailedPrecondition(spec_.service + "." + std::to_string(spec_.index) + " is " +
                              std::string(InstanceStateName(state_)));
  }
  restarts_ = 0;
  quick_failures_ = 0;
  Status st = SpawnProcess();
  if (!st.ok()) {
    state_ = InstanceState::kFailed;
    return st;
  }
  if (obs_.on_started) obs_.on_started(*this);
  return Status::OK();
}

std::string Instance::PipeKey(const std::string& service, const std::string& set, int index,
                              pid_t pid) {
  return fmt::format("{}/{}/{}/{}", service, set.empty() ? "-" : set, index, pid);
}

void Instance::ParkPipes() {
  if (!keeper_ || !process_) return;
  std::vector<int> fds;
  for (int fd : {process_->stdout_fd(), process_->stderr_fd()}) {
    if (fd >= 0) fds.push_back(fd);
  }
  if (fds.empty()) return;
  Status st = keeper_->Park(PipeKey(spec_.service, spec_.set, spec_.index, process_->pid()), fds);
  if (!st.ok()) {
    logging::Warn("runtime", "parking the output pipes: " + st.message(),
                  {{"service", spec_.service}, {"instance", spec_.index}});
  }
}

Status Instance::Adopt(const AdoptedProcess& p) {
  if (state_ != InstanceState::kCreated) {
    return FailedPrecondition(
        fmt::format("{}.{} is {}", spec_.service, spec_.index, InstanceStateName(state_)));
  }
  if (!keeper_) return FailedPrecondition("no keeper holds the output pipes");
  ASSIGN_OR_RETURN(std::vector<net::UniqueFd> fds,
                   keeper_->Take(PipeKey(spec_.service, spec_.set, spec_.index, p.pid)));
  if (fds.size() != 2) return FailedPrecondition("the keeper holds no output pipes for it");
  auto on_output = [this](bool is_stderr, std::string_view line) {
    if (logs_) logs_->Append(spec_.service, spec_.index, is_stderr, line);
  };
  auto on_exit = [this](ExitStatus st) { OnProcessExit(st); };
  ProcessKeeper* keeper = keeper_;
  ASSIGN_OR_RETURN(process_,
                   host_->Adopt(loop_, p.pid, p.start_time, std::move(fds[0]), std::move(fds[1]),
                                std::move(on_output), std::move(on_exit),
                                [keeper](pid_t pid) { return keeper->ExitOf(pid); }));
  state_ = InstanceState::kRunning;
  restarts_ = p.restarts;
  started_at_ = p.started_at;
  return Status::OK();
}

void Instance::MarkExited(ExitStatus st) {
  if (state_ != InstanceState::kCreated) return;
  state_ = InstanceState::kExited;
  last_exit_ = st;
}

Status Instance::SpawnProcess() {
  auto on_output = [this](bool is_stderr, std::string_view line) {
    if (logs_) logs_->Append(spec_.service, spec_.index, is_stderr, line);
  };
  auto on_exit = [this](ExitStatus st) { OnProcessExit(st); };
  auto p = host_->Spawn(loop_, spec_.process, std::move(on_output), std::move(on_exit));
  if (!p.ok()) return p.status().WithContext(spec_.service);
  process_ = std::move(p).value();
  state_ = InstanceState::kRunning;
  started_at_ = loop_->Now();
  ParkPipes();
  return Status::OK();
}

bool Instance::ShouldRestart(const ExitStatus& st) const {
  using Mode = config::RestartPolicy::Mode;
  switch (spec_.restart.mode) {
    case Mode::kNo:
      return false;
    case Mode::kAlways:
    case Mode::kUnlessStopped:
      return true;
    case Mode::kOnFailure:
      return !st.success();
  }
  return false;
}

void Instance::OnProcessExit(ExitStatus st) {
  // The pipes are drained: the keeper's copies can go.
  if (keeper_ && process_) {
    keeper_->Drop(PipeKey(spec_.service, spec_.set, spec_.index, process_->pid()));
  }
  // Destroying the Process from inside its own on_exit is allowed.
  process_.reset();
  last_exit_ = st;
  std::weak_ptr<bool> alive = alive_;
  if (state_ == InstanceState::kStopping) {
    state_ = InstanceState::kExited;
    if (obs_.on_exit) obs_.on_exit(*this, st, false);
    if (alive.expired()) return;
    FinishStop();
    return;
  }
  bool restart = ShouldRestart(st);
  bool limit_reached = restart && spec_.restart.mode == config::RestartPolicy::Mode::kOnFailure &&
                       spec_.restart.max_attempts > 0 && restarts_ >= spec_.restart.max_attempts;
  if (restart && !limit_reached) {
    if (loop_->Now() - started_at_ >= spec_.backoff_reset) quick_failures_ = 0;
    Duration delay = RestartBackoff(spec_, quick_failures_);
    ++quick_failures_;
    state_ = InstanceState::kBackoff;
    next_restart_at_ = loop_->Now() + delay;
    restart_timer_ = loop_->RunAfter(delay, [this] { OnRestartTimer(); });
  } else {
    state_ = limit_reached ? InstanceState::kFailed : InstanceState::kExited;
  }
  if (obs_.on_exit) obs_.on_exit(*this, st, restart && !limit_reached);
}

void Instance::OnRestartTimer() {
  restart_timer_ = 0;
  ++restarts_;
  Status st = SpawnProcess();
  if (!st.ok()) {
    state_ = InstanceState::kFailed;
    if (obs_.on_spawn_error) obs_.on_spawn_error(*this, st);
    return;
  }
  if (obs_.on_started) obs_.on_started(*this);
}

void Instance::Stop(std::function<void()> done) {
  switch (state_) {
    case InstanceState::kRunning:
      state_ = InstanceState::kStopping;
      if (done) stop_waiters_.push_back(std::move(done));
      process_->Stop(spec_.stop_signal, spec_.stop_grace);
      return;
    case InstanceState::kStopping:
      if (done) stop_waiters_.push_back(std::move(done));
      return;
    case InstanceState::kBackoff:
      loop_->Cancel(restart_timer_);
      restart_timer_ = 0;
      state_ = InstanceState::kExited;
      break;
    case InstanceState::kCreated:
    case InstanceState::kExited:
    case InstanceState::kFailed:
      break;
  }
  if (done) done();
}

void Instance::FinishStop() {
  std::vector<std::function<void()>> waiters;
  waiters.swap(stop_waiters_);
  for (auto& fn : waiters) fn();
}

}  // namespace slipway::runtime
