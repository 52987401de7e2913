// Instance: one supervised replica of a service (`index` is 1-based).
//
// Start() spawns the process; when it ends, the restart policy decides: no / always /
// unless-stopped / on-failure[:N]. Restarts wait a capped exponential backoff (backoff_initial
// doubling up to backoff_max, plus the policy's own delay); the backoff resets once a run
// lasted backoff_reset. Stop() sends stop_signal to the process group, then SIGKILL after
// stop_grace, and no restart follows. Output lines go to the LogStore (may be null).
//
// States: kCreated (never started), kRunning, kBackoff (waiting to restart), kStopping
// (Stop() sent the signal), kExited (ended and no restart: by policy or by Stop(); last_exit()
// has the status), kFailed (could not spawn on a restart, or on-failure's limit reached).
//
// With a ProcessKeeper (SetProcessKeeper), each spawned process's output pipes are parked with
// it under PipeKey() and dropped when the process ends; Adopt() takes over a process an
// earlier daemon spawned (its pipes taken back from the keeper), with its restart count.
//
// Ownership and threads: the caller owns the Instance; every method and every Observer
// callback runs on the loop's thread. Destroying a running Instance kills its process group
// (SIGKILL) without callbacks. Observer callbacks may call Stop() but must not destroy the
// Instance (post the destruction to the loop instead).
#pragma once

#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/project.h"
#include "net/event_loop.h"
#include "runtime/log_store.h"
#include "runtime/process.h"
#include "runtime/process_host.h"
#include "runtime/process_keeper.h"

namespace slipway::runtime {

enum class InstanceState { kCreated, kRunning, kBackoff, kStopping, kExited, kFailed };
std::string_view InstanceStateName(InstanceState s);  // "created", "running", ...

struct InstanceSpec {
  std::string service;
  std::string set;  // the deploy's instance set it was made for ("" for `up`'s); names only
  int index = 1;
  int port = 0;         // the PORT handed to the instance
  ProcessSpec process;  // env already contains PORT etc.
  config::RestartPolicy restart;
  int stop_signal = SIGTERM;
  Duration stop_grace{10'000};
  // Restart backoff: backoff_initial * 2^k capped at backoff_max (k = restarts since the last
  // run that lasted at least backoff_reset), plus restart.delay.
  Duration backoff_initial{250};
  Duration backoff_max{30'000};
  Duration backoff_reset{10'000};
};

// What a daemon that died knew about a running process of an instance (engine snapshot).
struct AdoptedProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;  // ProcessStartTime when it was spawned
  int restarts = 0;
  MonoTime started_at{};  // on this daemon's loop clock
};

// The delay before restart number `attempt` (0-based count of quick consecutive failures).
Duration RestartBackoff(const InstanceSpec& spec, int attempt);

class Instance {
 public:
  struct Observer {                             // all callbacks on the loop; any may be empty
    std::function<void(Instance&)> on_started;  // each (re)start
    std::function<void(Instance&, ExitStatus, bool will_restart)> on_exit;
    // A restart could not spawn (the instance is now kFailed). Start()'s own error is
    // returned from Start() instead.
    std::function<void(Instance&, const Status&)> on_spawn_error;
  };

  Instance(net::EventLoop* loop, InstanceSpec spec, LogStore* logs, Observer obs);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Spawns the process (kRunning, on_started fires before Start() returns) or returns the
  // spawn error prefixed with the service ("api: cannot run ...") and becomes kFailed.
  // FailedPrecondition while running, backing off or stopping.
  Status Start();
  // Takes over a process an earlier daemon spawned (state kCreated only): its pipes come back
  // from the ProcessKeeper (FailedPrecondition without one or without parked pipes: the
  // caller stops the process instead), its exit is watched through a pidfd. No on_started.
  Status Adopt(const AdoptedProcess& p);
  // An instance whose process ended while no daemon ran and is not restarted: kExited with
  // `st` (state kCreated only).
  void MarkExited(ExitStatus st);
  // Stops for good (no restart). `done` runs once the process is gone: at once (inside Stop)
  // when nothing runs. Several pending Stop() calls all get their `done`.
  void Stop(std::function<void()> done);

  // Where processes are spawned and adopted (ProcessHost::Real() unless set; outlives this).
  void SetProcessHost(ProcessHost* host) { host_ = host; }
  // Where the output pipes of spawned processes are parked (may be null: not parked).
  void SetProcessKeeper(ProcessKeeper* keeper) { keeper_ = keeper; }
  // The key a process's pipes are parked under: "service/set/index/pid".
  static std::string PipeKey(const std::string& service, const std::string& set, int index,
                             pid_t pid);

  InstanceState state() const { return state_; }
  bool adopted() const { return process_ && process_->adopted(); }
  int restarts() const { return restarts_; }  // restarts done by the policy since Start()
  // Carries the count over from an earlier daemon (a restart done while recovering).
  void set_restarts(int n) { restarts_ = n; }
  pid_t pid() const { return process_ ? process_->pid() : 0; }
  std::optional<ExitStatus> last_exit() const { return last_exit_; }
  MonoTime started_at() const { return started_at_; }
  const InstanceSpec& spec() const { return spec_; }
  // When the pending restart fires (kBackoff only).
  MonoTime next_restart_at() const { return next_restart_at_; }

 private:
  Status SpawnProcess();
  void OnProcessExit(ExitStatus st);
  void OnRestartTimer();
  bool ShouldRestart(const ExitStatus& st) const;
  void FinishStop();
  void ParkPipes();

  net::EventLoop* loop_;
  InstanceSpec spec_;
  LogStore* logs_;
  ProcessHost* host_ = ProcessHost::Real();
  ProcessKeeper* keeper_ = nullptr;
  Observer obs_;
  std::unique_ptr<ProcessHandle> process_;
  InstanceState state_ = InstanceState::kCreated;
  int restarts_ = 0;
  int quick_failures_ = 0;
  std::optional<ExitStatus> last_exit_;
  MonoTime started_at_{};
  MonoTime next_restart_at_{};
  net::EventLoop::TimerId restart_timer_ = 0;
  std::vector<std::function<void()>> stop_waiters_;
  std::shared_ptr<bool> alive_;
};

}  // namespace slipway::runtime
