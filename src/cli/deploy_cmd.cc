#include "cli/deploy_cmd.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "api/fields.h"
#include "api/redacted.h"
#include "api/routes.h"
#include "cli/checks.h"
#include "cli/deploy_words.h"
#include "cli/output.h"
#include "config/deploy_settings.h"
#include "config/deploy_strategy.h"
#include "config/secrets_of.h"
#include "deploy/releases.h"
#include "runtime/log_store.h"
#include "store/store.h"

namespace slipway::cli {

using nlohmann::json;

namespace {

// The longest K=V deploy's --env passes on.
constexpr size_t kMaxEnvBytes = 16'384;

struct DeployArgs {
  std::vector<std::string> services;
  std::string version;
  std::string strategy;
  std::vector<std::string> env;
  std::string format = "text";
  bool no_backup = false;
};

// Prints the daemon's progress lines while the deploy runs (a second thread; Call is
// thread-safe). On a terminal it also keeps a live status line under them, redrawn every
// 250 ms: per deploying service, each release's ready/total instances and the service's
// request and 5xx rates from `ps`.
class ProgressFollower {
 public:
  ProgressFollower(CliContext& ctx, bool json_out)
      : ctx_(ctx), json_out_(json_out), live_(!json_out && ::isatty(STDOUT_FILENO) == 1) {
    auto p = ctx_.Call("GET", "/api/v1/deploy/progress?after=0");
    if (p.ok() && p->is_array() && !p->empty()) {
      api::BodyFields last(p->back());
      after_ = last.Int("seq", 0, 0, INT64_MAX, "a sequence number");
    }
    started_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] {
      for (int tick = 0; !stop_; ++tick) {
        Poll();
        if (live_ && tick % 2 == 0) DrawStatus();
        for (int i = 0; i < 6 && !stop_; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  ~ProgressFollower() {
    stop_ = true;
    thread_.join();
    Poll();  // the last lines
    if (live_) ClearStatus();
  }

 private:
  void Poll() {
    auto p = ctx_.Call("GET", fmt::format("/api/v1/deploy/progress?after={}", after_));
    if (!p.ok() || !p->is_array()) return;
    for (const auto& line : *p) {
      // A second thread: nothing may throw here. A line of another shape is skipped, said once.
      api::BodyFields f(line);
      const int64_t seq = f.Int("seq", 0, 0, INT64_MAX, "a sequence number");
      const std::string service = f.String("service", "a service name");
      const int64_t t = f.Int("t", 0, 0, INT64_MAX, "a time in Unix milliseconds");
      const int64_t release = f.Int("release", 0, 0, INT64_MAX, "a release number");
      const std::string text = f.String("text", "a progress line");
      if (!line.is_object() || !f.status().ok()) {
        if (!warned_) {
          std::fprintf(stderr, "slipway: skipping progress lines of unexpected shape: %s\n",
                       line.is_object() ? f.status().message().c_str() : "not an object");
        }
        warned_ = true;
        continue;
      }
      after_ = std::max(after_, seq);
      services_.insert(service);
      if (live_) ClearStatus();
      if (json_out_) {
        std::printf("%s\n", line.dump().c_str());
      } else {
        std::printf("%s  %s r%lld: %s\n", runtime::FormatWallMillis(t).c_str(), service.c_str(),
                    static_cast<long long>(release), text.c_str());
      }
      if (live_) std::fputs(status_.c_str(), stdout);
      std::fflush(stdout);
    }
  }

  void DrawStatus() {
    auto ps = ctx_.Call("GET", "/api/v1/ps");
    if (!ps.ok() || !ps->is_array()) return;
    std::string text;
    for (const std::string& service : services_) {
      if (service.empty()) continue;
      std::map<int64_t, std::pair<int, int>> by_release;  // release → (ready, total)
      std::string rates;
      for (const auto& row : *ps) {
        api::BodyFields f(row);  // a second thread: checked reads; a bad row is not counted
        const std::string row_service = f.String("service", "a service name");
        const int64_t release = f.Int("release", 0, 0, INT64_MAX, "a release number");
        const std::string health = f.String("health", "a health state");
        const std::string state = f.String("state", "a state");
        const json* rps = f.Raw("requests_per_second");
        const json* errors = f.Raw("error_ratio");
        if (!f.status().ok() || row_service != service) continue;
        auto& [ready, total] = by_release[release];
        ++total;
        if (state == "running" && (health.empty() || health == "healthy")) ++ready;
        if (rates.empty() && rps && rps->is_number()) {
          rates = fmt::format(" · {:.1f} req/s · {:.1f}% 5xx", rps->get<double>(),
                              errors && errors->is_number() ? errors->get<double>() * 100 : 0.0);
        }
      }
      text += (text.empty() ? "" : "  |  ") + service;
      for (const auto& [release, counts] : by_release) {
        text += fmt::format(" · r{} {}/{} ready", release, counts.first, counts.second);
      }
      text += rates;
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    status_ = fmt::format("\r\x1b[2K[{:.1f} s] {}", secs, text);
    std::fputs(status_.c_str(), stdout);
    std::fflush(stdout);
  }

  void ClearStatus() { std::fputs("\r\x1b[2K", stdout); }

  CliContext& ctx_;
  bool json_out_;
  bool warned_ = false;  // a progress line of unexpected shape was reported
  bool live_;
  std::chrono::steady_clock::time_point started_;
  std::set<std::string> services_;  // seen in progress lines (poller thread only)
  std::string status_;              // the live line as last drawn (poller thread only)
  int64_t after_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Status NeedDaemon(CliContext& ctx) {
  auto project = ctx.Project();
  if (!project.ok()) return project.status();
  if (!ctx.DaemonRunning()) {
    return FailedPrecondition("nothing is running; start the project with slipway up -d first");
  }
  return Status::OK();
}

// "api r4 (canary, v2) in 12.3 s; web r2 (blue-green) done", read with checked accessors.
Result<std::string> Verdict(const json& releases) {
  std::string out;
  auto rows = AnswerRows(
      releases,
      [&out](api::BodyFields& r) -> std::vector<std::string> {
        const json& numbers = r.Object("numbers", "the release's numbers");
        double ms = 0;
        if (auto it = numbers.find("total_ms"); it != numbers.end() && it->is_number()) {
          ms = it->get<double>();
        }
        const std::string service = r.String("service", "a service name");
        const int64_t number = r.Int("number", 0, 0, INT64_MAX, "a release number");
        const std::string strategy = r.String("strategy", "a strategy name");
        const std::string version = r.String("version", "a version label");
        out += fmt::format("{}{} r{} ({}{}) {}", out.empty() ? "" : "; ", service, number, strategy,
                           version.empty() ? "" : ", " + version,
                           ms > 0 ? fmt::format("in {:.1f} s", ms / 1000) : "done");
        return {};
      },
      "releases");
  if (!rows.ok()) return rows.status();
  return out;
}

int RunDeploy(CliContext& ctx, const DeployArgs& a) {
  if (Status st = NeedDaemon(ctx); !st.ok()) return CliContext::Fail(st, "deploy");
  json env = json::object();
  for (const auto& kv : a.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      // The global --env (an environment name) goes before the command: here --env is K=V.
      return CliContext::Fail(InvalidInput(fmt::format(
          "deploy: --env \"{}\" is not K=V (deploy's --env sets a variable; to select an "
          "environment, put it before the command: slipway --env {} deploy, or set SLIPWAY_ENV)",
          kv, kv)));
    }
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& s : a.services) {
    if (!(*ctx.Project())->services.count(s)) {
      return CliContext::Fail(InvalidInput(fmt::format("deploy: no such service: \"{}\"", s)));
    }
  }
  auto load = ctx.ResolvedLoad();
  if (!load.ok()) return CliContext::Fail(load.status(), "deploy");
  json body = {{"load", api::LoadOptionsToJson(*load)},
               {"services", a.services},
               {"version", a.version},
               {"strategy", a.strategy},
               {"backup", !a.no_backup},
               {"env", env}};
  Result<json> r = [&] {
    ProgressFollower follow(ctx, a.format == "json");
    return ctx.Call("POST", "/api/v1/deploy", body);
  }();
  if (!r.ok()) return CliContext::Fail(r.status());  // the daemon's line names the service
  api::BodyFields answer(*r);
  const json* releases = answer.Raw("releases");
  const json& list = releases ? *releases : json::array();
  Result<std::string> verdict = Verdict(list);
  if (!verdict.ok()) return FailAnswer(verdict.status(), "deploy");
  if (a.format == "json") {
    std::printf("%s\n", json{{"ok", true}, {"releases", list}}.dump().c_str());
  } else if (list.empty()) {
    std::printf("slipway: nothing to deploy (no running service changed)\n");
  } else {
    std::printf("slipway: deployed %s\n", verdict->c_str());
  }
  return 0;
}

int RunRollback(CliContext& ctx, const std::string& service, int64_t to) {
  if (Status st = NeedDaemon(ctx); !st.ok()) return CliContext::Fail(st, "rollback");
  if (!(*ctx.Project())->services.count(service)) {
    return CliContext::Fail(
        InvalidInput(fmt::format("rollback: no such service: \"{}\"", service)));
  }
  Result<json> r = [&] {
    ProgressFollower follow(ctx, false);
    return ctx.Call("POST", "/api/v1/rollback", json{{"service", service}, {"to", to}});
  }();
  if (!r.ok()) return CliContext::Fail(r.status());
  api::BodyFields answer(*r);
  const json* releases = answer.Raw("releases");
  int64_t number = to;
  auto rows = AnswerRows(
      releases ? *releases : json::array(),
      [&number](api::BodyFields& rel) -> std::vector<std::string> {
        number = rel.Int("number", number, 0, INT64_MAX, "a release number");
        return {};
      },
      "releases");
  if (!rows.ok()) return FailAnswer(rows.status(), "rollback");
  std::printf("slipway: %s runs r%lld again\n", service.c_str(), static_cast<long long>(number));
  return 0;
}

// The login of whoever runs the CLI: the `by` of a pause or a resume.
std::string LoginName() {
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "";
}

// `deploy pause|resume|promote SERVICE [--reason TEXT]`: pause and resume are answered at
// once, promote once the new set is primary; the deploy's own caller (if any) goes on
// following it.
int RunJobVerb(CliContext& ctx, DeployVerb v, const std::string& service,
               const std::string& reason) {
  const char* verb = DeployVerbWord(v);
  // The verb is a word `deploy` reads (cli/deploy_words.h), no subcommand: errors name both.
  const std::string command = fmt::format("deploy {}", verb);
  if (Status st = NeedDaemon(ctx); !st.ok()) return CliContext::Fail(st, command);
  if (!(*ctx.Project())->services.count(service)) {
    return CliContext::Fail(InvalidInput(fmt::format("{}: no such service: \"{}\"", verb, service)),
                            command);
  }
  json body = {{"reason", reason}, {"by", LoginName()}};
  auto r = ctx.Call("POST", fmt::format("/api/v1/deploy/{}/{}", service, verb), body);
  if (!r.ok()) return CliContext::Fail(r.status(), command);
  if (!r->is_object()) return FailAnswer(InvalidInput("expected an object"), verb);
  api::BodyFields answer(*r);
  const int64_t release = answer.Int("release", 0, 0, INT64_MAX, "a release number");
  const bool job_verb = v != DeployVerb::kPromote;  // promote's answer has no job state
  const std::string state = job_verb ? answer.String("state", "a job state") : "";
  const bool pausing = job_verb && answer.Bool("pausing", false);
  if (!answer.status().ok()) return FailAnswer(answer.status(), verb);
  const auto r_no = static_cast<long long>(release);
  switch (v) {
    case DeployVerb::kPause:
      if (pausing) {
        std::printf("slipway: %s r%lld pausing: it holds once its %s step finishes\n",
                    service.c_str(), r_no, state.c_str());
      } else {
        std::printf(
            "slipway: %s r%lld paused; traffic keeps its weights (slipway deploy resume %s, or "
            "slipway rollback %s)\n",
            service.c_str(), r_no, service.c_str(), service.c_str());
      }
      break;
    case DeployVerb::kResume:
      std::printf("slipway: %s r%lld resumed (%s)\n", service.c_str(), r_no, state.c_str());
      break;
    case DeployVerb::kPromote:
      std::printf("slipway: %s r%lld promoted: it takes all the traffic\n", service.c_str(), r_no);
      break;
    case DeployVerb::kDeploy:
      break;
  }
  return 0;
}

int RunReleases(CliContext& ctx, const std::string& service, const std::string& format) {
  auto paths = ctx.Paths();
  if (!paths.ok()) return CliContext::Fail(paths.status());
  json rows = json::array();
  if (ctx.DaemonRunning()) {
    // The daemon's answer is redacted like every API answer.
    std::string target = "/api/v1/releases?limit=200";
    if (!service.empty()) target += "&service=" + service;
    auto r = ctx.Call("GET", target);
    if (!r.ok()) return CliContext::Fail(r.status(), "releases");
    rows = *r;
  } else if (std::filesystem::exists(paths->db())) {
    auto project = ctx.Project();
    if (!project.ok()) return CliContext::Fail(project.status());
    Redactor secrets = config::SecretsOf(**project, config::CurrentEnviron());
    auto store = store::Store::Open(paths->db(), Clock::Real());
    if (!store.ok()) return CliContext::Fail(store.status(), "releases");
    auto rs = deploy::ReleaseStore::Open(store->get(), Clock::Real());
    if (!rs.ok()) return CliContext::Fail(rs.status(), "releases");
    auto list = (*rs)->List(service, 200);
    if (!list.ok()) return CliContext::Fail(list.status(), "releases");
    for (const auto& r : *list) rows.push_back(api::Redacted(r.ToJson(), &secrets));
  }
  if (format == "json") {
    std::printf("%s\n", rows.dump(2).c_str());
    return 0;
  }
  auto table = AnswerRows(rows, [](api::BodyFields& r) -> std::vector<std::string> {
    std::vector<std::string> row = {
        r.String("service", "a service name"),
        fmt::format("r{}", r.Int("number", 0, 0, INT64_MAX, "a release number")),
        r.String("version", "a version label"),
        r.String("strategy", "a strategy name"),
        r.String("status", "a release status"),
        runtime::FormatWallMillis(
            r.Int("created_ms", 0, 0, INT64_MAX, "a time in Unix milliseconds")),
        r.String("spec_hash", "a spec hash").substr(0, 8),
        r.String("reason", "a reason")};
    return row;
  });
  if (!table.ok()) return FailAnswer(table.status(), "releases");
  PrintTable({"SERVICE", "RELEASE", "VERSION", "STRATEGY", "STATUS", "CREATED", "SPEC", "REASON"},
             *table);
  return 0;
}

// `maintenance` alone lists services in maintenance; `on|off SERVICE` switches one.
int RunMaintenance(CliContext& ctx, const std::vector<std::string>& args,
                   const std::string& message) {
  if (args.empty()) {
    auto r = ctx.Call("GET", "/api/v1/maintenance");
    if (!r.ok()) return CliContext::Fail(r.status(), "maintenance");
    if (!r->is_object()) {
      return FailAnswer(
          InvalidInput(fmt::format("expected an object, got {}", api::JsonTypeName(*r))),
          "maintenance");
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& [service, msg] : r->items()) {
      if (!msg.is_string()) {
        return FailAnswer(InvalidInput(fmt::format("{}: expected a message, got {}", service,
                                                   api::JsonTypeName(msg))),
                          "maintenance");
      }
      rows.push_back({service, msg.get<std::string>()});
    }
    if (rows.empty()) {
      std::printf("no service is in maintenance\n");
    } else {
      PrintTable({"SERVICE", "MESSAGE"}, rows);
    }
    return 0;
  }
  if (args.size() != 2 || (args[0] != "on" && args[0] != "off")) {
    return CliContext::Fail(InvalidInput("expected `maintenance on|off SERVICE`"), "maintenance");
  }
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  if (!(*project)->services.count(args[1])) {
    return CliContext::Fail(InvalidInput("no service \"" + args[1] + "\" in the project"),
                            "maintenance");
  }
  json body = {{"service", args[1]}, {"on", args[0] == "on"}};
  if (!message.empty()) body["message"] = message;
  auto r = ctx.Call("POST", "/api/v1/maintenance", body);
  if (!r.ok()) return CliContext::Fail(r.status(), "maintenance");
  api::BodyFields answer(*r);
  const bool on = answer.Bool("maintenance", false);
  if (!answer.status().ok()) return FailAnswer(answer.status(), "maintenance");
  if (on) {
    std::printf("%s: in maintenance (503 with Retry-After; its health path still answers)\n",
                args[1].c_str());
  } else {
    std::printf("%s: serving traffic\n", args[1].c_str());
  }
  return 0;
}

}  // namespace

void AddDeployCommands(CLI::App& app, CliContext& ctx, int* rc, int argc, const char* const* argv) {
  auto d = std::make_shared<DeployArgs>();
  auto* cd = app.add_subcommand("deploy", "Deploy changed services without downtime");
  cd->add_option("services", d->services, "Services (default: every running one that changed)")
      ->check(Name("a service name"));
  cd->add_option("--version", d->version, "Label of the release")->check(Text(200));
  cd->add_option("--strategy", d->strategy, config::DeployStrategyList())
      ->check(OneOf(config::DeployStrategies()));
  cd->add_option("--env", d->env, "K=V added to the new release's environment (repeatable)")
      ->check(Check("K=V", [](const std::string& kv) {
        const size_t eq = kv.find('=');
        if (eq != std::string::npos && eq > 0 && kv.size() <= kMaxEnvBytes &&
            kv.find_first_of("\r\n") == std::string::npos) {
          return std::string();
        }
        // The global --env (an environment name) goes before the command.
        return fmt::format(
            "K=V (deploy's --env sets a variable; to select an environment, put it before the "
            "command: slipway --env {} deploy, or set SLIPWAY_ENV)",
            kv.size() <= 64 ? kv : std::string("NAME"));
      }));
  cd->add_option("--format", d->format, "text or json")->check(OneOf({"text", "json"}));
  cd->add_flag("--no-backup", d->no_backup,
               "Let a migrate hook step apply pending migrations without a backup first");
  // `deploy pause|resume|promote SERVICE`: verbs read from the words (cli/deploy_words.h),
  // since a service may be named like one; --service and `--` name services explicitly.
  auto service_flags = std::make_shared<std::vector<std::string>>();
  auto reason = std::make_shared<std::string>();
  cd->add_option("--service", *service_flags,
                 "A service to deploy, or the one to pause, resume or promote, even when named "
                 "like one of those (repeatable)")
      ->check(Name("a service name"));
  // The daemon takes a one-line reason of up to 1000 bytes (api: deploy job verbs).
  cd->add_option("--reason", *reason, "deploy pause|resume|promote: why (recorded with the event)")
      ->check(Text(1000));
  cd->footer(
      "  slipway deploy pause|resume SERVICE [--reason TEXT]: hold or continue a running "
      "deploy.\n  slipway deploy promote SERVICE [--reason TEXT]: end a blue-green or canary "
      "deploy's judging; the new set takes all the traffic.\n  A service named pause, resume "
      "or promote: slipway deploy --service pause, or slipway deploy -- pause.");
  auto* reason_opt = cd->get_option("--reason");
  cd->callback([&ctx, d, rc, service_flags, reason, reason_opt, argc, argv] {
    DeployWords words = SplitAtDashes(d->services, argc, argv);
    words.service_flags = *service_flags;
    words.reason_given = reason_opt->count() > 0;
    std::set<std::string> known;
    if (auto project = ctx.Project(); project.ok()) {
      for (const auto& [name, svc] : (*project)->services) known.insert(name);
    }
    Result<DeployRequest> req = ReadDeployWords(words, known);
    if (!req.ok()) {
      *rc = CliContext::Fail(req.status());
      return;
    }
    if (req->verb != DeployVerb::kDeploy) {
      *rc = RunJobVerb(ctx, req->verb, req->service, *reason);
      return;
    }
    DeployArgs args = *d;
    args.services = req->services;
    *rc = RunDeploy(ctx, args);
  });

  auto rb_service = std::make_shared<std::string>();
  auto rb_to = std::make_shared<int64_t>(0);
  auto* crb = app.add_subcommand("rollback", "Return a service to an earlier release");
  crb->add_option("service", *rb_service, "Service")->required()->check(Name("a service name"));
  crb->add_option("--to", *rb_to, "Release number (default: the previous one)")
      ->check(Whole(1, INT64_MAX, "a release number"));
  crb->callback([&ctx, rb_service, rb_to, rc] { *rc = RunRollback(ctx, *rb_service, *rb_to); });

  auto rl_service = std::make_shared<std::string>();
  auto rl_format = std::make_shared<std::string>("table");
  auto* crl = app.add_subcommand("releases", "List releases (newest first)");
  crl->add_option("service", *rl_service, "Only this service")->check(Name("a service name"));
  crl->add_option("--format", *rl_format, "table or json")->check(OneOf({"table", "json"}));
  crl->callback(
      [&ctx, rl_service, rl_format, rc] { *rc = RunReleases(ctx, *rl_service, *rl_format); });

  auto m_args = std::make_shared<std::vector<std::string>>();
  auto m_message = std::make_shared<std::string>();
  auto* cm = app.add_subcommand(
      "maintenance", "Answer a service's requests with 503 (on|off SERVICE; alone: list)");
  cm->add_option("args", *m_args, "on|off SERVICE")->check(Name("on, off or a service name"));
  // The daemon keeps a message of up to 4096 bytes (api: maintenance).
  cm->add_option("--message", *m_message, "Text shown to clients while in maintenance")
      ->check(Text(4096));
  cm->callback([&ctx, m_args, m_message, rc] { *rc = RunMaintenance(ctx, *m_args, *m_message); });
}

}  // namespace slipway::cli
