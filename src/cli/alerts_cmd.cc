#include "cli/alerts_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "alerts/builtin.h"
#include "alerts/rule_unit.h"
#include "alerts/silences.h"
#include "api/fields.h"
#include "api/routes.h"
#include "base/clock.h"
#include "cli/checks.h"
#include "cli/output.h"
#include "config/duration.h"
#include "http/client.h"
#include "runtime/log_store.h"

namespace slipway::cli {

using nlohmann::json;

namespace {

// name=value,... of an alert's labels (alertname left out; it is the RULE column).
std::string Labels(api::BodyFields& f) {
  std::string out;
  for (const auto& [k, v] : f.StringMap("labels", "labels (an object of strings)")) {
    if (k == "alertname") continue;
    if (!out.empty()) out += ',';
    out.append(k).append("=").append(v);
  }
  return out;
}

std::string Value(const json& v) {
  return v.is_number() ? fmt::format("{:g}", v.get<double>()) : v.dump();
}

int RunAlerts(CliContext& ctx, const std::string& format) {
  auto r = ctx.Call("GET", "/api/v1/alerts");
  if (!r.ok()) return CliContext::Fail(r.status(), "alerts");
  if (format == "json") {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  api::BodyFields answer(*r);
  const json* alerts = answer.Raw("alerts");
  const json* history = answer.Raw("history");
  if (!r->is_object()) {
    return FailAnswer(
        InvalidInput(fmt::format("expected an object, got {}", api::JsonTypeName(*r))), "alerts");
  }
  auto rows = AnswerRows(
      alerts ? *alerts : json::array(),
      [](api::BodyFields& a) -> std::vector<std::string> {
        const std::string state = a.String("state", "a state");
        const std::string rule = a.String("rule", "a rule name");
        const std::string labels = Labels(a);
        const json* value = a.Raw("value");
        const json& notes = a.Object("annotations", "annotations (an object)");
        std::string summary;
        if (auto it = notes.find("summary"); it != notes.end() && !it->is_null()) {
          if (it->is_string()) {
            summary = it->get<std::string>();
          } else {
            a.Fail("annotations.summary",
                   fmt::format("expected a summary, got {}", api::JsonTypeName(*it)));
          }
        }
        return {state, rule, labels, value ? Value(*value) : "null", summary};
      },
      "alerts");
  if (!rows.ok()) return FailAnswer(rows.status(), "alerts");
  auto hrows = AnswerRows(
      history ? *history : json::array(),
      [](api::BodyFields& h) -> std::vector<std::string> {
        const int64_t t = h.Int("t", 0, 0, INT64_MAX, "a time in Unix milliseconds");
        const std::string rule = h.String("rule", "a rule name");
        const std::string state = h.String("state", "a state");
        return {runtime::FormatWallMillis(t), rule, state, Labels(h)};
      },
      "history");
  if (!hrows.ok()) return FailAnswer(hrows.status(), "alerts");
  PrintTable({"STATE", "RULE", "LABELS", "VALUE", "SUMMARY"}, *rows);
  if (rows->empty()) std::printf("(no alert pending or firing)\n");
  if (!hrows->empty()) {
    std::printf("\nRecent changes:\n");
    PrintTable({"TIME", "RULE", "STATE", "LABELS"}, *hrows);
  }
  return 0;
}

int RunTest(CliContext& ctx, const std::string& expr) {
  // A rule's name evaluates that rule's expression; anything else is taken as PromQL.
  std::string q = expr;
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  std::vector<bool> builtin;
  for (const auto& rule : alerts::ProjectRules((*project)->alerts, &builtin)) {
    if (rule.name == expr) q = rule.expr;
  }
  auto r = ctx.Call("GET", "/api/v1/alerts/test?q=" + UrlEncode(q));
  if (!r.ok()) return CliContext::Fail(r.status(), "alerts test");
  std::printf("%s\n", r->dump(2).c_str());
  return 0;
}

// `slipway alerts test FILE...`: promtool's rule unit tests, run here without a daemon.
// 0 when every file passes, 1 when a test fails, 2 when a file is malformed (the worst wins).
int RunUnitTests(const std::vector<std::string>& files) {
  int worst = 0;
  for (const std::string& f : files) {
    std::string report;
    const int rc = static_cast<int>(alerts::RunRuleUnitTests(f, &report));
    std::fputs(report.c_str(), rc == 0 ? stdout : stderr);
    std::fputs("\n", rc == 0 ? stdout : stderr);
    worst = std::max(worst, rc);
  }
  return worst;
}

// A test file argument: a .yml/.yaml name or an existing regular file.
bool IsTestFile(const std::string& arg) {
  auto ends = [&](std::string_view suf) {
    return arg.size() >= suf.size() && arg.compare(arg.size() - suf.size(), suf.size(), suf) == 0;
  };
  std::error_code ec;
  return ends(".yml") || ends(".yaml") || std::filesystem::is_regular_file(arg, ec);
}

int RunExport(CliContext& ctx) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  std::vector<bool> builtin;
  auto rules = alerts::ProjectRules((*project)->alerts, &builtin);
  std::printf("%s", alerts::ExportPrometheusRules(rules, (*project)->alerts).c_str());
  return 0;
}

int RunStatus(CliContext& ctx, const std::string& format) {
  auto paths = ctx.Paths();
  if (!paths.ok()) return CliContext::Fail(paths.status());
  http::Endpoint ep;
  ep.unix_path = paths->socket().string();
  http::Request req;
  req.target = "/health/detailed";
  auto r = http::Fetch(ep, req, Duration(10'000));
  if (!r.ok()) {
    return CliContext::Fail(Unavailable("the project is not running; start it with `slipway up`"),
                            "status");
  }
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded()) return CliContext::Fail(Internal("daemon sent no JSON"), "status");
  auto view = ReadStatusAnswer(body);
  if (!view.ok()) return FailAnswer(view.status(), "status");
  // The daemon's and the keeper's own lives (an older daemon has no such route: left out).
  req.target = "/api/v1/daemon";
  std::optional<api::DaemonInfo> daemon;
  if (auto d = http::Fetch(ep, req, Duration(10'000)); d.ok() && d->status == 200) {
    if (auto info = api::ParseDaemonInfo(json::parse(d->body, nullptr, false)); info.ok()) {
      daemon = *info;
      body["daemon"] = api::DaemonInfoJson(*daemon);
    }
  }
  if (format == "json") {
    std::printf("%s\n", body.dump(2).c_str());
  } else {
    std::printf("overall: %s (alerts firing: %lld)\n", view->overall.c_str(),
                static_cast<long long>(view->alerts_firing));
    std::vector<std::vector<std::string>> rows = view->services;
    if (daemon) {
      const api::DaemonInfo& d = *daemon;
      const int64_t now_ms = Clock::Real()->WallMillis();
      auto up_for = [now_ms](int64_t since_ms) {
        return config::FormatDuration(Duration((now_ms - since_ms) / 1000 * 1000));
      };
      std::string detail = fmt::format("pid {}, up {}", d.pid, up_for(d.started_ms));
      if (d.generation > 1) detail += fmt::format(", start {} ({})", d.generation, d.start_cause);
      rows.push_back({"(daemon)", d.handing_over ? "handing over" : "ok",
                      std::to_string(std::max(0, d.generation - 1)), detail});
      if (d.keeper_pid > 0) {
        rows.push_back({"(keeper)", "ok", "",
                        fmt::format("pid {}, up {}", d.keeper_pid, up_for(d.keeper_started_ms))});
      } else {
        rows.push_back({"(keeper)", "none", "", "the daemon runs without a keeper"});
      }
    }
    rows.insert(rows.end(), view->components.begin(), view->components.end());
    PrintTable({"COMPONENT", "STATUS", "RESTARTS", "DETAIL"}, rows);
  }
  return view->overall == "down" ? 1 : 0;
}

// `slipway alerts silence MATCHER... --for 2h --comment TEXT [--by NAME]`: checked here first
// (exit 2, nothing sent), then POST /api/v1/silences; prints the new silence's id.
// A silence id as the daemon makes them (hex digits); anything else is refused before a call.
bool SilenceIdShape(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c));
  });
}

CLI::Validator SilenceId() {
  return Check("ID", [](const std::string& v) {
    return SilenceIdShape(v) ? std::string() : std::string("a silence id (hex digits)");
  });
}

int RunSilence(CliContext& ctx, const std::vector<std::string>& matchers, const std::string& dur,
               const std::string& comment, const std::string& by, const std::string& replace) {
  if (!replace.empty() && !SilenceIdShape(replace)) {
    std::fprintf(stderr,
                 "slipway: alerts silence: --replace: \"%s\" is not a silence id (hex digits)\n",
                 replace.substr(0, 64).c_str());
    return 2;
  }
  json list = json::array();
  for (const std::string& m : matchers) {
    auto parsed = alerts::ParseMatcher(m);
    if (!parsed.ok()) {
      std::fprintf(stderr, "slipway: alerts silence: %s\n", parsed.status().message().c_str());
      return 2;
    }
    list.push_back(parsed->ToString());
  }
  std::optional<Duration> d = config::ParseDuration(dur);
  if (!d || d->count() <= 0 || d->count() > alerts::Silences::kMaxDurationMs) {
    std::fprintf(stderr,
                 "slipway: alerts silence: --for: \"%s\" is not a duration from 1s to 720h (30 "
                 "days), e.g. 2h\n",
                 dur.substr(0, 64).c_str());
    return 2;
  }
  if (comment.size() > alerts::Silences::kMaxComment) {
    std::fprintf(stderr, "slipway: alerts silence: --comment: longer than %zu bytes\n",
                 alerts::Silences::kMaxComment);
    return 2;
  }
  json body = {{"matchers", list}, {"duration", config::FormatDuration(*d)}, {"comment", comment}};
  if (!by.empty()) body["by"] = by;
  if (!replace.empty()) body["id"] = replace;
  auto r = ctx.Call("POST", "/api/v1/silences", body);
  if (!r.ok() && !replace.empty() && r.status().code() == StatusCode::kNotFound) {
    std::fprintf(stderr,
                 "slipway: alerts silence: --replace: no silence %s (slipway alerts silences)\n",
                 replace.c_str());
    return 2;
  }
  if (!r.ok()) return CliContext::Fail(r.status(), "alerts silence");
  api::BodyFields f(*r);
  const std::string id = f.String("id", "a silence id");
  const std::string ends = f.String("ends_at", "a time");
  if (!f.status().ok() || id.empty()) {
    return FailAnswer(f.status().ok() ? InvalidInput("id: is missing") : f.status(),
                      "alerts silence");
  }
  if (replace.empty()) {
    std::printf("silence %s until %s\n", id.c_str(), ends.c_str());
  } else {
    std::printf("silence %s until %s (replaces %s, expired)\n", id.c_str(), ends.c_str(),
                replace.c_str());
  }
  return 0;
}

int RunSilences(CliContext& ctx, const std::string& format) {
  auto r = ctx.Call("GET", "/api/v1/silences");
  if (!r.ok()) return CliContext::Fail(r.status(), "alerts silences");
  if (format == "json") {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  if (!r->is_object()) {
    return FailAnswer(
        InvalidInput(fmt::format("expected an object, got {}", api::JsonTypeName(*r))),
        "alerts silences");
  }
  api::BodyFields answer(*r);
  const json* silences = answer.Raw("silences");
  auto rows = AnswerRows(
      silences ? *silences : json::array(),
      [](api::BodyFields& s) -> std::vector<std::string> {
        std::string matchers;
        for (const std::string& m : s.StringList("matchers", "a list of matchers")) {
          matchers += (matchers.empty() ? "" : ",") + m;
        }
        return {s.String("id", "a silence id"),
                s.String("state", "a state"),
                matchers,
                s.String("ends_at", "a time"),
                s.String("created_by", "a name"),
                s.String("comment", "a comment")};
      },
      "silences");
  if (!rows.ok()) return FailAnswer(rows.status(), "alerts silences");
  PrintTable({"ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"}, *rows);
  if (rows->empty()) std::printf("(no silences)\n");
  return 0;
}

int RunExpire(CliContext& ctx, const std::string& id) {
  if (!SilenceIdShape(id)) {
    std::fprintf(stderr, "slipway: alerts expire: \"%s\" is not a silence id (hex digits)\n",
                 id.substr(0, 64).c_str());
    return 2;
  }
  auto r = ctx.Call("DELETE", "/api/v1/silences/" + id);
  // An id that names no silence is the caller's mistake, like a malformed one: exit 2.
  if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
    std::fprintf(stderr, "slipway: alerts expire: no silence %s (slipway alerts silences)\n",
                 id.c_str());
    return 2;
  }
  if (!r.ok()) return CliContext::Fail(r.status(), "alerts expire");
  std::printf("silence %s expired\n", id.c_str());
  return 0;
}

}  // namespace

