// ProcessHost: the OS seam under a supervised instance (runtime/instance.h): spawning a
// process, adopting one an earlier daemon spawned, and the handle through which it is
// signalled and its exit reported. Real() is fork/exec/pidfd (runtime/process.h); tests of
// what sits above (the engine) use a fake whose processes run and exit when the test says,
// on a loop driven by a FakeClock (engine/fake_host.h).
//
// Ownership and threads: a host outlives every handle it made; Spawn/Adopt, the handles and
// their callbacks run on the loop's thread, with Process's contract (on_exit at most once,
// and a callback may destroy its handle; destroying a running handle kills it, silently).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::runtime {

struct ExitStatus;
struct ProcessSpec;

// A process being watched: what a supervisor asks of it.
class ProcessHandle {
 public:
  virtual ~ProcessHandle() = default;
  virtual pid_t pid() const = 0;
  virtual bool adopted() const = 0;
  // The read ends of its output pipes (-1 when there are none), to park copies of them.
  virtual int stdout_fd() const = 0;
  virtual int stderr_fd() const = 0;
  // `sig` to its process group (no-op once exited).
  virtual void Signal(int sig) = 0;
  // `sig`, then SIGKILL after `grace` if it still runs; on_exit still fires.
  virtual void Stop(int sig, Duration grace) = 0;
};

class ProcessHost {
 public:
  using OutputFn = std::function<void(bool is_stderr, std::string_view line)>;
  using ExitFn = std::function<void(ExitStatus)>;
  using ExitOfFn = std::function<std::optional<int>(pid_t)>;

  virtual ~ProcessHost() = default;
  // As Process::Spawn: the error says why it could not run ("cannot run \"x\": ...").
  virtual Result<std::unique_ptr<ProcessHandle>> Spawn(net::EventLoop* loop,
                                                       const ProcessSpec& spec, OutputFn on_output,
                                                       ExitFn on_exit) = 0;
  // As Process::Adopt.
  virtual Result<std::unique_ptr<ProcessHandle>> Adopt(net::EventLoop* loop, pid_t pid,
                                                       uint64_t start_time, net::UniqueFd out,
                                                       net::UniqueFd err, OutputFn on_output,
                                                       ExitFn on_exit, ExitOfFn exit_of) = 0;

  // The machine's processes (runtime::Process); a process-wide constant.
  static ProcessHost* Real();
};

}  // namespace slipway::runtime
