#include "cli/query_cmd.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <string>

#include "base/clock.h"
#include "promql/parser.h"

namespace slipway::cli {

namespace {

using nlohmann::json;

// `up{instance="a", job="x"}` from a result's "metric" object.
std::string SeriesName(const json& metric) {
  std::string name = metric.value("__name__", "");
  std::string out = name + "{";
  bool first = true;
  for (auto it = metric.begin(); it != metric.end(); ++it) {
    if (it.key() == "__name__") continue;
    out += fmt::format("{}{}=\"{}\"", first ? "" : ", ", it.key(),
                       it.value().is_string() ? it.value().get<std::string>() : "");
    first = false;
  }
  return out + "}";
}

std::string At(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return "?";
  }
  const auto ms = static_cast<int64_t>(pair[0].get<double>() * 1000);
  return fmt::format("{} @ {}", pair[1].get<std::string>(), FormatUtc(ms, "%Y-%m-%dT%H:%M:%SZ"));
}

int Run(CliContext& ctx, const std::string& expr, const std::string& time, const std::string& range,
        const std::string& step, const std::string& format) {
  std::string path;
  if (range.empty()) {
    path = "/api/v1/query?query=" + UrlEncode(expr);
    if (!time.empty()) path += "&time=" + UrlEncode(time);
  } else {
    const int64_t range_ms = promql::ParsePromDuration(range);
    if (range_ms <= 0) {
      return CliContext::Fail(InvalidInput(
          fmt::format("--range: {:?} is not a duration (expected e.g. 30m, 1h, 2h30m)", range)));
    }
    const int64_t end = Clock::Real()->WallMillis();
    path = fmt::format("/api/v1/query_range?query={}&start={:.3f}&end={:.3f}&step={}",
                       UrlEncode(expr), static_cast<double>(end - range_ms) / 1000,
                       static_cast<double>(end) / 1000, UrlEncode(step));
  }
  auto r = ctx.Call("GET", path);
  if (!r.ok()) return CliContext::Fail(r.status(), "query");
  if (format == "json") {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  // value() and at(), never operator[] on a const answer: an answer of another shape (a
  // remote --api may send anything) is a json exception, which cli.cc reports in one line.
  const json data = r->value("data", json::object());
  const std::string type = data.value("resultType", "");
  const json result = data.value("result", json::array());
  if (type == "scalar" || type == "string") {
    std::printf("%s\n", At(result).c_str());
  } else if (type == "vector") {
    for (const json& s : result) {
      std::printf("%s => %s\n", SeriesName(s.value("metric", json::object())).c_str(),
                  At(s.value("value", json())).c_str());
    }
  } else {
    for (const json& s : result) {
      std::printf("%s =>\n", SeriesName(s.value("metric", json::object())).c_str());
      for (const json& v : s.value("values", json::array())) std::printf("  %s\n", At(v).c_str());
    }
  }
  if (result.is_array() && result.empty()) std::fprintf(stderr, "slipway: query: no data\n");
  return 0;
}

}  // namespace

void AddQueryCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* cmd = app.add_subcommand(
      "query", "Evaluate PromQL over the scraped metrics (the daemon's Prometheus query API)");
  auto* expr =
      cmd->add_option("expr", "The expression, e.g. 'rate(http_requests_total[5m])'")->required();
  auto time = std::make_shared<std::string>();
  auto range = std::make_shared<std::string>();
  auto step = std::make_shared<std::string>("15s");
  auto format = std::make_shared<std::string>("text");
  cmd->add_option("--time", *time, "Evaluation time: Unix seconds or RFC 3339 (default: now)");
  cmd->add_option("--range", *range, "A range query over the last DURATION (e.g. 1h)");
  cmd->add_option("--step", *step, "Resolution of a range query (default 15s)");
  cmd->add_option("--format", *format, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&ctx, rc, expr, time, range, step, format] {
    *rc = Run(ctx, expr->as<std::string>(), *time, *range, *step, *format);
  });
}

}  // namespace slipway::cli
