// The deploy controller against fakes: FakeGroups (instance groups whose readiness the test
// drives), FakeTraffic (weights, and counters that grow as the plan sends requests) and a
// FakeClock driving the event loop. Every strategy is run through success and each kind of
// failure; a test walks JobState to check every state is reached.
#include "deploy/deployer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "deploy/job_runner.h"

namespace slipway::deploy {
namespace {

using config::DeployStrategy;

// Cumulative counters of one set.
struct Counters {
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::vector<uint64_t> buckets;  // cumulative per bound, then +Inf
  uint64_t count = 0;
  double sum = 0;
};

const std::vector<double> kBounds = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5};

class FakeTraffic final : public Traffic {
 public:
  Status SetPlan(const std::string& service, TrafficPlan plan) override {
    ++set_calls;
    if (fail_set > 0) {
      --fail_set;
      return Unavailable("proxy: publishing failed");
    }
    plans[service] = plan;
    return Status::OK();
  }
  Status ClearPlan(const std::string& service) override {
    ++clear_calls;
    if (fail_clear > 0) {
      --fail_clear;
      return Unavailable("proxy: publishing failed");
    }
    plans.erase(service);
    return Status::OK();
  }
  // Each read adds the requests the plan sent since the last one: 50 per read for a set with
  // weight (or the primary, without a plan), failing and lasting as the test set them.
  proxy::SetStats Stats(const std::string& service, const std::string& set) const override {
    Counters& c = counters[set];
    if (c.buckets.empty()) c.buckets.assign(kBounds.size() + 1, 0);
    bool served = false;
    auto plan = plans.find(service);
    if (plan != plans.end()) {
      auto w = plan->second.sets.find(set);
      served = w != plan->second.sets.end() && w->second.weight > 0;
    } else {
      served = set == primary;
    }
    if (served) {
      const uint64_t n = 50;
      const double rate = error_rate.count(set) ? error_rate.at(set) : 0.0;
      const double secs = latency_s.count(set) ? latency_s.at(set) : 0.004;
      c.requests += n;
      c.errors += static_cast<uint64_t>(rate * n);
      for (size_t i = 0; i < c.buckets.size(); ++i) {
        if (i == kBounds.size() || secs <= kBounds[i]) c.buckets[i] += n;
      }
      c.count += n;
      c.sum += secs * n;
    }
    proxy::SetStats s;
    s.requests = c.requests;
    s.errors_5xx = c.errors;
    s.latency.bounds = kBounds;
    s.latency.buckets = c.buckets;
    s.latency.count = c.count;
    s.latency.sum = c.sum;
    return s;
  }

  std::map<std::string, TrafficPlan> plans;
  std::map<std::string, double> error_rate;  // by set
  std::map<std::string, double> latency_s;   // by set
  std::string primary = "r1";
  int fail_set = 0;
  int fail_clear = 0;
  int set_calls = 0;
  int clear_calls = 0;
  mutable std::map<std::string, Counters> counters;
};

// How the instances of sets other than the first release's behave once started.
enum class NewSet { kReady, kUnhealthy, kCrash, kNeverReady };

class FakeGroups final : public Groups {
 public:
  explicit FakeGroups(net::EventLoop* loop) : loop_(loop) {}

  struct G {
    int64_t release = 0;
    config::Service spec;
    int instances = 0;
    int ready = 0;
    int unhealthy = 0;
    int crashed = 0;
    int restarts = 0;
    std::string problem;
  };
  struct Svc {
    std::string primary;
    std::map<std::string, G> groups;
  };

  void Up(const config::Service& spec) {
    Svc& s = svcs[spec.name];
    s.primary = "r1";
    G g;
    g.release = 1;
    g.spec = spec;
    g.instances = g.ready = spec.replicas;
    s.groups["r1"] = g;
    first_image_ = spec.image;
  }
  // An instance of `set` crashes now.
  void Crash(const std::string& service, const std::string& set) {
    G& g = svcs[service].groups[set];
    g.crashed = 1;
    g.ready = std::max(0, g.ready - 1);
    g.problem = "exited with status 1";
    Emit();
  }
  G* Find(const std::string& service, const std::string& set) {
    auto s = svcs.find(service);
    if (s == svcs.end()) return nullptr;
    auto g = s->second.groups.find(set);
    return g == s->second.groups.end() ? nullptr : &g->second;
  }

  const config::Service* RunningSpec(const std::string& service) const override {
    auto s = svcs.find(service);
    if (s == svcs.end()) return nullptr;
    return &s->second.groups.at(s->second.primary).spec;
  }
  const config::Service* GroupSpec(const std::string& service,
                                   const std::string& set) const override {
    auto s = svcs.find(service);
    if (s == svcs.end()) return nullptr;
    auto g = s->second.groups.find(set);
    return g == s->second.groups.end() ? nullptr : &g->second.spec;
  }
  std::string PrimarySet(const std::string& service) const override {
    auto s = svcs.find(service);
    return s == svcs.end() ? "" : s->second.primary;
  }
  int64_t PrimaryRelease(const std::string& service) const override {
    auto s = svcs.find(service);
    return s == svcs.end() ? 0 : s->second.groups.at(s->second.primary).release;
  }
  // fmt, not "r" + std::to_string(): GCC 12's -Wrestrict misreads the latter at -O2.
  std::string SetName(int64_t release) const override { return fmt::format("r{}", release); }
  GroupView Group(const std::string& service, const std::string& set) const override {
    GroupView v;
    auto s = svcs.find(service);
    if (s == svcs.end()) return v;
    auto g = s->second.groups.find(set);
    if (g == s->second.groups.end()) return v;
    v.exists = true;
    v.release = g->second.release;
    v.instances = g->second.instances;
    v.ready = g->second.ready;
    v.unhealthy = g->second.unhealthy;
    v.crashed = g->second.crashed;
    v.restarts = g->second.restarts;
    v.problem = g->second.problem;
    for (int i = 0; i < g->second.ready; ++i) v.addresses.push_back({"i", 20000 + i});
    return v;
  }
  std::vector<SideGroupRef> SideGroups() const override {
    std::vector<SideGroupRef> out;
    for (const auto& [name, s] : svcs) {
      for (const auto& [set, g] : s.groups) {
        if (set != s.primary) out.push_back({name, set});
      }
    }
    return out;
  }
  Status Start(const std::string& service, const config::Service& spec, int64_t release,
               int count) override {
    log.push_back("start r" + std::to_string(release) + " " + std::to_string(count));
    if (fail_start) return Internal("cannot start");
    G g;
    g.release = release;
    g.spec = spec;
    svcs[service].groups[SetName(release)] = g;
    Become(service, SetName(release), count);
    return Status::OK();
  }
  Status Resize(const std::string& service, const std::string& set, int count, Duration drain,
                std::function<void()> done) override {
    log.push_back("resize " + set + " " + std::to_string(count));
    if (!Find(service, set)) return NotFound("no set " + set);
    Become(service, set, count);
    loop_->RunAfter(drain, std::move(done));
    return Status::OK();
  }
  Status Stop(const std::string& service, const std::string& set, Duration drain,
              std::function<void()> done) override {
    log.push_back("stop " + set);
    if (!Find(service, set)) return NotFound("no set " + set);
    if (svcs[service].primary == set) return FailedPrecondition("the primary set");
    loop_->RunAfter(drain, [this, service, set, done = std::move(done)] {
      svcs[service].groups.erase(set);
      done();
    });
    return Status::OK();
  }
  Status Promote(const std::string& service, const std::string& set) override {
    log.push_back("promote " + set);
    if (!Find(service, set)) return NotFound("no set " + set);
    svcs[service].primary = set;
    return Status::OK();
  }
  void Replace(const config::Service& spec, int64_t release, bool wait, Duration timeout,
               std::function<void(Status)> done) override {
    const bool fresh = spec.image != first_image_;
    log.push_back(std::string("replace ") + (fresh ? "new" : "old") + " r" +
                  std::to_string(release));
    // Stopping and starting takes a while.
    loop_->RunAfter(Duration(500), [this, spec, fresh, release, done = std::move(done)] {
      Svc& s = svcs[spec.name];
      G& g = s.groups[s.primary];
      g.spec = spec;
      g.release = release;
      g.instances = spec.replicas;
      const bool ok = !fresh || behaviour == NewSet::kReady;
      g.ready = ok ? spec.replicas : 0;
      done(ok ? Status::OK() : Unavailable(spec.name + " exited at start\nlast lines"));
    });
  }
  void SetChangeListener(std::function<void()> fn) override { listener_ = std::move(fn); }

