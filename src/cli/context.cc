#include "cli/context.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/fields.h"
#include "api/routes.h"
#include "cli/output.h"
#include "config/environment.h"
#include "http/client.h"
#include "net/host_port.h"
#include "store/store.h"

namespace slipway::cli {

using nlohmann::json;

config::LoadOptions CliContext::LoadOptions() const {
  config::LoadOptions o;
  for (const auto& f : files) o.files.emplace_back(f);
  for (const auto& f : env_files) o.env_files.emplace_back(f);
  o.profiles = profiles;
  o.project_name = project_name;
  o.working_dir = project_directory.empty() ? std::filesystem::current_path()
                                            : std::filesystem::absolute(project_directory);
  o.environ = config::CurrentEnviron();
  o.env_name = env_name;
  if (o.env_name.empty()) {
    if (auto it = o.environ.find("SLIPWAY_ENV"); it != o.environ.end()) o.env_name = it->second;
  }
  return o;
}

namespace {

namespace fs = std::filesystem;

Status StatusFromAnswer(int http_status, const json& body);

// A path as the user would type it: relative to the current folder when under it.
std::string Shown(const std::string& path) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  fs::path rel = fs::path(path).lexically_relative(cwd);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return path;
  return rel.string();
}

std::string Listed(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ", ") + Shown(p);
  return out;
}

// The flags that select what `l` names, as `up` takes them.
std::string FlagsOf(const store::ProjectLoad& l) {
  std::string out;
  for (const auto& f : l.files) out += " -f " + Shown(f);
  for (const auto& f : l.env_files) out += " --env-file " + Shown(f);
  for (const auto& p : l.profiles) out += " --profile " + p;
  if (!l.env.empty()) out += " --env " + l.env;
  if (!l.project_name.empty()) out += " -p " + l.project_name;
  return out.empty() ? "" : out.substr(1);
}

std::vector<std::string> Strings(const std::vector<fs::path>& v) {
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const auto& p : v) out.push_back(p.string());
  return out;
}

}  // namespace

Result<config::LoadOptions> CliContext::ResolvedLoad() {
  if (resolved_) return *resolved_;
  resolved_ = [&]() -> Result<config::LoadOptions> {
    config::LoadOptions o = LoadOptions();
    RETURN_IF_ERROR(config::CheckEnvName(o.env_name, env_name.empty() ? "SLIPWAY_ENV" : "--env"));
    auto paths = Paths();
    if (!paths.ok()) return o;  // no project here: loading says why
    std::error_code ec;
    if (!fs::exists(paths->socket(), ec)) return o;
    http::Endpoint ep;
    ep.unix_path = paths->socket().string();
    http::Request req;
    req.target = "/api/v1/project/load";
    auto r = http::Fetch(ep, req, Duration(5000));
    // No daemon answers (a stale socket), or one older than this route: as without a daemon.
    if (!r.ok() || r->status == 404) return o;
    json answer = json::parse(r->body, nullptr, false);
    if (r->status != 200) return StatusFromAnswer(r->status, answer);
    ASSIGN_OR_RETURN(store::ProjectLoad running, api::ProjectLoadFromJson(answer));

    const bool named_files = !o.files.empty();
    const bool named_env_files = !o.env_files.empty();
    const bool named_profiles = !o.profiles.empty();
    const bool named_env = !o.env_name.empty();
    const bool named_name = !o.project_name.empty();
    const bool named = named_files || named_env_files || named_profiles || named_env || named_name;
    config::LoadOptions merged = o;
    if (!named_files && !named_env_files && project_directory.empty()) {
      merged.working_dir = running.working_dir;
    }
    if (!named_files) merged.files.assign(running.files.begin(), running.files.end());
    if (!named_env_files)
      merged.env_files.assign(running.env_files.begin(), running.env_files.end());
    if (!named_profiles) merged.profiles = running.profiles;
    if (!named_env) merged.env_name = running.env;
    if (!named_name) merged.project_name = running.project_name;
    // What the daemon read and this command takes over must still be there, or it would
    // load another project (Project() says so; a command that only talks to the daemon, such
    // as `down`, needs no file).
    std::vector<const std::vector<std::string>*> kept;
    if (!named_files && !named_env) kept.push_back(&running.loaded_files);
    if (!named_env_files && !named_env) kept.push_back(&running.loaded_env_files);
    for (const auto* list : kept) {
      for (const std::string& f : *list) {
        if (fs::exists(f, ec) || !gone_.empty()) continue;
        gone_ = "slipway: " + f + " no longer exists: the daemon runs this project with it (" +
                FlagsOf(running) + "); restore it, or run `slipway up` naming the files to use now";
      }
    }
    // `up` naming other files: the change it applies.
    if (!named || applies_load) return merged;
    ASSIGN_OR_RETURN(config::ProjectFiles chosen, config::SelectProjectFiles(merged));
    std::vector<std::string> a = merged.profiles, b = running.profiles;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    const bool same = Strings(chosen.compose) == running.loaded_files &&
                      Strings(chosen.env_files) == running.loaded_env_files && a == b &&
                      merged.env_name == running.env && merged.project_name == running.project_name;
    if (same) return merged;
    std::string asked;
    for (const auto& f : files) asked += " -f " + f;
    for (const auto& f : env_files) asked += " --env-file " + f;
    for (const auto& p : profiles) asked += " --profile " + p;
    if (named_env) asked += " --env " + o.env_name;
    if (named_name) asked += " -p " + o.project_name;
    return InvalidInput(
        "slipway: the daemon runs this project with files " + Listed(running.loaded_files) +
        (running.loaded_env_files.empty() ? ""
                                          : " and env files " + Listed(running.loaded_env_files)) +
        (FlagsOf(running).empty() ? "" : " (" + FlagsOf(running) + ")") +
        "; this command names others: run `slipway up" + asked +
        "` to run the project with them, or leave the flags out");
  }();
  return *resolved_;
}

