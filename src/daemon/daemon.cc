#include "daemon/daemon.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "alerts/builtin.h"
#include "alerts/service.h"
#include "api/audit.h"
#include "api/router.h"
#include "api/routes.h"
#include "api/tokens.h"
#include "api/views.h"
#include "base/log.h"
#include "config/flags_settings.h"
#include "config/secrets_of.h"
#include "daemon/autocert.h"
#include "daemon/database_jobs.h"
#include "daemon/ingress_certs.h"
#include "daemon/ingress_link.h"
#include "daemon/json_log.h"
#include "daemon/keeper_link.h"
#include "daemon/route_publisher.h"
#include "daemon/routes.h"
#include "daemon/state_files.h"
#include "daemon/state_schemas.h"
#include "daemon/tls_certificates.h"
#include "daemon/traffic_rates.h"
#include "deploy/deploy_metrics.h"
#include "deploy/deployer.h"
#include "deploy/engine_groups.h"
#include "deploy/releases.h"
#include "deploy/traffic.h"
#include "engine/engine.h"
#include "flags/flag_service.h"
#include "flags/ofrep_handler.h"
#include "http/server.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "net/tls_context.h"
#include "promql/series_snapshot.h"
#include "promql/series_store.h"
#include "promql/snapshot_writer.h"
#include "proxy/proxy.h"
#include "runtime/container.h"
#include "runtime/log_store.h"
#include "runtime/process.h"
#include "scrape/resource_metrics.h"
#include "scrape/scraper.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace slipway::daemon {
namespace {

// One entry of the daemon's own log through base/log.h (text, or one JSON object per line
// with --log-format json); `fields` is a flat JSON object of strings, numbers and booleans.
void Log(const std::string& msg, const nlohmann::json& fields = nullptr,
         logging::Level level = logging::Level::kInfo) {
  const std::vector<logging::Field> typed = LogFields(fields);
  logging::Default().Log(level, "slipwayd", msg, typed);
}

// The `ps` rows as the service metrics read them.
std::vector<alerts::ServiceInstanceRow> ServiceInstanceRows(const std::vector<engine::PsRow>& ps) {
  using State = alerts::ServiceInstanceRow::State;
  std::vector<alerts::ServiceInstanceRow> rows;
  rows.reserve(ps.size());
  for (const engine::PsRow& row : ps) {
    State state = State::kOther;
    if (row.state == engine::PsState::kRunning) state = State::kRunning;
    if (row.state == engine::PsState::kCompleted) state = State::kCompleted;
    if (row.state == engine::PsState::kExited || row.state == engine::PsState::kFailed) {
      state = State::kDown;
    }
    rows.push_back({row.service, state, !row.health || *row.health == health::HealthState::kHealthy,
                    row.restarts});
  }
  return rows;
}

proxy::ProxyOptions ProxyOptionsFor(const config::ProxySettings& s) {
  proxy::ProxyOptions o;
  if (s.workers) o.workers = *s.workers;
  if (s.connect_timeout) o.connect_timeout = *s.connect_timeout;
  if (s.response_timeout) o.response_head_timeout = *s.response_timeout;
  if (s.request_timeout) o.request_timeout = *s.request_timeout;
  if (s.idle_timeout) o.idle_timeout = *s.idle_timeout;
  if (s.header_timeout) o.head_timeout = *s.header_timeout;
  if (s.max_body) o.limits.max_body_bytes = *s.max_body;
  if (s.retry_after) o.retry_after_seconds = *s.retry_after;
  return o;
}

// The file this process runs from, as it is now: what `up` compares with the file on disk to
// tell that a newer binary was installed since the daemon started.
struct BinaryIdentity {
  std::string path;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
};

BinaryIdentity ReadBinaryIdentity() {
  BinaryIdentity b;
  std::error_code ec;
  b.path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  struct stat st {};
  if (::stat("/proc/self/exe", &st) == 0) {
    b.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    b.inode = st.st_ino;
  }
  return b;
}

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

class Daemon : public api::MaintenanceControl, public api::DaemonControl {
 public:
  explicit Daemon(const DaemonOptions& options) : options_(options), paths_(options.state_dir) {}

  int Run() {
    started_ms_ = Clock::Real()->WallMillis();
    binary_ = ReadBinaryIdentity();
    Status st = Init();
    if (!st.ok()) {
      Log("cannot start: " + st.message(), {{"error", st.message()}}, logging::Level::kError);
      return st.ExitCode();
    }
    Log(fmt::format("serving project {} (pid {}, api {} and {})", engine_->project().name, getpid(),
                    paths_.socket().string(), api_addr_),
        {{"project", engine_->project().name},
         {"pid", getpid()},
         {"socket", paths_.socket().string()},
         {"api", api_addr_}});
    StartWithKeeper();
    loop_->Run();
    if (handing_over_) return FinishHandover();
    WriteSeriesSnapshot(
        /*final=*/true);  // `down` or SIGTERM: the next daemon starts with the history
    Log("stopped");
    if (ingress_) ingress_->Deregister();  // `down` or SIGTERM: the hosts leave the ingress
    keeper_->Stopping();  // on purpose: the keeper exits with us instead of restarting us
    Cleanup();
    return 0;
  }

