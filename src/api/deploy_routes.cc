// Deploy routes: ship, watch, roll back, list releases.
#include "api/redacted.h"
#include "api/routes.h"
#include "config/deploy_strategy.h"
#include "config/secrets_of.h"
#include "deploy/deployer.h"
#include "deploy/releases.h"

namespace slipway::api {

using nlohmann::json;

namespace {

struct DeployBody {
  deploy::DeployRequest request;
  std::map<std::string, std::string> environ;  // the caller's, for its secrets

  static Result<DeployBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    DeployBody d;
    config::LoadOptions load = LoadOptionsFromFields(f.Object("load", "an object"), &f);
    d.request.services = f.StringList("services", "a list of service names");
    d.request.version = f.String("version", "a release label");
    const std::string strategy = f.String("strategy", "a strategy name");
    d.request.backup_before_migrate = f.Bool("backup", true);
    d.request.env = f.StringMap("env", "an object of environment variables");
    RETURN_IF_ERROR(f.Finish());
    if (!strategy.empty()) {
      d.request.strategy = config::ParseDeployStrategy(strategy);
      if (!d.request.strategy) {
        return InvalidInput("deploy: --strategy \"" + strategy + "\" is not one of " +
                            config::DeployStrategyList());
      }
    }
    // Loading reads the caller's files: only once the request itself is well-formed.
    ASSIGN_OR_RETURN(d.request.project, config::LoadProject(load));
    d.environ = std::move(load.environ);
    return d;
  }
};

struct RollbackBody {
  std::string service;
  int64_t to = 0;

  static Result<RollbackBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    RollbackBody r;
    r.service = f.RequiredString("service", "a service name");
    r.to = f.Int("to", 0, 0, INT64_MAX, "an integer release number (0 = the previous one)");
    RETURN_IF_ERROR(f.Finish());
    return r;
  }
};

struct ProgressQuery {
  int64_t after = 0;
  static Result<ProgressQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    ProgressQuery p{q.Int("after", 0, 0, INT64_MAX)};
    RETURN_IF_ERROR(q.status());
    return p;
  }
};

struct ReleasesQuery {
  std::string service;
  size_t limit = 100;
  static Result<ReleasesQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    ReleasesQuery r;
    r.service = q.String("service");
    r.limit = static_cast<size_t>(q.Int("limit", 100, 1, 10'000));
    RETURN_IF_ERROR(q.status());
    return r;
  }
};

void ReplyOutcome(const Reply& reply, const deploy::Outcome& o, const Redactor* redactor) {
  json releases = Redacted(o.releases, redactor);
  if (o.status.ok()) {
    reply.Json(200, {{"ok", true}, {"releases", releases}});
  } else {
    Status st(o.status.code(), redactor ? redactor->Scrub(o.status.message()) : o.status.message());
    reply.Error(st, {{"releases", releases}});
  }
}

}  // namespace

void RegisterDeployRoutes(Router& r, const RouteDeps& d) {
  r.Add<DeployBody>({Method::kPost, "/api/v1/deploy", Access::kAdmin, kLargeBody},
                    [d](DeployBody b, Reply reply) {
                      if (d.redactor) {
                        d.redactor->Merge(config::SecretsOf(b.request.project, b.environ));
                        for (const auto& [name, value] : b.request.env) {
                          if (IsSecretName(name)) d.redactor->AddValue(value);
                        }
                      }
                      d.deployer->Deploy(std::move(b.request), [reply, d](deploy::Outcome o) {
                        ReplyOutcome(reply, o, d.redactor);
                      });
                    });
  r.Add<ProgressQuery>({Method::kGet, "/api/v1/deploy/progress", Access::kRead},
                       [d](ProgressQuery q, Reply reply) {
                         reply.Json(200, Redacted(d.deployer->Progress(q.after), d.redactor));
                       });
  r.Add<RollbackBody>({Method::kPost, "/api/v1/rollback", Access::kAdmin, kSmallBody},
                      [d](RollbackBody b, Reply reply) {
                        d.deployer->Rollback(b.service, b.to, [reply, d](deploy::Outcome o) {
                          ReplyOutcome(reply, o, d.redactor);
                        });
                      });
  r.Add<ReleasesQuery>({Method::kGet, "/api/v1/releases", Access::kRead},
                       [d](ReleasesQuery q, Reply reply) {
                         auto list = d.releases->List(q.service, q.limit);
                         if (!list.ok()) return reply.Error(list.status());
                         json rows = json::array();
                         for (const auto& rel : *list) rows.push_back(rel.ToJson());
                         reply.Json(200, Redacted(rows, d.redactor));
                       });
}

}  // namespace slipway::api
