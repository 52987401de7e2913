// Daemon: the long-running process that owns a project's services.
//
// `slipway up` starts it (detached, in its own session) when it is not running. It holds an
// exclusive lock on `.slipway/daemon.lock`, writes `.slipway/daemon.pid`, opens the state
// store and the log store, runs the engine and the proxy, and serves the admin API on
// `.slipway/api.sock` (the CLI) and on the TCP address kept in `.slipway/api.addr` (stable
// across restarts). SIGTERM/SIGINT stop every service gracefully, then the daemon exits; so
// does `POST /api/v1/down`.
//
// Threads: RunDaemon() runs the control loop on the calling thread; the proxy runs its own
// worker threads.
#pragma once

#include <filesystem>

#include "config/loader.h"

namespace slipway::daemon {

struct DaemonOptions {
  std::filesystem::path state_dir;  // the project's .slipway folder
  config::LoadOptions load;         // how to load the project at start
  // The daemon's own log: "text" or "json" (one object per line: ts, level, msg, fields).
  // "" = $SLIPWAY_LOG_FORMAT, else text. `slipway --log-format json up` passes it through the
  // environment of the daemon it starts.
  std::string log_format;
};

// Blocks until the daemon shuts down. Returns the process exit code.
int RunDaemon(const DaemonOptions& options);

// The files of a state folder, in one place so the CLI and the daemon agree.
struct StatePaths {
  explicit StatePaths(std::filesystem::path dir) : dir(std::move(dir)) {}
  std::filesystem::path dir;
  std::filesystem::path socket() const { return dir / "api.sock"; }
  std::filesystem::path pid_file() const { return dir / "daemon.pid"; }
  std::filesystem::path lock_file() const { return dir / "daemon.lock"; }
  std::filesystem::path addr_file() const { return dir / "api.addr"; }
  std::filesystem::path token_file() const { return dir / "token"; }
  // Reads over TCP only (GET routes): for dashboards and scripts that must not change things.
  std::filesystem::path read_token_file() const { return dir / "read-token"; }
  std::filesystem::path db() const { return dir / "state.db"; }
  // The series store saved for the next daemon (promql/series_snapshot.h).
  std::filesystem::path series_snapshot() const { return dir / "series.snapshot"; }
  std::filesystem::path logs() const { return dir / "logs"; }
  std::filesystem::path daemon_log() const { return dir / "logs" / "daemon.log"; }
};

}  // namespace slipway::daemon