Result<StatusAnswer> ReadStatusAnswer(const json& body) {
  if (!body.is_object()) {
    return InvalidInput(fmt::format("expected an object, got {}", api::JsonTypeName(body)));
  }
  api::BodyFields top(body);
  StatusAnswer out;
  out.overall = top.RequiredString("status", "ok, degraded or down");
  out.alerts_firing = top.Int("alerts_firing", 0, 0, INT64_MAX, "a count");
  const json& services = top.Object("services", "an object of services");
  const json& proxy = top.Object("proxy", "an object");
  const json& store = top.Object("store", "an object");
  const json& dbs = top.Object("databases", "an object of databases");
  RETURN_IF_ERROR(top.status());
  // Each entry of an object of objects, read with its own prefix ("services.web.").
  auto entries = [](const json& map, const std::string& name, auto row) -> Status {
    for (const auto& [key, value] : map.items()) {
      const std::string where = fmt::format("{}.{}", name, key);
      if (!value.is_object()) {
        return InvalidInput(
            fmt::format("{}: expected an object, got {}", where, api::JsonTypeName(value)));
      }
      api::BodyFields f(value, where + ".");
      row(key, f);
      RETURN_IF_ERROR(f.status());
    }
    return Status::OK();
  };
  RETURN_IF_ERROR(
      entries(services, "services", [&out](const std::string& name, api::BodyFields& f) {
        out.services.push_back(
            {name, f.String("status", "a status"),
             std::to_string(f.Int("restarts", 0, 0, INT64_MAX, "a count of restarts")), ""});
      }));
  api::BodyFields p(proxy, "proxy.");
  out.components.push_back({"(proxy)", p.String("status", "a status"), "", ""});
  RETURN_IF_ERROR(p.status());
  api::BodyFields st(store, "store.");
  out.components.push_back(
      {"(store)", st.String("status", "a status"), "", st.String("error", "an error message")});
  RETURN_IF_ERROR(st.status());
  RETURN_IF_ERROR(entries(dbs, "databases", [&out](const std::string& name, api::BodyFields& d) {
    std::string detail = d.String("target", "a database address");
    if (d.Has("error")) {
      const std::string error = d.String("error", "an error message");
      detail += (detail.empty() ? "" : ": ") + error;
    } else if (const json* latency = d.Raw("latency_ms"); latency != nullptr) {
      if (latency->is_number()) {
        detail += fmt::format(" ({:.1f} ms)", latency->get<double>());
      } else {
        d.Fail("latency_ms",
               fmt::format("expected milliseconds, got {}", api::JsonTypeName(*latency)));
      }
    }
    out.components.push_back(
        {"(database " + name + ")", d.String("status", "a status"), "", detail});
  }));
  return out;
}

void AddAlertsCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto format = std::make_shared<std::string>("table");
  auto* alerts = app.add_subcommand("alerts", "Firing and pending alerts, recent history");
  alerts->add_option("--format", *format, "table or json")->check(OneOf({"table", "json"}));
  auto args = std::make_shared<std::vector<std::string>>();
  auto* test = alerts->add_subcommand(
      "test",
      "Run promtool rule unit-test files (FILE...), or evaluate a rule (by name) or an "
      "expression now");
  test->add_option("rule", *args, "Test files, or a rule name or PromQL expression")
      ->required()
      ->check(Text(kMaxExpressionBytes, /*lines_ok=*/true));
  test->callback([&ctx, args, rc] {
    const bool files = std::all_of(args->begin(), args->end(), IsTestFile);
    if (files) {
      *rc = RunUnitTests(*args);
    } else if (args->size() == 1) {
      *rc = RunTest(ctx, (*args)[0]);
    } else {
      *rc = CliContext::Fail(InvalidInput("expected test files (.yml) or one rule or expression"),
                             "alerts test");
    }
  });
  auto* exp = alerts->add_subcommand("export", "Print the rules as a Prometheus rule file");
  exp->callback([&ctx, rc] { *rc = RunExport(ctx); });

  struct SilenceArgs {
    std::vector<std::string> matchers;
    std::string duration, comment, by, id, replace;
  };
  auto sa = std::make_shared<SilenceArgs>();
  auto* silence = alerts->add_subcommand(
      "silence", "Hold back the notifications of alerts matching every MATCHER for a while");
  silence
      ->add_option("matcher", sa->matchers,
                   "name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\"")
      ->required()
      ->check(Check("MATCHER", [](const std::string& v) {
        return v.size() <= 2 * alerts::Silences::kMaxValue && alerts::ParseMatcher(v).ok()
                   ? std::string()
                   : std::string(
                         "a matcher (name=\"value\", name!=\"value\", name=~\"regex\" or "
                         "name!~\"regex\")");
      }));
  silence->add_option("--for", sa->duration, "How long, e.g. 2h (at most 720h)")
      ->required()
      ->check(DurationIn(Duration(1'000), Duration(alerts::Silences::kMaxDurationMs)));
  silence->add_option("--comment", sa->comment, "Why (shown with the silence)")
      ->check(Text(alerts::Silences::kMaxComment));
  silence->add_option("--by", sa->by, "Who (default: the caller the daemon sees)")
      ->check(Text(alerts::Silences::kMaxCreatedBy));
  silence
      ->add_option("--replace", sa->replace,
                   "Replace this live silence (its id): it ends now, the new one starts")
      ->check(SilenceId());
  silence->callback([&ctx, sa, rc] {
    *rc = RunSilence(ctx, sa->matchers, sa->duration, sa->comment, sa->by, sa->replace);
  });
  auto* silences =
      alerts->add_subcommand("silences", "Silences: active, pending, recently expired");
  silences->add_option("--format", *format, "table or json")->check(OneOf({"table", "json"}));
  silences->callback([&ctx, format, rc] { *rc = RunSilences(ctx, *format); });
  auto* expire = alerts->add_subcommand("expire", "End a silence now");
  expire->add_option("id", sa->id, "The silence's id (slipway alerts silences)")
      ->required()
      ->check(SilenceId());
  expire->callback([&ctx, sa, rc] { *rc = RunExpire(ctx, sa->id); });
  alerts->callback([&ctx, format, alerts, rc] {
    if (alerts->get_subcommands().empty()) *rc = RunAlerts(ctx, *format);
  });

  auto sformat = std::make_shared<std::string>("table");
  auto* status = app.add_subcommand(
      "status", "Health of every service, the proxy, the store and the databases");
  status->add_option("--format", *sformat, "table or json")->check(OneOf({"table", "json"}));
  status->callback([&ctx, sformat, rc] { *rc = RunStatus(ctx, *sformat); });
}

}  // namespace slipway::cli
