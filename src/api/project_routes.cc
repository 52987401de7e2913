// The project's own routes: health, metrics, ps, up/start/stop/restart/down, logs, events.
#include <set>

#include "api/live.h"
#include "api/redacted.h"
#include "api/routes.h"
#include "api/views.h"
#include "config/secrets_of.h"
#include "config/volumes_settings.h"
#include "deploy/deployer.h"
#include "deploy/releases.h"
#include "deploy/up_plan.h"
#include "engine/engine.h"
#include "runtime/container_assets.h"
#include "runtime/host_mounts.h"
#include "runtime/log_store.h"
#include "store/store.h"

namespace slipway::api {

using nlohmann::json;

namespace {

constexpr int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;
constexpr int64_t kMaxRows = 100'000;
constexpr size_t kMaxFollowBuffer = 1 << 20;  // bytes a log follower may be behind

struct UpRequest {
  std::optional<config::LoadOptions> load;
  std::vector<std::string> services;
  engine::UpOptions options;
  bool containers = false;  // up --containers: the services run as containers (this load)

  static Result<UpRequest> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    UpRequest r;
    if (f.Has("load")) r.load = LoadOptionsFromFields(f.Object("load", "an object"), &f);
    r.services = f.StringList("services", "a list of service names");
    r.options.wait = f.Bool("wait", false);
    r.containers = f.Bool("containers", false);
    r.options.timeout =
        Duration(f.Int("timeout_ms", r.options.timeout.count(), 1, kMaxTimeoutMs, "milliseconds"));
    RETURN_IF_ERROR(f.Finish());
    return r;
  }
};

struct ServicesRequest {
  std::vector<std::string> services;

  static Result<ServicesRequest> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    ServicesRequest r{f.StringList("services", "a list of service names")};
    RETURN_IF_ERROR(f.Finish());
    return r;
  }
};

struct EmptyBody {
  static Result<EmptyBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    RETURN_IF_ERROR(BodyFields(body).Finish());
    return EmptyBody{};
  }
};

// `down`: {"volumes": true} also removes the project's named volumes (`down -v`).
struct DownRequest {
  bool volumes = false;

  static Result<DownRequest> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    DownRequest r{f.Bool("volumes", false)};
    RETURN_IF_ERROR(f.Finish());
    return r;
  }
};

struct LogsQuery {
  std::vector<std::string> services;
  size_t tail = 0;
  int64_t since_ms = 0;
  bool follow = false;

  static Result<LogsQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    LogsQuery r;
    r.services = q.List("services");
    r.tail = static_cast<size_t>(q.Int("tail", 0, 0, kMaxRows));
    r.since_ms = q.Int("since", 0, 0, INT64_MAX);
    r.follow = q.Bool("follow", false);
    RETURN_IF_ERROR(q.status());
    return r;
  }
};

struct EventsQuery {
  std::vector<std::string> services;
  int64_t since_ms = 0;
  size_t limit = 1000;

  static Result<EventsQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    EventsQuery r;
    r.services = q.List("services");
    r.since_ms = q.Int("since", 0, 0, INT64_MAX);
    r.limit = static_cast<size_t>(q.Int("limit", 1000, 1, kMaxRows));
    RETURN_IF_ERROR(q.status());
    return r;
  }
};

json LogLineJson(const runtime::LogLine& l) {
  return {{"t", l.wall_ms},
          {"service", l.service},
          {"instance", l.instance},
          {"stderr", l.is_stderr},
          {"text", l.text}};
}

