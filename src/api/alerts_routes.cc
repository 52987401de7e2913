// Alerting routes: rules and alerts, a rule or expression evaluated now, the detailed health,
// and silences:
//   GET    /api/v1/silences       {"silences": [...]} (alerts::Silence::ToJson), newest first
//   POST   /api/v1/silences       {"matchers": ["service=\"web\"", "severity=~\"crit.*\""],
//                                  "duration": "2h" | "ends_at": "2026-12-04T12:00:00Z",
//                                  "comment": "...", "by": "ann"}  (deployers; `by` defaults
//                                  to the caller) -> the silence; with "id": "<a live or
//                                  pending silence>" it replaces that one (Alertmanager's
//                                  edit: the old one ends now, the new one gets a new id;
//                                  the answer's "replaced" names the old one)
//   DELETE /api/v1/silences/{id}  expires it now -> the silence
// Matchers are strings in Alertmanager's notation (alerts::ParseMatcher), the same the CLI
// takes on its command line.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include "alerts/service.h"
#include "alerts/silences.h"
#include "api/routes.h"
#include "config/duration.h"

namespace slipway::api {

namespace {

struct TestQuery {
  std::string expr;
  static Result<TestQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    TestQuery t{q.String("q")};
    RETURN_IF_ERROR(q.status());
    if (t.expr.empty())
      return InvalidInput("q: is missing (expected a rule name or an expression)");
    if (t.expr.size() > 16 * 1024) return InvalidInput("q: longer than 16 KiB");
    return t;
  }
};

// "2026-12-04T12:00:00Z" or with milliseconds ("...:00.250Z"): Unix ms; nullopt otherwise.
std::optional<int64_t> ParseUtc(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
      n != 19) {
    return std::nullopt;
  }
  std::string rest = s.substr(19);
  if (rest.size() == 5 && rest[0] == '.') {
    if (std::sscanf(rest.c_str(), ".%3d", &ms) != 1) return std::nullopt;
    rest = rest.substr(4);
  }
  if (rest != "Z" || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

struct NewSilence {
  alerts::SilenceSpec spec;
  int64_t duration_ms = 0;  // 0: spec.ends_ms is set
  std::string replaces;     // "id": the silence this one replaces ("" for none)

  static Result<NewSilence> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    NewSilence n;
    const nlohmann::json* ms = f.Raw("matchers");
    if (ms == nullptr) {
      f.Fail("matchers", "is missing (expected a list of matchers such as service=\"web\")");
    } else if (!ms->is_array()) {
      f.Fail("matchers", "expected a list of matchers such as service=\"web\", got " +
                             std::string(JsonTypeName(*ms)));
    } else if (ms->size() > alerts::Silences::kMaxMatchers) {
      f.Fail("matchers", fmt::format("more than {}", alerts::Silences::kMaxMatchers));
    } else {
      for (size_t i = 0; i < ms->size(); ++i) {
        const nlohmann::json& m = (*ms)[i];
        const std::string key = fmt::format("matchers[{}]", i);
        if (!m.is_string()) {
          f.Fail(key, "expected a matcher string, got " + std::string(JsonTypeName(m)));
          break;
        }
        auto parsed = alerts::ParseMatcher(m.get<std::string>());
        if (!parsed.ok()) {
          f.Fail(key, parsed.status().message());
          break;
        }
        n.spec.matchers.push_back(std::move(parsed).value());
      }
    }
    const bool has_duration = f.Has("duration");
    const bool has_ends = f.Has("ends_at");
    const std::string duration = f.String("duration", "a duration such as 2h or 30m");
    const std::string ends =
        f.String("ends_at", "an RFC 3339 UTC time such as 2026-12-04T12:00:00Z");
    if (has_duration == has_ends) {
      f.Fail(has_duration ? "ends_at" : "duration",
             has_duration ? "give duration or ends_at, not both"
                          : "is missing (expected a duration such as 2h, or ends_at)");
    } else if (has_duration && f.status().ok()) {
      std::optional<Duration> d = config::ParseDuration(duration);
      if (!d) {
        f.Fail("duration", "\"" + duration.substr(0, 64) + "\" is not " +
                               std::string(config::kDurationExpected));
      } else if (d->count() <= 0) {
        f.Fail("duration", "must be more than 0");
      } else if (d->count() > alerts::Silences::kMaxDurationMs) {
        f.Fail("duration", "a silence lasts at most 30 days (720h)");
      } else {
        n.duration_ms = d->count();
      }
    } else if (has_ends && f.status().ok()) {
      std::optional<int64_t> t = ParseUtc(ends);
      if (!t) {
        f.Fail("ends_at", "\"" + ends.substr(0, 64) +
                              "\" is not an RFC 3339 UTC time such as 2026-12-04T12:00:00Z");
      } else {
        n.spec.ends_ms = *t;
      }
    }
    n.spec.comment = f.String("comment", "a comment");
    n.spec.created_by = f.String("by", "a name", call.who);
    if (n.spec.comment.size() > alerts::Silences::kMaxComment) {
      f.Fail("comment", fmt::format("longer than {} bytes", alerts::Silences::kMaxComment));
    }
    if (n.spec.created_by.size() > alerts::Silences::kMaxCreatedBy) {
      f.Fail("by", fmt::format("longer than {} bytes", alerts::Silences::kMaxCreatedBy));
    }
    if (f.Has("id")) {
      n.replaces = f.String("id", "a silence id");
      const bool hex = !n.replaces.empty() && n.replaces.size() <= 64 &&
                       std::all_of(n.replaces.begin(), n.replaces.end(), [](char c) {
                         return std::isxdigit(static_cast<unsigned char>(c));
                       });
      if (f.status().ok() && !hex) {
        f.Fail("id", "expected the id of the silence to replace (hex digits)");
      }
    }
    RETURN_IF_ERROR(f.Finish());
    return n;
  }
};

struct SilenceId {
  std::string id;
  static Result<SilenceId> Parse(const RouteCall& call) {
    SilenceId s{std::string(call.Param("id"))};
    if (s.id.empty() || s.id.size() > 64) return InvalidInput("id: expected a silence id");
    return s;
  }
};

nlohmann::json SilenceList(const alerts::Silences& s, int64_t now) {
  nlohmann::json rows = nlohmann::json::array();
  for (const alerts::Silence& one : s.List()) rows.push_back(one.ToJson(now));
  return {{"silences", rows}};
}

}  // namespace

