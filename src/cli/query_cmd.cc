#include "cli/query_cmd.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "api/fields.h"
#include "base/clock.h"
#include "cli/checks.h"
#include "cli/output.h"
#include "promql/parser.h"

namespace slipway::cli {

namespace {

using nlohmann::json;

// `up{instance="a", job="x"}` from a result's "metric" object (every label a string).
std::string SeriesName(api::BodyFields* s) {
  const std::map<std::string, std::string> labels = s->StringMap("metric", "an object of labels");
  std::string out;
  if (auto it = labels.find("__name__"); it != labels.end()) out = it->second;
  out += "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (k == "__name__") continue;
    out += fmt::format("{}{}=\"{}\"", first ? "" : ", ", k, v);
    first = false;
  }
  return out + "}";
}

// `[<unix seconds>, "<value>"]` as "VALUE @ TIME"; `where` names it in the error.
Result<std::string> At(const json& pair, const std::string& where) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return InvalidInput(fmt::format("{}: expected [unix time, \"value\"], got {}", where,
                                    pair.is_array() ? "another array" : api::JsonTypeName(pair)));
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
  auto lines = ReadQueryAnswer(*r);
  if (!lines.ok()) return FailAnswer(lines.status(), "query");
  for (const std::string& line : lines->lines) std::printf("%s\n", line.c_str());
  if (lines->no_data) std::fprintf(stderr, "slipway: query: no data\n");
  return 0;
}

}  // namespace

Result<QueryLines> ReadQueryAnswer(const json& answer) {
  if (!answer.is_object()) {
    return InvalidInput(fmt::format("expected an object, got {}", api::JsonTypeName(answer)));
  }
  api::BodyFields top(answer);
  const json& data = top.Object("data", "an object");
  if (!top.Has("data")) top.Fail("data", "is missing (expected an object)");
  RETURN_IF_ERROR(top.status());
  api::BodyFields d(data, "data.");
  const std::string type = d.RequiredString("resultType", "scalar, string, vector or matrix");
  const json* result = d.Raw("result", /*required=*/true);
  RETURN_IF_ERROR(d.status());
  QueryLines out;
  if (type == "scalar" || type == "string") {
    ASSIGN_OR_RETURN(std::string line, At(*result, "data.result"));
    out.lines.push_back(std::move(line));
    return out;
  }
  if (type != "vector" && type != "matrix") {
    return InvalidInput(
        fmt::format("data.resultType: expected scalar, string, vector or matrix, got {:?}", type));
  }
  if (!result->is_array()) {
    return InvalidInput(
        fmt::format("data.result: expected an array, got {}", api::JsonTypeName(*result)));
  }
  for (size_t i = 0; i < result->size(); ++i) {
    const std::string where = fmt::format("data.result[{}]", i);
    const json& one = (*result)[i];
    if (!one.is_object()) {
      return InvalidInput(
          fmt::format("{}: expected an object, got {}", where, api::JsonTypeName(one)));
    }
    api::BodyFields s(one, where + ".");
    const std::string name = SeriesName(&s);
    const json* value = s.Raw(type == "vector" ? "value" : "values", /*required=*/true);
    RETURN_IF_ERROR(s.status());
    if (type == "vector") {
      ASSIGN_OR_RETURN(std::string at, At(*value, where + ".value"));
      out.lines.push_back(fmt::format("{} => {}", name, at));
      continue;
    }
    if (!value->is_array()) {
      return InvalidInput(
          fmt::format("{}.values: expected an array, got {}", where, api::JsonTypeName(*value)));
    }
    out.lines.push_back(name + " =>");
    for (size_t j = 0; j < value->size(); ++j) {
      ASSIGN_OR_RETURN(std::string at, At((*value)[j], fmt::format("{}.values[{}]", where, j)));
      out.lines.push_back("  " + at);
    }
  }
  out.no_data = result->empty();
  return out;
}

void AddQueryCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* cmd = app.add_subcommand(
      "query", "Evaluate PromQL over the scraped metrics (the daemon's Prometheus query API)");
  auto* expr = cmd->add_option("expr", "The expression, e.g. 'rate(http_requests_total[5m])'")
                   ->required()
                   ->check(Text(kMaxExpressionBytes, /*lines_ok=*/true));
  auto time = std::make_shared<std::string>();
  auto range = std::make_shared<std::string>();
  auto step = std::make_shared<std::string>("15s");
  auto format = std::make_shared<std::string>("text");
  cmd->add_option("--time", *time, "Evaluation time: Unix seconds or RFC 3339 (default: now)")
      ->check(Check("TIME", [](const std::string& v) {
        const bool ok = !v.empty() && v.size() <= 40 &&
                        v.find_first_not_of("0123456789.-:+TZtz") == std::string::npos &&
                        std::isdigit(static_cast<unsigned char>(v[0]));
        return ok ? std::string() : std::string("a time (Unix seconds or RFC 3339)");
      }));
  cmd->add_option("--range", *range, "A range query over the last DURATION (e.g. 1h)")
      ->check(Check("DURATION", [](const std::string& v) {
        return v.size() <= 64 && promql::ParsePromDuration(v) > 0
                   ? std::string()
                   : std::string("a duration (expected e.g. 30m, 1h, 2h30m)");
      }));
  cmd->add_option("--step", *step, "Resolution of a range query (default 15s)")
      ->check(Check("DURATION", [](const std::string& v) {
        // As Prometheus takes it: a duration, or seconds as a number.
        char* end = nullptr;
        const double secs = v.empty() ? 0 : std::strtod(v.c_str(), &end);
        const bool number = !v.empty() && *end == '\0' && secs > 0 && secs <= 1e9;
        return v.size() <= 64 && (number || promql::ParsePromDuration(v) > 0)
                   ? std::string()
                   : std::string("a duration (expected e.g. 15s, 1m, or seconds)");
      }));
  cmd->add_option("--format", *format, "text or json")->check(OneOf({"text", "json"}));
  cmd->callback([&ctx, rc, expr, time, range, step, format] {
    *rc = Run(ctx, expr->as<std::string>(), *time, *range, *step, *format);
  });
}

}  // namespace slipway::cli
