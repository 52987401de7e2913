#include "deploy/deploy_api.h"

#include <fmt/format.h>

#include <cstdlib>
#include <memory>

#include "api/api.h"
#include "config/loader.h"

namespace slipway::deploy {

using nlohmann::json;

namespace {

int64_t IntParam(const http::Request& req, std::string_view key, int64_t fallback) {
  auto v = req.QueryParam(key);
  if (!v || v->empty()) return fallback;
  return std::strtoll(std::string(*v).c_str(), nullptr, 10);
}

void Reply(const std::shared_ptr<http::ResponseWriter>& w, const Outcome& o) {
  if (o.status.ok()) {
    w->Send(api::JsonResponse(200, {{"ok", true}, {"releases", o.releases}}));
  } else {
    http::Response r = api::ErrorResponse(o.status);
    json body = json::parse(r.body, nullptr, false);
    if (body.is_object()) {
      body["releases"] = o.releases;
      r = api::JsonResponse(r.status, body);
    }
    w->Send(std::move(r));
  }
}

}  // namespace

bool DeployApi::Handle(const http::Request& req, http::ResponseWriter& w) {
  std::string_view path = req.Path();
  if (path == "/api/v1/releases" && req.method == "GET") {
    auto list = releases_->List(std::string(req.QueryParam("service").value_or("")),
                                static_cast<size_t>(IntParam(req, "limit", 100)));
    if (!list.ok()) {
      w.Send(api::ErrorResponse(list.status()));
      return true;
    }
    json rows = json::array();
    for (const auto& r : *list) rows.push_back(r.ToJson());
    w.Send(api::JsonResponse(200, rows));
    return true;
  }
  if (path == "/api/v1/deploy/progress" && req.method == "GET") {
    w.Send(api::JsonResponse(200, deployer_->Progress(IntParam(req, "after", 0))));
    return true;
  }
  bool deploy = path == "/api/v1/deploy" && req.method == "POST";
  bool rollback = path == "/api/v1/rollback" && req.method == "POST";
  if (!deploy && !rollback) return false;
  json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    w.Send(api::ErrorResponse(InvalidInput("request body is not a JSON object")));
    return true;
  }
  auto shared = std::make_shared<http::ResponseWriter>(std::move(w));
  if (rollback) {
    std::string service = body.value("service", "");
    if (service.empty()) {
      shared->Send(api::ErrorResponse(InvalidInput("rollback: which service?")));
      return true;
    }
    deployer_->Rollback(service, body.value("to", int64_t{0}),
                        [shared](Outcome o) { Reply(shared, o); });
    return true;
  }
  DeployRequest dr;
  auto project = config::LoadProject(api::LoadOptionsFromJson(body.value("load", json::object())));
  if (!project.ok()) {
    shared->Send(api::ErrorResponse(project.status()));
    return true;
  }
  dr.project = std::move(project).value();
  for (const auto& s : body.value("services", json::array())) {
    if (s.is_string()) dr.services.push_back(s.get<std::string>());
  }
  dr.version = body.value("version", "");
  dr.strategy = body.value("strategy", "");
  dr.backup_before_migrate = body.value("backup", true);
  if (body.contains("env") && body["env"].is_object()) {
    for (const auto& [k, v] : body["env"].items()) {
      if (v.is_string()) dr.env[k] = v.get<std::string>();
    }
  }
  deployer_->Deploy(std::move(dr), [shared](Outcome o) { Reply(shared, o); });
  return true;
}

}  // namespace slipway::deploy
