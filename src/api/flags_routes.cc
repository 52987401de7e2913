// Feature-flag routes: the admin API under /api/v1/flags (used by `slipway flags`) and OFREP
// under /ofrep/v1 (SDKs; the OfrepHandler checks its own read tokens and answers in OFREP's
// error format).
#include <optional>

#include "api/routes.h"
#include "flags/flag_service.h"
#include "flags/ofrep_handler.h"

namespace slipway::api {

using nlohmann::json;

namespace {

constexpr size_t kOfrepBody = 256 * 1024;  // an evaluation context
constexpr size_t kFlagDocumentBody = kLargeBody;

// What every flags request names: the environment, and for changes who and why.
struct FlagTarget {
  std::string env;
  std::string key;  // "" for collection routes
  flags::Change change;
};

// Reads env (query, then body), key (path) and actor/comment (body, then X-Slipway-Actor).
FlagTarget ReadTarget(const RouteCall& call, BodyFields* f, QueryFields* q,
                      const std::string& default_env) {
  FlagTarget t;
  t.env = q->String("env", default_env);
  if (f) t.env = f->String("env", "an environment name", t.env);
  if (t.env.empty()) t.env = default_env;
  t.key = std::string(call.Param("key"));
  const std::string* actor_h = call.request.Header("X-Slipway-Actor");
  t.change.actor = actor_h && !actor_h->empty() ? *actor_h : "api";
  if (f) {
    t.change.actor = f->String("actor", "a name", t.change.actor);
    t.change.comment = f->String("comment", "a comment");
  }
  // Over TCP the history names the caller the router proved (a user's token or session), not
  // only what the body claims: a claimed name is kept beside it, as deploys record "by".
  if (call.channel == Channel::kTcp && !call.who.empty()) {
    const bool claimed = (f && f->Has("actor")) || (actor_h && !actor_h->empty());
    t.change.actor =
        claimed && t.change.actor != call.who ? t.change.actor + " (" + call.who + ")" : call.who;
  }
  return t;
}

// Reads and deletes (no body): the query names the environment, and for stale flags and
// history how far to look.
struct FlagQuery {
  FlagTarget target;
  int days = 30;     // stale: not evaluated for this many days
  size_t limit = 0;  // history: newest first, 0 = all
  static Result<FlagQuery> Parse(const RouteCall& call, const std::string& env) {
    QueryFields q(call.request);
    FlagQuery r{ReadTarget(call, nullptr, &q, env)};
    r.days = static_cast<int>(q.Int("days", 30, 0, 36'500));
    r.limit = static_cast<size_t>(q.Int("limit", 0, 0, 100'000));
    RETURN_IF_ERROR(q.status());
    return r;
  }
};

// GET /api/v1/flags/{key}/preview?keys=a,b,c&percent=N: what each targeting key would get,
// evaluated by the daemon (the dashboard's rollout slider); `percent` absent = as it is now.
constexpr size_t kMaxPreviewKeys = 50;
constexpr size_t kMaxTargetingKey = 256;
struct FlagPreview {
  FlagTarget target;
  std::optional<int> percent = std::nullopt;
  std::vector<std::string> keys = {};
  static Result<FlagPreview> Parse(const RouteCall& call, const std::string& env) {
    QueryFields q(call.request);
    FlagPreview p{ReadTarget(call, nullptr, &q, env)};
    const int64_t percent = q.Int("percent", -1, 0, 100);
    if (percent >= 0) p.percent = static_cast<int>(percent);
    p.keys = q.List("keys");
    RETURN_IF_ERROR(q.status());
    if (p.keys.empty()) {
      return InvalidInput("keys: is missing (expected targeting keys separated by commas)");
    }
    if (p.keys.size() > kMaxPreviewKeys) {
      return InvalidInput("keys: more than " + std::to_string(kMaxPreviewKeys) + " targeting keys");
    }
    for (const std::string& k : p.keys) {
      if (k.size() > kMaxTargetingKey) {
        return InvalidInput("keys: a targeting key is longer than " +
                            std::to_string(kMaxTargetingKey) + " bytes");
      }
    }
    return p;
  }
};

// A change with a JSON body: enable/disable, set, import, rollout, target.
struct FlagChange {
  FlagTarget target;
  json document;                 // set: the definition; import: the flagd document
  bool replace = false;          // import
  int percent = 0;               // rollout
  std::vector<std::string> add;  // target: attr=value
  std::string variant;           // target

  enum class Kind { kToggle, kSet, kImport, kRollout, kTarget };

  static Result<FlagChange> Parse(const RouteCall& call, const std::string& env, Kind kind) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    QueryFields q(call.request);
    FlagChange c;
    c.target = ReadTarget(call, &f, &q, env);
    switch (kind) {
      case Kind::kToggle:
        break;
      case Kind::kSet:
        if (const json* d = f.Raw("definition", /*required=*/true)) c.document = *d;
        break;
      case Kind::kImport:
        if (const json* d = f.Raw("document", /*required=*/true)) c.document = *d;
        c.replace = f.Bool("replace", false);
        break;
      case Kind::kRollout:
        if (!f.Has("percent")) f.Fail("percent", "is missing (expected an integer from 0 to 100)");
        c.percent = static_cast<int>(f.Int("percent", 0, 0, 100, "an integer percentage"));
        break;
      case Kind::kTarget: {
        const json* add = f.Raw("add");
        if (add && add->is_string()) {
          c.add = {add->get<std::string>()};
        } else {
          c.add = f.StringList("add", "a list of attr=value");
        }
        if (c.add.empty()) f.Fail("add", "is missing (expected attr=value, or a list of them)");
        for (const std::string& a : c.add) {
          if (a.find('=') == std::string::npos || a.front() == '=') {
            f.Fail("add", "\"" + a + "\" is not attr=value");
          }
        }
        c.variant = f.String("variant", "a variant name");
        break;
      }
    }
    RETURN_IF_ERROR(f.Finish());
    RETURN_IF_ERROR(q.status());
    return c;
  }
};

json FlagInfoJson(const flags::FlagInfo& info) {
  return {{"key", info.key},
          {"definition", info.definition},
          {"created_ms", info.created_ms},
          {"updated_ms", info.updated_ms},
          {"evaluated_ms", info.evaluated_ms}};
}

json AuditJson(const flags::AuditEntry& a) {
  return {{"id", a.id},         {"env", a.env},     {"key", a.key},
          {"t", a.wall_ms},     {"actor", a.actor}, {"action", a.action},
          {"before", a.before}, {"after", a.after}, {"comment", a.comment}};
}

}  // namespace

void RegisterFlagsRoutes(Router& r, const RouteDeps& d) {
  flags::FlagService* fs = d.flags;
  const std::string env = d.default_flag_environment;
  auto read = [env](const RouteCall& c) { return FlagQuery::Parse(c, env); };
  auto change = [env](FlagChange::Kind kind) {
    return [env, kind](const RouteCall& c) { return FlagChange::Parse(c, env, kind); };
  };
  using Kind = FlagChange::Kind;

  r.Add({Method::kGet, "/api/v1/flags", Access::kRead}, read, [fs](FlagQuery q, Reply reply) {
    auto rows = fs->List(q.target.env);
    if (!rows.ok()) return reply.Error(rows.status());
    json out = json::array();
    for (const auto& row : *rows) out.push_back(FlagInfoJson(row));
    reply.Json(200, {{"environment", q.target.env}, {"flags", out}});
  });
  r.Add({Method::kGet, "/api/v1/flags/export", Access::kRead}, read,
        [fs](FlagQuery q, Reply reply) {
          auto doc = fs->Export(q.target.env);
          doc.ok() ? reply.Json(200, *doc) : reply.Error(doc.status());
        });
  r.Add({Method::kGet, "/api/v1/flags/stale", Access::kRead}, read, [fs](FlagQuery q, Reply reply) {
    auto stale = fs->Stale(q.target.env, q.days);
    if (!stale.ok()) return reply.Error(stale.status());
    json out = json::array();
    for (const auto& s : *stale) out.push_back({{"key", s.key}, {"why", s.why}});
    reply.Json(200, {{"environment", q.target.env}, {"days", q.days}, {"flags", out}});
  });
  r.Add<NoInput>({Method::kGet, "/api/v1/flags/environments", Access::kRead},
                 [fs, env](NoInput, Reply reply) {
                   reply.Json(200, {{"default", env}, {"environments", fs->Environments()}});
                 });
  r.Add(
      {Method::kGet, "/api/v1/flags/{key}/preview", Access::kRead},
      [env](const RouteCall& c) { return FlagPreview::Parse(c, env); },
      [fs](FlagPreview p, Reply reply) {
        auto answers = fs->Preview(p.target.env, p.target.key, p.percent, p.keys);
        if (!answers.ok()) return reply.Error(answers.status());
        json out = json::array();
        for (const flags::PreviewAnswer& a : *answers) {
          json row = {
              {"targeting_key", a.targeting_key}, {"variant", a.variant}, {"reason", a.reason}};
          if (!a.value.is_null()) row["value"] = a.value;
          if (!a.error.empty()) row["error"] = a.error;
          out.push_back(std::move(row));
        }
        json body = {{"environment", p.target.env}, {"key", p.target.key}, {"answers", out}};
        if (p.percent) body["percent"] = *p.percent;
        reply.Json(200, body);
      });
  r.Add({Method::kPost, "/api/v1/flags/import", Access::kAdmin, kFlagDocumentBody},
        change(Kind::kImport), [fs](FlagChange c, Reply reply) {
          reply.Done(fs->Import(c.target.env, c.document, c.replace, c.target.change));
        });
  r.Add({Method::kGet, "/api/v1/flags/{key}", Access::kRead}, read, [fs](FlagQuery q, Reply reply) {
    const FlagTarget& t = q.target;
    auto rows = fs->List(t.env);
    if (!rows.ok()) return reply.Error(rows.status());
    for (const auto& row : *rows) {
      if (row.key == t.key) return reply.Json(200, FlagInfoJson(row));
    }
    reply.Error(NotFound("flag \"" + t.key + "\" not found in environment \"" + t.env + "\""));
  });
  r.Add({Method::kPut, "/api/v1/flags/{key}", Access::kAdmin, kFlagDocumentBody},
        change(Kind::kSet), [fs](FlagChange c, Reply reply) {
          reply.Done(fs->Set(c.target.env, c.target.key, c.document, c.target.change));
        });
  r.Add({Method::kDelete, "/api/v1/flags/{key}", Access::kAdmin}, read,
        [fs](FlagQuery q, Reply reply) {
          reply.Done(fs->Delete(q.target.env, q.target.key, q.target.change));
        });
  for (bool on : {true, false}) {
    r.Add({Method::kPost, on ? "/api/v1/flags/{key}/enable" : "/api/v1/flags/{key}/disable",
           Access::kDeploy, kSmallBody},
          change(Kind::kToggle), [fs, on](FlagChange c, Reply reply) {
            reply.Done(fs->SetEnabled(c.target.env, c.target.key, on, c.target.change));
          });
  }
  r.Add({Method::kPost, "/api/v1/flags/{key}/rollout", Access::kAdmin, kSmallBody},
        change(Kind::kRollout), [fs](FlagChange c, Reply reply) {
          reply.Done(fs->Rollout(c.target.env, c.target.key, c.percent, c.target.change));
        });
  r.Add({Method::kPost, "/api/v1/flags/{key}/target", Access::kAdmin, kSmallBody},
        change(Kind::kTarget), [fs](FlagChange c, Reply reply) {
          Status st;
          for (const std::string& a : c.add) {
            size_t eq = a.find('=');
            st = fs->AddTarget(c.target.env, c.target.key, a.substr(0, eq), a.substr(eq + 1),
                               c.variant, c.target.change);
            if (!st.ok()) break;
          }
          reply.Done(st);
        });
  r.Add({Method::kGet, "/api/v1/flags/{key}/history", Access::kRead}, read,
        [fs](FlagQuery q, Reply reply) {
          auto h = fs->History(q.target.env, q.target.key, q.limit);
          if (!h.ok()) return reply.Error(h.status());
          json out = json::array();
          for (const auto& a : *h) out.push_back(AuditJson(a));
          reply.Json(200, out);
        });

  flags::OfrepHandler* ofrep = d.ofrep;
  auto serve = [ofrep](const RouteCall& call, Reply reply) {
    ofrep->Handle(call.request, std::move(reply.writer()));
  };
  for (std::string_view p : {"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/{key}"}) {
    r.AddRaw({Method::kPost, p, Access::kOwnToken, kOfrepBody}, serve);
    r.AddRaw({Method::kOptions, p, Access::kOwnToken}, serve);
  }
}

}  // namespace slipway::api