Result<const config::Project*> CliContext::Project() {
  if (!project_) {
    auto load = ResolvedLoad();
    if (!load.ok()) {
      project_ = Result<config::Project>(load.status());
    } else if (!gone_.empty()) {
      project_ = Result<config::Project>(InvalidInput(gone_));
    } else {
      project_ = config::LoadProject(*load);
    }
  }
  if (!project_->ok()) return project_->status();
  return &project_->value();
}

Result<daemon::StatePaths> CliContext::Paths() {
  config::LoadOptions o = LoadOptions();
  if (!config::IsValidEnvName(o.env_name)) o.env_name.clear();  // no say in where the state is
  auto chosen = config::SelectProjectFiles(o);
  if (chosen.ok()) return daemon::StatePaths(chosen->dir() / ".slipway");
  // No compose file here or above, but a daemon runs a project in this folder (`up -f` with
  // a file of another name): its state folder.
  std::error_code ec;
  if (o.files.empty() && fs::exists(o.working_dir / ".slipway" / "api.sock", ec)) {
    return daemon::StatePaths(o.working_dir / ".slipway");
  }
  return chosen.status();
}

Result<CliContext::Remote> CliContext::RemoteApi() {
  if (remote_) return *remote_;
  remote_ = [&]() -> Result<Remote> {
    Remote r;
    std::string url = api_url;
    bool tls = false;
    if (url.rfind("https://", 0) == 0) {
      tls = true;
      url = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
      url = url.substr(7);
    } else {
      return InvalidInput("slipway: --api: \"" + api_url +
                          "\" is not an API URL (expected https://HOST:PORT)");
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    std::optional<net::HostPort> hp = net::SplitHostPort(url);
    if (!hp || hp->host.empty() || hp->port < 1 || url.find('/') != std::string::npos) {
      return InvalidInput("slipway: --api: \"" + api_url +
                          "\" is not an API URL (expected https://HOST:PORT)");
    }
    const std::string& host = hp->host;
    const int port = hp->port;
    if (!tls && !config::IsLoopbackHost(host)) {
      return InvalidInput("slipway: --api: \"" + api_url +
                          "\" would send the token in clear beyond this host (expected https://)");
    }
    if (!tls && !cacert.empty()) {
      return InvalidInput("slipway: --cacert: applies to an https:// --api only");
    }
    r.endpoint.host = host;
    r.endpoint.port = port;
    if (tls) {
      net::TlsClientOptions o;
      o.ca_file = cacert;
      auto ctx = net::TlsClientContext::Create(o);
      if (!ctx.ok()) {
        return ctx.status().code() == StatusCode::kInvalidInput
                   ? InvalidInput("slipway: --cacert: " + ctx.status().message())
                   : ctx.status();
      }
      r.endpoint.tls = std::move(ctx).value();
    }
    std::string token;
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      if (!in) return InvalidInput("slipway: --token-file: cannot read " + token_file);
      std::getline(in, token);
    } else if (const char* env = std::getenv("SLIPWAY_API_TOKEN"); env != nullptr) {
      token = env;
    }
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) {
      return InvalidInput(
          "slipway: --api: no token (expected --token-file FILE or $SLIPWAY_API_TOKEN holding the "
          "daemon's .slipway/token)");
    }
    r.authorization = "Bearer " + token;
    return r;
  }();
  return *remote_;
}

