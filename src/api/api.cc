#include "api/api.h"

#include <fmt/format.h>

#include <cstdlib>
#include <memory>

#include "base/secret.h"

namespace slipway::api {

using nlohmann::json;

namespace {

std::vector<std::string> SplitCsv(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<std::string> Services(const json& body) {
  std::vector<std::string> out;
  if (body.contains("services") && body["services"].is_array()) {
    for (const auto& s : body["services"]) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
  }
  return out;
}

int64_t IntParam(const http::Request& req, std::string_view key, int64_t fallback) {
  auto v = req.QueryParam(key);
  if (!v || v->empty()) return fallback;
  return std::strtoll(std::string(*v).c_str(), nullptr, 10);
}

json LogLineJson(const runtime::LogLine& l) {
  return {{"t", l.wall_ms},
          {"service", l.service},
          {"instance", l.instance},
          {"stderr", l.is_stderr},
          {"text", l.text}};
}

}  // namespace

json LoadOptionsToJson(const config::LoadOptions& o) {
  json j;
  j["files"] = json::array();
  for (const auto& f : o.files) j["files"].push_back(f.string());
  j["working_dir"] = o.working_dir.string();
  j["env_files"] = json::array();
  for (const auto& f : o.env_files) j["env_files"].push_back(f.string());
  j["profiles"] = o.profiles;
  j["environ"] = o.environ;
  j["project_name"] = o.project_name;
  return j;
}

config::LoadOptions LoadOptionsFromJson(const json& j) {
  config::LoadOptions o;
  if (!j.is_object()) return o;
  for (const auto& f : j.value("files", json::array())) o.files.emplace_back(f.get<std::string>());
  o.working_dir = j.value("working_dir", std::string());
  for (const auto& f : j.value("env_files", json::array())) {
    o.env_files.emplace_back(f.get<std::string>());
  }
  o.profiles = j.value("profiles", std::vector<std::string>());
  o.environ = j.value("environ", std::map<std::string, std::string>());
  o.project_name = j.value("project_name", std::string());
  return o;
}

http::Response JsonResponse(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump() + "\n";
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

http::Response ErrorResponse(const Status& st) {
  int status = 500;
  switch (st.code()) {
    case StatusCode::kInvalidInput: status = 400; break;
    case StatusCode::kNotFound: status = 404; break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted: status = 409; break;
    case StatusCode::kDeadlineExceeded: status = 504; break;
    case StatusCode::kUnavailable: status = 503; break;
    default: break;
  }
  return JsonResponse(status, {{"error", st.message()}, {"exit", st.ExitCode()}});
}

Api::Api(net::EventLoop* loop, engine::Engine* engine, runtime::LogStore* logs,
         store::Store* store, ApiHooks hooks)
    : loop_(loop), engine_(engine), logs_(logs), store_(store), hooks_(std::move(hooks)) {}

void Api::Handle(const http::Request& req, http::ResponseWriter w, bool trusted) {
  std::string_view path = req.Path();
  if (hooks_.ofrep && hooks_.ofrep(req, w)) return;
  const bool mutation = req.method != "GET" && req.method != "HEAD";
  if (mutation && !trusted) {
    const std::string* auth = req.Header("Authorization");
    if (hooks_.token.empty() || !auth || !auth->starts_with("Bearer ") ||
        !SameSecret(std::string_view(*auth).substr(7), hooks_.token)) {
      w.Send(JsonResponse(401, {{"error", "a bearer token is needed (see .slipway/token)"},
                                {"exit", 1}}));
      return;
    }
  }
  if (hooks_.flags_admin && hooks_.flags_admin(req, w)) return;
  if (hooks_.extra && hooks_.extra(req, w)) return;
  if (path == "/health") {
    w.Send(JsonResponse(200, {{"status", "ok"}}));
    return;
  }
  if (path == "/metrics" && req.method == "GET") {
    w.Send(http::Response::Text(200, hooks_.metrics ? hooks_.metrics() : "",
                                "text/plain; version=0.0.4; charset=utf-8"));
    return;
  }
  if (path == "/api/v1/ps" && req.method == "GET") {
    json rows = engine_->Ps();
    if (hooks_.decorate_ps) hooks_.decorate_ps(&rows);
    w.Send(JsonResponse(200, rows));
    return;
  }
  if (path == "/api/v1/logs" && req.method == "GET") {
    Logs(req, std::move(w));
    return;
  }
  if (path == "/api/v1/events" && req.method == "GET") {
    Events(req, std::move(w));
    return;
  }
  if (!mutation) {
    w.Send(ErrorResponse(NotFound(fmt::format("no such endpoint: {} {}", req.method, path))));
    return;
  }
  json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    w.Send(ErrorResponse(InvalidInput("request body is not a JSON object")));
    return;
  }
  auto shared = std::make_shared<http::ResponseWriter>(std::move(w));
  auto reply = [shared](Status st) {
    shared->Send(st.ok() ? JsonResponse(200, {{"ok", true}}) : ErrorResponse(st));
  };
  if (path == "/api/v1/up") {
    Up(body, std::move(*shared));
  } else if (path == "/api/v1/stop") {
    engine_->Stop(Services(body), [reply] { reply(Status::OK()); });
  } else if (path == "/api/v1/start") {
    engine_->Up(Services(body), engine::UpOptions{}, reply);
  } else if (path == "/api/v1/restart") {
    engine_->Restart(Services(body), reply);
  } else if (path == "/api/v1/down") {
    auto shutdown = hooks_.shutdown;
    engine_->Stop({}, [reply, shutdown] {
      reply(Status::OK());
      if (shutdown) shutdown();
    });
  } else {
    shared->Send(ErrorResponse(NotFound(fmt::format("no such endpoint: {} {}", req.method, path))));
  }
}

void Api::Up(const json& body, http::ResponseWriter w) {
  if (body.contains("load")) {
    auto project = config::LoadProject(LoadOptionsFromJson(body["load"]));
    if (!project.ok()) {
      w.Send(ErrorResponse(project.status()));
      return;
    }
    engine_->SetProject(std::move(project).value());
  }
  engine::UpOptions opts;
  opts.wait = body.value("wait", false);
  if (body.contains("timeout_ms")) opts.timeout = Duration(body.value("timeout_ms", 300'000));
  auto shared = std::make_shared<http::ResponseWriter>(std::move(w));
  engine_->Up(Services(body), opts, [shared](Status st) {
    shared->Send(st.ok() ? JsonResponse(200, {{"ok", true}}) : ErrorResponse(st));
  });
}

void Api::Logs(const http::Request& req, http::ResponseWriter w) {
  std::vector<std::string> services = SplitCsv(req.QueryParam("services").value_or(""));
  size_t tail = static_cast<size_t>(IntParam(req, "tail", 0));
  int64_t since = IntParam(req, "since", 0);
  bool follow = IntParam(req, "follow", 0) != 0;
  auto shared = std::make_shared<http::ResponseWriter>(std::move(w));
  shared->StartStream(200, {{"Content-Type", "application/x-ndjson"}});
  std::string batch;
  for (const auto& line : logs_->Tail(services, tail, since)) {
    batch += LogLineJson(line).dump();
    batch += '\n';
  }
  if (!batch.empty()) shared->Write(batch);
  if (!follow) {
    shared->End();
    return;
  }
  std::set<std::string> wanted(services.begin(), services.end());
  runtime::LogStore* logs = logs_;
  auto id = std::make_shared<runtime::LogStore::SubscriberId>(0);
  *id = logs_->Subscribe([shared, wanted, logs, id](const runtime::LogLine& line) {
    if (!wanted.empty() && !wanted.count(line.service)) return;
    if (!shared->Write(LogLineJson(line).dump() + "\n")) logs->Unsubscribe(*id);
  });
  shared->OnClose([logs, id] { logs->Unsubscribe(*id); });
}

void Api::Events(const http::Request& req, http::ResponseWriter w) {
  std::vector<std::string> services = SplitCsv(req.QueryParam("services").value_or(""));
  auto events = store_->Events(IntParam(req, "since", 0), services,
                               static_cast<size_t>(IntParam(req, "limit", 1000)));
  if (!events.ok()) {
    w.Send(ErrorResponse(events.status()));
    return;
  }
  json rows = json::array();
  for (const auto& e : *events) {
    rows.push_back({{"id", e.id},
                    {"t", e.wall_ms},
                    {"service", e.service},
                    {"instance", e.instance},
                    {"kind", e.kind},
                    {"message", e.message}});
  }
  w.Send(JsonResponse(200, rows));
}

}  // namespace slipway::api
