// Deploy routes: ship, watch, pause and resume, roll back, list releases.
#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>

#include "api/redacted.h"
#include "api/routes.h"
#include "api/views.h"
#include "config/deploy_strategy.h"
#include "config/secrets_of.h"
#include "deploy/deployer.h"
#include "deploy/releases.h"

namespace slipway::api {

using nlohmann::json;

namespace {

// The project is loaded by the handler, once the request is well-formed: with the caller's
// environment, or with the one the project was last loaded with when `reuse_environ` says so.
struct DeployBody {
  deploy::DeployRequest request;
  config::LoadOptions load;
  bool reuse_environ = false;

  static Result<DeployBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    DeployBody d;
    d.load = LoadOptionsFromFields(f.Object("load", "an object"), &f);
    d.reuse_environ = f.Bool("reuse_environ", false);
    d.request.services = f.StringList("services", "a list of service names");
    d.request.version = f.String("version", "a release label");
    const std::string strategy = f.String("strategy", "a strategy name");
    d.request.backup_before_migrate = f.Bool("backup", true);
    d.request.env = f.StringMap("env", "an object of environment variables");
    RETURN_IF_ERROR(f.Finish());
    if (d.reuse_environ && !d.load.environ.empty()) {
      return InvalidInput(
          "reuse_environ: given with load.environ (expected one of them: the caller's "
          "environment, or the one the project was last loaded with)");
    }
    if (!strategy.empty()) {
      d.request.strategy = config::ParseDeployStrategy(strategy);
      if (!d.request.strategy) {
        return InvalidInput("deploy: --strategy \"" + strategy + "\" is not one of " +
                            config::DeployStrategyList());
      }
    }
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

// POST /api/v1/deploy/{service}/pause|resume|promote: {"reason": "...", "by": "..."}, both
// optional.
// `by` names the person (the CLI sends the user's login); the channel it came through is added,
// so the record says who even when `by` is left out.
struct PauseBody {
  std::string service;
  std::string who;
  std::string why;

  static Result<PauseBody> Parse(const RouteCall& call) {
    PauseBody p;
    p.service = std::string(call.Param("service"));
    std::string by;
    if (!call.request.body.empty()) {
      ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
      BodyFields f(body);
      p.why = f.String("reason", "a one-line reason");
      by = f.String("by", "who asks (a name)");
      RETURN_IF_ERROR(f.Finish());
    }
    RETURN_IF_ERROR(OneLine("reason", p.why, 1000));
    RETURN_IF_ERROR(OneLine("by", by, 200));
    const std::string via = call.channel == Channel::kUnix ? "unix socket" : call.who;
    p.who = by.empty() ? via : by + " (" + via + ")";
    return p;
  }