std::string NdjsonLine(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

void StreamLogs(const RouteDeps& d, LogsQuery q, Reply reply) {
  http::ResponseWriter& w = reply.writer();
  w.StartStream(200, {{"Content-Type", "application/x-ndjson"}, {"Cache-Control", "no-store"}});
  std::string batch;
  for (const auto& line : d.logs->Tail(q.services, q.tail, q.since_ms)) {
    batch += NdjsonLine(LogLineJson(line));
  }
  if (!batch.empty()) w.Write(batch);
  if (!q.follow) {
    w.End();
    return;
  }
  std::set<std::string> wanted(q.services.begin(), q.services.end());
  runtime::LogStore* logs = d.logs;
  auto id = std::make_shared<runtime::LogStore::SubscriberId>(0);
  *id = logs->Subscribe([reply, wanted, logs, id](const runtime::LogLine& line) {
    if (!wanted.empty() && !wanted.count(line.service)) return;
    http::ResponseWriter& out = reply.writer();
    // A follower that stopped reading costs at most kMaxFollowBuffer: it gets one last line
    // saying so and the stream ends (the page reconnects with `since`).
    if (out.buffered_bytes() > kMaxFollowBuffer) {
      out.Write(NdjsonLine({{"dropped", "the client fell behind"}}));
      out.End();
      logs->Unsubscribe(*id);
      return;
    }
    if (!out.Write(NdjsonLine(LogLineJson(line)))) logs->Unsubscribe(*id);
  });
  w.OnClose([logs, id] { logs->Unsubscribe(*id); });
}

// Running services whose primary release a deploy or rollback made (deploy/up_plan.h).
std::vector<deploy::DeployedService> DeployedServices(const RouteDeps& d,
                                                      const config::Project& file) {
  std::vector<deploy::DeployedService> out;
  if (d.releases == nullptr) return out;
  for (const auto& [name, svc] : file.services) {
    const config::Service* running = d.engine->RunningSpec(name);
    const int64_t number = d.engine->PrimaryRelease(name);
    if (running == nullptr || number <= 0) continue;
    auto release = d.releases->Get(name, number);
    if (!release.ok() || !release->has_value() || !(*release)->strategy) continue;
    out.push_back({name, *running, (*release)->base_hash});
  }
  return out;
}

// What `up` (`start`, `restart`) answers once the engine is done: the engine's failure, else the
// proxy's, for a published port taken since the engine checked it would otherwise be a log
// line under a success. A drained or stopped proxy (FailedPrecondition: a successor daemon
// serves) is not this request's failure.
Status Served(const std::function<Status()>& publish_routes, Status st) {
  if (!st.ok() || !publish_routes) return st;
  Status published = publish_routes();
  if (published.ok() || published.code() == StatusCode::kFailedPrecondition) return Status::OK();
  return published.WithContext("the proxy cannot serve the published ports");
}

// `up` on a running project applies only what changed and never reverts a deploy: services a
// deploy shipped are kept while the file says what it said then, and go out through their
// deploy strategy when it changed; then Engine::Up starts what is missing and recreates what
// `up` itself started and the file changed.
void RunUp(const RouteDeps& d, UpRequest req, Reply reply) {
  if (!req.load) {
    d.engine->Up(std::move(req.services), req.options,
                 [publish = d.publish_routes, reply](Status st) {
                   reply.Done(Served(publish, std::move(st)));
                 });
    return;
  }
  auto loaded = config::LoadProject(*req.load);
  if (!loaded.ok()) return reply.Error(loaded.status());
  if (req.containers) {
    if (Status st = config::RunAsContainers(&*loaded, req.services); !st.ok()) {
      return reply.Error(st);
    }
  }
  if (d.redactor) d.redactor->Merge(config::SecretsOf(*loaded, req.load->environ));
  config::Project file = *loaded;
  deploy::UpPlan plan =
      deploy::PlanUp(std::move(loaded).value(), DeployedServices(d, file), req.services);
  if (!plan.deploy.empty() && d.deployer != nullptr) {
    for (const std::string& name : plan.deploy) {
      if (d.deployer->Busy().count(name)) {
        return reply.Error(FailedPrecondition("up: a deploy of " + name +
                                              " is under way; run up again once it has finished"));
      }
    }
  }
  if (Status st = d.engine->SetProjectIfStartable(std::move(plan.project), req.services);
      !st.ok()) {
    return reply.Error(st);
  }
  // From now on the project runs with these files: later commands load it with them.
  if (d.store != nullptr) {
    if (Status st = d.store->SetProjectLoad(ProjectLoadOf(*req.load, file)); !st.ok()) {
      return reply.Error(st.WithContext("up: remember the project's files"));
    }
  }
  if (d.load_environ != nullptr) *d.load_environ = req.load->environ;
  json kept = plan.keep;
  if (plan.deploy.empty() || d.deployer == nullptr) {
    engine::Engine* engine = d.engine;
    d.engine->Up(std::move(req.services), req.options,
                 [publish = d.publish_routes, reply, kept, engine](Status st) {
                   if (st = Served(publish, std::move(st)); !st.ok()) return reply.Error(st);
                   reply.Json(200, {{"ok", true},
                                    {"kept", kept},
                                    {"deployed", json::array()},
                                    {"warnings", engine->TakeWarnings()}});
                 });
    return;
  }
  deploy::Deployer* deployer = d.deployer;
  deploy::DeployRequest dr;
  dr.project = std::move(file);
  dr.services = plan.deploy;
  engine::Engine* engine = d.engine;
  d.engine->Up(std::move(req.services), req.options,
               [publish = d.publish_routes, reply, kept, deployer, engine,
                dr = std::move(dr)](Status st) mutable {
                 if (st = Served(publish, std::move(st)); !st.ok()) return reply.Error(st);
                 deployer->Deploy(std::move(dr), [reply, kept, engine](deploy::Outcome o) {
                   if (!o.status.ok()) return reply.Error(o.status);
                   reply.Json(200, {{"ok", true},
                                    {"kept", kept},
                                    {"deployed", o.releases},
                                    {"warnings", engine->TakeWarnings()}});
                 });
               });
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
  j["env"] = o.env_name;
  return j;
}

config::LoadOptions LoadOptionsFromFields(const json& load, BodyFields* parent) {
  BodyFields f(load, "load.");
  config::LoadOptions o;
  for (auto& p : f.StringList("files", "a list of compose file paths")) o.files.emplace_back(p);
  o.working_dir = f.String("working_dir", "a folder path");
  for (auto& p : f.StringList("env_files", "a list of .env paths")) o.env_files.emplace_back(p);
  o.profiles = f.StringList("profiles", "a list of profile names");
  o.environ = f.StringMap("environ", "an object of environment variables");
  o.project_name = f.String("project_name", "a project name");
  o.env_name = f.String("env", "an environment name");
  parent->Merge(f);
  return o;
}

store::ProjectLoad ProjectLoadOf(const config::LoadOptions& o, const config::Project& p) {
  store::ProjectLoad l;
  l.working_dir = o.working_dir.string();
  for (const auto& f : p.files) {
    if (f != p.env_overlay) l.files.push_back(f.string());
  }
  for (const auto& f : o.env_files) {
    l.env_files.push_back((f.is_absolute() ? f : o.working_dir / f).lexically_normal().string());
  }
  l.profiles = o.profiles;
  l.env = o.env_name;
  l.project_name = o.project_name;
  for (const auto& f : p.files) l.loaded_files.push_back(f.string());
  for (const auto& f : p.env_files) l.loaded_env_files.push_back(f.string());
  return l;
}

config::LoadOptions LoadOptionsOf(const store::ProjectLoad& l,
                                  std::map<std::string, std::string> environ) {
  config::LoadOptions o;
  o.working_dir = l.working_dir;
  for (const auto& f : l.files) o.files.emplace_back(f);
  for (const auto& f : l.env_files) o.env_files.emplace_back(f);
  o.profiles = l.profiles;
  o.env_name = l.env;
  o.project_name = l.project_name;
  o.environ = std::move(environ);
  return o;
}

json ProjectLoadToJson(const store::ProjectLoad& l) {
  return {{"working_dir", l.working_dir},
          {"files", l.files},
          {"env_files", l.env_files},
          {"profiles", l.profiles},
          {"env", l.env},
          {"project_name", l.project_name},
          {"loaded_files", l.loaded_files},
          {"loaded_env_files", l.loaded_env_files},
          {"updated_ms", l.updated_ms}};
}

Result<store::ProjectLoad> ProjectLoadFromJson(const json& j) {
  if (!j.is_object()) return Internal("project/load: the daemon's answer is not an object");
  BodyFields f(j);
  store::ProjectLoad l;
  l.working_dir = f.String("working_dir", "a folder path");
  l.files = f.StringList("files", "a list of paths");
  l.env_files = f.StringList("env_files", "a list of paths");
  l.profiles = f.StringList("profiles", "a list of profile names");
  l.env = f.String("env", "an environment name");
  l.project_name = f.String("project_name", "a project name");
  l.loaded_files = f.StringList("loaded_files", "a list of paths");
  l.loaded_env_files = f.StringList("loaded_env_files", "a list of paths");
  l.updated_ms = f.Int("updated_ms", 0, 0, INT64_MAX, "Unix milliseconds");
  if (Status st = f.Finish(); !st.ok()) {
    return Internal("project/load: the daemon's answer: " + st.message());
  }
  return l;
}

void RegisterProjectRoutes(Router& r, const RouteDeps& d) {
  r.Add<NoInput>({Method::kGet, "/health", Access::kPublic}, [](NoInput, Reply reply) {
    reply.Json(200, {{"status", "ok"}});
  });
  r.Add<NoInput>({Method::kGet, "/metrics", d.public_metrics ? Access::kPublic : Access::kRead},
                 [d](NoInput, Reply reply) {
                   reply.Send(http::Response::Text(200, d.metrics ? d.metrics() : "",
                                                   "text/plain; version=0.0.4; charset=utf-8"));
                 });
  r.Add<NoInput>({Method::kGet, "/api/v1/ps", Access::kRead}, [d](NoInput, Reply reply) {
    json rows = PsJson(d.engine->Ps());
    if (d.decorate_ps) d.decorate_ps(&rows);
    reply.Json(200, rows);
  });
  // The same rows, live (api/live.h): the dashboard's services view; and the running
  // deploys (weights, both sets' analysis and their last second or so, decisions) for its
  // deploy view, redacted like GET /api/v1/deploy/progress. Twice a second: the deploy view
  // stays within 1 s.
  std::vector<LiveTopic> topics;
  topics.push_back({"ps", [d] {
                      json rows = PsJson(d.engine->Ps());
                      if (d.decorate_ps) d.decorate_ps(&rows);
                      return rows;
                    }});
  if (d.deployer != nullptr) {
    topics.push_back({"deploy", [d] { return Redacted(DeployLiveJson(*d.deployer), d.redactor); }});
  }
  LiveOptions live_options;
  live_options.interval = Duration(500);
  auto live = std::make_shared<LiveStreams>(d.loop, live_options, std::move(topics));
  r.Add<NoInput>({Method::kGet, "/api/v1/events/stream", Access::kRead},
                 [live](NoInput, Reply reply) {
                   Status st = live->Open(reply);
                   if (!st.ok()) reply.Error(st);
                 });
  // What the project runs with: read from the store, so it answers while the project is
  // being replaced and whatever its files now say.
  r.Add<NoInput>({Method::kGet, "/api/v1/project/load", Access::kRead}, [d](NoInput, Reply reply) {
    if (d.store == nullptr) return reply.Error(NotFound("the daemon keeps no state"));
    auto l = d.store->GetProjectLoad();
    if (!l.ok()) return reply.Error(l.status());
    if (!l->has_value()) {
      return reply.Error(NotFound("the daemon has no record of its project's files"));
    }
    reply.Json(200, ProjectLoadToJson(**l));
  });
  r.Add<UpRequest>({Method::kPost, "/api/v1/up", Access::kAdmin, kLargeBody},
                   [d](UpRequest req, Reply reply) { RunUp(d, std::move(req), std::move(reply)); });
  r.Add<ServicesRequest>({Method::kPost, "/api/v1/start", Access::kAdmin, kSmallBody},
                         [d](ServicesRequest req, Reply reply) {
                           d.engine->Up(std::move(req.services), engine::UpOptions{},
                                        [publish = d.publish_routes, reply](Status st) {
                                          reply.Done(Served(publish, std::move(st)));
                                        });
                         });
  r.Add<ServicesRequest>({Method::kPost, "/api/v1/stop", Access::kAdmin, kSmallBody},
                         [d](ServicesRequest req, Reply reply) {
                           if (Status st = d.engine->CheckServices(req.services); !st.ok()) {
                             reply.Done(st);
                             return;
                           }
                           d.engine->Stop(std::move(req.services), [reply] { reply.Ok(); });
                         });
  r.Add<ServicesRequest>({Method::kPost, "/api/v1/restart", Access::kAdmin, kSmallBody},
                         [d](ServicesRequest req, Reply reply) {
                           d.engine->Restart(std::move(req.services),
                                             [publish = d.publish_routes, reply](Status st) {
                                               reply.Done(Served(publish, std::move(st)));
                                             });
                         });
  r.Add<DownRequest>({Method::kPost, "/api/v1/down", Access::kAdmin, kSmallBody},
                     [d](DownRequest req, Reply reply) {
                       auto shutdown = d.shutdown;
                       engine::Engine* engine = d.engine;
                       d.engine->Stop({}, [reply, shutdown, engine, req] {
                         // Every container has stopped: its volumes can go (blocking, once,
                         // on the way out).
                         std::vector<std::string> removed;
                         Status st = Status::OK();
                         if (req.volumes) {
                           // Host services' volume folders, then the engine's volumes (none
                           // to remove, and no engine needed, when nothing ran in one).
                           const config::Project& p = engine->project();
                           st = runtime::RemoveHostVolumes(p, &removed);
                           bool containers = false;
                           for (const auto& [n, s] : p.services) {
                             containers = containers || s.RunsInContainer();
                           }
                           auto ce = runtime::ContainerEngine::Detect();
                           if (st.ok() && ce.ok()) {
                             st = runtime::RemoveProjectVolumes(*ce, p, &removed);
                           } else if (st.ok() && containers) {
                             st = ce.status();
                           }
                         }
                         if (st.ok()) {
                           reply.Json(200, {{"ok", true}, {"removed_volumes", removed}});
                         } else {
                           reply.Error(st);
                         }
                         if (shutdown) shutdown();
                       });
                     });
  r.Add<LogsQuery>({Method::kGet, "/api/v1/logs", Access::kRead}, [d](LogsQuery q, Reply reply) {
    StreamLogs(d, std::move(q), std::move(reply));
  });
  r.Add<EventsQuery>({Method::kGet, "/api/v1/events", Access::kRead},
                     [d](EventsQuery q, Reply reply) {
                       auto events = d.store->Events(q.since_ms, q.services, q.limit);
                       if (!events.ok()) return reply.Error(events.status());
                       json rows = json::array();
                       for (const auto& e : *events) rows.push_back(EventJson(e));
                       // A message can quote a process's output: redacted like every answer.
                       reply.Json(200, Redacted(rows, d.redactor));
                     });
}

}  // namespace slipway::api
