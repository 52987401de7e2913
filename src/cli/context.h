// CliContext: what every command shares: the global flags, the project, the daemon client.
//
// One per CLI invocation, owned by cli::Main; single-threaded except where a command says so
// (`up` follows logs on a second thread; Call() is safe from any thread).
//
// Output rules every command follows: errors are one line on stderr (`slipway: <what>: <why>`,
// or the loader's `file:line:col: key: what` for bad input); exit codes are 0 success,
// 1 failed operation, 2 bad input; listings take `--format json`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "config/loader.h"
#include "config/project.h"
#include "daemon/daemon.h"

namespace slipway::cli {

class CliContext {
 public:
  // Global flags, filled by CLI11 before any command runs.
  std::vector<std::string> files;
  std::vector<std::string> env_files;
  std::vector<std::string> profiles;
  std::string project_name;
  std::string project_directory;
  // --log-format text|json for a daemon this invocation starts ("" = $SLIPWAY_LOG_FORMAT).
  std::string log_format;

  // The options LoadProject() uses (global flags + the process environment).
  config::LoadOptions LoadOptions() const;

  // Loads (once) and returns the project; on error prints nothing (the caller uses Fail()).
  Result<const config::Project*> Project();

  // `.slipway` of the project (loads the project to find it).
  Result<daemon::StatePaths> Paths();

  // True when a daemon answers on the project's socket.
  bool DaemonRunning();
  // Starts the daemon when none answers and waits until it does (up to ~10 s).
  Status EnsureDaemon();

  // One request to the daemon: JSON body in, JSON out. An error answer ({"error","exit"})
  // becomes a Status with the daemon's message and the matching code. `timeout` 0 = none.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr, Duration timeout = Duration(0));
  // Streams a GET: `on_line` gets each NDJSON line; returns when the stream ends or on_line
  // returns false.
  Status Stream(const std::string& path, const std::function<bool(const nlohmann::json&)>& on_line);

  // Prints the error (one line) and returns its exit code.
  static int Fail(const Status& st, std::string_view command = {});

 private:
  std::optional<Result<config::Project>> project_;
};

}  // namespace slipway::cli