bool CliContext::DaemonRunning() {
  if (remote()) {
    auto r = RemoteApi();
    if (!r.ok()) return false;
    http::Request req;
    req.target = "/health";
    auto got = http::Fetch(r->endpoint, req, Duration(5000));
    return got.ok() && got->status == 200;
  }
  auto paths = Paths();
  if (!paths.ok()) return false;
  http::Endpoint ep;
  ep.unix_path = paths->socket().string();
  http::Request req;
  req.target = "/health";
  auto r = http::Fetch(ep, req, Duration(2000));
  return r.ok() && r->status == 200;
}

namespace {

// True when some process holds a flock on `path`, read from /proc/locks (by inode) rather
// than by trying the lock: a probe that takes the lock, even for an instant, can make a
// keeper or daemon starting at that moment fail as if another one held it.
bool FlockHeld(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  std::ifstream in("/proc/locks");
  const std::string inode = ":" + std::to_string(static_cast<unsigned long long>(st.st_ino));
  for (std::string line; std::getline(in, line);) {
    // "1: FLOCK  ADVISORY  WRITE 4242 fe:00:10953238 0 EOF"; "1: -> FLOCK ..." is a waiter.
    if (line.find("FLOCK") == std::string::npos || line.find("->") != std::string::npos) continue;
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      if (w.size() > inode.size() && w.compare(w.size() - inode.size(), inode.size(), inode) == 0 &&
          std::count(w.begin(), w.end(), ':') == 2) {
        return true;
      }
    }
  }
  return false;
}

