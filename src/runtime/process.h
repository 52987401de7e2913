// Process: one child process in its own process group, watched on an EventLoop.
//
// Spawn() forks and execs the child with exactly the environment, cwd and user of its
// ProcessSpec. Exec failures (no such program, bad cwd, unknown user) come back from Spawn()
// as a Status: the child reports its errno over a close-on-exec pipe, so a spawned Process
// always ran its program. The child is watched through a pidfd; its stdout and stderr are
// pipes read on the loop and split into lines (a partial last line is flushed at exit; lines
// longer than kMaxLineBytes are split). stdin is /dev/null.
//
// When the group leader exits, whatever is left of its process group is killed (SIGKILL)
// before the leader is reaped: a supervised service never leaves an orphan group behind.
//
// Ownership and threads: the caller owns the Process; everything (Spawn, the methods, the
// destructor, the callbacks) happens on the loop's thread. The callbacks may destroy the
// Process (for example from on_exit). on_exit fires exactly once, after the last output line,
// unless the Process is destroyed first (the destructor fires no callbacks).
//
// Adopt() watches a process an earlier daemon spawned (it is no longer our child: the keeper
// reaps it and ExitOf gives its status) through a pidfd, reading the pipes the earlier daemon
// parked. Everything else (signals, Stop, output, on_exit) behaves as for a spawned process.
//
// The pipes are enlarged (kStdoutPipeBytes / kStderrPipeBytes, best effort: the kernel's
// per-user pipe budget may refuse) so output written while no daemon reads is kept; a service
// that fills a pipe blocks in write() until a daemon reads again, it never loses a line.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "runtime/process_host.h"

namespace slipway::runtime {

struct ExitStatus {
  bool signaled = false;  // true: killed by `signal`; false: exited with `code`
  int code = 0;
  int signal = 0;

  // False when the process was reaped by someone who did not keep its status (an adopted
  // process whose status the keeper no longer had): counts as a failure.
  bool known = true;

  bool success() const { return known && !signaled && code == 0; }
  // "exited with code 3" / "killed by SIGKILL" / "exited (status not known)".
  std::string ToString() const;
  bool operator==(const ExitStatus&) const = default;
};

// One mount of a host process's private mount namespace (runtime/sandbox.h, host_mounts.h).
// Every path and flag is prepared by the parent: the forked child only calls mkdir/open/mount.
struct NamespaceMount {
  enum class Kind {
    kBind,            // source (a folder or a file) bind-mounted at target
    kTmpfs,           // a tmpfs at target (`options`: "mode=1777,size=N")
    kRemountReadOnly  // target (mounted earlier in the list) made read-only
  };
  Kind kind = Kind::kBind;
  std::string source;
  std::string target;
  bool read_only = false;
  // The mount point is made in the child first (only under a tmpfs mounted earlier in the
  // list, which is the namespace's own): kNone, an empty folder, or an empty file.
  enum class MakeTarget { kNone, kFolder, kFile };
  MakeTarget make_target = MakeTarget::kNone;
  std::vector<std::string> make_parents;  // folders to create first, outermost first
  std::string options;                    // kTmpfs: mount data
  std::string what;                       // "services.db.volumes[0]", for the error line
};

struct ProcessSpec {
  // argv[0] is looked up in the PATH of `env` when it has no '/' (default PATH when unset).
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // the complete environment of the child
  std::filesystem::path cwd;               // empty: the daemon's cwd
  std::string user;                        // optional: name or uid[:gid]; switched before exec
  // optional: bind-mounted over /etc/hosts in a private mount namespace (runtime/sandbox.h)
  std::filesystem::path hosts_file;
  // optional: volumes, tmpfs, secrets and configs in that same private namespace, in order
  // (runtime/host_mounts.h). A mount that fails fails the spawn ("cannot run ...: mount ...").
  std::vector<NamespaceMount> mounts;
  // optional: a cgroup v2 directory the child joins before anything else (it writes "0" to
  // its cgroup.procs), so its limits hold from the first instruction (runtime/cgroup.h). A
  // write that fails fails the spawn ("cannot run ...: join cgroup ...").
  std::filesystem::path cgroup;
};

// A waitpid() status as an ExitStatus.
ExitStatus ExitStatusFromWait(int wait_status);

// The environment of the calling process, as a map (for specs that inherit it).
std::map<std::string, std::string> CurrentEnvironment();

// Resolves argv[0] as Spawn() does: absolute or relative path when it contains '/',
// else the first executable match in the PATH of `env`. NotFound when there is none.
Result<std::string> ResolveExecutable(const std::string& name,
                                      const std::map<std::string, std::string>& env);

class Process final : public ProcessHandle {
 public:
  using OutputFn = std::function<void(bool is_stderr, std::string_view line)>;
  using ExitFn = std::function<void(ExitStatus)>;