 private:
  Status Init() {
    // Before any thread starts (proxy workers, the store's): a signal must reach the signalfd
    // of WatchSignals(), not a thread where its default action (terminate) applies — SIGHUP
    // reloads the certificates.
    sigset_t signals;
    sigemptyset(&signals);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::error_code ec;
    std::filesystem::create_directories(paths_.logs(), ec);
    if (ec) return IoError("create " + paths_.logs().string() + ": " + ec.message());
    ::chmod(paths_.dir.c_str(), 0700);

    lock_fd_ = ::open(paths_.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return ErrnoError("open " + paths_.lock_file().string(), errno);
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return FailedPrecondition("another slipway daemon already serves " + paths_.dir.string());
    }
    RETURN_IF_ERROR(WriteSmallFile(paths_.pid_file(), std::to_string(getpid()), 0644));
    // Before anything reads the environment: services must not inherit the keeper's fd.
    ASSIGN_OR_RETURN(keeper_, KeeperLink::FromEnvironment([](const std::string& m) { Log(m); }));

    ASSIGN_OR_RETURN(loop_, net::EventLoop::Create());
    ASSIGN_OR_RETURN(store_, store::Store::Open(paths_.db(), Clock::Real()));
    RETURN_IF_ERROR(ApplyStateSchemas(store_.get()));
    tls_.SetStore(store_.get());
    api_tls_.SetStore(store_.get());
    logs_ = std::make_unique<runtime::LogStore>(paths_.logs(), Clock::Real());

    // A daemon the keeper starts again (after a crash or for `slipway daemon restart`) runs
    // the project with the files the last `up` named, not with the keeper's first command
    // line; a first start runs with its own and remembers them.
    config::LoadOptions load = options_.load;
    if (keeper_->start_cause() != keeper::StartCause::kFirst) {
      ASSIGN_OR_RETURN(std::optional<store::ProjectLoad> remembered, store_->GetProjectLoad());
      if (remembered) load = api::LoadOptionsOf(*remembered, options_.load.environ);
    }
    ASSIGN_OR_RETURN(config::Project project, config::LoadProject(load));
    RETURN_IF_ERROR(store_->SetProjectLoad(api::ProjectLoadOf(load, project)));
    // Certificates from an ACME CA join the TLS context (daemon/autocert.h).
    autocert_ = std::make_unique<AutoCert>(loop_.get(), store_.get(), paths_.dir,
                                           [this](const std::string& why) { ReloadTls(why); });
    RETURN_IF_ERROR(autocert_->Follow(project));
    // The HTTPS listeners answer TLS-ALPN-01 validations from the one table AutoCert keeps.
    tls_.SetAlpnChallenges(autocert_->tls_alpn_challenges());
    RETURN_IF_ERROR(LoadTls(project.tls));
    RETURN_IF_ERROR(LoadApiTls(project.api));
    std::string api_listen = project.api.listen.empty() ? "127.0.0.1:0" : project.api.listen;

    // x-slipway.proxy is read at daemon start; changing it needs `down` and `up`.
    proxy::ProxyOptions popts = ProxyOptionsFor(project.proxy);
    registry_ = std::make_unique<telemetry::Registry>(proxy::Proxy::ShardsFor(popts.workers));
    tls_.SetRegistry(registry_.get());
    api_tls_.SetRegistry(registry_.get());
    popts.listeners = keeper_.get();
    ASSIGN_OR_RETURN(proxy_, proxy::Proxy::Create(popts, registry_.get()));

    engine::EngineOptions eopts;
    eopts.base_env = config::CurrentEnviron();
    eopts.detect_container_engine = [] { return runtime::ContainerEngine::Detect(); };
    eopts.port_is_ours = [this](const std::string& host, int port) {
      return keeper_->Holds(host, port);
    };
    eopts.process_keeper = keeper_.get();  // output pipes parked, exits of adopted processes
    engine_ =
        std::make_unique<engine::Engine>(loop_.get(), store_.get(), logs_.get(), std::move(eopts));
    RETURN_IF_ERROR(StartFlags(project));
    engine_->SetProject(std::move(project));
    routes_ =
        std::make_unique<RoutePublisher>(loop_.get(), engine_.get(), proxy_.get(), registry_.get());
    routes_->SetTls(tls_.context());
    routes_->SetAcmeChallenges(autocert_->challenges());
    routes_->SetBeforePublish([this] { FollowTlsFiles(); });
    routes_->SetAfterPublish([this](const proxy::RouteTable& table) {
      bool answering = false, tls_listening = false;
      for (const proxy::Listener& l : table.listeners) {
        answering |= l.acme_challenges != nullptr;
        tls_listening |= l.tls != nullptr;
      }
      if (autocert_) autocert_->SetServing(answering, tls_listening, !table.listeners.empty());
    });
    groups_ = std::make_unique<deploy::EngineGroups>(loop_.get(), engine_.get());
    // Instances changed: the routes follow, and a deploy waiting on them re-checks.
    engine_->SetTopologyListener([this] {
      routes_->ScheduleUpdate();
      groups_->Changed();
      if (scraper_) scraper_->MarkChanged();
    });
    RETURN_IF_ERROR(LoadMaintenance());
    ASSIGN_OR_RETURN(releases_, deploy::ReleaseStore::Open(store_.get(), Clock::Real()));
    deployer_ = std::make_unique<deploy::Deployer>(loop_.get(), groups_.get(), releases_.get(),
                                                   routes_.get(), config::CurrentEnviron());
    engine_->SetReleaseRecorder([this](const config::Service& spec, const std::string& hash) {
      return deployer_->RecordUp(spec, hash);
    });
    db_jobs_ =
        std::make_unique<DatabaseJobs>(loop_.get(), store_.get(), paths_.db(), registry_.get());
    deployer_->SetDatabaseStepRunner([this](const deploy::DatabaseStepRequest& req,
                                            std::function<void(Status, const std::string&)> done) {
      db_jobs_->RunStep(req, std::move(done));
    });
    RETURN_IF_ERROR(db_jobs_->StartSchedule(engine_->project()));

    ASSIGN_OR_RETURN(net::UniqueFd tcp_fd,
                     ListenApi(paths_, api_listen, keeper_.get(), &api_addr_));
    alerts::ServiceDeps deps;
    deps.loop = loop_.get();
    deps.store = store_.get();
    deps.registry = registry_.get();
    series_ = std::make_unique<promql::SeriesStore>(engine_->project().scrape.retention_ms,
                                                    engine_->project().scrape.memory_limit);
    deps.series = series_.get();
    deps.state_dir = paths_.dir;
    deps.service_rows = [this] { return ServiceInstanceRows(engine_->Ps()); };
    deps.ps = [this] { return api::PsJson(engine_->Ps()); };
    deps.proxy_ok = [this] { return proxy_ != nullptr; };
    deps.external_url = (api_tls_.context() ? "https://" : "http://") + api_addr_;
    ASSIGN_OR_RETURN(alerting_, alerts::AlertingService::Create(engine_->project(), deps));
    LoadSeriesSnapshot();  // after the rules raised the retention to their longest range
    scrape::Scraper::Options so;
    so.loop = loop_.get();
    so.store = series_.get();
    so.registry = registry_.get();
    so.endpoints = [this] { return engine_->Endpoints(); };
    so.project = [this]() -> const config::Project& { return engine_->project(); };
    scraper_ = std::make_unique<scrape::Scraper>(std::move(so));
    RETURN_IF_ERROR(StartApi(std::move(tcp_fd)));
    alerting_->Start();
    scraper_->Start();
    ScheduleSeriesSnapshot();
    deploy_metrics_ = std::make_unique<deploy::DeployMetrics>(registry_.get());
    deployer_->SetMetrics(deploy_metrics_.get());
    deployer_->SetPauseStore(store_.get());  // a paused deploy survives a restart
    resource_metrics_ = std::make_unique<scrape::ResourceMetrics>(registry_.get());
    ScheduleResourceSample();
    deployer_->SetEventListener([this](const deploy::DeployEvent& e) {
      const std::string kind(deploy::DeployEventKindName(e.kind));
      if (e.kind == deploy::DeployEventKind::kPaused ||
          e.kind == deploy::DeployEventKind::kResumed) {
        // A pause and a resume are in the event log with who asked and why.
        store::Event ev;
        ev.service = e.service;
        ev.kind = kind;
        ev.message = fmt::format("r{} {}{}", e.release,
                                 e.who.empty() ? "by failure_action: pause" : "by " + e.who,
                                 e.reason.empty() ? "" : ": " + e.reason);
        if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) {
          Log("events: " + st.message());
        }
      }
      alerting_->NotifyDeploy({e.service, e.release, e.version,
                               deploy::ReleaseStrategyName(e.strategy), kind,
                               e.who.empty() ? e.reason : e.who + ": " + e.reason, e.numbers});
    });
    ScheduleTrafficSample();
    tls_.UpdateExpiry();
    WatchTlsFiles();
    // Certificates the host's ingress orders for the project become its facts there.
    ingress_certs_ = std::make_unique<IngressCerts>(store_.get(), registry_.get());
    ingress_ = std::make_unique<IngressLink>(
        loop_.get(), [this]() -> const config::Project& { return engine_->project(); },
        proxy_.get(), binary_.path, [](const std::string& m) { Log(m); }, ingress_certs_.get());
    ingress_->Start();
    return WatchSignals();
  }