// What the last non-empty line of the daemon log says (the reason a start failed).
std::string LastLogLine(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

Status CliContext::EnsureDaemon() {
  if (remote()) {
    // The project's files are on the daemon's host: what `up` would send names this one's.
    return InvalidInput(
        "slipway: --api: this command starts or loads the project, which only works on "
        "the daemon's own host");
  }
  if (DaemonRunning()) return Status::OK();
  ASSIGN_OR_RETURN(daemon::StatePaths paths, Paths());
  std::error_code ec;
  // The state folder holds the API token, the state database and the logs: 0700 whoever
  // creates it first and whatever the umask.
  if (::mkdir(paths.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("create " + paths.dir.string(), errno);
  }
  ::chmod(paths.dir.c_str(), 0700);
  std::filesystem::create_directories(paths.logs(), ec);
  if (ec) return IoError(fmt::format("create {}: {}", paths.logs().string(), ec.message()));

  // The daemon is this same binary, exec'd by its real path so that ps, top and the "port in use
  // by ..." messages name it slipway, not "exe"; /proc/self/exe remains the fallback (the file
  // was replaced or removed since this process started).
  std::string self = "/proc/self/exe";
  if (auto real = std::filesystem::read_symlink(self, ec);
      !ec && std::filesystem::exists(real, ec)) {
    self = real.string();
  }
  // A keeper is already there (its daemon is restarting, or slow to answer): wait for it.
  if (FlockHeld(paths.dir / "keeper.lock")) {
    for (int i = 0; i < 200; ++i) {
      if (DaemonRunning()) return Status::OK();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Unavailable("the project's keeper runs but its daemon did not answer within 10 s (see " +
                       paths.daemon_log().string() + ")");
  }
  // `keeper` starts the daemon with the same arguments and starts it again if it dies.
  std::vector<std::string> args = {self, "keeper", "--state-dir", paths.dir.string()};
  ASSIGN_OR_RETURN(config::LoadOptions lo, ResolvedLoad());
  args.push_back("--project-directory");
  args.push_back(lo.working_dir.string());
  for (const auto& f : lo.files) {
    args.insert(args.end(), {"-f", std::filesystem::absolute(lo.working_dir / f).string()});
  }
  for (const auto& f : lo.env_files) {
    args.insert(args.end(), {"--env-file", std::filesystem::absolute(lo.working_dir / f).string()});
  }
  for (const auto& p : lo.profiles) args.insert(args.end(), {"--profile", p});
  if (!lo.project_name.empty()) args.insert(args.end(), {"-p", lo.project_name});
  if (!lo.env_name.empty()) args.insert(args.end(), {"--env", lo.env_name});

  // The daemon reads its log format from the environment (DaemonOptions::log_format); built
  // before fork so the child only execs.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (log_format.empty() || std::string_view(*e).rfind("SLIPWAY_LOG_FORMAT=", 0) != 0) {
      env.emplace_back(*e);
    }
  }
  if (!log_format.empty()) env.push_back("SLIPWAY_LOG_FORMAT=" + log_format);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::string log_path = paths.daemon_log().string();
  pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    // The daemon gets a session of its own: Ctrl-C in this terminal or the CLI's death
    // never reaches the services.
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (devnull >= 0) dup2(devnull, 0);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execve(self.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  // Wait for it to answer; if it dies first (the keeper exits when its first daemon cannot
  // start), show why.
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::string last = LastLogLine(log_path);
      // Another `up` started one at the same time and ours lost the race for the lock (it
      // exits saying so): that one will answer, so wait for it (bounded: 10 s, and no longer
      // than some keeper or daemon holds its lock, after a 2 s grace for one that is only
      // about to take it) and go on as if ours had started.
      const bool lost = last.find("another slipway keeper already keeps") != std::string::npos ||
                        last.find("another slipway daemon already serves") != std::string::npos ||
                        FlockHeld(paths.dir / "keeper.lock") || FlockHeld(paths.lock_file());
      if (lost) {
        const auto start = std::chrono::steady_clock::now();
        for (int j = 0; j < 400; ++j) {
          if (DaemonRunning()) return Status::OK();
          const bool held = FlockHeld(paths.dir / "keeper.lock") || FlockHeld(paths.lock_file());
          if (!held && std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        last = LastLogLine(log_path);
      }
      return Unavailable("the daemon exited at start: " + last);
    }
    if (DaemonRunning()) return Status::OK();
    // It usually answers within a few ms: poll fast first, then back off to 50 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, 2 << std::min(i, 5))));
  }
  return Unavailable("the daemon did not answer within 10 s (see " + log_path + ")");
}

namespace {

Status StatusFromAnswer(int http_status, const json& body) {
  // Checked reads: an error body of another shape still gives the HTTP status.
  api::BodyFields f(body);
  std::string msg = f.String("error", "an error message");
  const int64_t exit = f.Int("exit", 1, 0, 255, "an exit code");
  if (!f.status().ok()) msg.clear();
  if (msg.empty()) msg = fmt::format("daemon answered HTTP {}", http_status);
  if (exit == 2) return InvalidInput(msg);
  if (http_status == 404) return NotFound(msg);  // still exit 1: the command decides
  if (http_status == 409) return FailedPrecondition(msg);
  if (http_status == 504) return DeadlineExceeded(msg);
  return Status(StatusCode::kInternal, msg);
}

}  // namespace

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<http::Endpoint> CliContext::DaemonEndpoint(http::Request* req) {
  if (remote()) {
    ASSIGN_OR_RETURN(Remote r, RemoteApi());
    req->headers.emplace_back("Authorization", r.authorization);
    return r.endpoint;
  }
  // Files named that differ from the daemon's are refused by every command that talks to it.
  RETURN_IF_ERROR(ResolvedLoad().status());
  ASSIGN_OR_RETURN(daemon::StatePaths paths, Paths());
  http::Endpoint ep;
  ep.unix_path = paths.socket().string();
  return ep;
}

Result<json> CliContext::Call(const std::string& method, const std::string& path, const json& body,
                              Duration timeout) {
  http::Request req;
  ASSIGN_OR_RETURN(http::Endpoint ep, DaemonEndpoint(&req));
  req.method = method;
  req.target = path;
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers.emplace_back("Content-Type", "application/json");
  }
  auto r = http::Fetch(ep, req, timeout);
  if (!r.ok()) {
    if (remote()) return r.status();  // its reason: refused, a certificate that did not verify
    if (r.status().code() == StatusCode::kUnavailable) {
      return Unavailable("the project is not running (no daemon answers on " + ep.unix_path +
                         "); start it with `slipway up`");
    }
    return r.status();
  }
  json answer = json::parse(r->body, nullptr, false);
  if (r->status >= 400) return StatusFromAnswer(r->status, answer);
  if (answer.is_discarded()) return Internal("daemon sent a body that is not JSON");
  return answer;
}

Status CliContext::Stream(const std::string& path,
                          const std::function<bool(const json&)>& on_line) {
  http::Request req;
  ASSIGN_OR_RETURN(http::Endpoint ep, DaemonEndpoint(&req));
  req.target = path;
  std::string pending;
  auto r = http::Fetch(ep, req, Duration(10'000), [&](std::string_view chunk) {
    pending.append(chunk);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      json line = json::parse(pending.substr(start, nl - start), nullptr, false);
      if (!line.is_discarded() && !on_line(line)) return false;
    }
    pending.erase(0, start);
    return true;
  });
  if (!r.ok()) {
    if (remote()) return r.status();
    if (r.status().code() == StatusCode::kUnavailable) {
      return Unavailable("the project is not running; start it with `slipway up`");
    }
    return r.status();
  }
  // A refusal (a bad --tail, an unknown service) is an error answer, not a line of the stream.
  if (r->status >= 400) return StatusFromAnswer(r->status, json::parse(r->body, nullptr, false));
  return Status::OK();
}