  // The wait status of a process we did not spawn, if known yet (see Adopt).
  using ExitOfFn = std::function<std::optional<int>(pid_t)>;

  static constexpr size_t kMaxLineBytes = 16 * 1024;
  static constexpr int kStdoutPipeBytes = 1 << 20;
  static constexpr int kStderrPipeBytes = 256 << 10;

  // Errors: "cannot run \"pyhton\": No such file or directory", "cannot run \"x\": chdir
  // /nope: No such file or directory", "cannot run \"x\": unknown user \"bob\"".
  static Result<std::unique_ptr<Process>> Spawn(net::EventLoop* loop, const ProcessSpec& spec,
                                                OutputFn on_output, ExitFn on_exit);

  // Watches `pid`, which must still be the process that started at `start_time`
  // (ProcessStartTime; checked after the pidfd is open, so a reused pid is refused:
  // NotFound). `out`/`err` are its stdout/stderr read ends. Its exit status comes from
  // `exit_of`, asked every 10 ms for up to 2 s after the pidfd reports the exit (the keeper
  // reaps it a moment later); then the status is taken as not known.
  static Result<std::unique_ptr<Process>> Adopt(net::EventLoop* loop, pid_t pid,
                                                uint64_t start_time, net::UniqueFd out,
                                                net::UniqueFd err, OutputFn on_output,
                                                ExitFn on_exit, ExitOfFn exit_of);

  // If still running: SIGKILL to the group and reap (a blocking wait of a few ms).
  ~Process() override;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const override { return pid_; }
  bool running() const { return running_; }
  bool adopted() const override { return static_cast<bool>(exit_of_); }
  // The read ends of the output pipes (-1 once closed), e.g. to park dups of them.
  int stdout_fd() const override;
  int stderr_fd() const override;
  // Set once the process has exited (before on_exit runs).
  const std::optional<ExitStatus>& exit_status() const { return exit_; }

  // Sends `sig` to the whole process group. No-op once exited.
  void Signal(int sig) override;
  // `sig` to the group, then SIGKILL to the group after `grace` if the leader is still alive.
  // on_exit still fires. A second Stop() only sends its signal (the first deadline stands).
  void Stop(int sig, Duration grace) override;

 private:
  struct Stream;
  Process(net::EventLoop* loop, pid_t pid, int pidfd, int out_fd, int err_fd, OutputFn on_output,
          ExitFn on_exit);
  Status Watch();
  void OnReadable(Stream& s);
  void DrainStream(Stream& s, bool final_flush);
  void Emit(bool is_stderr, std::string_view line);
  void OnPidfd();
  void AskExit(int attempt);
  void Finish(ExitStatus st);
  void CloseStream(Stream& s);

  net::EventLoop* loop_;
  pid_t pid_;
  int pidfd_;
  std::unique_ptr<Stream> out_;
  std::unique_ptr<Stream> err_;
  std::shared_ptr<OutputFn> on_output_;  // shared so a callback can outlive `this`
  ExitFn on_exit_;
  bool running_ = true;
  std::optional<ExitStatus> exit_;
  net::EventLoop::TimerId kill_timer_ = 0;
  ExitOfFn exit_of_;  // set for adopted processes
  net::EventLoop::TimerId exit_timer_ = 0;
  std::shared_ptr<bool> alive_;  // false once destroyed; checked after each callback
};

}  // namespace slipway::runtime

namespace slipway::runtime {

// When `pid` started (field 22 of /proc/PID/stat: clock ticks since boot), so a pid recorded
// earlier can be told from a reused one. 0 when no such process runs (a zombie counts as gone).
uint64_t ProcessStartTime(pid_t pid);

// How long ago a process that started at `start_time` (ProcessStartTime) started.
Duration ProcessAge(uint64_t start_time);

// The environment `pid` was started with (/proc/PID/environ; empty when unreadable).
std::map<std::string, std::string> ProcessEnvironment(pid_t pid);

// A process a previous daemon of this project started (its pid and start time).
struct LeftoverProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// Stops processes a dead daemon left behind: each one still running (same pid, same start
// time) gets SIGTERM to its process group, then SIGKILL after `grace`. `done(stopped)` runs on
// the loop once every one is gone (the keeper reaps them; we only watch). Loop thread only.
void StopLeftovers(net::EventLoop* loop, std::vector<LeftoverProcess> procs, Duration grace,
                   std::function<void(int stopped)> done);

}  // namespace slipway::runtime
