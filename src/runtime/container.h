// ContainerEngine: runs a service's image through the podman or docker CLI in the
// foreground, so the supervisor (Instance) treats it like any other process.
//
// Detect() picks the first of podman/docker whose `<bin> info` answers (exit 0) within the
// timeout. BuildRunSpec() gives the ProcessSpec of
//   <bin> [global flags] run --rm --init --name slipway-<project>-<service>[-<set>]-<index>
//         --network=host
//         [--replace --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 (podman)]
//         [--add-host NAME:ADDR ...] [--user U] [--cpus C] [--memory BYTES] [--pids-limit N]
//         [--label k=v ...] -e K=V ...
//         [--mount ... --secret ...] [--entrypoint E] <image> [args...]
// (mounts: runtime/container_assets.h; <image> is a build's "<project>-<service>" when the
// service has no `image:`; --rm stays: a service's data lives in its named volumes)
// (--add-host: the project's service names, config/service_addresses.h)
// (--cpus/--memory/--pids-limit: deploy.resources.limits, config/resources_settings.h)
// (the recipe flags podman needs on these machines). --init puts a tiny init (catatonit/tini)
// at PID 1: a plain server as PID 1 ignores SIGTERM, so the client's forwarded stop signal
// would do nothing, and the SIGKILL after the grace period kills only the client and leaves the
// container running. Names are per (project, service, instance set, index), so no two live
// containers of one daemon share a name, and one daemon per project holds the state lock: a
// container of the same name can only be one a killed daemon left running. Podman's --replace
// removes it; docker has no such flag, so for docker the spec is
//   /bin/sh -c '<bin> [global flags] rm -f <name> >/dev/null 2>&1; exec <bin> ... run ...'
// (as compose, two projects of the same name on one machine would share names). Global flags
// (e.g. podman's --root, --runroot, --tmpdir for a private storage) go before the subcommand
// on every command (run, exec, rm, info).
//
// The daemon's global flags come from the environment variable SLIPWAY_CONTAINER_FLAGS
// (kFlagsEnv), split into words as a shell would (quotes and backslashes, no expansion), read by
// the no-candidates Detect():
//   SLIPWAY_CONTAINER_FLAGS="--root '/x y/root' --runroot /x/run --tmpdir /x/tmp" slipway up -d
// The daemon inherits the environment of the `slipway up` that started it.
//
// Health probes of container services (CMD / CMD-SHELL) run inside the container through
// ExecArgv(name) = `<bin> [global flags] exec <name>` + the test (see health/probe.h).
//
// Values are plain data (copyable, any thread). Detect() and RemoveSync() block (they run the
// CLI and wait, bounded by a timeout): call them at start-up, not from a busy loop.
// RemoveAsync() runs on the loop.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/project.h"
#include "net/event_loop.h"
#include "runtime/process.h"

namespace slipway::runtime {

class ContainerEngine {
 public:
  // `binary` is a name looked up in PATH or a path; `global_flags` go before every subcommand.
  explicit ContainerEngine(std::string binary, std::vector<std::string> global_flags = {});

  static constexpr const char* kFlagsEnv = "SLIPWAY_CONTAINER_FLAGS";

  // The first of `candidates` (default: podman, docker) that answers `<bin> info`.
  // NotFound when none does; the message lists why each failed. The first form uses the
  // global flags of $SLIPWAY_CONTAINER_FLAGS (see above).
  static Result<ContainerEngine> Detect(Duration timeout = Duration(5'000));
  static Result<ContainerEngine> Detect(const std::vector<std::string>& candidates,
                                        std::vector<std::string> global_flags, Duration timeout);

  std::string binary() const { return binary_; }
  bool is_podman() const;
  const std::vector<std::string>& global_flags() const { return global_flags_; }

  // `value` split into shell words (config/shell_words.h); InvalidInput naming kFlagsEnv when
  // a quote is not closed.
  static Result<std::vector<std::string>> SplitFlags(std::string_view value);

  // `set` is the instance set of a deploy ("r3"; "" for the one `up` starts): two releases of
  // a service run side by side during a deploy and must not share container names.
  static std::string ContainerName(const std::string& project, const std::string& service,
                                   int index, const std::string& set = "");

  // `env` is the service environment plus PORT etc.; it goes to the container with -e. The
  // spec's own env is the daemon's (the CLI needs PATH, HOME, XDG_*). `hosts` are (name,
  // address) pairs, each passed as --add-host (runtime/sandbox.h HostEntries()).
  ProcessSpec BuildRunSpec(
      const std::string& project, const config::Service& service, int index,
      const std::map<std::string, std::string>& env, const std::string& set = "",
      const std::vector<std::pair<std::string, std::string>>& hosts = {}) const;
  // `<bin> [global flags] exec <name>`: append a command to run it inside the container.
  std::vector<std::string> ExecArgv(const std::string& container_name) const;
  // `<bin> rm -f -i <name>` style removal of a leftover container (missing is fine).
  ProcessSpec BuildRemoveSpec(const std::string& container_name) const;
  Status RemoveSync(const std::string& container_name, Duration timeout = Duration(30'000)) const;
  void RemoveAsync(net::EventLoop* loop, const std::string& container_name,
                   std::function<void(Status)> done) const;

 private:
  std::string binary_;
  std::vector<std::string> global_flags_;
};

// Runs `spec` to completion without a loop (blocking, for start-up checks). The child's group
// is killed at `timeout` (DeadlineExceeded). `output` (optional) gets up to 64 KiB of
// stdout+stderr.
Result<ExitStatus> RunSync(const ProcessSpec& spec, Duration timeout, std::string* output);

// A free TCP port on 127.0.0.1: binds port 0, reads the port, closes.
Result<int> PickFreePort();

}  // namespace slipway::runtime