  static Status OneLine(std::string_view key, const std::string& v, size_t max) {
    if (v.size() > max) {
      return InvalidInput(
          fmt::format("{}: expected at most {} characters, got {}", key, max, v.size()));
    }
    for (unsigned char c : v) {
      if (c < 0x20 || c == 0x7f) {
        return InvalidInput(
            fmt::format("{}: expected one line of text (no control characters)", key));
      }
    }
    return Status::OK();
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

// ?service=S&limit=N: one service's newest N (or every service's newest N in all);
// ?per_service=N: the newest N of each service, in one answer (the dashboard's table).
struct ReleasesQuery {
  std::string service;
  size_t limit = 100;
  size_t per_service = 0;  // 0: not asked
  static Result<ReleasesQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    ReleasesQuery r;
    r.service = q.String("service");
    r.limit = static_cast<size_t>(q.Int("limit", 100, 1, 10'000));
    r.per_service = static_cast<size_t>(q.Int("per_service", 0, 1, 100));
    RETURN_IF_ERROR(q.status());
    if (r.per_service > 0 && !r.service.empty()) {
      return InvalidInput("per_service: asks every service; it cannot be given with service");
    }
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
  r.Add<DeployBody>(
      {Method::kPost, "/api/v1/deploy", Access::kDeploy, kLargeBody},
      [d](DeployBody b, Reply reply) {
        if (b.reuse_environ && d.load_environ != nullptr) {
          b.load.environ = *d.load_environ;
        }
        auto project = config::LoadProject(b.load);
        if (!project.ok()) return reply.Error(project.status());
        b.request.project = std::move(project).value();
        if (d.redactor) {
          d.redactor->Merge(config::SecretsOf(b.request.project, b.load.environ));
          for (const auto& [name, value] : b.request.env) {
            if (IsSecretName(name)) d.redactor->AddValue(value);
          }
        }
        auto environ =
            std::make_shared<std::map<std::string, std::string>>(std::move(b.load.environ));
        d.deployer->Deploy(std::move(b.request), [reply, d, environ](deploy::Outcome o) {
          // The running project was loaded with it now.
          if (o.status.ok() && d.load_environ != nullptr) {
            *d.load_environ = std::move(*environ);
          }
          ReplyOutcome(reply, o, d.redactor);
        });
      });
  r.Add<ProgressQuery>({Method::kGet, "/api/v1/deploy/progress", Access::kRead},
                       [d](ProgressQuery q, Reply reply) {
                         reply.Json(200, Redacted(d.deployer->Progress(q.after), d.redactor));
                       });
  // The running deploys as the event stream's `deploy` event says them, each set's numbers of
  // the last second or so read now (the page's fallback when the stream is refused).
  r.Add<NoInput>({Method::kGet, "/api/v1/deploy/live", Access::kRead}, [d](NoInput, Reply reply) {
    reply.Json(200, Redacted(DeployLiveJson(*d.deployer), d.redactor));
  });
  // An operator's pause of a running deploy, and its resume: answered at once.
  for (bool pause : {true, false}) {
    r.Add<PauseBody>({Method::kPost,
                      pause ? "/api/v1/deploy/{service}/pause" : "/api/v1/deploy/{service}/resume",
                      Access::kDeploy, kSmallBody},
                     [d, pause](PauseBody b, Reply reply) {
                       Status st = pause ? d.deployer->Pause(b.service, b.who, b.why)
                                         : d.deployer->Resume(b.service, b.who, b.why);
                       if (!st.ok()) return reply.Error(st);
                       const deploy::JobRunner* job = d.deployer->Job(b.service);
                       json out = {{"ok", true}, {"service", b.service}, {"by", b.who}};
                       if (job) {
                         out["release"] = job->release().number;
                         out["state"] = std::string(deploy::JobStateName(job->state()));
                         out["pausing"] = job->pausing();
                       }
                       reply.Json(200, out);
                     });
  }
  // An operator's promote of a running blue-green or canary deploy: the judging left is
  // skipped and the new set takes all the traffic. Answered once it is primary.
  r.Add<PauseBody>(
      {Method::kPost, "/api/v1/deploy/{service}/promote", Access::kDeploy, kSmallBody},
      [d](PauseBody b, Reply reply) {
        const deploy::JobRunner* job = d.deployer->Job(b.service);
        const int64_t release = job ? job->release().number : 0;
        if (Status st = d.deployer->Promote(b.service, b.who, b.why); !st.ok()) {
          return reply.Error(st);
        }
        reply.Json(200,
                   {{"ok", true}, {"service", b.service}, {"by", b.who}, {"release", release}});
      });
  r.Add<RollbackBody>({Method::kPost, "/api/v1/rollback", Access::kDeploy, kSmallBody},
                      [d](RollbackBody b, Reply reply) {
                        d.deployer->Rollback(b.service, b.to, [reply, d](deploy::Outcome o) {
                          ReplyOutcome(reply, o, d.redactor);
                        });
                      });
  r.Add<ReleasesQuery>({Method::kGet, "/api/v1/releases", Access::kRead},
                       [d](ReleasesQuery q, Reply reply) {
                         auto list = q.per_service > 0 ? d.releases->Recent(q.per_service)
                                                       : d.releases->List(q.service, q.limit);
                         if (!list.ok()) return reply.Error(list.status());
                         json rows = json::array();
                         for (const auto& rel : *list) rows.push_back(rel.ToJson());
                         reply.Json(200, Redacted(rows, d.redactor));
                       });
}

}  // namespace slipway::api
