#include "flags/admin_handler.h"

#include <cstdlib>

namespace slipway::flags {
namespace {

constexpr std::string_view kBase = "/api/v1/flags";

http::Response JsonResp(int status, const Json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump() + "\n";
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

http::Response Error(const Status& st) {
  int status = 500;
  switch (st.code()) {
    case StatusCode::kInvalidInput: status = 400; break;
    case StatusCode::kNotFound: status = 404; break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: status = 409; break;
    case StatusCode::kUnavailable: status = 503; break;
    default: break;
  }
  return JsonResp(status, {{"error", st.message()}, {"exit", st.ExitCode()}});
}

http::Response Ok() { return JsonResp(200, {{"ok", true}}); }

}  // namespace

Json FlagInfoJson(const FlagInfo& info) {
  return {{"key", info.key},
          {"definition", info.definition},
          {"created_ms", info.created_ms},
          {"updated_ms", info.updated_ms},
          {"evaluated_ms", info.evaluated_ms}};
}

Json AuditJson(const AuditEntry& a) {
  return {{"id", a.id},       {"env", a.env},         {"key", a.key},
          {"t", a.wall_ms},   {"actor", a.actor},     {"action", a.action},
          {"before", a.before}, {"after", a.after},   {"comment", a.comment}};
}

AdminHandler::AdminHandler(FlagService* service, std::string default_environment)
    : service_(service), default_env_(std::move(default_environment)) {}

bool AdminHandler::Owns(std::string_view path) {
  return path == kBase || (path.starts_with(kBase) && path.size() > kBase.size() &&
                           path[kBase.size()] == '/');
}

void AdminHandler::Handle(const http::Request& req, http::ResponseWriter w) {
  w.Send(Route(req));
}

http::Response AdminHandler::Route(const http::Request& req) {
  std::string_view path = req.Path();
  std::string_view rest = path.size() > kBase.size() ? path.substr(kBase.size() + 1) : "";
  Json body = Json::object();
  if (!req.body.empty()) {
    body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return Error(InvalidInput("request body is not a JSON object"));
    }
  }
  std::string env = default_env_;
  if (auto q = req.QueryParam("env"); q && !q->empty()) env = std::string(*q);
  if (body.contains("env") && body["env"].is_string() && !body["env"].get<std::string>().empty()) {
    env = body["env"].get<std::string>();
  }
  Change change;
  const std::string* actor_h = req.Header("X-Slipway-Actor");
  change.actor = body.value("actor", actor_h ? *actor_h : std::string("api"));
  change.comment = body.value("comment", std::string());
  const std::string& m = req.method;

  if (rest.empty()) {
    if (m != "GET") return Error(NotFound("no such endpoint: " + m + " " + std::string(path)));
    auto rows = service_->List(env);
    if (!rows.ok()) return Error(rows.status());
    Json out = Json::array();
    for (const auto& r : *rows) out.push_back(FlagInfoJson(r));
    return JsonResp(200, {{"environment", env}, {"flags", out}});
  }
  if (rest == "export" && m == "GET") {
    auto doc = service_->Export(env);
    return doc.ok() ? JsonResp(200, *doc) : Error(doc.status());
  }
  if (rest == "stale" && m == "GET") {
    int days = 30;
    if (auto d = req.QueryParam("days"); d && !d->empty()) days = std::atoi(std::string(*d).c_str());
    auto stale = service_->Stale(env, days);
    if (!stale.ok()) return Error(stale.status());
    Json out = Json::array();
    for (const auto& s : *stale) out.push_back({{"key", s.key}, {"why", s.why}});
    return JsonResp(200, {{"environment", env}, {"days", days}, {"flags", out}});
  }
  if (rest == "import" && m == "POST") {
    if (!body.contains("document")) return Error(InvalidInput("import: document is missing"));
    Status st = service_->Import(env, body["document"], body.value("replace", false), change);
    return st.ok() ? Ok() : Error(st);
  }

  std::string key(rest);
  std::string action;
  if (size_t slash = key.find('/'); slash != std::string::npos) {
    action = key.substr(slash + 1);
    key = key.substr(0, slash);
  }
  if (key.empty()) return Error(InvalidInput("flag key is empty"));
  Status st;
  if (action.empty()) {
    if (m == "GET") {
      auto rows = service_->List(env);
      if (!rows.ok()) return Error(rows.status());
      for (const auto& r : *rows) {
        if (r.key == key) return JsonResp(200, FlagInfoJson(r));
      }
      return Error(NotFound("flag \"" + key + "\" not found in environment \"" + env + "\""));
    }
    if (m == "PUT" || m == "POST") {
      if (!body.contains("definition")) return Error(InvalidInput("definition is missing"));
      st = service_->Set(env, key, body["definition"], change);
    } else if (m == "DELETE") {
      st = service_->Delete(env, key, change);
    } else {
      return Error(NotFound("no such endpoint: " + m + " " + std::string(path)));
    }
  } else if (action == "history" && m == "GET") {
    size_t limit = 0;
    if (auto l = req.QueryParam("limit"); l && !l->empty()) {
      limit = static_cast<size_t>(std::atoll(std::string(*l).c_str()));
    }
    auto h = service_->History(env, key, limit);
    if (!h.ok()) return Error(h.status());
    Json out = Json::array();
    for (const auto& a : *h) out.push_back(AuditJson(a));
    return JsonResp(200, out);
  } else if (m != "POST") {
    return Error(NotFound("no such endpoint: " + m + " " + std::string(path)));
  } else if (action == "enable" || action == "disable") {
    st = service_->SetEnabled(env, key, action == "enable", change);
  } else if (action == "rollout") {
    if (!body.contains("percent") || !body["percent"].is_number()) {
      return Error(InvalidInput("rollout: percent (0..100) is missing"));
    }
    st = service_->Rollout(env, key, body["percent"].get<int>(), change);
  } else if (action == "target") {
    Json add = body.value("add", Json());
    if (add.is_string()) add = Json::array({add});
    if (!add.is_array() || add.empty()) return Error(InvalidInput("target: add attr=value"));
    for (const Json& a : add) {
      std::string s = a.is_string() ? a.get<std::string>() : "";
      size_t eq = s.find('=');
      if (eq == std::string::npos) {
        return Error(InvalidInput("target: \"" + s + "\" is not attr=value"));
      }
      st = service_->AddTarget(env, key, s.substr(0, eq), s.substr(eq + 1),
                               body.value("variant", std::string()), change);
      if (!st.ok()) break;
    }
  } else {
    return Error(NotFound("no such endpoint: " + m + " " + std::string(path)));
  }
  return st.ok() ? Ok() : Error(st);
}

}  // namespace slipway::flags