void RegisterAlertsRoutes(Router& r, const RouteDeps& d) {
  alerts::AlertingService* a = d.alerting;
  r.Add<NoInput>({Method::kGet, "/api/v1/alerts", Access::kRead},
                 [a](NoInput, Reply reply) { reply.Json(200, a->AlertsJson()); });
  r.Add<TestQuery>({Method::kGet, "/api/v1/alerts/test", Access::kRead},
                   [a](TestQuery t, Reply reply) {
                     auto v = a->Test(t.expr);
                     v.ok() ? reply.Json(200, *v) : reply.Error(v.status());
                   });
  r.Add<NoInput>({Method::kGet, "/api/v1/silences", Access::kRead}, [a](NoInput, Reply reply) {
    reply.Json(200, SilenceList(a->silences(), a->clock()->WallMillis()));
  });
  r.Add<NewSilence>({Method::kPost, "/api/v1/silences", Access::kDeploy, kSmallBody},
                    [a](NewSilence n, Reply reply) {
                      const int64_t now = a->clock()->WallMillis();
                      if (n.duration_ms > 0) {
                        n.spec.starts_ms = now;
                        n.spec.ends_ms = now + n.duration_ms;
                      }
                      if (n.replaces.empty()) {
                        auto s = a->silences().Add(std::move(n.spec));
                        return s.ok() ? reply.Json(200, s->ToJson(now)) : reply.Error(s.status());
                      }
                      auto s = a->silences().Replace(n.replaces, std::move(n.spec));
                      if (!s.ok()) return reply.Error(s.status());
                      nlohmann::json out = s->ToJson(now);
                      out["replaced"] = n.replaces;
                      reply.Json(200, out);
                    });
  r.Add<SilenceId>({Method::kDelete, "/api/v1/silences/{id}", Access::kDeploy},
                   [a](SilenceId id, Reply reply) {
                     Status st = a->silences().Expire(id.id);
                     if (!st.ok()) return reply.Error(st);
                     const int64_t now = a->clock()->WallMillis();
                     for (const alerts::Silence& s : a->silences().List()) {
                       if (s.id == id.id) return reply.Json(200, s.ToJson(now));
                     }
                     reply.Json(200, {{"id", id.id}});
                   });
  r.Add<NoInput>({Method::kGet, "/health/detailed", Access::kRead}, [a](NoInput, Reply reply) {
    auto [status, body] = a->HealthDetailed();
    reply.Json(status, body);
  });
}

}  // namespace slipway::api