  NewSet behaviour = NewSet::kReady;
  int bad_instances = 0;  // instances of a new set that crash (before the behaviour applies)
  bool fail_start = false;
  std::vector<std::string> log;
  std::map<std::string, Svc> svcs;

 private:
  void Emit() {
    loop_->Post([this] {
      if (listener_) listener_();
    });
  }
  // The group has `count` instances; later (as the engine would report) they are ready, or
  // not, as the behaviour says.
  void Become(const std::string& service, const std::string& set, int count) {
    G& g = svcs[service].groups[set];
    const int before = g.instances;
    g.instances = count;
    g.ready = std::min(g.ready, count);
    if (count <= before) return;
    loop_->Post([this, service, set] {
      G* g = Find(service, set);
      if (!g) return;
      const bool fresh = g->release != 1;
      const NewSet b = fresh ? behaviour : NewSet::kReady;
      const int bad = fresh ? bad_instances : 0;
      switch (b) {
        case NewSet::kReady:
          g->ready = std::max(0, g->instances - bad);
          if (bad > 0) {
            g->crashed = bad;
            g->problem = "exited with status 3";
          }
          break;
        case NewSet::kUnhealthy:
          g->unhealthy = 1;
          g->problem = "health check: HTTP 500";
          break;
        case NewSet::kCrash:
          g->crashed = 1;
          g->problem = "exited with status 2";
          break;
        case NewSet::kNeverReady:
          break;
      }
      Emit();
    });
  }

