#include "cli/project_cmd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "api/fields.h"
#include "api/redacted.h"
#include "api/routes.h"
#include "api/views.h"
#include "base/log.h"
#include "cli/checks.h"
#include "cli/container_cmd.h"
#include "cli/daemon_cmd.h"
#include "cli/output.h"
#include "config/duration.h"
#include "config/render.h"
#include "config/secrets_of.h"
#include "config/volumes_settings.h"
#include "runtime/container_assets.h"
#include "runtime/host_mounts.h"
#include "runtime/log_store.h"
#include "store/store.h"

namespace slipway::cli {

using nlohmann::json;

namespace {

std::string Csv(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// `--since`: a duration back from now ("10m", "1h30m") or Unix seconds.
Result<int64_t> SinceMillis(const std::string& since) {
  if (since.empty()) return int64_t{0};
  if (auto d = config::ParseDuration(since)) {
    return Clock::Real()->WallMillis() - d->count();
  }
  char* end = nullptr;
  long long secs = std::strtoll(since.c_str(), &end, 10);
  if (end != since.c_str() && *end == '\0') return secs * 1000;
  return InvalidInput(
      fmt::format("--since: \"{}\" is not a duration or Unix time (expected e.g. "
                  "10m, 1h30m or 1700000000)",
                  since));
}

// The largest Unix time --since takes: the end of year 9999, in seconds.
constexpr int64_t kMaxUnixSeconds = 253'402'300'799;

CLI::Validator SinceCheck() {
  return Check("DURATION|UNIX", [](const std::string& v) {
    if (v.size() <= 64 && config::ParseDuration(v)) return std::string();
    int64_t secs = 0;
    const char* end = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(v.data(), end, secs);
    if (!v.empty() && ec == std::errc() && ptr == end && secs >= 0 && secs <= kMaxUnixSeconds) {
      return std::string();
    }
    return std::string("a duration or Unix time (expected e.g. 10m, 1h30m or 1700000000)");
  });
}

void PrintWarnings(const config::Project& p) {
  for (const auto& w : p.warnings) std::fprintf(stderr, "slipway: warning: %s\n", w.c_str());
}

// Service name → palette index, stable for one project.
std::map<std::string, size_t> ColorIndex(const config::Project& p) {
  std::map<std::string, size_t> idx;
  for (const auto& [name, svc] : p.services) idx.emplace(name, idx.size());
  return idx;
}

struct LogPrinter {
  bool color = false;
  bool json_out = false;
  size_t width = 0;
  std::map<std::string, size_t> colors;
  bool warned = false;  // a line of unexpected shape was reported

  void Print(const json& l) {
    if (json_out) {
      std::printf("%s\n", l.dump().c_str());
    } else {
      // Also on `up`'s second thread: nothing may throw here. A line of another shape is
      // skipped, said once.
      api::BodyFields f(l);
      const std::string service = f.String("service", "a service name");
      const int64_t instance = f.Int("instance", 0, 0, INT32_MAX, "an instance number");
      const std::string text = f.String("text", "a log line");
      if (!l.is_object() || !f.status().ok()) {
        if (!warned) {
          std::fprintf(stderr, "slipway: skipping log lines of unexpected shape: %s\n",
                       l.is_object() ? f.status().message().c_str() : "not an object");
        }
        warned = true;
        return;
      }
      std::string who = fmt::format("{}-{}", service, instance);
      auto it = colors.find(service);
      size_t ci = it == colors.end() ? 0 : it->second;
      std::string pad(who.size() < width ? width - who.size() : 0, ' ');
      std::printf("%s%s%s%s | %s\n", ServiceColor(ci, color).c_str(), who.c_str(), pad.c_str(),
                  color ? kReset : "", text.c_str());
    }
    std::fflush(stdout);
  }
};

LogPrinter MakePrinter(const config::Project& p, bool json_out) {
  LogPrinter lp;
  lp.color = UseColor(stdout);
  lp.json_out = json_out;
  lp.colors = ColorIndex(p);
  for (const auto& [name, svc] : p.services) {
    lp.width = std::max(lp.width, name.size() + 1 + std::to_string(svc.replicas).size());
  }
  return lp;
}

// A number of the answer (a double: uptime, rates), 0 when absent; a mistake when not a number.
double Number(api::BodyFields& f, std::string_view key, std::string_view expected) {
  const json* v = f.Raw(key);
  if (v == nullptr) return 0;
  if (!v->is_number()) {
    f.Fail(key, fmt::format("expected {}, got {}", expected, api::JsonTypeName(*v)));
    return 0;
  }
  return v->get<double>();
}

// The ps answer as table rows; "12.5" requests/s and "0.8%" 5xx over the daemon's 10 s window
// are shown once per service (on its first row), blank for services the proxy does not route.
// An answer of another shape is the error (one line).
Result<std::vector<std::vector<std::string>>> PsRows(const json& rows) {
  std::string last_service;
  return AnswerRows(rows, [&last_service](api::BodyFields& r) -> std::vector<std::string> {
    const bool routed = r.Has("requests_per_second");
    const double rps = Number(r, "requests_per_second", "requests per second");
    const double err = Number(r, "error_ratio", "a ratio");
    const std::string service = r.String("service", "a service name");
    std::string rps_cell = routed ? fmt::format("{:.1f}", rps) : "";
    std::string err_cell = routed ? (rps > 0 ? fmt::format("{:.1f}%", err * 100) : "-") : "";
    if (service == last_service) rps_cell = err_cell = "";
    last_service = service;
    std::string ports;
    for (const std::string& p : r.StringList("ports", "a list of published ports")) {
      ports += (ports.empty() ? "" : ", ") + p;
    }
    const int64_t instance = r.Int("instance", 0, 0, INT32_MAX, "an instance number");
    const int64_t pid = r.Int("pid", 0, 0, INT32_MAX, "a pid");
    const int64_t port = r.Int("port", 0, 0, 65535, "a port");
    const double uptime = Number(r, "uptime_s", "seconds");
    std::string state = r.String("state", "a state");
    std::string exit = r.String("exit", "how it exited");
    const std::string health = r.String("health", "a health state");
    const int64_t restarts = r.Int("restarts", 0, 0, INT32_MAX, "a restart count");
    const int64_t release = r.Int("release", 0, 0, INT64_MAX, "a release number");
    if (exit.rfind("exited with ", 0) == 0) exit = exit.substr(12);  // "code 3"
    if (!exit.empty() && state != "running") state += " (" + exit + ")";
    return {service + (instance > 0 ? fmt::format(".{}", instance) : ""),
            state,
            health,
            pid > 0 ? std::to_string(pid) : "",
            port > 0 ? std::to_string(port) : "",
            ports,
            std::to_string(restarts),
            uptime > 0 ? HumanDuration(uptime) : "",
            release > 0 ? fmt::format("r{}", release) : "",
            rps_cell,
            err_cell};
  });
}

const std::vector<std::string> kPsHeader = {"INSTANCE", "STATE",     "HEALTH",   "PID",
                                            "PORT",     "PUBLISHED", "RESTARTS", "UPTIME",
                                            "RELEASE",  "REQ/S",     "5XX"};

// Waits (bounded, 30 s) for the daemon whose pid file we read to exit. The daemon holds an
// exclusive lock on daemon.lock for its whole life and the kernel drops it when the process
// exits, so the lock is the exact signal; kill(pid, 0) alone would also wait for whoever
// reaps the daemon (it is not our child), which can take a second in containers.
void WaitForDaemonExit(const daemon::StatePaths& paths, pid_t pid) {
  if (pid <= 0) return;
  for (int i = 0; i < 1500 && kill(pid, 0) == 0; ++i) {
    int fd = ::open(paths.lock_file().c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      ::close(fd);
      if (free) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

pid_t ReadPid(const daemon::StatePaths& paths) {
  std::ifstream in(paths.pid_file());
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// ---------------------------------------------------------------------------------------

struct UpArgs {
  bool detach = false;
  bool wait = false;
  bool build = false;       // --build: rebuild the images of services with a build: first
  bool containers = false;  // --containers: services that could run either way run as containers
  int wait_timeout_s = 300;
  std::vector<std::string> services;
};

// What `up` did to services a deploy had shipped (api: RunUp, deploy/up_plan.h).
void PrintUpNotes(const json& answer) {
  if (!answer.is_object()) return;
  for (const json& w : answer.value("warnings", json::array())) {
    if (w.is_string()) std::fprintf(stderr, "slipway: warning: %s\n", w.get<std::string>().c_str());
  }
  for (const json& name : answer.value("kept", json::array())) {
    if (!name.is_string()) continue;
    std::fprintf(stderr,
                 "slipway: %s keeps its deployed release (the compose file has not changed "
                 "since that deploy)\n",
                 name.get<std::string>().c_str());
  }
  for (const json& rel : answer.value("deployed", json::array())) {
    // Notes after the fact: a row of another shape is skipped (checked reads, no throw).
    api::BodyFields f(rel);
    const std::string service = f.String("service", "a service name");
    const int64_t number = f.Int("number", 0, 0, INT64_MAX, "a release number");
    const std::string strategy = f.String("strategy", "a strategy name");
    if (!rel.is_object() || !f.status().ok()) continue;
    std::fprintf(stderr, "slipway: %s changed since its deploy: shipped as r%lld (%s)\n",
                 service.c_str(), static_cast<long long>(number), strategy.c_str());
  }
}

int RunUp(CliContext& ctx, const UpArgs& a) {
  ctx.applies_load = true;  // files other than the daemon's are what this up applies
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  config::Project chosen = **project;
  if (a.containers) {
    // As the daemon applies it to the project it loads (config/volumes_settings.h).
    if (Status st = config::RunAsContainers(&chosen, a.services); !st.ok()) {
      return CliContext::Fail(st, "up");
    }
  }
  const config::Project& p = chosen;
  // Named services are checked before anything starts (the daemon would refuse them only once
  // this `up` had started it).
  for (const std::string& s : a.services) {
    if (p.services.count(s) == 0) {
      return CliContext::Fail(
          InvalidInput(fmt::format("slipway: up: no such service: {}", Shown(s))));
    }
  }
  PrintWarnings(p);
  // Images first (container_cmd.h): a build that fails leaves nothing started.
  if (Status st = BuildImages(ctx, p, a.services, a.build); !st.ok()) {
    return CliContext::Fail(st, "up");
  }
  // A daemon that was already running is left running whatever this `up` does.
  const bool was_running = ctx.DaemonRunning();
  if (was_running) {
    // A newer slipway was installed since the daemon started: hand over to it first.
    auto info = FetchDaemonInfo(ctx);
    if (info.ok() && DaemonBinaryReplaced(*info)) {
      std::fprintf(stderr,
                   "slipway: %s changed since the daemon started; handing over to it without "
                   "downtime\n",
                   info->binary.c_str());
      if (Status st = RestartDaemon(ctx, Duration(30'000), Duration(60'000)); !st.ok()) {
        return CliContext::Fail(st, "up");
      }
    }
  }
  if (Status st = ctx.EnsureDaemon(); !st.ok()) return CliContext::Fail(st, "up");

  auto load = ctx.ResolvedLoad();
  if (!load.ok()) return CliContext::Fail(load.status(), "up");
  json body = {{"load", api::LoadOptionsToJson(*load)},
               {"services", a.services},
               {"wait", a.wait || !a.detach},
               {"containers", a.containers},
               {"timeout_ms", a.wait_timeout_s * 1000}};

  if (a.detach) {
    auto r = ctx.Call("POST", "/api/v1/up", body);
    if (!r.ok()) return CliContext::Fail(r.status(), "up");
    PrintUpNotes(*r);
    auto ps = ctx.Call("GET", "/api/v1/ps");
    if (ps.ok()) {
      auto table = PsRows(*ps);
      if (!table.ok()) return FailAnswer(table.status(), "ps");
      PrintTable(kPsHeader, *table);
    }
    auto paths = ctx.Paths();
    std::ifstream addr(paths->addr_file());
    std::string url;
    addr >> url;
    std::printf("slipway: %s is up; API and metrics at %s://%s\n", p.name.c_str(),
                p.api.tls ? "https" : "http", url.c_str());
    return 0;
  }

  // Foreground: follow every service's output until Ctrl-C, which stops the project.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([&ctx, set] {
    int sig = 0;
    sigwait(&set, &sig);
    std::fprintf(stderr, "slipway: stopping (press Ctrl-C again to leave them running)\n");
    sigset_t again = set;
    pthread_sigmask(SIG_UNBLOCK, &again, nullptr);
    signal(SIGINT, SIG_DFL);
    auto r = ctx.Call("POST", "/api/v1/down", json::object(), Duration(0));
    if (!r.ok()) std::_Exit(CliContext::Fail(r.status(), "down"));
    std::_Exit(0);
  }).detach();

  LogPrinter printer = MakePrinter(p, false);
  int64_t since = Clock::Real()->WallMillis() - 1000;
  std::thread logs([&ctx, &printer, since] {
    Status st =
        ctx.Stream(fmt::format("/api/v1/logs?follow=1&since={}", since), [&printer](const json& l) {
          printer.Print(l);
          return true;
        });
    // The stream's normal end is the daemon going away (a closed connection), so its error
    // is not news to the user: the up's own answer is what this command reports.
    if (!st.ok()) logging::Debug("cli", "log stream ended: " + st.message());
  });
  auto r = ctx.Call("POST", "/api/v1/up", body);
  if (!r.ok()) {
    int rc = CliContext::Fail(r.status(), "up");
    if (was_running) {
      // A running project keeps running; the log stream would follow it forever.
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(rc);
    }
    // This `up` started the daemon: nothing is left behind.
    if (auto d = ctx.Call("POST", "/api/v1/down", json::object()); !d.ok()) {
      (void)CliContext::Fail(d.status(), "down");
    }
    logs.join();
    return rc;
  }
  PrintUpNotes(*r);
  std::fprintf(stderr, "slipway: %s is up; Ctrl-C stops it\n", p.name.c_str());
  logs.join();  // ends when the daemon goes away
  return 0;
}

// `down -v` with no daemon: the named volumes go all the same (as compose's).
int RemoveVolumesNow(CliContext& ctx) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  bool any = false;
  for (const auto& [n, v] : (*project)->volumes) any = any || !v.external;
  if (!any) return 0;
  std::vector<std::string> removed;
  // Host services' volume folders (runtime/host_mounts.h), then the engine's volumes.
  Status st = runtime::RemoveHostVolumes(**project, &removed);
  bool containers = false;
  for (const auto& [n, s] : (*project)->services) containers = containers || s.RunsInContainer();
  auto engine = runtime::ContainerEngine::Detect();
  if (st.ok() && engine.ok()) {
    st = runtime::RemoveProjectVolumes(*engine, **project, &removed);
  } else if (st.ok() && containers) {
    st = engine.status();
  }
  for (const std::string& v : removed) std::printf("slipway: removed volume %s\n", v.c_str());
  return st.ok() ? 0 : CliContext::Fail(st, "down");
}

int RunDown(CliContext& ctx, bool volumes) {
  auto paths = ctx.Paths();
  if (!paths.ok()) return CliContext::Fail(paths.status());
  if (!ctx.DaemonRunning()) {
    std::fprintf(stderr, "slipway: nothing is running\n");
    return volumes ? RemoveVolumesNow(ctx) : 0;
  }
  pid_t pid = ReadPid(*paths);
  auto r = ctx.Call("POST", "/api/v1/down", volumes ? json{{"volumes", true}} : json::object());
  if (!r.ok()) return CliContext::Fail(r.status(), "down");
  WaitForDaemonExit(*paths, pid);
  if (r->is_object()) {
    for (const auto& v : r->value("removed_volumes", json::array())) {
      if (v.is_string()) std::printf("slipway: removed volume %s\n", v.get<std::string>().c_str());
    }
  }
  std::printf("slipway: stopped\n");
  return 0;
}

int RunPs(CliContext& ctx, bool json_out) {
  json rows = json::array();
  // A remote daemon answers for itself (no project files here); without a daemon, the
  // project's services are listed as stopped.
  bool ask = ctx.remote();
  if (!ask) {
    auto project = ctx.Project();
    if (!project.ok()) return CliContext::Fail(project.status());
    ask = ctx.DaemonRunning();
    if (!ask) {
      for (const auto& [name, svc] : (*project)->services) {
        rows.push_back({{"service", name}, {"instance", 0}, {"state", "stopped"}});
      }
    }
  }
  if (ask) {
    auto r = ctx.Call("GET", "/api/v1/ps");
    if (!r.ok()) return CliContext::Fail(r.status(), "ps");
    rows = *r;
  }
  if (json_out) {
    std::printf("%s\n", rows.dump(2).c_str());
  } else {
    auto table = PsRows(rows);
    if (!table.ok()) return FailAnswer(table.status(), "ps");
    PrintTable(kPsHeader, *table);
  }
  return 0;
}

struct LogsArgs {
  bool follow = false;
  int tail = 0;
  std::string since;
  std::string format = "text";
  std::vector<std::string> services;
};

int RunLogs(CliContext& ctx, const LogsArgs& a) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  auto since = SinceMillis(a.since);
  if (!since.ok()) return CliContext::Fail(since.status());
  for (const auto& s : a.services) {
    if (!(*project)->services.count(s)) {
      return CliContext::Fail(InvalidInput(fmt::format("logs: no such service: \"{}\"", s)));
    }
  }
  LogPrinter printer = MakePrinter(**project, a.format == "json");
  if (!ctx.DaemonRunning()) {
    // The project is down: its files are still there.
    auto paths = ctx.Paths();
    std::vector<std::string> names = a.services;
    if (names.empty()) {
      for (const auto& [n, s] : (*project)->services) names.push_back(n);
    }
    for (const auto& n : names) {
      std::ifstream in(paths->logs() / (n + ".log"));
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      size_t from = a.tail > 0 && lines.size() > static_cast<size_t>(a.tail)
                        ? lines.size() - static_cast<size_t>(a.tail)
                        : 0;
      for (size_t i = from; i < lines.size(); ++i) std::printf("%s\n", lines[i].c_str());
    }
    return 0;
  }
  std::string path =
      fmt::format("/api/v1/logs?tail={}&since={}&follow={}", a.tail, *since, a.follow ? 1 : 0);
  if (!a.services.empty()) path += "&services=" + Csv(a.services);
  Status st = ctx.Stream(path, [&printer](const json& l) {
    printer.Print(l);
    return true;
  });
  return st.ok() ? 0 : CliContext::Fail(st, "logs");
}

int RunSimple(CliContext& ctx, const std::string& verb, const std::vector<std::string>& services) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  for (const auto& s : services) {
    if (!(*project)->services.count(s)) {
      return CliContext::Fail(InvalidInput(fmt::format("{}: no such service: \"{}\"", verb, s)));
    }
  }
  auto r = ctx.Call("POST", "/api/v1/" + verb, json{{"services", services}});
  if (!r.ok()) return CliContext::Fail(r.status(), verb);
  std::printf("slipway: %s %s: done\n", verb.c_str(),
              services.empty() ? "all services" : Csv(services).c_str());
  return 0;
}

// Events come from the daemon's API when one runs; without one, from state.db read here,
// rendered by the same api::EventJson, so both paths print one shape. (The daemon is the only
// writer while it runs; reading its database beside it would bypass the API's view.)
int RunEvents(CliContext& ctx, const std::string& since_arg, const std::string& format,
              const std::vector<std::string>& services) {
  auto since = SinceMillis(since_arg);
  if (!since.ok()) return CliContext::Fail(since.status());
  json rows = json::array();
  if (ctx.remote() || ctx.DaemonRunning()) {
    std::string target = fmt::format("/api/v1/events?since={}&limit=1000", *since);
    if (!services.empty()) {
      std::string csv;
      for (const auto& s : services) csv += (csv.empty() ? "" : ",") + s;
      target += "&services=" + UrlEncode(csv);
    }
    auto r = ctx.Call("GET", target);
    if (!r.ok()) return CliContext::Fail(r.status(), "events");
    if (!r->is_array()) {
      return CliContext::Fail(Internal("events: the daemon answered something else than a list"));
    }
    rows = std::move(r).value();
  } else {
    auto paths = ctx.Paths();
    if (!paths.ok()) return CliContext::Fail(paths.status());
    if (!std::filesystem::exists(paths->db())) {
      std::fprintf(stderr, "slipway: no events yet (the project never ran)\n");
      return 0;
    }
    auto store = store::Store::Open(paths->db(), Clock::Real());
    if (!store.ok()) return CliContext::Fail(store.status(), "events");
    auto events = (*store)->Events(*since, services, 1000);
    if (!events.ok()) return CliContext::Fail(events.status(), "events");
    // Masked like the daemon's answer when the project loads (as before, events stay
    // readable from a project whose files no longer load).
    std::optional<Redactor> secrets;
    if (auto project = ctx.Project(); project.ok()) {
      secrets = config::SecretsOf(**project, config::CurrentEnviron());
    }
    for (const auto& e : *events) {
      rows.push_back(secrets ? api::Redacted(api::EventJson(e), &*secrets) : api::EventJson(e));
    }
  }
  if (format == "json") {
    std::printf("%s\n", rows.dump(2).c_str());
    return 0;
  }
  auto table = AnswerRows(rows, [](api::BodyFields& e) -> std::vector<std::string> {
    const std::string time = e.String("time", "a time");
    const std::string service = e.String("service", "a service name");
    const int64_t instance = e.Int("instance", 0, 0, INT32_MAX, "an instance number");
    return {time, service + (instance > 0 ? fmt::format(".{}", instance) : ""),
            e.String("kind", "an event kind"), e.String("message", "a message")};
  });
  if (!table.ok()) return FailAnswer(table.status(), "events");
  PrintTable({"TIME", "SERVICE", "EVENT", "DETAIL"}, *table);
  return 0;
}

int RunConfig(CliContext& ctx, bool services_only, bool files_only, const std::string& format,
              bool show_secrets) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  const config::Project& p = **project;
  PrintWarnings(p);
  if (services_only) {
    for (const auto& [name, svc] : p.services) std::printf("%s\n", name.c_str());
    return 0;
  }
  // Which files made the project (the rendered model itself names none: it must print the
  // same whichever files it came from, so that it loads again to itself).
  if (files_only) {
    if (format == "json") {
      json j = {{"files", json::array()}, {"env_files", json::array()}, {"env", p.env_name}};
      for (const auto& f : p.files) j["files"].push_back(f.string());
      for (const auto& f : p.env_files) j["env_files"].push_back(f.string());
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      for (const auto& f : p.files) std::printf("%s\n", f.c_str());
      for (const auto& f : p.env_files) std::printf("%s\n", f.c_str());
    }
    return 0;
  }
  // Secret values are masked with "***" unless asked for: this output gets pasted into
  // issues and chats.
  const Redactor known = config::SecretsOf(p, config::CurrentEnviron());
  config::RenderOptions ro;
  ro.show_secrets = show_secrets;
  ro.redactor = &known;
  // The compose model, as `docker compose config` prints it; it loads again to this project.
  if (format == "json") {
    std::printf("%s\n", config::RenderComposeJson(p, ro).dump(2).c_str());
  } else {
    std::printf("%s", config::RenderComposeYaml(p, ro).c_str());
  }
  return 0;
}

}  // namespace

void AddProjectCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto up = std::make_shared<UpArgs>();
  auto* cup = app.add_subcommand("up", "Start the project's services in dependency order");
  cup->add_flag("-d,--detach", up->detach, "Return once started; services keep running");
  cup->add_flag("--wait", up->wait, "Wait until services are running and healthy");
  cup->add_flag("--build", up->build, "Build the images of services with a build: first");
  cup->add_flag("--containers", up->containers,
                "Run the services (all, or those named) as containers, whatever "
                "x-slipway.runtime says; for this up only");
  // The daemon takes the timeout in milliseconds up to a day (api: POST /api/v1/up).
  cup->add_option("--wait-timeout", up->wait_timeout_s, "Seconds to wait (default 300)")
      ->check(Whole(1, 86'400, "a number of seconds"));
  cup->add_option("services", up->services, "Services to start (default: all)")
      ->check(Name("a service name"));
  cup->callback([&ctx, up, rc] { *rc = RunUp(ctx, *up); });

  auto* cdown = app.add_subcommand("down", "Stop every service and the daemon");
  auto down_volumes = std::make_shared<bool>(false);
  cdown->add_flag("-v,--volumes", *down_volumes,
                  "Also remove the project's named volumes (not external ones)");
  cdown->callback([&ctx, down_volumes, rc] { *rc = RunDown(ctx, *down_volumes); });

  auto format = std::make_shared<std::string>("table");
  auto* cps = app.add_subcommand("ps", "List service instances");
  cps->add_option("--format", *format, "table or json")->check(OneOf({"table", "json"}));
  cps->callback([&ctx, format, rc] { *rc = RunPs(ctx, *format == "json"); });

  auto logs = std::make_shared<LogsArgs>();
  auto* clogs = app.add_subcommand("logs", "Show service output");
  clogs->add_flag("-f,--follow", logs->follow, "Keep printing new lines");
  clogs->add_option("-n,--tail", logs->tail, "Only the last N lines per service")
      ->check(Whole(0, 100'000, "a number of lines"));
  clogs->add_option("--since", logs->since, "Only lines newer than a duration (10m) or Unix time")
      ->check(SinceCheck());
  clogs->add_option("--format", logs->format, "text or json")->check(OneOf({"text", "json"}));
  clogs->add_option("services", logs->services, "Services (default: all)")
      ->check(Name("a service name"));
  clogs->callback([&ctx, logs, rc] { *rc = RunLogs(ctx, *logs); });

  for (const char* verb : {"start", "stop", "restart"}) {
    auto services = std::make_shared<std::vector<std::string>>();
    std::string help = std::string(verb) == "stop"    ? "Stop services"
                       : std::string(verb) == "start" ? "Start stopped services"
                                                      : "Stop and start services";
    auto* c = app.add_subcommand(verb, help);
    c->add_option("services", *services, "Services (default: all)")->check(Name("a service name"));
    std::string v = verb;
    c->callback([&ctx, services, v, rc] { *rc = RunSimple(ctx, v, *services); });
  }

  auto ev_since = std::make_shared<std::string>();
  auto ev_format = std::make_shared<std::string>("table");
  auto ev_services = std::make_shared<std::vector<std::string>>();
  auto* cev = app.add_subcommand("events", "List recorded events (starts, exits, health)");
  cev->add_option("--since", *ev_since, "Only events newer than a duration (10m) or Unix time")
      ->check(SinceCheck());
  cev->add_option("--format", *ev_format, "table or json")->check(OneOf({"table", "json"}));
  cev->add_option("services", *ev_services, "Services (default: all)")
      ->check(Name("a service name"));
  cev->callback([&ctx, ev_since, ev_format, ev_services, rc] {
    *rc = RunEvents(ctx, *ev_since, *ev_format, *ev_services);
  });

  auto cfg_services = std::make_shared<bool>(false);
  auto cfg_format = std::make_shared<std::string>("yaml");
  auto* ccfg = app.add_subcommand("config", "Print the resolved project");
  ccfg->add_flag("--services", *cfg_services, "Only the service names");
  auto cfg_files = std::make_shared<bool>(false);
  ccfg->add_flag("--files", *cfg_files,
                 "Only the files that made the project: compose files, then env files");
  ccfg->add_option("--format", *cfg_format, "yaml or json")->check(OneOf({"yaml", "json"}));
  auto cfg_show_secrets = std::make_shared<bool>(false);
  ccfg->add_flag("--show-secrets", *cfg_show_secrets, "Print secret values instead of ***");
  ccfg->callback([&ctx, cfg_services, cfg_files, cfg_format, cfg_show_secrets, rc] {
    *rc = RunConfig(ctx, *cfg_services, *cfg_files, *cfg_format, *cfg_show_secrets);
  });
}

}  // namespace slipway::cli