  // Resource metrics of every instance (scrape/resource_metrics.h), every 5 s: often enough
  // that a rule over rate(slipway_instance_cpu_seconds_total[1m]) has points, and the alert
  // evaluator and the /metrics handler read recent figures. /metrics samples again when the
  // last round is older than a second.
  void SampleResources() {
    const MonoTime now = loop_->Now();
    if (now - last_resource_sample_ < Duration(1'000)) return;
    last_resource_sample_ = now;
    resource_metrics_->Sample(scrape::ResourceTargets(engine_->project().name, engine_->Ps()));
    resource_metrics_->ReportResources(engine_->project());
  }
  void ScheduleResourceSample() {
    SampleResources();
    loop_->RunAfter(Duration(5'000), [this] { ScheduleResourceSample(); });
  }

  // The series store across restarts (promql/series_snapshot.h): read once at start, before
  // anything scrapes into the store; a file that cannot be used is one warning and an empty
  // start, never a refusal to start.
  void LoadSeriesSnapshot() {
    const config::ScrapeSettings& sc = engine_->project().scrape;
    if (sc.snapshot_interval_ms == 0) return;
    const auto t0 = std::chrono::steady_clock::now();
    auto st = promql::LoadSnapshot(paths_.series_snapshot(), Clock::Real()->WallMillis(),
                                   promql::MaxSnapshotBytes(sc.memory_limit), series_.get());
    if (!st.ok()) {
      if (st.status().code() == StatusCode::kNotFound) return;
      Log(fmt::format("metrics history not restored: {} {}; starting with an empty store",
                      paths_.series_snapshot().string(), st.status().message()),
          {{"file", paths_.series_snapshot().string()}, {"error", st.status().message()}},
          logging::Level::kWarn);
      return;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Log(fmt::format("metrics history restored: {} series, {} samples from {} ({} bytes, {:.3f} s)",
                    st->series, st->samples, paths_.series_snapshot().string(), st->bytes, secs),
        {{"series", st->series}, {"samples", st->samples}, {"bytes", st->bytes}});
  }

  // Saves the store: the image (a memory copy of the chunks) on the control loop, which owns
  // the store; the encode, write and fsync on the SnapshotWriter's worker, so a slow disk never
  // holds the loop. A tick while the previous write still runs is skipped and counted. `final`
  // (a clean stop, a handover) waits for the write in flight and writes on this thread: the
  // file must be on disk before the process goes on.
  void WriteSeriesSnapshot(bool final) {
    if (!series_ || !registry_ || engine_->project().scrape.snapshot_interval_ms == 0) return;
    if (!snapshot_writer_) {
      telemetry::Registry* reg = registry_.get();
      snapshot_writer_ = std::make_unique<promql::SnapshotWriter>(
          [path = paths_.series_snapshot()](const promql::SnapshotImage& image, int64_t now_ms) {
            return promql::WriteSnapshot(image, path, now_ms);
          },
          [reg](const Result<promql::SnapshotStats>& st, int64_t now_ms, double secs) {
            SeriesSnapshotWritten(reg, st, now_ms, secs);
          });
    }
    const int64_t now_ms = Clock::Real()->WallMillis();
    auto take = [this] { return promql::TakeSnapshotImage(*series_); };
    if (final) {
      snapshot_writer_->WriteNow(take, now_ms);
      return;
    }
    if (!snapshot_writer_->Submit(take, now_ms)) {
      registry_
          ->GetCounter("slipway_tsdb_snapshot_skipped_total",
                       "Snapshot ticks skipped because the previous write was still running.")
          ->Add(0, 1);
    }
  }
  // The outcome of one snapshot write, on the writer's worker (the registry and the log take
  // any thread). The duration is the write's own (encode, write, fsync), so a slow disk shows.
  static void SeriesSnapshotWritten(telemetry::Registry* reg,
                                    const Result<promql::SnapshotStats>& st, int64_t now_ms,
                                    double secs) {
    if (!st.ok()) {
      reg->GetCounter("slipway_tsdb_snapshot_failures_total",
                      "Snapshots of the series store that could not be written.")
          ->Add(0, 1);
      Log("metrics snapshot not written: " + st.status().message(),
          {{"error", st.status().message()}}, logging::Level::kWarn);
      return;
    }
    reg->GetSampledGauge("slipway_tsdb_snapshot_last_write_timestamp_seconds",
                         "Unix time the series store's last snapshot was written.")
        ->Set(static_cast<double>(now_ms) / 1000.0);
    reg->GetSampledGauge("slipway_tsdb_snapshot_bytes",
                         "Size of the series store's last snapshot, in bytes.")
        ->Set(static_cast<double>(st->bytes));
    reg->GetSampledGauge("slipway_tsdb_snapshot_duration_seconds",
                         "Time the series store's last snapshot took to write.")
        ->Set(secs);
  }
  void ScheduleSeriesSnapshot() {
    const int64_t every = engine_->project().scrape.snapshot_interval_ms;
    if (every == 0) return;
    loop_->RunAfter(Duration(every), [this] {
      WriteSeriesSnapshot(/*final=*/false);
      ScheduleSeriesSnapshot();
    });
  }

  // Samples the proxy's per-service totals for `ps` every 2 s (TrafficRates keeps 10 s).
  void ScheduleTrafficSample() {
    std::map<std::string, TrafficCounts> totals;
    const config::Project& project = engine_->project();
    for (const engine::ServiceEndpoints& ep : engine_->Endpoints()) {
      if (!ep.started) continue;
      if (!config::ServedByProxy(project, ep.service)) continue;
      TrafficCounts& c = totals[ep.service];
      for (const engine::GroupEndpoints& g : ep.groups) {
        proxy::SetStats st = proxy::ReadSetStats(*registry_, ep.service, g.set);
        c.requests += st.requests;
        c.errors_5xx += st.errors_5xx;
      }
    }
    traffic_rates_.Sample(loop_->Now(), totals);
    loop_->RunAfter(Duration(2'000), [this] { ScheduleTrafficSample(); });
  }

  void DecoratePs(nlohmann::json* rows) {
    for (nlohmann::json& row : *rows) {
      TrafficRate r = traffic_rates_.RateOf(row.value("service", ""));
      if (!r.known) continue;
      row["requests_per_second"] = r.requests_per_second;
      row["error_ratio"] = r.error_ratio;
    }
  }

  // Maintenance mode survives daemon restarts: it is kept in the store's meta table.
  static constexpr char kMaintenanceKey[] = "proxy.maintenance";

  Status LoadMaintenance() {
    ASSIGN_OR_RETURN(std::optional<std::string> saved, store_->GetMeta(kMaintenanceKey));
    if (!saved) return Status::OK();
    nlohmann::json j = nlohmann::json::parse(*saved, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return Status::OK();  // unreadable: start without maintenance
    Maintenance m;
    for (const auto& [service, message] : j.items()) {
      if (message.is_string()) m[service] = message.get<std::string>();
    }
    routes_->LoadMaintenance(std::move(m));
    return Status::OK();
  }

  // The admin API: one router for both listeners (the unix socket for the CLI, TCP for
  // scripts and the dashboard); api/routes.h lists the routes.
  Status StartApi(net::UniqueFd tcp_fd) {
    api::RouterOptions ropts;
    ASSIGN_OR_RETURN(ropts.admin_token, LoadOrCreateToken(paths_.token_file()));
    ASSIGN_OR_RETURN(ropts.read_token, LoadOrCreateToken(paths_.read_token_file()));
    ropts.hosts = engine_->project().api.hosts;
    ropts.sessions = &sessions_;
    ASSIGN_OR_RETURN(tokens_, api::TokenRegistry::Open(store_.get(), Clock::Real()));
    ASSIGN_OR_RETURN(audit_, api::AuditLog::Open(store_.get(), Clock::Real()));
    ropts.tokens = tokens_.get();
    ropts.audit = [this](const api::AuditEntry& e) {
      api::AuditEntry scrubbed = e;
      // An error can quote what the caller sent (an environment value): scrub it like answers.
      scrubbed.result = redactor_.Scrub(e.result);
      scrubbed.target = redactor_.Scrub(e.target);
      Status st = audit_->Append(scrubbed);
      if (!st.ok()) {
        Log(fmt::format("api: audit entry not recorded: {}", st.message()),
            {{"error", st.message()}}, logging::Level::kError);
      }
    };
    ropts.tcp_tls = [this] { return api_tls_.context() != nullptr; };
    ropts.on_error = [](std::string_view route, std::string_view what) {
      Log(fmt::format("api: {} failed: {}", route, what), {{"route", route}, {"error", what}},
          logging::Level::kError);
    };
    router_ = std::make_unique<api::Router>(std::move(ropts));
    api::RouteDeps rd;
    rd.engine = engine_.get();
    rd.logs = logs_.get();
    rd.store = store_.get();
    rd.deployer = deployer_.get();
    rd.releases = releases_.get();
    rd.flags = flag_service_.get();
    rd.ofrep = ofrep_.get();
    rd.default_flag_environment = engine_->project().flags.default_environment;
    rd.alerting = alerting_.get();
    rd.maintenance = this;
    rd.daemon = this;
    redactor_ = config::SecretsOf(engine_->project(), options_.load.environ);
    rd.redactor = &redactor_;
    load_environ_ = options_.load.environ;
    rd.load_environ = &load_environ_;
    rd.metrics = [this] {
      // Service gauges as of now, not as of the last alert evaluation.
      alerts::UpdateServiceMetrics(registry_.get(), ServiceInstanceRows(engine_->Ps()));
      if (resource_metrics_) SampleResources();
      return registry_->RenderPrometheus();
    };
    rd.decorate_ps = [this](nlohmann::json* rows) { DecoratePs(rows); };
    rd.shutdown = [this] { loop_->RunAfter(Duration(50), [this] { loop_->Stop(); }); };
    rd.publish_routes = [this] { return routes_->PublishUnlessHeld(); };
    rd.public_metrics = engine_->project().api.public_metrics;
    rd.certs = [this]() -> std::optional<std::vector<acme::CertStatusRow>> {
      if (autocert_ && autocert_->active()) return autocert_->manager()->Rows();
      if (OrdersThroughIngress() && ingress_certs_) {
        // None until the ingress's first report (within 2 s of registering).
        return ingress_certs_->rows().value_or(std::vector<acme::CertStatusRow>{});
      }
      return std::nullopt;
    };
    rd.renew_cert = [this](const std::string& name, std::function<void(Status)> done) {
      if (autocert_ && autocert_->active()) return done(autocert_->RenewNow(name));
      // Answered when the ingress answers (at most 2 s); the loop keeps serving meanwhile.
      if (OrdersThroughIngress() && ingress_) return ingress_->Renew(name, std::move(done));
      done(FailedPrecondition("this project orders no certificates (no x-slipway.tls.acme)"));
    };
    rd.series = series_.get();
    rd.subquery_step_ms = engine_->project().alerts.interval.count();
    rd.loop = loop_.get();
    rd.targets = [this] { return scraper_->TargetsJson(); };
    rd.tokens = tokens_.get();
    rd.audit = audit_.get();
    rd.project = [this]() -> const config::Project* { return &engine_->project(); };
    rd.backup_now = [this](const std::string& database,
                           std::function<void(Status, std::string)> done) {
      db_jobs_->BackupNow(std::make_shared<const config::Project>(engine_->project()), database,
                          std::move(done));
    };
    rd.verify_backup = [this](int64_t id, std::function<void(Status, std::string)> done) {
      db_jobs_->Verify(std::make_shared<const config::Project>(engine_->project()), id,
                       std::move(done));
    };
    rd.migration_status = [this](std::function<void(nlohmann::json)> done) {
      db_jobs_->MigrationStatus(std::make_shared<const config::Project>(engine_->project()),
                                std::move(done));
    };
    api::RegisterRoutes(*router_, rd);

    ASSIGN_OR_RETURN(net::UniqueFd unix_fd, keeper_->ListenUnix(paths_.socket().string()));
    ::chmod(paths_.socket().c_str(), 0600);
    auto serve = [this](api::Channel ch) {
      return [this, ch](const http::Request& r, http::ResponseWriter w) {
        router_->Dispatch(r, std::move(w), ch);
      };
    };
    ASSIGN_OR_RETURN(unix_server_, http::HttpServer::Create(
                                       loop_.get(), std::move(unix_fd), serve(api::Channel::kUnix),
                                       router_->ServerOptionsFor(api::Channel::kUnix)));
    http::ServerOptions tcp_options = router_->ServerOptionsFor(api::Channel::kTcp);
    // x-slipway.api.tls; reloaded with the proxy's certificates
    tcp_options.tls = api_tls_.context();
    ASSIGN_OR_RETURN(tcp_server_, http::HttpServer::Create(loop_.get(), std::move(tcp_fd),
                                                           serve(api::Channel::kTcp), tcp_options));
    return WriteSmallFile(paths_.addr_file(), api_addr_, 0644);
  }

  // api::MaintenanceControl
  const std::map<std::string, std::string>& MaintenanceMessages() const override {
    return routes_->maintenance();
  }

  Status SetMaintenance(const std::string& service, bool on, std::string message) override {
    const config::Project& project = engine_->project();
    if (!project.services.count(service)) {
      return InvalidInput("maintenance: no service \"" + service + "\"");
    }
    if (!config::ServedByProxy(project, service)) {
      return InvalidInput(
          "maintenance: service \"" + service +
          "\" publishes no port and has no route, so no request reaches it through the proxy");
    }
    Maintenance next = routes_->maintenance();
    if (on) {
      next[service] =
          message.empty() ? "Down for maintenance. Please try again shortly." : std::move(message);
    } else {
      next.erase(service);
    }
    RETURN_IF_ERROR(store_->SetMeta(kMaintenanceKey, nlohmann::json(next).dump()));
    RETURN_IF_ERROR(routes_->SetMaintenance(std::move(next)));
    store::Event ev;
    ev.service = service;
    ev.kind = on ? "maintenance-on" : "maintenance-off";
    ev.message = on ? routes_->maintenance().at(service) : "";
    if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) Log("events: " + st.message());
    return Status::OK();
  }

  // api::DaemonControl
  api::DaemonInfo Info() const override {
    api::DaemonInfo i;
    i.pid = getpid();
    i.started_ms = started_ms_;
    i.generation = keeper_->generation();
    if (keeper_->generation() > 0) {
      i.start_cause = std::string(keeper::StartCauseName(keeper_->start_cause()));
    }
    i.keeper_pid = keeper_->keeper_pid();
    i.keeper_started_ms = keeper_started_ms_;
    i.binary = binary_.path;
    i.binary_mtime_ns = binary_.mtime_ns;
    i.binary_inode = binary_.inode;
    i.handing_over = handing_over_;
    return i;
  }

  // A handover is refused whenever it would cut work short that nothing resumes: the
  // successor adopts running services, not a deploy's job or a database step in flight.
  Status Restart(Duration drain_timeout) override {
    if (handing_over_) return FailedPrecondition("a daemon restart is already under way");
    if (!keeper_->has_keeper()) {
      return FailedPrecondition(
          "this daemon has no keeper to hold the listeners while it restarts (it was started "
          "by hand, or its keeper died): restart it with `slipway down` and `slipway up`");
    }
    if (recovering_) {
      return FailedPrecondition("the daemon is still taking over the services; try again shortly");
    }
    if (std::set<std::string> busy = deployer_->Busy(); !busy.empty()) {
      return FailedPrecondition("a deploy of " + JoinNames(busy) +
                                " is under way; restart the daemon once it has finished");
    }
    if (db_jobs_->Busy()) {
      return FailedPrecondition(
          "a backup or migration is under way; restart the daemon once it has finished");
    }
    if (engine_->Busy()) {
      return FailedPrecondition(
          "an `up` or `restart` is under way; restart the daemon once it has finished");
    }
    handing_over_ = true;
    drain_timeout_ = drain_timeout;
    // After the 202 has left: the API's servers close in HandOver().
    loop_->RunAfter(Duration(50), [this] { HandOver(); });
    return Status::OK();
  }

  // The old daemon's half of a handover, in the order that keeps every connection: stop
  // accepting (the keeper keeps the listening sockets, so new connections wait in the kernel's
  // accept queues), give up the lock the successor needs, then ask the keeper for the
  // successor, which adopts the services as after a crash (docs/architecture.md, "Keeper").
  void HandOver() {
    if (ingress_) ingress_->Stop();  // the successor registers; the routes stay meanwhile
    Log(fmt::format("handing over to a successor daemon (drain timeout {} ms)",
                    drain_timeout_.count()),
        {{"drain_timeout_ms", drain_timeout_.count()}});
    store::Event ev;
    ev.kind = "daemon-handover";
    ev.message =
        fmt::format("pid {} hands over to a successor started from {}", getpid(), binary_.path);
    if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) Log("events: " + st.message());
    if (Status st = flag_service_->FlushEvaluated(); !st.ok()) Log("flags: " + st.message());
    if (Status st = proxy_->Drain(); !st.ok()) Log("proxy: " + st.message());
    autocert_.reset();                    // the successor issues from now on
    WriteSeriesSnapshot(/*final=*/true);  // before the successor can start and read it
    unix_server_.reset();
    tcp_server_.reset();
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (Status st = keeper_->Handover(); !st.ok()) {
      // Nothing serves any more: exit as a crash would, so a keeper still there starts a
      // successor through its crash path.
      Log("the keeper did not take the handover (" + st.message() +
              "); exiting for the keeper's crash restart",
          {{"error", st.message()}}, logging::Level::kError);
      handover_failed_ = true;
    }
    loop_->Stop();
  }

  // Runs after the control loop stopped: the proxy's workers finish the requests in flight
  // (with "Connection: close") while the successor already accepts.
  int FinishHandover() {
    const MonoTime start = Clock::Real()->Now();
    const size_t open = proxy_->AwaitConnectionsClosed(drain_timeout_, signal_fd_,
                                                       [this] { return SignalPending(); });
    const auto took = std::chrono::duration_cast<Duration>(Clock::Real()->Now() - start);
    Log(open == 0 ? fmt::format("handed over: the last connection finished after {} ms; exiting",
                                took.count())
                  : fmt::format("handed over: closing {} connection(s) still open after {} ms",
                                open, took.count()),
        {{"open_connections", open}, {"drain_ms", took.count()}});
    // The engine is not destroyed: its destructor would kill the service processes the
    // successor has adopted. The process exits right after, so nothing of it is needed.
    handed_over_engine_ = engine_.release();
    deployer_.reset();
    db_jobs_.reset();
    proxy_->Stop();
    if (signal_fd_ >= 0) ::close(signal_fd_);
    return handover_failed_ ? 1 : 0;
  }

  // SIGTERM/SIGINT while draining (the keeper stops, or an operator): stop waiting.
  bool SignalPending() {
    signalfd_siginfo info;
    return signal_fd_ >= 0 && ::read(signal_fd_, &info, sizeof info) == sizeof info &&
           info.ssi_signo != SIGHUP;
  }

  // Feature flags: the store is seeded from x-slipway.flags, OFREP is served with read tokens
  // (from the settings, else one kept in .slipway/flags-token for every environment).
  Status StartFlags(const config::Project& project) {
    ASSIGN_OR_RETURN(flag_service_, flags::FlagService::Open(store_.get(), Clock::Real()));
    const config::FlagsSettings& fs = project.flags;
    for (const auto& [env, src] : fs.environments) {
      std::string text = src.definitions;
      std::string label = "x-slipway.flags";
      if (!src.file.empty()) {
        ASSIGN_OR_RETURN(text, ReadSmallFile(src.file));
        label = src.file;
        ASSIGN_OR_RETURN(text, config::FlagsFileAsJson(src.file, text));  // YAML as flagd reads it
      }
      nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded()) return InvalidInput(label + ": not valid JSON");
      std::vector<std::string> warnings;
      RETURN_IF_ERROR(flag_service_->Seed(env, doc, label, &warnings));
      // Loaded as flagd loads them, and said once: each flag flagd's schema does not allow.
      for (const std::string& w : warnings) Log("flags: " + w, nullptr, logging::Level::kWarn);
    }
    flags::OfrepOptions opts;
    opts.default_environment = fs.default_environment;
    opts.rate_per_second = fs.rate_per_second;
    for (const auto& t : fs.tokens) opts.tokens.push_back({t.token, t.environment});
    if (opts.tokens.empty()) {
      ASSIGN_OR_RETURN(std::string read_token, LoadOrCreateToken(paths_.dir / "flags-token"));
      opts.tokens.push_back({read_token, "*"});
    }
    ofrep_ = std::make_unique<flags::OfrepHandler>(flag_service_.get(), std::move(opts));
    ScheduleFlagFlush();
    return Status::OK();
  }

  // Last-evaluated times are kept in memory and written every 10 s.
  void ScheduleFlagFlush() {
    loop_->RunAfter(Duration(10'000), [this] {
      if (Status st = flag_service_->FlushEvaluated(); !st.ok()) Log("flags: " + st.message());
      ScheduleFlagFlush();
    });
  }

  Status WatchSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    ::signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return Internal("pthread_sigmask failed");
    signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) return ErrnoError("signalfd", errno);
    return loop_->Add(signal_fd_, EPOLLIN, [this](uint32_t) {
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {  // as nginx and Caddy: reload the certificates
          if (!shutting_down_) {
            ReloadTls("SIGHUP");
            ReloadApiTls("SIGHUP");
          }
          continue;
        }
        if (shutting_down_) continue;
        shutting_down_ = true;
        Log(fmt::format("signal {}: stopping every service", info.ssi_signo),
            {{"signal", info.ssi_signo}});
        engine_->Stop({}, [this] { loop_->Stop(); });
      }
    });
  }

  // ---- TLS certificates (x-slipway.tls; built and watched by tls_certificates.h) ----

  // The host's ingress orders the project's certificates (ingress_link.h), not AutoCert.
  bool OrdersThroughIngress() const {
    const config::Project& p = engine_->project();
    return p.ingress && p.tls.acme.has_value();
  }

  // Builds a new TLS context from `s` and the certificates an ACME CA issued (placeholder
  // included until then) and hands it to the routes; on failure the current one stays.
  Status LoadTls(const config::TlsSettings& s) {
    return LoadTls(s, autocert_ ? autocert_->Certificates()
                                : std::vector<net::TlsServerContext::CertificatePaths>{});
  }
  Status LoadTls(const config::TlsSettings& s,
                 std::vector<net::TlsServerContext::CertificatePaths> issued) {
    RETURN_IF_ERROR(
        tls_.Load(s, std::move(issued), autocert_ ? autocert_->placeholder_cert() : std::string()));
    if (routes_) routes_->SetTls(tls_.context());
    return Status::OK();
  }

  // New connections get the new certificates; open ones keep theirs (their SSL holds its
  // context), so nothing is dropped.
  void ReloadTls(const std::string& why) {
    if (!engine_->project().tls.enabled() && !(autocert_ && autocert_->active())) return;
    Status st = LoadTls(engine_->project().tls);
    RecordTlsReload(why, st, "certificates", "serving the previous certificates",
                    fmt::format("{} certificate(s)",
                                st.ok() ? tls_.context()->certificates().size() : size_t{0}));
    if (st.ok() && !recovering_) {
      if (Status pub = routes_->Publish(); !pub.ok()) Log("proxy: " + pub.message());
    }
  }

  // The log line and the `tls-reloaded` / `tls-reload-failed` event of a reload of `what`
  // ("certificates", "API certificate"); `kept` says what serves after a failure, `loaded`
  // what the event names after a success.
  void RecordTlsReload(const std::string& why, const Status& st, const std::string& what,
                       const std::string& kept, const std::string& loaded) {
    store::Event ev;
    if (!st.ok()) {
      Log("tls: " + what + " reload after " + why + " failed, " + kept + ": " + st.message(),
          nullptr, logging::Level::kWarn);
      ev.kind = "tls-reload-failed";
      ev.message = why + ": " + st.message();
    } else {
      Log("tls: " + what + " reloaded after " + why);
      ev.kind = "tls-reloaded";
      ev.message = loaded + " after " + why;
    }
    if (Status a = store_->AppendEvent(std::move(ev)); !a.ok()) Log("events: " + a.message());
  }

  // Every 5 s: a changed certificate or key file reloads; expiry metrics and warnings refresh.
  void WatchTlsFiles() {
    loop_->RunAfter(Duration(5'000), [this] {
      if (!shutting_down_ && !handing_over_ && tls_.FilesChanged()) {
        ReloadTls("a certificate file changed");
      }
      if (!shutting_down_ && !handing_over_ && api_tls_.FilesChanged()) {
        ReloadApiTls("a certificate file changed");
      }
      tls_.UpdateExpiry();
      api_tls_.UpdateExpiry();
      if (ingress_certs_) ingress_certs_->UpdateExpiry();
      WatchTlsFiles();
    });
  }

  // ---- The API's certificate (x-slipway.api.tls; built and watched as the proxy's are) ----

  static config::TlsSettings ApiTlsSettings(const config::ApiSettings& a) {
    config::TlsSettings s;
    if (a.tls) s.certificates.push_back(*a.tls);
    return s;
  }

  // Builds the API's TLS context; on failure the current one stays. A project that drops
  // api.tls keeps its TCP listener on TLS until `down`: a listener never turns clear.
  Status LoadApiTls(const config::ApiSettings& a) {
    if (!a.tls) return Status::OK();
    if (Status st = api_tls_.Load(ApiTlsSettings(a)); !st.ok()) {
      return st.WithContext("x-slipway.api.tls");
    }
    if (tcp_server_) tcp_server_->SetTls(api_tls_.context());
    return Status::OK();
  }

  void ReloadApiTls(const std::string& why) {
    if (!engine_->project().api.tls) return;
    RecordTlsReload(why, LoadApiTls(engine_->project().api), "API certificate",
                    "serving the previous one", "the API's certificate");
  }

  // Before each publish: a project replaced by `up` may name other certificate files.
  void FollowTlsFiles() {
    if (!api_tls_.Serves(ApiTlsSettings(engine_->project().api).certificates)) {
      if (Status st = LoadApiTls(engine_->project().api); !st.ok()) {
        Log("tls: " + st.message() + "; the API serves as before");
      }
    }
    if (!autocert_) return;  // handed over
    if (Status st = autocert_->Follow(engine_->project()); !st.ok()) {
      Log("acme: " + st.message(), nullptr, logging::Level::kWarn);
    }
    routes_->SetAcmeChallenges(autocert_->challenges());
    std::vector<net::TlsServerContext::CertificatePaths> issued = autocert_->Certificates();
    if (tls_.Serves(engine_->project().tls.certificates, issued)) return;
    if (Status st = LoadTls(engine_->project().tls, std::move(issued)); !st.ok()) {
      Log("tls: " + st.message() + "; serving the previous certificates");
    }
  }

  // Tells the keeper we serve; a daemon that replaces one that died takes over the services
  // that were up (see docs/architecture.md, "Keeper").
  void StartWithKeeper() {
    if (Status st = keeper_->Watch(loop_.get()); !st.ok()) Log("keeper: " + st.message());
    keeper_->Ready();
    int64_t now_s = Clock::Real()->WallMillis() / 1000;
    registry_->GetGauge("slipway_daemon_start_time_seconds", "Unix time the daemon started.")
        ->Set(0, now_s);
    auto* restarts = registry_->GetCounter(
        "slipway_daemon_restarts_total",
        "Daemons the keeper started after its first one (after a crash or for a handover).");
    if (pid_t kp = keeper_->keeper_pid(); kp > 0) {
      if (uint64_t t = runtime::ProcessStartTime(kp); t != 0) {
        keeper_started_ms_ = Clock::Real()->WallMillis() - runtime::ProcessAge(t).count();
        registry_->GetGauge("slipway_keeper_start_time_seconds", "Unix time the keeper started.")
            ->Set(0, keeper_started_ms_ / 1000);
      }
    }
    if (keeper_->generation() <= 1) return;
    restarts->Add(0, static_cast<uint64_t>(keeper_->generation() - 1));
    const bool handover = keeper_->start_cause() == keeper::StartCause::kHandover;
    Log(fmt::format("{} (start {}): taking over the services that were up",
                    handover ? "started by the keeper for a handover" : "restarted by the keeper",
                    keeper_->generation()),
        {{"generation", keeper_->generation()},
         {"cause", keeper::StartCauseName(keeper_->start_cause())}});
    store::Event ev;
    ev.kind = handover ? "daemon-took-over" : "daemon-restarted";
    ev.message = handover ? fmt::format(
                                "start {} by the keeper (pid {}): took over from the "
                                "previous daemon, which drains and exits",
                                keeper_->generation(), keeper_->keeper_pid())
                          : fmt::format("start {} by the keeper (pid {}) after the daemon died",
                                        keeper_->generation(), keeper_->keeper_pid());
    if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) Log("events: " + st.message());
    // Until the adopted services are in place (and those restarted from nothing are ready)
    // the proxy does not listen: new connections wait in the keeper's accept queues instead
    // of meeting a 503.
    recovering_ = true;
    routes_->Hold(true);  // published once the recovered services are ready
    engine_->Recover([this](Status st, engine::RecoverReport report) {
      Log(fmt::format("took over the services that were up: {} instance(s) adopted, {} "
                      "restarted, {} process(es) stopped{}",
                      report.adopted, report.restarted, report.stopped,
                      st.ok() ? "" : "; " + st.message()),
          {{"adopted", report.adopted},
           {"restarted", report.restarted},
           {"stopped", report.stopped}});
      const std::vector<std::string> labels = {"outcome"};
      const char* help =
          "Instances a restarted daemon found: adopted as they ran, restarted "
          "(died meanwhile), or stopped (not adoptable).";
      registry_->GetCounter("slipway_recovered_instances_total", help, labels, {"adopted"})
          ->Add(0, static_cast<uint64_t>(report.adopted));
      registry_->GetCounter("slipway_recovered_instances_total", help, labels, {"restarted"})
          ->Add(0, static_cast<uint64_t>(report.restarted));
      registry_->GetCounter("slipway_recovered_instances_total", help, labels, {"stopped"})
          ->Add(0, static_cast<uint64_t>(report.stopped));
      // Routes are published again first: a restored paused deploy publishes its split.
      recovering_ = false;
      routes_->Hold(false);
      deployer_->RestorePaused(engine_->project(), [](const std::string& line) { Log(line); });
      deployer_->RetireInterrupted([](const std::string& line) { Log(line); });
      routes_->ScheduleUpdate();
    });
  }

  void Cleanup() {
    autocert_.reset();  // joins the issuing thread (an attempt under way ends first)
    deployer_.reset();
    db_jobs_.reset();
    tcp_server_.reset();
    unix_server_.reset();
    if (proxy_) proxy_->Stop();
    std::filesystem::remove(paths_.socket());
    std::filesystem::remove(paths_.pid_file());
    if (signal_fd_ >= 0) ::close(signal_fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  DaemonOptions options_;
  // What the project was last loaded with (api::RouteDeps::load_environ): the daemon's own at
  // start; then each `up`'s and each deploy's. Control loop only.
  std::map<std::string, std::string> load_environ_;
  StatePaths paths_;
  int64_t started_ms_ = 0;
  int64_t keeper_started_ms_ = 0;
  BinaryIdentity binary_;
  bool handing_over_ = false;  // Restart() accepted: HandOver() runs, then FinishHandover()
  bool handover_failed_ = false;
  Duration drain_timeout_{30'000};
  engine::Engine* handed_over_engine_ = nullptr;  // deliberately never destroyed (see there)
  int lock_fd_ = -1;
  int signal_fd_ = -1;
  bool shutting_down_ = false;
  // TLS: the context published listeners use, the files it came from, the keys that keep
  // sessions resumable across reloads.
  TlsCertificates tls_;
  // The API's own certificate (x-slipway.api.tls).
  TlsCertificates api_tls_;
  std::string api_addr_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<KeeperLink> keeper_;  // before proxy_: the proxy uses it until it stops
  bool recovering_ = false;             // Engine::Recover runs: routes wait for it
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AutoCert> autocert_;  // after store_ and loop_: it posts to one, writes the other
  std::unique_ptr<runtime::LogStore> logs_;
  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<proxy::Proxy> proxy_;
  // Before engine_: the engine's topology listener reaches them until it is gone.
  std::unique_ptr<promql::SeriesStore> series_;  // scraped and own metrics; alerting reads it
  // Writes series_'s snapshots on its worker; after registry_, which its reports reach.
  std::unique_ptr<promql::SnapshotWriter> snapshot_writer_;
  std::unique_ptr<scrape::Scraper> scraper_;
  std::unique_ptr<RoutePublisher> routes_;       // the proxy's routes; deploys' Traffic port
  std::unique_ptr<IngressCerts> ingress_certs_;  // what the ingress orders for us (before ingress_)
  std::unique_ptr<IngressLink> ingress_;         // registration with the host's ingress
  std::unique_ptr<deploy::EngineGroups> groups_;  // deploys' Groups port over the engine
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<flags::FlagService> flag_service_;
  std::unique_ptr<flags::OfrepHandler> ofrep_;
  api::SessionStore sessions_;  // the dashboard's logins (before router_, which borrows it)
  std::unique_ptr<api::TokenRegistry> tokens_;  // per-user tokens (before router_ too)
  std::unique_ptr<api::AuditLog> audit_;
  std::unique_ptr<api::Router> router_;
  Redactor redactor_;  // the project's secret values, masked in API answers
  std::unique_ptr<deploy::ReleaseStore> releases_;
  std::unique_ptr<deploy::DeployMetrics> deploy_metrics_;  // borrowed by the deployer
  std::unique_ptr<deploy::Deployer> deployer_;
  std::unique_ptr<scrape::ResourceMetrics> resource_metrics_;
  MonoTime last_resource_sample_{};
  std::unique_ptr<DatabaseJobs> db_jobs_;
  TrafficRates traffic_rates_;
  std::unique_ptr<alerts::AlertingService> alerting_;
  std::unique_ptr<http::HttpServer> unix_server_;
  std::unique_ptr<http::HttpServer> tcp_server_;
};

}  // namespace

int RunDaemon(const DaemonOptions& options) {
  std::string format = options.log_format;
  if (format.empty()) {
    const char* env = std::getenv("SLIPWAY_LOG_FORMAT");
    format = env != nullptr ? env : "";
  }
  auto parsed = ParseLogFormat(format);
  logging::SetLogFormat(parsed.ok() ? *parsed : LogFormat::kText);
  std::unique_ptr<StderrJsonFilter> filter;
  if (parsed.ok() && *parsed == LogFormat::kJson) {
    // Lines other modules print to stderr become JSON objects too.
    auto f = StderrJsonFilter::Install();
    if (f.ok()) filter = std::move(f).value();
  }
  if (!parsed.ok()) Log(parsed.status().message() + "; using text", nullptr, logging::Level::kWarn);
  int rc = 0;
  {
    Daemon d(options);
    rc = d.Run();
  }
  if (filter) filter->Stop();
  return rc;
}

}  // namespace slipway::daemon