  net::EventLoop* loop_;
  std::function<void()> listener_;
  std::string first_image_;
};

config::Service Spec(const std::string& image, int replicas, DeployStrategy strategy) {
  config::Service s;
  s.name = "api";
  s.image = image;
  s.command = {"./api"};
  s.replicas = replicas;
  s.deploy.strategy = strategy;
  s.deploy.monitor = Duration(1'000);
  s.deploy.step_duration = Duration(500);
  s.deploy.steps = {20, 50, 100};
  s.deploy.health_timeout = Duration(5'000);
  s.deploy.drain = Duration(100);
  s.deploy.rollback_window = Duration(60'000);
  s.deploy.analysis.interval = Duration(100);
  s.deploy.analysis.window = Duration(2'000);
  s.deploy.analysis.min_requests = 20;
  s.update_config.parallelism = 1;
  s.update_config.monitor = Duration(300);
  s.update_config.failure_action = config::FailureAction::kRollback;
  return s;
}

class DeployerTest : public ::testing::TestWithParam<DeployStrategy> {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "slipway-deployer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto loop = net::EventLoop::Create(&clock_);
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    auto s = store::Store::Open(dir_ / "state.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    auto r = ReleaseStore::Open(store_.get(), &clock_);
    ASSERT_TRUE(r.ok()) << r.status().message();
    releases_ = std::move(r).value();
    groups_ = std::make_unique<FakeGroups>(loop_.get());
    deployer_ = std::make_unique<Deployer>(loop_.get(), groups_.get(), releases_.get(), &traffic_,
                                           std::map<std::string, std::string>{});
    deployer_->SetEventListener([this](const DeployEvent& e) { events_.push_back(e); });
    deployer_->SetMetrics(&metrics_);
    old_ = Spec("app:1", 3, GetParam());
    groups_->Up(old_);
    ASSERT_EQ(deployer_->RecordUp(old_, "h1"), 1);
  }
  void TearDown() override {
    deployer_.reset();
    releases_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  config::Service NewSpec() const {
    config::Service s = old_;
    s.image = "app:2";
    return s;
  }

  // Runs the loop on the fake clock, 10 ms a turn, until `until` holds (at most `limit`).
  bool RunUntil(const std::function<bool()>& until, Duration limit = Duration(120'000)) {
    for (Duration t(0); t < limit; t += Duration(10)) {
      for (int i = 0; i < 5; ++i) loop_->RunOnce(Duration(0));
      if (until()) return true;
      clock_.AdvanceForTest(Duration(10));
    }
    return until();
  }

  // Starts a deploy of `spec`; the outcome lands in outcome_.
  void StartDeploy(const config::Service& spec) {
    DeployRequest req;
    req.project.name = "p";
    req.project.services["api"] = spec;
    req.services = {"api"};
    outcome_.reset();
    deployer_->Deploy(std::move(req), [this](Outcome o) { outcome_ = std::move(o); });
  }
  Outcome Deploy(const config::Service& spec) {
    StartDeploy(spec);
    EXPECT_TRUE(RunUntil([&] { return outcome_.has_value(); })) << "the deploy never ended";
    return outcome_.value_or(Outcome{Internal("no outcome")});
  }
  std::string Status1() const {
    auto r = releases_->Get("api", 2);
    if (!r.ok() || !r->has_value()) return "none";
    return std::string(ReleaseStatusName((*r)->status));
  }
  nlohmann::json Numbers2() const {
    auto r = releases_->Get("api", 2);
    if (!r.ok() || !r->has_value()) return nullptr;
    return (*r)->numbers;
  }
  // Every move the last finished job made is in the job machine's table.
  void ExpectValidPath() const {
    for (const Transition& t : deployer_->LastJobPath("api")) {
      EXPECT_TRUE(CanTransition(t.from, t.to))
          << JobStateName(t.from) << " -> " << JobStateName(t.to) << " (" << t.reason << ")";
    }
  }
  bool ServesOnlyOld() const {
    return !traffic_.plans.count("api") && groups_->PrimarySet("api") == "r1" &&
           groups_->Find("api", "r1")->ready == old_.replicas;
  }

  // slipway_deploys_total of this strategy with `result`.
  uint64_t Deploys(const std::string& result) const {
    const telemetry::Counter* c =
        registry_.FindCounter("slipway_deploys_total",
                              {"api", std::string(config::DeployStrategyName(GetParam())), result});
    return c ? c->Value() : 0;
  }
  uint64_t Rollbacks(const std::string& reason) const {
    const telemetry::Counter* c = registry_.FindCounter("slipway_rollbacks_total", {"api", reason});
    return c ? c->Value() : 0;
  }
  uint64_t AllRollbacks() const {
    uint64_t n = 0;
    for (const char* r : {"health", "error_rate", "latency", "crash", "manual"}) n += Rollbacks(r);
    return n;
  }
  uint64_t Detections() const {
    const telemetry::Histogram* h =
        registry_.FindHistogram("slipway_deploy_detection_seconds", {"api"});
    return h ? h->Snapshot().count : 0;
  }

  FakeClock clock_;
  telemetry::Registry registry_;
  DeployMetrics metrics_{&registry_};
  std::filesystem::path dir_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ReleaseStore> releases_;
  FakeTraffic traffic_;
  std::unique_ptr<FakeGroups> groups_;
  std::unique_ptr<Deployer> deployer_;
  std::vector<DeployEvent> events_;
  std::optional<Outcome> outcome_;
  config::Service old_;
};

TEST_P(DeployerTest, Success) {
  Outcome o = Deploy(NewSpec());
  ASSERT_TRUE(o.status.ok()) << o.status.message();
  EXPECT_EQ(Status1(), "succeeded");
  EXPECT_EQ(groups_->PrimarySet("api"), GetParam() == DeployStrategy::kRecreate ? "r1" : "r2");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:2");
  if (GetParam() == DeployStrategy::kRecreate) {
    // The replacement runs as the new release, whatever its spec hash.
    EXPECT_EQ(groups_->log.back(), "replace new r2");
    EXPECT_EQ(groups_->Find("api", "r1")->release, 2);
  }
  EXPECT_FALSE(traffic_.plans.count("api"));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, DeployEventKind::kDeployed);
  EXPECT_EQ(Deploys("succeeded"), 1u);
  EXPECT_EQ(Deploys("rolled_back") + Deploys("failed") + AllRollbacks(), 0u);
  const telemetry::Histogram* took =
      registry_.FindHistogram("slipway_deploy_duration_seconds",
                              {"api", std::string(config::DeployStrategyName(GetParam()))});
  ASSERT_NE(took, nullptr);
  EXPECT_EQ(took->Snapshot().count, 1u);
  EXPECT_GT(took->Snapshot().sum, 0);
  EXPECT_TRUE(deployer_->Busy().empty());
  const nlohmann::json n = Numbers2();
  if (GetParam() != DeployStrategy::kRecreate) {
    EXPECT_TRUE(n.contains("total_ms")) << n.dump();
    EXPECT_TRUE(n.contains("totals")) << n.dump();
  }
  if (GetParam() == DeployStrategy::kBlueGreen) {
    EXPECT_TRUE(n.contains("cutover_ms")) << n.dump();
    // The old set stays warm: a rollback is a traffic switch.
    ASSERT_NE(groups_->Find("api", "r1"), nullptr);
    std::optional<Outcome> rb;
    deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
    ASSERT_TRUE(rb.has_value());
    EXPECT_TRUE(rb->status.ok()) << rb->status.message();
    EXPECT_EQ(groups_->PrimarySet("api"), "r1");
    EXPECT_EQ(Status1(), "rolled-back");
    EXPECT_EQ(events_.back().kind, DeployEventKind::kManualRollback);
    EXPECT_EQ(Rollbacks("manual"), 1u);
    EXPECT_EQ(Deploys("succeeded"), 1u);  // a manual rollback is no deploy
  }
  if (GetParam() == DeployStrategy::kRolling) {
    EXPECT_EQ(groups_->Find("api", "r2")->instances, 3);
    EXPECT_TRUE(RunUntil([&] { return groups_->Find("api", "r1") == nullptr; }));
  }
}

TEST_P(DeployerTest, HealthFailureRollsBack) {
  groups_->behaviour = NewSet::kUnhealthy;
  Outcome o = Deploy(NewSpec());
  ASSERT_FALSE(o.status.ok());
  if (GetParam() == DeployStrategy::kRecreate) {
    EXPECT_NE(o.status.message().find("exited at start"), std::string::npos) << o.status.message();
  } else {
    EXPECT_NE(o.status.message().find("never became ready: health check: HTTP 500"),
              std::string::npos)
        << o.status.message();
  }
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:1");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
  EXPECT_EQ(events_.back().kind, DeployEventKind::kRolledBack);
}

TEST_P(DeployerTest, HealthFailureCountsAsARollbackForHealth) {
  groups_->behaviour = NewSet::kUnhealthy;
  Outcome o = Deploy(NewSpec());
  ASSERT_FALSE(o.status.ok());
  EXPECT_EQ(Deploys("rolled_back"), 1u);
  EXPECT_EQ(Deploys("succeeded"), 0u);
  EXPECT_EQ(AllRollbacks(), 1u);
  EXPECT_EQ(Rollbacks("health"), 1u);
}

TEST_P(DeployerTest, CrashRollsBack) {
  if (GetParam() == DeployStrategy::kRecreate) {
    groups_->behaviour = NewSet::kCrash;  // recreate sees it as a start that failed
    Outcome o = Deploy(NewSpec());
    EXPECT_FALSE(o.status.ok());
    EXPECT_EQ(Status1(), "rolled-back");
    EXPECT_EQ(groups_->log.back(), "replace old r1");
    return;
  }
  // The new set comes up, then crashes while it serves.
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] { return traffic_.plans.count("api") && groups_->Find("api", "r2"); }));
  const MonoTime crash_at = clock_.Now();
  groups_->Crash("api", "r2");
  ASSERT_TRUE(RunUntil([&] { return outcome_.has_value(); }));
  EXPECT_FALSE(outcome_->status.ok());
  EXPECT_NE(outcome_->status.message().find("exited with status 1"), std::string::npos)
      << outcome_->status.message();
  // Acted on the engine's event, not at the next sample.
  EXPECT_LE(clock_.Now() - crash_at, Duration(200));
  EXPECT_EQ(Rollbacks("crash"), 1u);
  EXPECT_EQ(Deploys("rolled_back"), 1u);
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
}

TEST_P(DeployerTest, ErrorRateBreachRollsBack) {
  if (GetParam() == DeployStrategy::kRecreate) GTEST_SKIP() << "recreate moves no traffic";
  traffic_.error_rate["r2"] = 0.5;
  Outcome o = Deploy(NewSpec());
  ASSERT_FALSE(o.status.ok());
  EXPECT_NE(o.status.message().find("rolled back: 5xx rate 50.0% > 5.0%"), std::string::npos)
      << o.status.message();
  EXPECT_EQ(Status1(), "rolled-back");
  const nlohmann::json n = Numbers2();
  EXPECT_TRUE(n.contains("detect_ms")) << n.dump();
  EXPECT_TRUE(n.contains("rollback_ms")) << n.dump();
  EXPECT_GT(n["analysis"].value("errors_5xx", 0), 0) << n.dump();
  EXPECT_EQ(Rollbacks("error_rate"), 1u);
  EXPECT_EQ(AllRollbacks(), 1u);
  EXPECT_EQ(Detections(), 1u);
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld() && !groups_->Find("api", "r2"); }));
}

TEST_P(DeployerTest, LatencyBreachRollsBack) {
  if (GetParam() == DeployStrategy::kRecreate) GTEST_SKIP() << "recreate moves no traffic";
  traffic_.latency_s["r2"] = 2.0;
  Outcome o = Deploy(NewSpec());
  ASSERT_FALSE(o.status.ok());
  EXPECT_NE(o.status.message().find("p95 latency"), std::string::npos) << o.status.message();
  EXPECT_EQ(Rollbacks("latency"), 1u);
  EXPECT_EQ(Detections(), 1u);
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
}