namespace {

// The command the running invocation names (SetCommand): written once, before any command
// runs, and read after.
std::string& CurrentCommand() {
  static std::string command;
  return command;
}

// `path:LINE:` or `path:LINE:COL:` then a space or the end: where the loaders (compose,
// .env, migrations) say a file is wrong. The path has no blank, unless it has a `/` (an
// absolute path with a blank in a folder name), so `bind 127.0.0.1:80: ...` is no location.
bool StartsWithLocation(std::string_view m) {
  const size_t colon = m.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  const std::string_view path = m.substr(0, colon);
  if (path.find_first_of(" \t") != std::string_view::npos &&
      path.find('/') == std::string_view::npos) {
    return false;
  }
  size_t i = colon + 1;
  for (int numbers = 0; numbers < 2; ++numbers) {
    const size_t digits = i;
    while (i < m.size() && std::isdigit(static_cast<unsigned char>(m[i])) != 0) ++i;
    if (i == digits || i >= m.size() || m[i] != ':') return numbers > 0;
    ++i;
    if (i == m.size() || m[i] == ' ') return true;
  }
  return false;
}

// `message` without a leading `WORDS: `, WORDS being `command`, its first words or its last
// ones (`flags: ` for `flags list`, `resume: ` for `deploy resume`).
std::string_view WithoutCommand(std::string_view message, std::string_view command) {
  auto strip = [&](std::string_view words) {
    if (!words.empty() && message.size() > words.size() + 2 &&
        message.substr(0, words.size()) == words && message.substr(words.size(), 2) == ": ") {
      message.remove_prefix(words.size() + 2);
      return true;
    }
    return false;
  };
  if (strip(command)) return message;
  for (size_t space = command.find(' '); space != std::string_view::npos;
       space = command.find(' ', space + 1)) {
    if (strip(command.substr(0, space)) || strip(command.substr(space + 1))) return message;
  }
  return message;
}

}  // namespace

void CliContext::SetCommand(std::string command) { CurrentCommand() = std::move(command); }

const std::string& CliContext::Command() { return CurrentCommand(); }

std::string CliContext::ErrorLine(std::string_view message, std::string_view command) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  if (StartsWithLocation(message) || message.rfind("slipway:", 0) == 0) return OneLine(message);
  if (command.empty()) command = CurrentCommand();
  if (command.empty()) return "slipway: " + OneLine(message);
  return fmt::format("slipway: {}: {}", command, OneLine(WithoutCommand(message, command)));
}

int CliContext::Fail(const Status& st, std::string_view command) {
  std::fprintf(stderr, "%s\n", ErrorLine(st.message(), command).c_str());
  return st.ExitCode();
}

}  // namespace slipway::cli
