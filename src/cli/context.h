// CliContext: what every command shares: the global flags, the project, the daemon client.
//
// One per CLI invocation, owned by cli::Main; single-threaded except where a command says so
// (`up` follows logs on a second thread; Call() is safe from any thread).
//
// Output rules every command follows: errors are one line on stderr, made by Fail/ErrorLine
// (`slipway: <command>: <why>`, or the loader's `file:line:col: key: what` for bad input);
// exit codes are 0 success, 1 failed operation, 2 bad input; listings take `--format json`.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "config/loader.h"
#include "config/project.h"
#include "daemon/daemon.h"
#include "http/client.h"

namespace slipway::cli {

// A query parameter's value for an API path: RFC 3986's unreserved characters as they are,
// every other byte percent-encoded.
std::string UrlEncode(std::string_view s);

class CliContext {
 public:
  // Global flags, filled by CLI11 before any command runs.
  std::vector<std::string> files;
  std::vector<std::string> env_files;
  std::vector<std::string> profiles;
  std::string project_name;
  std::string project_directory;
  // --env NAME ("" = $SLIPWAY_ENV, else none): `.env.NAME` and the compose overlay.
  std::string env_name;
  // Set by `up` before it loads: named files that differ from the running daemon's are a
  // change to apply, where any other command refuses them.
  bool applies_load = false;
  // --log-format text|json for a daemon this invocation starts ("" = $SLIPWAY_LOG_FORMAT).
  std::string log_format;
  // A remote API instead of the project's unix socket: --api https://host:port, checked
  // against --cacert FILE (else the system store) for the URL's host name; the bearer token
  // comes from --token-file FILE or $SLIPWAY_API_TOKEN (the daemon's .slipway/token, or its
  // read-token for reads). Clear http:// is accepted for loopback hosts only.
  std::string api_url;
  std::string cacert;
  std::string token_file;
  bool remote() const { return !api_url.empty(); }

  // The global flags + the process environment ($SLIPWAY_ENV), as named on this command line.
  config::LoadOptions LoadOptions() const;

  // What this command loads the project with (once): when a daemon runs the project, what it
  // remembers from its last `up` (GET /api/v1/project/load) for every kind of file this
  // command names none of (-f, --env-file, --profile, --env, -p). Naming other ones than the
  // daemon runs with is refused (InvalidInput, one line saying how to change them) unless
  // applies_load. Without a daemon, LoadOptions().
  Result<config::LoadOptions> ResolvedLoad();

  // Loads (once) and returns the project; on error prints nothing (the caller uses Fail()). A
  // file the daemon runs with that is gone is an error naming it.
  Result<const config::Project*> Project();

  // `.slipway` of the project: beside the first compose file this command's flags select
  // (config::SelectProjectFiles), found without loading the project.
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

  // The remote API's endpoint and "Bearer ..." header value (remote() only; InvalidInput for a
  // bad URL, CA file or missing token).
  struct Remote {
    http::Endpoint endpoint;
    std::string authorization;
  };
  Result<Remote> RemoteApi();

  // Prints the error as one line (ErrorLine) and returns its exit code.
  static int Fail(const Status& st, std::string_view command = {});
  // The one line every CLI error is printed as (no newline), one rule for all of them:
  //   - a message that starts with a file location (`compose.yaml:3:5: ...`, `.env:2: ...`)
  //     or with `slipway:` is kept as it is;
  //   - any other is `slipway: COMMAND: message`, COMMAND being `command`, else the command
  //     this invocation runs (SetCommand); a leading `COMMAND: ` the message already carries
  //     (or COMMAND's first or last words: `flags: ` for `flags list`, `resume: ` for
  //     `deploy resume`) is dropped, so the command is named once. Without either,
  //     `slipway: message`.
  // Line breaks and other control bytes in a message become `\xNN`: one line on stderr.
  static std::string ErrorLine(std::string_view message, std::string_view command = {});
  // The words of the command this invocation runs ("migrate status"): set by cli::Main once
  // argv is parsed, before the command's callback runs; read by Fail on any thread.
  static void SetCommand(std::string command);
  static const std::string& Command();

 private:
  // Where Call and Stream send `req`: the remote API (with its Authorization header) or the
  // project's unix socket (once the files named agree with the daemon's).
  Result<http::Endpoint> DaemonEndpoint(http::Request* req);

  std::optional<Result<config::Project>> project_;
  std::optional<Result<config::LoadOptions>> resolved_;
  std::string gone_;  // a remembered file that no longer exists: Project()'s error
  std::optional<Result<Remote>> remote_;
};

}  // namespace slipway::cli