TEST_P(DeployerTest, ManualRollbackMidRollout) {
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] {
    const JobRunner* j = deployer_->Job("api");
    return j && (j->state() == JobState::kWatching || j->state() == JobState::kReplacing);
  }));
  std::optional<Outcome> rb;
  deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
  ASSERT_TRUE(RunUntil([&] { return rb.has_value() && outcome_.has_value(); }));
  EXPECT_FALSE(rb->status.ok());
  EXPECT_NE(rb->status.message().find("manual rollback requested"), std::string::npos)
      << rb->status.message();
  EXPECT_EQ(Rollbacks("manual"), 1u);
  EXPECT_EQ(AllRollbacks(), 1u);
  EXPECT_EQ(Deploys("rolled_back"), 1u);
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:1");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
}

TEST_P(DeployerTest, DaemonRestartMidDeployRollsBack) {
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] {
    const JobRunner* j = deployer_->Job("api");
    return j && (j->state() == JobState::kWatching || j->state() == JobState::kReplacing);
  }));
  // The daemon dies: its deployer (job, plan, judgement) is gone; the proxy restarts with no
  // plan; the engine's groups are taken over as they were.
  deployer_.reset();
  traffic_.plans.clear();
  deployer_ = std::make_unique<Deployer>(loop_.get(), groups_.get(), releases_.get(), &traffic_,
                                         std::map<std::string, std::string>{});
  std::vector<std::string> lines;
  deployer_->RetireInterrupted([&](const std::string& l) { lines.push_back(l); });
  if (GetParam() != DeployStrategy::kRecreate) {
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("stopping set r2"), std::string::npos) << lines[0];
    EXPECT_TRUE(RunUntil([&] { return groups_->Find("api", "r2") == nullptr; }));
  }
  EXPECT_EQ(Status1(), "failed");
  auto r = releases_->Get("api", 2);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_NE((*r)->reason.find("interrupted"), std::string::npos);
  EXPECT_EQ(groups_->PrimarySet("api"), "r1");
}

TEST_P(DeployerTest, PauseIsFailureActionPauseOfRolling) {
  config::Service spec = NewSpec();
  spec.update_config.failure_action = config::FailureAction::kPause;
  groups_->behaviour = NewSet::kUnhealthy;
  Outcome o = Deploy(spec);
  ASSERT_FALSE(o.status.ok());
  if (GetParam() != DeployStrategy::kRolling) {
    // Only rolling has update_config.failure_action; the others roll back.
    EXPECT_EQ(Status1(), "rolled-back");
    return;
  }
  // The caller hears it at once; the release reads failed while the job holds.
  EXPECT_NE(o.status.message().find("paused"), std::string::npos) << o.status.message();
  EXPECT_EQ(Status1(), "failed");
  ASSERT_NE(deployer_->Job("api"), nullptr);
  EXPECT_EQ(deployer_->Job("api")->state(), JobState::kPaused);
  ASSERT_FALSE(events_.empty());
  EXPECT_EQ(events_.back().kind, DeployEventKind::kPaused);
  EXPECT_EQ(events_.back().who, "");
  // Left as it was: the old set serves, the unready new instance stays for inspection.
  EXPECT_FALSE(RunUntil([&] { return deployer_->Job("api") == nullptr; }, Duration(20'000)));
  EXPECT_NE(groups_->Find("api", "r2"), nullptr);
  EXPECT_EQ(groups_->PrimarySet("api"), "r1");
  EXPECT_EQ(deployer_->Job("api")->state(), JobState::kPaused);
  // Another deploy waits for a decision about this one.
  config::Service other = NewSpec();
  other.image = "app:3";
  Outcome refused = Deploy(other);
  EXPECT_EQ(refused.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status.message().find("r2 is paused; resume it (slipway deploy resume api)"),
            std::string::npos)
      << refused.status.message();
  // The cause is fixed (the instances are ready now); resumed, the rollout goes on.
  for (auto& [set, g] : groups_->svcs["api"].groups) {
    if (set == "r2") {
      g.unhealthy = 0;
      g.ready = g.instances;
      g.problem.clear();
    }
  }
  groups_->behaviour = NewSet::kReady;
  ASSERT_TRUE(deployer_->Resume("api", "alice", "fixed the database").ok());
  EXPECT_EQ(events_.back().kind, DeployEventKind::kResumed);
  EXPECT_EQ(events_.back().who, "alice");
  EXPECT_EQ(Status1(), "running");
  ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api") == nullptr; }));
  EXPECT_EQ(Status1(), "succeeded");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:2");
  EXPECT_EQ(groups_->Find("api", "r2")->instances, 3);
  EXPECT_EQ(events_.back().kind, DeployEventKind::kDeployed);
  ExpectValidPath();
}

TEST_P(DeployerTest, FailureActionPauseCanBeRolledBack) {
  if (GetParam() != DeployStrategy::kRolling) GTEST_SKIP() << "only rolling pauses by itself";
  config::Service spec = NewSpec();
  spec.update_config.failure_action = config::FailureAction::kPause;
  groups_->behaviour = NewSet::kUnhealthy;
  Outcome o = Deploy(spec);
  ASSERT_FALSE(o.status.ok());
  ASSERT_EQ(deployer_->Job("api")->state(), JobState::kPaused);
  std::optional<Outcome> rb;
  deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
  ASSERT_TRUE(RunUntil([&] { return rb.has_value(); }));
  EXPECT_NE(rb->status.message().find("manual rollback requested"), std::string::npos)
      << rb->status.message();
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld() && !groups_->Find("api", "r2"); }));
  ExpectValidPath();
}

// Where an operator's pause lands at once: the analysis of a step (recreate has none: its
// pause waits for the replacement in flight).
bool AtHoldPoint(const JobRunner* j, DeployStrategy s) {
  if (!j) return false;
  return s == DeployStrategy::kRecreate ? j->state() == JobState::kReplacing
                                        : j->state() == JobState::kWatching;
}

