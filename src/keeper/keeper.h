// Keeper: the small process that sits above a project's daemon so that the daemon's death is
// something nobody notices (`slipway keeper`, started by `up`; see docs/architecture.md,
// "Keeper").
//
// It holds `.slipway/keeper.lock` (one keeper per project) and writes `.slipway/keeper.pid`.
// It is the child subreaper (PR_SET_CHILD_SUBREAPER) of everything below it: service processes
// the daemon spawned are reparented to it when the daemon dies; it reaps them and keeps their
// wait statuses until a daemon asks (`exits`). It starts the daemon with one end of a
// SOCK_SEQPACKET socketpair (fd number in $SLIPWAY_KEEPER_FD) and answers the requests of
// protocol.h on it: it binds listening sockets and keeps its own copies (while no daemon runs,
// the kernel's accept queue holds new connections instead of refusing them), and parks fds
// (the services' output pipes) across daemon lives.
//
// A daemon that dies (signal, nonzero exit, or exit 0 without saying `stopping`) is started
// again after a capped exponential backoff (DaemonBackoff). A daemon that said `stopping` and
// exits 0 ends the keeper (exit 0). A first daemon that exits before it said `ready` ends the
// keeper with its exit code: a start that fails (bad compose file) is reported, not retried.
// SIGTERM/SIGINT are passed on to the daemon and the keeper exits with it.
//
// Retire (the host's ingress on SIGTERM): a daemon that says `retire` drains with nobody after
// it here. The keeper closes its listening copies, removes keeper.pid and releases
// keeper.lock at once, so a new keeper (started by whoever needs the service) may run in the
// same folder while the old daemon drains; the old keeper then writes and removes nothing in
// the folder and ends with its daemon, whatever its status (it never starts it again).
//
// Handover (`slipway daemon restart`, a self-upgrade): a daemon that says `handover` is
// answered, its channel is closed and its successor is started at once from the same argv (so
// a binary replaced on disk is the one that runs), told by `hello` that it follows a handover.
// The old daemon stops accepting, drains what it has in flight and exits; that exit, whatever
// its status, is only logged. While it drains, new connections wait in the accept queues of
// the sockets the keeper holds until the successor takes them.
//
// It parses no user input (no YAML, no JSON): the daemon's argv is passed through untouched.
//
// Threads: single-threaded. Create() blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP on the calling
// thread (they are read from a signalfd); run it on the main thread of its own process (tests
// run it on the test's thread).
#pragma once

#include <sys/types.h>

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "keeper/protocol.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::keeper {

// Restart delays of a daemon that keeps dying: initial, doubling, capped at max; a daemon that
// stayed up for `reset` starts the sequence over.
class DaemonBackoff {
 public:
  DaemonBackoff(Duration initial, Duration max, Duration reset)
      : initial_(initial), max_(max), reset_(reset) {}
  // The delay before the next start of a daemon that ran for `uptime`.
  Duration Next(Duration uptime);

 private:
  Duration initial_, max_, reset_;
  int attempt_ = 0;
};

struct KeeperOptions {
  std::filesystem::path state_dir;       // the project's .slipway folder
  std::vector<std::string> daemon_argv;  // argv[0]: the executable
  Duration backoff_initial{100};
  Duration backoff_max{5'000};
  Duration backoff_reset{30'000};
  Clock* clock = Clock::Real();  // drives the backoff timers
  bool subreaper = true;         // PR_SET_CHILD_SUBREAPER on the calling process
  size_t max_exits = 4096;       // statuses kept for `exits`; the oldest go first
};

class Keeper {
 public:
  // Takes the lock (FailedPrecondition when another keeper holds it), becomes subreaper,
  // writes keeper.pid, watches signals. Starts nothing yet.
  static Result<std::unique_ptr<Keeper>> Create(KeeperOptions options);
  ~Keeper();
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  // Starts the first daemon.
  Status Start();
  // One loop iteration (tests drive the keeper with this and a FakeClock).
  void RunOnce(Duration max_wait);
  // Start() then iterations until done(); returns exit_code().
  int Run();

  bool done() const { return done_; }
  int exit_code() const { return exit_code_; }
  pid_t daemon_pid() const { return daemon_pid_; }
  int daemon_starts() const { return starts_; }
  // The delay chosen at the last daemon death (0 before any).
  Duration last_backoff() const { return last_backoff_; }
  // Reaped statuses of processes other than the daemon, not yet asked for.
  const std::deque<std::pair<pid_t, int>>& pending_exits() const { return exits_; }
  size_t held_listeners() const { return listeners_.size(); }
  // The daemon said `retire`: the folder's lock and pid file are given up.
  bool retired() const { return retired_; }
  // Daemons that handed over and have not exited yet.
  size_t retiring() const { return retiring_.size(); }
  StartCause last_start_cause() const { return cause_; }

 private:
  explicit Keeper(KeeperOptions options);
  Status SpawnDaemon();
  void ScheduleRestart(Duration delay);
  void BeginHandover();
  void OnSignal();
  void Reap();
  void OnDaemonExit(int status);
  void OnControl();
  void CloseControl();
  // Answers one request; `fds` come with it (hold-fds), `out_fds` go back.
  std::string Handle(const Request& r, std::vector<net::UniqueFd>& fds, std::vector<int>& out_fds);
  std::string ListenTcp(const Request& r, std::vector<int>& out_fds);
  void Retire();
  void Finish(int code);
  void Log(const std::string& msg);

  struct Held {
    int bound_port = 0;
    bool reuseport = false;
    std::vector<net::UniqueFd> fds;
  };

  KeeperOptions options_;
  std::unique_ptr<net::EventLoop> loop_;
  net::UniqueFd lock_fd_;
  net::UniqueFd signal_fd_;
  net::UniqueFd control_;  // our end of the current daemon's socketpair
  pid_t daemon_pid_ = 0;
  MonoTime daemon_started_at_{};
  int starts_ = 0;
  bool ever_ready_ = false;
  bool said_stopping_ = false;
  bool handover_asked_ = false;                 // answer `handover`, then start the successor
  StartCause cause_ = StartCause::kFirst;       // of the daemon running now
  StartCause next_cause_ = StartCause::kCrash;  // of the next one started
  std::set<pid_t> retiring_;                    // handed over, still draining
  bool stop_requested_ = false;
  bool retired_ = false;  // `retire`: lock and pid file given up, ends with the daemon
  bool done_ = false;
  bool wrote_pid_ = false;
  int exit_code_ = 0;
  DaemonBackoff backoff_;
  Duration last_backoff_{0};
  net::EventLoop::TimerId restart_timer_ = 0;
  std::map<std::string, Held> listeners_;  // "tcp\0host\0port" / "unix\0path"
  std::map<std::string, std::vector<net::UniqueFd>> parked_;
  std::deque<std::pair<pid_t, int>> exits_;
};

// `slipway keeper`: runs a keeper until it is done; returns the process exit code.
int RunKeeper(KeeperOptions options);

}  // namespace slipway::keeper