TEST_P(DeployerTest, OperatorPauseHoldsTheSplitAndResumesTheSameStep) {
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] { return AtHoldPoint(deployer_->Job("api"), GetParam()); }));
  const JobState held_in = deployer_->Job("api")->state();
  const MonoTime step_began = deployer_->Job("api")->transitions().back().at;
  ASSERT_TRUE(deployer_->Pause("api", "alice (unix socket)", "checking dashboards").ok());
  if (GetParam() == DeployStrategy::kRecreate) {
    // The replacement in flight finishes first.
    EXPECT_TRUE(deployer_->Job("api")->pausing());
    ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api")->state() == JobState::kPaused; }));
  }
  const JobRunner* job = deployer_->Job("api");
  ASSERT_EQ(job->state(), JobState::kPaused);
  EXPECT_EQ(events_.back().kind, DeployEventKind::kPaused);
  EXPECT_EQ(events_.back().who, "alice (unix socket)");
  EXPECT_EQ(events_.back().reason, "checking dashboards");
  const MonoTime paused_at = clock_.Now();
  const std::map<std::string, TrafficPlan> plans = traffic_.plans;
  const int sets = traffic_.set_calls;
  const std::vector<std::string> group_log = groups_->log;
  // Held far past every timer (monitor, health_timeout, steps), with the new set answering
  // errors: the analysis is stopped, so nothing is judged and nothing moves.
  traffic_.error_rate["r2"] = 0.5;
  EXPECT_FALSE(RunUntil([&] { return outcome_.has_value(); }, Duration(30'000)));
  EXPECT_EQ(deployer_->Job("api")->state(), JobState::kPaused);
  EXPECT_EQ(traffic_.set_calls, sets);
  EXPECT_EQ(groups_->log, group_log);
  ASSERT_EQ(traffic_.plans.count("api"), plans.count("api"));
  if (plans.count("api")) {
    for (const auto& [set, w] : plans.at("api").sets) {
      EXPECT_EQ(traffic_.plans.at("api").sets.at(set).weight, w.weight) << set;
    }
  }
  EXPECT_EQ(Status1(), "running");
  // A second pause says so; the deploy of another service is not affected.
  Status again = deployer_->Pause("api", "bob", "");
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("already paused (by alice (unix socket))"), std::string::npos)
      << again.message();
  traffic_.error_rate.clear();
  // Resumed: the same step goes on with the time it had left, then the deploy succeeds.
  ASSERT_TRUE(deployer_->Resume("api", "alice (unix socket)", "looks fine").ok());
  if (GetParam() != DeployStrategy::kRecreate) {
    EXPECT_EQ(deployer_->Job("api")->state(), held_in);
  }
  EXPECT_EQ(events_.back().kind, GetParam() == DeployStrategy::kRecreate
                                     ? DeployEventKind::kDeployed
                                     : DeployEventKind::kResumed);
  const MonoTime resumed_at = clock_.Now();
  ASSERT_TRUE(RunUntil([&] { return outcome_.has_value(); }));
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status.message();
  EXPECT_EQ(Status1(), "succeeded");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:2");
  const std::vector<Transition> path = deployer_->LastJobPath("api");
  auto paused = std::find_if(path.begin(), path.end(),
                             [](const Transition& t) { return t.to == JobState::kPaused; });
  ASSERT_NE(paused, path.end());
  EXPECT_EQ(paused->from, held_in);
  ASSERT_NE(paused + 1, path.end());
  EXPECT_EQ((paused + 1)->from, JobState::kPaused);
  EXPECT_EQ((paused + 1)->to, paused->from);
  EXPECT_NE((paused + 1)->reason.find("resumed by alice (unix socket): looks fine"),
            std::string::npos)
      << (paused + 1)->reason;
  if (GetParam() == DeployStrategy::kBlueGreen) {
    // The watch of `monitor` (1 s) went on with what it had left, not from the start.
    auto next = std::find_if(paused + 1, path.end(),
                             [](const Transition& t) { return t.to == JobState::kPromoting; });
    ASSERT_NE(next, path.end());
    const Duration left =
        Duration(1'000) - std::chrono::duration_cast<Duration>(paused_at - step_began);
    EXPECT_LE(next->at - resumed_at, left + Duration(150));
  }
  ExpectValidPath();
}

// The dashboard's live view of a deploy: the running job's state, both sets and their weights,
// the analysis window of each, its transitions; the progress lines bounded; nothing once done.
TEST_P(DeployerTest, LiveSaysWhatTheRunningJobDoes) {
  if (GetParam() != DeployStrategy::kBlueGreen && GetParam() != DeployStrategy::kCanary) {
    GTEST_SKIP() << "only blue-green and canary split the traffic";
  }
  EXPECT_TRUE(deployer_->Live()["jobs"].empty());
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] {
    const JobRunner* job = deployer_->Job("api");
    if (!job || job->state() != JobState::kWatching) return false;
    const nlohmann::json j = deployer_->Live()["jobs"][0];
    return j.contains("analysis") && j["analysis"].contains("window_s");
  }));
  const nlohmann::json live = deployer_->Live();
  ASSERT_EQ(live["jobs"].size(), 1u) << live.dump();
  const nlohmann::json& j = live["jobs"][0];
  EXPECT_EQ(j["service"], "api");
  EXPECT_EQ(j["state"], "watching");
  EXPECT_GT(j["release"].get<int64_t>(), j["old_release"].get<int64_t>()) << j.dump();
  EXPECT_GT(j["new_weight"].get<int>(), 0) << j.dump();
  EXPECT_EQ(j["new_weight"].get<int>() + j["old_weight"].get<int>(), 100) << j.dump();
  EXPECT_NE(j["new_set"], j["old_set"]);
  ASSERT_FALSE(j["transitions"].empty());
  EXPECT_EQ(j["transitions"].back()["to"], "watching");
  EXPECT_TRUE(j["analysis"].contains("old_errors_5xx")) << j.dump();
  EXPECT_FALSE(live["progress"].empty());
  EXPECT_LE(deployer_->Live(2)["progress"].size(), 2u);
  ASSERT_TRUE(RunUntil([&] { return outcome_.has_value(); }));
  EXPECT_TRUE(deployer_->Live()["jobs"].empty());
  EXPECT_FALSE(deployer_->Live()["progress"].empty());
}

// The live numbers of each set move between two reads half a second apart, within one analysis
// interval (the analysis' own window has not moved): a new set that turns bad shows at once.
TEST_P(DeployerTest, LiveNumbersMoveWithinOneAnalysisInterval) {
  if (GetParam() != DeployStrategy::kBlueGreen && GetParam() != DeployStrategy::kCanary) {
    GTEST_SKIP() << "only blue-green and canary split the traffic";
  }
  config::Service spec = NewSpec();
  spec.deploy.monitor = Duration(60'000);
  spec.deploy.step_duration = Duration(60'000);
  spec.deploy.analysis.interval = Duration(30'000);
  spec.deploy.analysis.window = Duration(60'000);
  EXPECT_TRUE(deployer_->SampleLive().empty());
  StartDeploy(spec);
  ASSERT_TRUE(RunUntil([&] {
    const JobRunner* job = deployer_->Job("api");
    return job && job->state() == JobState::kWatching;
  }));
  const auto wait = [&](Duration d) {
    const MonoTime until = clock_.Now() + d;
    ASSERT_TRUE(RunUntil([&] { return clock_.Now() >= until; }));
  };
  std::map<std::string, LiveNumbers> first;
  ASSERT_TRUE(RunUntil([&] {
    first = deployer_->SampleLive();
    return first.count("api") > 0;
  }));
  wait(Duration(500));
  std::map<std::string, LiveNumbers> good = deployer_->SampleLive();
  ASSERT_TRUE(good.count("api"));
  const nlohmann::json analysis_before = deployer_->Live()["jobs"][0]["analysis"];
  EXPECT_GT(good["api"].new_set.requests, 0u);
  // Blue-green moved all the traffic; a canary's first step leaves most on the old set.
  const bool split = GetParam() == DeployStrategy::kCanary;
  EXPECT_EQ(good["api"].old_set.requests > 0, split);
  ASSERT_TRUE(good["api"].new_set.error_rate);
  EXPECT_EQ(*good["api"].new_set.error_rate, 0.0);
  EXPECT_GT(good["api"].window_s, 0.0);
  // The new set fails every request from now on.
  const auto new_set = deployer_->Live()["jobs"][0]["new_set"].get<std::string>();
  traffic_.error_rate[new_set] = 1.0;
  wait(Duration(500));
  std::map<std::string, LiveNumbers> bad = deployer_->SampleLive();
  ASSERT_TRUE(bad.count("api"));
  ASSERT_TRUE(bad["api"].new_set.error_rate);
  EXPECT_GT(*bad["api"].new_set.error_rate, 0.4);
  if (split) {
    ASSERT_TRUE(bad["api"].old_set.error_rate);
    EXPECT_EQ(*bad["api"].old_set.error_rate, 0.0);
  }
  EXPECT_GT(bad["api"].at_ms, 0);
  EXPECT_EQ(deployer_->Job("api")->state(), JobState::kWatching) << "not judged again yet";
  EXPECT_EQ(deployer_->Live()["jobs"][0]["analysis"], analysis_before)
      << "the analysis window did not move";
  // Asked again at once: the last read stands (bounded however often the view asks).
  EXPECT_EQ(deployer_->SampleLive()["api"].new_set.requests, bad["api"].new_set.requests);
  // The analysis' next sample breaches; once done the job has no live numbers.
  ASSERT_TRUE(RunUntil([&] { return outcome_.has_value(); }));
  EXPECT_TRUE(deployer_->SampleLive().empty());
}

// An operator's promote: refused before the new set is judged (and for strategies that split
// no traffic); while it is judged, the rest of the steps is skipped and the release succeeds
// at once with the new set primary.
TEST_P(DeployerTest, OperatorPromoteSkipsTheRestOfTheJudging) {
  StartDeploy(NewSpec());
  // Nothing has run yet: the new set is not judged.
  Status early = deployer_->Promote("api", "alice", "");
  EXPECT_EQ(early.code(), StatusCode::kFailedPrecondition) << early.message();
  if (GetParam() != DeployStrategy::kBlueGreen && GetParam() != DeployStrategy::kCanary) {
    ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api") != nullptr; }));
    Status no = deployer_->Promote("api", "alice", "");
    EXPECT_EQ(no.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(no.message().find("only blue-green and canary"), std::string::npos) << no.message();
    ASSERT_TRUE(RunUntil([&] { return outcome_.has_value(); }));
    return;
  }
  ASSERT_TRUE(RunUntil([&] {
    const JobRunner* job = deployer_->Job("api");
    return job && job->state() == JobState::kWatching;
  }));
  const int sets = traffic_.set_calls;
  ASSERT_TRUE(deployer_->Promote("api", "alice", "numbers look fine").ok());
  // Done without another step or tick of the clock.
  ASSERT_TRUE(RunUntil([&] { return outcome_.has_value(); }, Duration(10)));
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status.message();
  EXPECT_EQ(traffic_.set_calls, sets);
  EXPECT_EQ(Status1(), "succeeded");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:2");
  const std::vector<Transition> path = deployer_->LastJobPath("api");
  EXPECT_TRUE(std::any_of(path.begin(), path.end(), [](const Transition& t) {
    return t.to == JobState::kPromoting &&
           t.reason.find("promoted by alice: numbers look fine") != std::string::npos;
  }));
  EXPECT_EQ(deployer_->Promote("api", "alice", "").code(), StatusCode::kFailedPrecondition);
  ExpectValidPath();
}

TEST_P(DeployerTest, RollbackWhilePausedRestoresTheOldRelease) {
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] { return AtHoldPoint(deployer_->Job("api"), GetParam()); }));
  ASSERT_TRUE(deployer_->Pause("api", "alice", "bad numbers").ok());
  ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api")->state() == JobState::kPaused; }));
  EXPECT_FALSE(RunUntil([&] { return outcome_.has_value(); }, Duration(5'000)));
  std::optional<Outcome> rb;
  deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
  ASSERT_TRUE(RunUntil([&] { return rb.has_value() && outcome_.has_value(); }));
  EXPECT_FALSE(rb->status.ok());
  EXPECT_NE(rb->status.message().find("manual rollback requested"), std::string::npos)
      << rb->status.message();
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:1");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
  const std::vector<Transition> path = deployer_->LastJobPath("api");
  EXPECT_TRUE(std::any_of(path.begin(), path.end(), [](const Transition& t) {
    return t.from == JobState::kPaused && t.to == JobState::kRollingBack;
  }));
  ExpectValidPath();
}

// The daemon dies while an operator's pause holds a deploy: the next daemon (a new Deployer on
// the same store, the groups as the engine took them back, a proxy without plans) holds a
// blue-green or canary job again, with the same split and its service busy, and resume
// finishes it. Rolling and recreate jobs are retired as before (side groups stopped, release
// failed).
TEST_P(DeployerTest, AnOperatorsPauseSurvivesADaemonRestart) {
  deployer_->SetPauseStore(store_.get());
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] { return AtHoldPoint(deployer_->Job("api"), GetParam()); }));
  ASSERT_TRUE(deployer_->Pause("api", "alice", "checking").ok());
  ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api")->state() == JobState::kPaused; }));
  const std::map<std::string, TrafficPlan> plans = traffic_.plans;

  // The daemon dies: its jobs and the proxy's plans go; the groups and the store stay.
  deployer_.reset();
  traffic_.plans.clear();
  deployer_ = std::make_unique<Deployer>(loop_.get(), groups_.get(), releases_.get(), &traffic_,
                                         std::map<std::string, std::string>{});
  deployer_->SetEventListener([this](const DeployEvent& e) { events_.push_back(e); });
  deployer_->SetPauseStore(store_.get());
  config::Project project;
  project.name = "p";
  project.services["api"] = NewSpec();
  std::string log;
  auto note = [&](const std::string& line) { log += line + "\n"; };
  deployer_->RestorePaused(project, note);
  deployer_->RetireInterrupted(note);

  const bool restorable =
      GetParam() == DeployStrategy::kCanary || GetParam() == DeployStrategy::kBlueGreen;
  if (!restorable) {
    EXPECT_EQ(deployer_->Job("api"), nullptr) << log;
    EXPECT_EQ(Status1(), "failed") << log;
    return;
  }
  const JobRunner* job = deployer_->Job("api");
  ASSERT_NE(job, nullptr) << log;
  EXPECT_EQ(job->state(), JobState::kPaused);
  EXPECT_NE(log.find("api r2: the paused"), std::string::npos) << log;
  EXPECT_EQ(Status1(), "running") << "still in progress, not retired";
  EXPECT_NE(groups_->GroupSpec("api", "r2"), nullptr) << "the new set is kept";
  ASSERT_EQ(traffic_.plans.count("api"), plans.count("api"));
  if (plans.count("api")) {
    EXPECT_EQ(traffic_.plans.at("api").sticky_cookie, plans.at("api").sticky_cookie);
    for (const auto& [set, w] : plans.at("api").sets) {
      EXPECT_EQ(traffic_.plans.at("api").sets.at(set).weight, w.weight) << set;
    }
    // The live view reads the split back from the restored plan.
    const nlohmann::json live = deployer_->Live()["jobs"][0];
    const std::map<std::string, SetWeight>& sets = plans.at("api").sets;
    ASSERT_TRUE(sets.count(live["new_set"].get<std::string>())) << live.dump();
    ASSERT_TRUE(sets.count(live["old_set"].get<std::string>())) << live.dump();
    EXPECT_EQ(live["new_weight"].get<uint32_t>(),
              sets.at(live["new_set"].get<std::string>()).weight)
        << live.dump();
    EXPECT_EQ(live["old_weight"].get<uint32_t>(),
              sets.at(live["old_set"].get<std::string>()).weight)
        << live.dump();
  }
  // Its service is busy: another deploy is refused, naming the ways out.
  StartDeploy(NewSpec());
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_NE(outcome_->status.message().find("is paused"), std::string::npos)
      << outcome_->status.message();
  outcome_.reset();
  // Resumed: the step's analysis goes on, the rollout finishes, nothing is saved any more.
  ASSERT_TRUE(deployer_->Resume("api", "alice", "fine").ok());
  ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api") == nullptr; }));
  EXPECT_EQ(Status1(), "succeeded");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:2");
  auto saved = store_->GetMeta("deploy.paused");
  ASSERT_TRUE(saved.ok() && saved->has_value());
  EXPECT_EQ(**saved, "{}");
  ExpectValidPath();
}

// A restored paused deploy can be rolled back as before the restart.
TEST_P(DeployerTest, ARestoredPausedDeployCanBeRolledBack) {
  if (GetParam() != DeployStrategy::kCanary && GetParam() != DeployStrategy::kBlueGreen) {
    GTEST_SKIP() << "only blue-green and canary pauses are restored";
  }
  deployer_->SetPauseStore(store_.get());
  StartDeploy(NewSpec());
  ASSERT_TRUE(RunUntil([&] { return AtHoldPoint(deployer_->Job("api"), GetParam()); }));
  ASSERT_TRUE(deployer_->Pause("api", "alice", "").ok());
  ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api")->state() == JobState::kPaused; }));
  deployer_.reset();
  traffic_.plans.clear();
  deployer_ = std::make_unique<Deployer>(loop_.get(), groups_.get(), releases_.get(), &traffic_,
                                         std::map<std::string, std::string>{});
  deployer_->SetPauseStore(store_.get());
  config::Project project;
  project.services["api"] = NewSpec();
  deployer_->RestorePaused(project, [](const std::string&) {});
  ASSERT_NE(deployer_->Job("api"), nullptr);
  std::optional<Outcome> rb;
  deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
  ASSERT_TRUE(RunUntil([&] { return rb.has_value(); }));
  EXPECT_FALSE(rb->status.ok());
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_EQ(groups_->RunningSpec("api")->image, "app:1");
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
  ExpectValidPath();
}

// What the store holds may be damaged: a malformed saved pause is retired with one line.
TEST_P(DeployerTest, AMalformedSavedPauseIsRetired) {
  deployer_->SetPauseStore(store_.get());
  for (const char* text : {R"({"api": {"service": "api", "release": "2"}})", R"({"api": 7})",
                           R"([1, 2])", R"({"api": {"service": "api", "release)"}) {
    ASSERT_TRUE(store_->SetMeta("deploy.paused", text).ok());
    config::Project project;
    project.services["api"] = old_;
    std::string log;
    deployer_->RestorePaused(project, [&](const std::string& line) { log += line + "\n"; });
    EXPECT_EQ(deployer_->Job("api"), nullptr) << text;
    EXPECT_FALSE(log.empty()) << text;
    EXPECT_EQ(log.find('\n'), log.size() - 1) << "one line: " << log;
    auto saved = store_->GetMeta("deploy.paused");
    ASSERT_TRUE(saved.ok() && saved->has_value());
    EXPECT_EQ(**saved, "{}") << text;
  }
}

TEST_P(DeployerTest, PauseOrResumeWithoutARunningDeployIsRefusedClearly) {
  Status none = deployer_->Pause("api", "alice", "");
  EXPECT_EQ(none.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(none.message(),
            "pause: no deploy of api is in progress (its last release, r1, succeeded)");
  Outcome o = Deploy(NewSpec());
  ASSERT_TRUE(o.status.ok()) << o.status.message();
  ASSERT_TRUE(RunUntil([&] { return deployer_->Job("api") == nullptr; }));
  Status done = deployer_->Pause("api", "alice", "");
  EXPECT_EQ(done.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(done.message(),
            "pause: no deploy of api is in progress (its last release, r2, succeeded)");
  Status resume = deployer_->Resume("api", "alice", "");
  EXPECT_EQ(resume.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(resume.message(),
            "resume: no deploy of api is in progress (its last release, r2, succeeded)");
  EXPECT_EQ(deployer_->Pause("web", "alice", "").message(), "pause: web is not running");
  // Running but not paused: resume says what it is doing.
  config::Service next = NewSpec();
  next.image = "app:3";
  StartDeploy(next);
  ASSERT_TRUE(RunUntil([&] { return AtHoldPoint(deployer_->Job("api"), GetParam()); }));
  Status running = deployer_->Resume("api", "alice", "");
  EXPECT_EQ(running.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(running.message().find("resume: the deploy of api r3 is not paused (it is "),
            std::string::npos)
      << running.message();
  // Rolling back: not paused.
  std::optional<Outcome> rb;
  deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
  if (deployer_->Job("api") && !IsTerminal(deployer_->Job("api")->state()) &&
      GetParam() != DeployStrategy::kRecreate) {
    Status rolling = deployer_->Pause("api", "alice", "");
    EXPECT_NE(rolling.message().find("is rolling back; a rollback is not paused"),
              std::string::npos)
        << rolling.message();
  }
  ASSERT_TRUE(RunUntil([&] { return rb.has_value(); }));
}

TEST_P(DeployerTest, TrafficThatCannotGoBackFailsTheJobVisibly) {
  if (GetParam() == DeployStrategy::kRecreate) GTEST_SKIP() << "recreate moves no traffic";
  traffic_.error_rate["r2"] = 0.5;
  traffic_.fail_clear = 10;
  Outcome o = Deploy(NewSpec());
  ASSERT_FALSE(o.status.ok());
  EXPECT_NE(o.status.message().find("failed: proxy: publishing failed"), std::string::npos)
      << o.status.message();
  EXPECT_EQ(Status1(), "failed");
  EXPECT_EQ(traffic_.clear_calls, 3);  // tried three times
  nlohmann::json progress = deployer_->Progress(0);
  EXPECT_NE(progress.dump().find("moving traffic back to r1 failed"), std::string::npos);
}

TEST_P(DeployerTest, TrafficThatGoesBackOnARetryRollsBack) {
  if (GetParam() == DeployStrategy::kRecreate) GTEST_SKIP() << "recreate moves no traffic";
  traffic_.error_rate["r2"] = 0.5;
  traffic_.fail_clear = 1;
  Outcome o = Deploy(NewSpec());
  ASSERT_FALSE(o.status.ok());
  EXPECT_EQ(Status1(), "rolled-back");
  EXPECT_EQ(traffic_.clear_calls, 2);
}

INSTANTIATE_TEST_SUITE_P(Strategies, DeployerTest,
                         ::testing::Values(DeployStrategy::kBlueGreen, DeployStrategy::kCanary,
                                           DeployStrategy::kRolling, DeployStrategy::kRecreate),
                         [](const ::testing::TestParamInfo<DeployStrategy>& i) {
                           std::string n(config::DeployStrategyName(i.param));
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

// --- rolling specifics ------------------------------------------------------------------

class RollingTest : public DeployerTest {};

TEST_P(RollingTest, ToleratesFailuresUpToMaxFailureRatio) {
  config::Service spec = NewSpec();
  spec.update_config.max_failure_ratio = 0.4;
  spec.update_config.failure_action = config::FailureAction::kRollback;
  groups_->bad_instances = 1;  // one replica of the new set crashes
  Outcome o = Deploy(spec);
  // 1 of 3 tolerated at each batch (the same crashed instance): the rollout completes with it
  // recorded.
  const nlohmann::json n = Numbers2();
  EXPECT_EQ(n.value("failed_instances", 0), 1) << n.dump() << o.status.message();
  EXPECT_NE(deployer_->Progress(0).dump().find("tolerating 1 failed of 3 replicas"),
            std::string::npos);
}

TEST_P(RollingTest, RollbackConfigRestoresInBatches) {
  config::Service spec = NewSpec();
  spec.update_config.parallelism = 2;
  spec.update_config.order = config::UpdateOrder::kStartFirst;
  spec.rollback_config.parallelism = 1;
  spec.rollback_config.order = config::UpdateOrder::kStartFirst;
  spec.rollback_config.delay = Duration(200);
  traffic_.error_rate["r2"] = 0.5;
  Outcome o = Deploy(spec);
  ASSERT_FALSE(o.status.ok());
  EXPECT_EQ(Status1(), "rolled-back") << o.status.message();
  // Two old replicas left with the first batch come back one at a time.
  std::vector<std::string> grow;
  for (const std::string& l : groups_->log) {
    if (l.rfind("resize r1 ", 0) == 0) grow.push_back(l);
  }
  ASSERT_GE(grow.size(), 3u);
  EXPECT_EQ(grow[0], "resize r1 1");  // the forward batch
  EXPECT_EQ(grow[1], "resize r1 2");  // rollback batch 1
  EXPECT_EQ(grow[2], "resize r1 3");  // rollback batch 2
  EXPECT_NE(deployer_->Progress(0).dump().find("rollback: 1 of 3 old replicas back"),
            std::string::npos);
  EXPECT_TRUE(RunUntil([&] { return ServesOnlyOld(); }));
}

TEST_P(RollingTest, WithoutRollbackConfigEveryOldReplicaComesBackAtOnce) {
  config::Service spec = NewSpec();
  spec.update_config.parallelism = 2;
  spec.update_config.order = config::UpdateOrder::kStartFirst;
  traffic_.error_rate["r2"] = 0.5;
  Outcome o = Deploy(spec);
  ASSERT_FALSE(o.status.ok());
  std::vector<std::string> grow;
  for (const std::string& l : groups_->log) {
    if (l.rfind("resize r1 ", 0) == 0) grow.push_back(l);
  }
  ASSERT_EQ(grow.size(), 2u);
  EXPECT_EQ(grow[1], "resize r1 3");
  EXPECT_EQ(Status1(), "rolled-back");
}

INSTANTIATE_TEST_SUITE_P(Rolling, RollingTest, ::testing::Values(DeployStrategy::kRolling));

// --- the state machine ---------------------------------------------------------------------

class StatesTest : public DeployerTest {};

TEST_P(StatesTest, EveryStateOfTheJobMachineIsReached) {
  std::set<JobState> seen;
  auto run = [&](config::Service spec) {
    StartDeploy(spec);
    for (int i = 0; i < 20'000 && !outcome_; ++i) {
      const JobRunner* j = deployer_->Job("api");
      const bool command =
          j && (j->state() == JobState::kPreHooks || j->state() == JobState::kSmokeTest ||
                j->state() == JobState::kPostHook);
      if (command) {
        loop_->RunOnce(Duration(5));  // a real child process: real time, not the fake clock's
        continue;
      }
      loop_->RunOnce(Duration(0));
      clock_.AdvanceForTest(Duration(10));
    }
    ASSERT_TRUE(outcome_.has_value());
    const std::vector<Transition> path = deployer_->LastJobPath("api");
    ASSERT_FALSE(path.empty());
    for (const Transition& t : path) {
      seen.insert(t.from);
      seen.insert(t.to);
    }
    ExpectValidPath();
  };
  int image = 2;
  auto next = [&](DeployStrategy s) {
    config::Service spec = Spec("app:" + std::to_string(image++), 3, s);
    return spec;
  };
  // blue-green with smoke and post hooks: starting, smoke, shifting, watching, promoting,
  // post-hook, succeeded.
  config::Service bg = next(DeployStrategy::kBlueGreen);
  bg.deploy.smoke = {"true"};
  bg.deploy.post_hook = {"true"};
  ASSERT_NO_FATAL_FAILURE(run(bg));
  // rolling: resizing, waiting; then a breach: rolling-back, rolled-back.
  config::Service rolling = next(DeployStrategy::kRolling);
  ASSERT_NO_FATAL_FAILURE(run(rolling));
  traffic_.error_rate["r4"] = 0.5;
  ASSERT_NO_FATAL_FAILURE(run(next(DeployStrategy::kRolling)));
  traffic_.error_rate.clear();
  // rolling with failure_action pause: paused.
  groups_->behaviour = NewSet::kUnhealthy;
  config::Service paused = next(DeployStrategy::kRolling);
  paused.update_config.failure_action = config::FailureAction::kPause;
  ASSERT_NO_FATAL_FAILURE(run(paused));
  groups_->behaviour = NewSet::kReady;
  // It holds until rolled back (or resumed): its path is complete once it ends.
  ASSERT_NE(deployer_->Job("api"), nullptr);
  std::optional<Outcome> rb;
  deployer_->Rollback("api", 0, [&](Outcome o) { rb = std::move(o); });
  for (int i = 0; i < 20'000 && deployer_->Job("api") != nullptr; ++i) {
    loop_->RunOnce(Duration(0));
    clock_.AdvanceForTest(Duration(10));
  }
  ASSERT_EQ(deployer_->Job("api"), nullptr);
  for (const Transition& t : deployer_->LastJobPath("api")) {
    seen.insert(t.from);
    seen.insert(t.to);
  }
  // recreate: replacing; a failing pre hook: failed.
  ASSERT_NO_FATAL_FAILURE(run(next(DeployStrategy::kRecreate)));
  config::Service hook = next(DeployStrategy::kBlueGreen);
  config::HookStep step;
  step.command = {"false"};
  hook.deploy.pre_hook = {step};
  ASSERT_NO_FATAL_FAILURE(run(hook));
  for (int s = 0; s < kJobStateCount; ++s) {
    EXPECT_TRUE(seen.count(static_cast<JobState>(s)))
        << "never reached: " << JobStateName(static_cast<JobState>(s));
  }
}

INSTANTIATE_TEST_SUITE_P(All, StatesTest, ::testing::Values(DeployStrategy::kBlueGreen));

TEST(StrategyTest, EveryStrategyNameHasAnImplementation) {
  for (size_t i = 0; i < config::DeployStrategies().size(); ++i) {
    auto kind = static_cast<DeployStrategy>(i);
    auto s = MakeStrategy(kind, StrategyInput{});
    ASSERT_NE(s, nullptr) << config::DeployStrategies()[i];
    EXPECT_EQ(s->kind(), kind);
    EXPECT_EQ(config::ParseDeployStrategy(config::DeployStrategies()[i]), kind);
  }
  EXPECT_FALSE(config::ParseDeployStrategy("yolo").has_value());
}

}  // namespace
}  // namespace slipway::deploy
