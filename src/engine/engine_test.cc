// The engine over a FakeHost (engine/fake_host.h) on a FakeClock loop: processes run until
// the test ends them, probes answer what the test says, time moves only when RunUntil moves
// it, so every test is hermetic and takes milliseconds. Real store and log store in a scratch
// folder. The e2e tests (tests/) run real processes.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "base/log.h"
#include "engine/fake_host.h"
#include "engine/spec_hash.h"
#include "net/socket.h"

namespace slipway::engine {
namespace {

config::Service Host(const std::string& name, int published = 0) {
  config::Service s;
  s.name = name;
  s.command = {"/bin/true"};
  s.loc = {"compose.yaml", 2, 3};
  if (published > 0) {
    config::PortMapping p;
    p.host_ip = "127.0.0.1";
    p.published = published;
    p.target = 8080;
    p.loc = {"compose.yaml", 4, 7};
    s.ports.push_back(p);
  }
  return s;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-engine-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    loop_ = std::move(net::EventLoop::Create(&clock_)).value();
    store_ = std::move(store::Store::Open(dir_ / "state.db", &clock_)).value();
    logs_ = std::make_unique<runtime::LogStore>(dir_ / "logs", &clock_);
    engine_ = std::make_unique<Engine>(loop_.get(), store_.get(), logs_.get(), Options());
  }
  EngineOptions Options() {
    EngineOptions o;
    o.host = &host_;
    return o;
  }
  void TearDown() override {
    engine_.reset();
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs the loop, moving the fake clock 10 ms per turn, until `pred` holds or `max` of fake
  // time passed (bounded: tests never hang on it).
  bool RunUntil(const std::function<bool()>& pred, Duration max = Duration(10'000)) {
    for (Duration waited{0}; !pred(); waited += Duration(10)) {
      if (waited > max) return false;
      loop_->RunOnce(Duration(0));
      clock_.AdvanceForTest(Duration(10));
    }
    return true;
  }
  // Lets `d` of fake time pass.
  void Pass(Duration d) {
    RunUntil([] { return false; }, d);
  }
  Status UpAll(std::vector<std::string> services = {}) {
    std::optional<Status> result;
    engine_->Up(std::move(services), UpOptions{}, [&](Status st) { result = st; });
    if (!RunUntil([&] { return result.has_value(); })) return DeadlineExceeded("up");
    return *result;
  }
  // service → pid of its first running instance (0 when none runs).
  std::map<std::string, int64_t> Pids() {
    std::map<std::string, int64_t> out;
    for (const PsRow& row : engine_->Ps()) {
      if (!out.count(row.service)) out[row.service] = 0;
      if (row.state == PsState::kRunning && out[row.service] == 0) out[row.service] = row.pid;
    }
    return out;
  }
  bool AllRunning(const std::vector<std::string>& names) {
    auto pids = Pids();
    for (const auto& n : names) {
      if (pids[n] == 0) return false;
    }
    return true;
  }
  std::vector<store::Event> Events(const std::string& service) {
    auto e = store_->Events(0, {service}, 0);
    return e.ok() ? *e : std::vector<store::Event>{};
  }
  // Events of `kind`; every stored kind is read back through ParseEventKind, so a name the
  // engine does not know fails the test.
  static size_t Count(const std::vector<store::Event>& events, EventKind kind) {
    size_t n = 0;
    for (const auto& e : events) {
      Result<EventKind> k = ParseEventKind(e.kind);
      EXPECT_TRUE(k.ok()) << k.status().message();
      n += k.ok() && *k == kind ? 1 : 0;
    }
    return n;
  }
  config::Service Sleeper(const std::string& name) {
    config::Service s = Host(name);
    s.command = {"/bin/sleep", "60"};
    s.working_dir = dir_;
    s.stop_grace_period = Duration(2000);
    return s;
  }

  FakeClock clock_;
  FakeHost host_;
  std::filesystem::path dir_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runtime::LogStore> logs_;
  std::unique_ptr<Engine> engine_;
};

// A host service with limits where no cgroup can be had: it runs, one warning per service
// says why (as an event and for `up`'s answer), and a restart does not repeat it.
TEST_F(EngineTest, LimitsThatCannotApplyToAHostProcessWarnOncePerService) {
  const std::filesystem::path fake = dir_ / "machine";
  std::filesystem::create_directories(fake / "proc/self");
  std::ofstream(fake / "proc/self/mountinfo") << "26 1 0:5 / /proc rw - proc proc rw\n";
  EngineOptions opts = Options();
  opts.probe_cgroups = [fake] { return runtime::CgroupHost::Probe(fake); };
  engine_ = std::make_unique<Engine>(loop_.get(), store_.get(), logs_.get(), opts);
  config::Project p;
  p.name = "app";
  config::Service api = Sleeper("api");
  api.resources.memory_bytes = int64_t{256} << 20;
  api.resources.pids = 10;
  p.services["api"] = api;
  p.services["db"] = Sleeper("db");  // no limits: no warning
  engine_->SetProject(p);
  ASSERT_TRUE(UpAll().ok());
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"api", "db"}); }));
  std::vector<std::string> w = engine_->TakeWarnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "services.api: deploy.resources.limits (memory 256MiB, pids 10) not applied to the "
            "host process: this machine has no cgroup v2 hierarchy mounted");
  EXPECT_EQ(Count(Events("api"), EventKind::kWarning), 1u);
  EXPECT_TRUE(engine_->TakeWarnings().empty());
  std::optional<Status> restarted;
  engine_->Restart({"api"}, [&](Status st) { restarted = st; });
  ASSERT_TRUE(RunUntil([&] { return restarted.has_value(); }));
  EXPECT_TRUE(engine_->TakeWarnings().empty());
  EXPECT_EQ(engine_->HostLimitsProblem(), "this machine has no cgroup v2 hierarchy mounted");
  bool stopped = false;
  engine_->Stop({}, [&] { stopped = true; });
  ASSERT_TRUE(RunUntil([&] { return stopped; }));
}

TEST_F(EngineTest, AProjectWhosePortIsTakenIsNotInstalled) {
  config::Project first;
  first.name = "t";
  first.services["web"] = Host("web");
  ASSERT_TRUE(engine_->SetProjectIfStartable(first, {}).ok());

  auto busy = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(busy.ok());
  config::Project next = first;
  next.services["db"] = Host("db", *net::LocalPort(busy->get()));
  Status st = engine_->SetProjectIfStartable(next, {});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.message();
  EXPECT_NE(st.message().find("already in use"), std::string::npos) << st.message();
  EXPECT_EQ(engine_->project().services.count("db"), 0u) << "the previous project stays";

  // Only the named services are checked: `up web` does not trip over db's port.
  EXPECT_TRUE(engine_->SetProjectIfStartable(next, {"web"}).ok());
  EXPECT_EQ(engine_->project().services.count("db"), 1u);
}

TEST_F(EngineTest, ACycleOrAnUnknownServiceIsRefusedAsBadInput) {
  config::Project first;
  first.name = "t";
  first.services["web"] = Host("web");
  ASSERT_TRUE(engine_->SetProjectIfStartable(first, {}).ok());
  config::Project cyclic = first;
  cyclic.services["a"] = Host("a");
  cyclic.services["b"] = Host("b");
  cyclic.services["a"].depends_on.push_back({.service = "b", .required = true});
  cyclic.services["b"].depends_on.push_back({.service = "a", .required = true});
  Status st = engine_->SetProjectIfStartable(cyclic, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput) << st.message();
  EXPECT_EQ(engine_->project().services.size(), 1u);
  st = engine_->SetProjectIfStartable(first, {"nope"});
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput) << st.message();
  EXPECT_FALSE(engine_->Busy());
}

// db is restarted by hand: api (restart: true) follows once db runs again; worker (no
// restart) keeps its process; db's crash restarts by its policy restart nothing (as compose).
TEST_F(EngineTest, DependentsAskingForItRestartAfterTheirDependencyIsRestarted) {
  config::Project p;
  p.name = "t";
  p.services["db"] = Sleeper("db");
  p.services["api"] = Sleeper("api");
  p.services["api"].depends_on.push_back({.service = "db", .required = true, .restart = true});
  p.services["worker"] = Sleeper("worker");
  p.services["worker"].depends_on.push_back({.service = "db", .required = true});
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"db", "api", "worker"}); }));
  auto before = Pids();

  std::optional<Status> restarted;
  engine_->Restart({"db"}, [&](Status st) { restarted = st; });
  ASSERT_TRUE(RunUntil([&] { return restarted.has_value(); }));
  ASSERT_TRUE(restarted->ok()) << restarted->message();
  ASSERT_TRUE(RunUntil([&] {
    auto now = Pids();
    return now["api"] != 0 && now["api"] != before["api"] && now["db"] != 0;
  })) << "api was not restarted after db";
  auto after = Pids();
  EXPECT_NE(after["db"], before["db"]);
  EXPECT_EQ(after["worker"], before["worker"]) << "worker has no depends_on restart";
  // api restarted after db had started again, and once.
  auto db = Events("db"), api = Events("api");
  ASSERT_EQ(Count(api, EventKind::kRestarting), 1u);
  int64_t db_started = 0, api_restarting = 0;
  for (const auto& e : db) {
    if (e.kind == "started") db_started = e.id;
  }
  for (const auto& e : api) {
    if (e.kind == "restarting") api_restarting = e.id;
  }
  EXPECT_LT(db_started, api_restarting);
  // Settled: no second restart comes.
  Pass(Duration(300));
  EXPECT_EQ(Count(Events("api"), EventKind::kRestarting), 1u);
  EXPECT_FALSE(engine_->Busy());
}

TEST_F(EngineTest, ACrashRestartByThePolicyRestartsNoDependent) {
  config::Project p;
  p.name = "t";
  p.services["db"] = Sleeper("db");
  p.services["db"].restart.mode = config::RestartPolicy::Mode::kAlways;
  p.services["api"] = Sleeper("api");
  p.services["api"].depends_on.push_back({.service = "db", .required = true, .restart = true});
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"api", "db"}); }));
  const int64_t api = Pids()["api"];
  ASSERT_TRUE(host_.Crash(static_cast<pid_t>(Pids()["db"]), 3));
  ASSERT_TRUE(RunUntil([&] { return Count(Events("db"), EventKind::kRestarted) >= 1; }));
  Pass(Duration(200));
  EXPECT_EQ(Pids()["api"], api);
  EXPECT_EQ(Count(Events("api"), EventKind::kRestarting), 0u);
}

// The dependent's own condition decides when: completed_successfully waits for the job's exit.
TEST_F(EngineTest, TheDependentsRestartWaitsForItsOwnCondition) {
  config::Project p;
  p.name = "t";
  p.services["migrate"] = Sleeper("migrate");
  p.services["migrate"].command = {"/bin/sh", "-c", "sleep 0.4"};
  // The job's runs end successfully 400 ms after they start.
  host_.on_spawn = [this](const FakeHost::Proc& proc) {
    if (proc.service() != "migrate") return;
    const pid_t pid = proc.pid;
    loop_->RunAfter(Duration(400), [this, pid] { host_.Exit(pid, runtime::ExitStatus{}); });
  };
  p.services["api"] = Sleeper("api");
  p.services["api"].depends_on.push_back(
      {.service = "migrate",
       .condition = config::DependsCondition::kCompletedSuccessfully,
       .required = true,
       .restart = true});
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"api"}); }));
  const int64_t api = Pids()["api"];
  // An `up` that re-runs the job (its definition changed) counts as a restart of it.
  p.services["migrate"].command = {"/bin/sh", "-c", "sleep 0.5; echo again"};
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {"migrate"}).ok());
  ASSERT_TRUE(UpAll({"migrate"}).ok());
  ASSERT_TRUE(RunUntil([&] {
    auto now = Pids();
    return now["api"] != 0 && now["api"] != api;
  }));
  int64_t exited = 0, restarting = 0;
  for (const auto& e : Events("migrate")) {
    if (e.kind == "exited") exited = e.id;
  }
  for (const auto& e : Events("api")) {
    if (e.kind == "restarting") restarting = e.id;
  }
  EXPECT_GT(exited, 0);
  EXPECT_LT(exited, restarting) << "api restarted before migrate completed";
}

// A deploy's promotion replaces the dependency's instances: the dependent restarts too.
TEST_F(EngineTest, APromotedGroupRestartsTheDependentsThatAskForIt) {
  config::Project p;
  p.name = "t";
  p.services["db"] = Sleeper("db");
  p.services["api"] = Sleeper("api");
  p.services["api"].depends_on.push_back({.service = "db", .required = true, .restart = true});
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"db", "api"}); }));
  const int64_t api = Pids()["api"];
  config::Service next = p.services["db"];
  next.command = {"/bin/sleep", "61"};
  ASSERT_TRUE(engine_->StartGroup("db", next, 7).ok());
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("db", Engine::SetName(7)).ready == 1; }));
  EXPECT_EQ(Pids()["api"], api) << "a side group alone changes nothing";
  ASSERT_TRUE(engine_->Promote("db", Engine::SetName(7)).ok());
  ASSERT_TRUE(RunUntil([&] {
    auto now = Pids();
    return now["api"] != 0 && now["api"] != api;
  }));
  EXPECT_EQ(Count(Events("api"), EventKind::kRestarting), 1u);
}

// --- Groups: the primary group and a deploy's side groups are one kind of thing; which one is
// primary is a name. These drive processes through up, a side group, a
// promotion and a stop (fake processes), and read what ps, the endpoints and the group states
// say.

class GroupsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    project_.name = "t";
    project_.services["web"] = Sleeper("web");
    project_.services["idle"] = Sleeper("idle");  // never started
    ASSERT_TRUE(engine_->SetProjectIfStartable(project_, {}).ok());
    ASSERT_TRUE(UpAll({"web"}).ok());
    next_ = project_.services["web"];
    next_.environment["VERSION"] = "2";
    next_.command = {"/bin/sleep", "61"};
  }
  std::vector<PsRow> Rows(const std::string& service) {
    std::vector<PsRow> out;
    for (PsRow& r : engine_->Ps()) {
      if (r.service == service) out.push_back(std::move(r));
    }
    return out;
  }
  const ServiceEndpoints* Endpoints(const std::vector<ServiceEndpoints>& all,
                                    const std::string& service) {
    for (const auto& ep : all) {
      if (ep.service == service) return &ep;
    }
    return nullptr;
  }

  config::Project project_;
  config::Service next_;
};

TEST_F(GroupsTest, PsHasARowPerInstanceOfEveryGroupPrimaryFirst) {
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 2).ok());
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r7").running == 2; }));
  std::vector<PsRow> rows = Rows("web");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].set, "current");
  EXPECT_EQ(rows[0].release, 0);
  EXPECT_EQ(rows[0].instance, 1);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(rows[i].set, "r7");
    EXPECT_EQ(rows[i].release, 7);
    EXPECT_EQ(rows[i].instance, static_cast<int>(i));
  }
  for (const PsRow& r : rows) {
    EXPECT_EQ(r.state, PsState::kRunning);
    EXPECT_GT(r.pid, 0);
    EXPECT_GT(r.port, 0);
    EXPECT_FALSE(r.health.has_value()) << "no healthcheck, no health";
  }
  std::vector<PsRow> idle = Rows("idle");
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].state, PsState::kNotStarted);
  EXPECT_EQ(idle[0].instance, 0);
  EXPECT_EQ(idle[0].pid, 0);
  EXPECT_EQ(PsStateName(idle[0].state), "not started");
}

TEST_F(GroupsTest, StartingASetThatExistsIsRefused) {
  EXPECT_EQ(engine_->StartGroup("web", next_, 0).code(), StatusCode::kAlreadyExists)
      << "release 0 is the primary set \"current\"";
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 1).ok());
  EXPECT_EQ(engine_->StartGroup("web", next_, 7, 1).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(engine_->StartGroup("idle", next_, 8, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_->ResizeGroup("web", "r9", 1, Duration(0), [] {}).code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->Promote("web", "r9").code(), StatusCode::kNotFound);
  EXPECT_FALSE(engine_->GroupState("web", "r9").exists);
}

TEST_F(GroupsTest, PromoteMakesTheSideGroupPrimaryAndKeepsTheOldOneRoutable) {
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 1).ok());
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r7").ready == 1; }));
  EXPECT_FALSE(engine_->GroupState("web", "r7").primary);
  EXPECT_TRUE(engine_->GroupState("web", "current").primary);
  EXPECT_EQ(engine_->PrimarySet("web"), "current");

  ASSERT_TRUE(engine_->Promote("web", "r7").ok());
  EXPECT_EQ(engine_->PrimarySet("web"), "r7");
  EXPECT_EQ(engine_->PrimaryRelease("web"), 7);
  ASSERT_NE(engine_->RunningSpec("web"), nullptr);
  EXPECT_EQ(engine_->RunningSpec("web")->environment.at("VERSION"), "2");
  EXPECT_EQ(engine_->project().services.at("web").environment.at("VERSION"), "2")
      << "the engine's definition is what the primary group runs";
  GroupStatus now = engine_->GroupState("web", "r7");
  GroupStatus old = engine_->GroupState("web", "current");
  EXPECT_TRUE(now.exists && now.primary);
  EXPECT_TRUE(old.exists && !old.primary);
  EXPECT_EQ(old.ready, 1) << "the former primary group still runs";

  const auto all = engine_->Endpoints();
  const ServiceEndpoints* ep = Endpoints(all, "web");
  ASSERT_NE(ep, nullptr);
  ASSERT_EQ(ep->groups.size(), 2u);
  EXPECT_EQ(ep->groups[0].set, "r7");
  EXPECT_TRUE(ep->groups[0].primary);
  EXPECT_EQ(ep->groups[0].release, 7);
  EXPECT_EQ(ep->groups[1].set, "current");
  EXPECT_FALSE(ep->groups[1].primary);
  ASSERT_EQ(ep->instances.size(), 1u);
  EXPECT_EQ(ep->instances[0].first, "web.r7.1") << "the primary group's instances route";
  ASSERT_EQ(ep->groups[1].instances.size(), 1u);
  EXPECT_EQ(ep->groups[1].instances[0].first, "web.current.1");

  std::vector<PsRow> rows = Rows("web");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].set, "r7") << "ps lists the primary group first";
  EXPECT_EQ(rows[1].set, "current");

  // Promoting the primary again changes nothing.
  EXPECT_TRUE(engine_->Promote("web", "r7").ok());
  EXPECT_EQ(engine_->PrimarySet("web"), "r7");
}

TEST_F(GroupsTest, StopGroupStopsASideGroupButNeverThePrimary) {
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 2).ok());
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r7").running == 2; }));
  EXPECT_EQ(engine_->StopGroup("web", "current", Duration(0), [] {}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_->StopGroup("web", "r9", Duration(0), [] {}).code(), StatusCode::kNotFound);
  bool stopped = false;
  ASSERT_TRUE(engine_->StopGroup("web", "r7", Duration(0), [&] { stopped = true; }).ok());
  // Out of the routes at once, before its processes are gone.
  const auto during = engine_->Endpoints();
  ASSERT_NE(Endpoints(during, "web"), nullptr);
  for (const auto& g : Endpoints(during, "web")->groups) {
    if (g.set == "r7") {
      EXPECT_TRUE(g.instances.empty());
    }
  }
  ASSERT_TRUE(RunUntil([&] { return stopped; }));
  EXPECT_FALSE(engine_->GroupState("web", "r7").exists);
  EXPECT_EQ(Rows("web").size(), 1u);
  EXPECT_EQ(engine_->GroupState("web", "current").ready, 1);
  const auto after = engine_->Endpoints();
  EXPECT_EQ(Endpoints(after, "web")->groups.size(), 1u);
}

TEST_F(GroupsTest, ResizeGrowsAndShrinksAGroup) {
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 1).ok());
  bool grown = false;
  ASSERT_TRUE(engine_->ResizeGroup("web", "r7", 3, Duration(0), [&] { grown = true; }).ok());
  ASSERT_TRUE(RunUntil([&] { return grown && engine_->GroupState("web", "r7").running == 3; }));
  bool shrunk = false;
  ASSERT_TRUE(engine_->ResizeGroup("web", "r7", 1, Duration(0), [&] { shrunk = true; }).ok());
  EXPECT_EQ(engine_->GroupState("web", "r7").instances, 1) << "the leaving ones do not count";
  ASSERT_TRUE(RunUntil([&] { return shrunk; }));
  std::vector<PsRow> rows = Rows("web");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].instance, 1) << "the highest instances leave";
  // The primary group resizes the same way.
  bool primary_grown = false;
  ASSERT_TRUE(
      engine_->ResizeGroup("web", "current", 2, Duration(0), [&] { primary_grown = true; }).ok());
  ASSERT_TRUE(RunUntil(
      [&] { return primary_grown && engine_->GroupState("web", "current").running == 2; }));
}

TEST_F(GroupsTest, StoppingTheServiceStopsEveryGroupAndARestartKeepsThePromotedRelease) {
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 1).ok());
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r7").ready == 1; }));
  ASSERT_TRUE(engine_->Promote("web", "r7").ok());
  bool stopped = false;
  engine_->Stop({"web"}, [&] { stopped = true; });
  ASSERT_TRUE(RunUntil([&] { return stopped; }));
  EXPECT_EQ(engine_->PrimarySet("web"), "") << "not started";
  EXPECT_FALSE(engine_->GroupState("web", "current").exists);
  std::vector<PsRow> rows = Rows("web");
  ASSERT_EQ(rows.size(), 1u) << "the side group is gone; the primary's stopped instance stays";
  EXPECT_EQ(rows[0].set, "r7");
  EXPECT_EQ(rows[0].pid, 0);
  EXPECT_NE(rows[0].state, PsState::kRunning);
  const auto eps = engine_->Endpoints();
  EXPECT_FALSE(Endpoints(eps, "web")->started);
  EXPECT_TRUE(Endpoints(eps, "web")->instances.empty());

  // Started again with the promoted definition: the same release, not a new one.
  ASSERT_TRUE(UpAll({"web"}).ok());
  EXPECT_EQ(engine_->PrimarySet("web"), "r7");
  EXPECT_EQ(engine_->PrimaryRelease("web"), 7);
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"web"}); }));
}

// The re-adoption snapshot keeps its format (a daemon upgraded by a handover reads what the
// previous binary wrote): every group with its set, release, spec hash and primary flag.
TEST_F(GroupsTest, TheSnapshotListsEveryGroupWithThePrimaryFlag) {
  ASSERT_TRUE(engine_->StartGroup("web", next_, 7, 1).ok());
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r7").running == 1; }));
  auto meta = store_->GetMeta("engine.running");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  nlohmann::json j = nlohmann::json::parse(**meta);
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["services"], nlohmann::json::array({"web"}));
  ASSERT_EQ(j["groups"].size(), 2u);
  EXPECT_EQ(j["groups"][0]["set"], "current");
  EXPECT_EQ(j["groups"][0]["primary"], true);
  EXPECT_EQ(j["groups"][1]["set"], "r7");
  EXPECT_EQ(j["groups"][1]["release"], 7);
  EXPECT_EQ(j["groups"][1]["primary"], false);
  EXPECT_EQ(j["groups"][1]["instances"][0]["made_for"], "r7");
  EXPECT_EQ(j["processes"].size(), 2u);
  ASSERT_TRUE(engine_->Promote("web", "r7").ok());
  j = nlohmann::json::parse(**store_->GetMeta("engine.running"));
  EXPECT_EQ(j["groups"][0]["set"], "r7");
  EXPECT_EQ(j["groups"][0]["primary"], true);
  EXPECT_EQ(j["groups"][1]["primary"], false);
}

// A snapshot in the format the previous binary wrote (src/engine/testdata/, its processes long
// gone, no keeper): each group is taken back with its set and release, primary and side, and
// its instances are started again by their restart policy; a service no longer in the project
// is dropped.
TEST_F(EngineTest, ASnapshotInThePreviousFormatIsReadBack) {
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  p.services["web"].restart.mode = config::RestartPolicy::Mode::kAlways;
  engine_->SetProject(p);
  std::ifstream in(std::string(SLIPWAY_SOURCE_DIR) + "/src/engine/testdata/engine_running_v2.json");
  ASSERT_TRUE(in.good());
  nlohmann::json snap = nlohmann::json::parse(in);
  for (auto& g : snap["groups"]) g["spec_hash"] = SpecHash(p.services["web"]);
  ASSERT_TRUE(store_->SetMeta("engine.running", snap.dump()).ok());
  std::optional<Status> result;
  engine_->Recover([&](Status st, RecoverReport) { result = st; });
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }, Duration(30'000)));
  ASSERT_TRUE(result->ok()) << result->message();
  EXPECT_EQ(engine_->PrimarySet("web"), "r4");
  EXPECT_EQ(engine_->PrimaryRelease("web"), 4);
  GroupStatus side = engine_->GroupState("web", "r5");
  EXPECT_TRUE(side.exists);
  EXPECT_FALSE(side.primary);
  EXPECT_EQ(side.release, 5);
  ASSERT_TRUE(RunUntil([&] {
    return engine_->GroupState("web", "r4").running == 1 &&
           engine_->GroupState("web", "r5").running == 1;
  }));
  std::vector<PsRow> rows = engine_->Ps();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].set, "r4");
  EXPECT_EQ(rows[0].restarts, 3) << "the saved count, plus the restart";
  EXPECT_EQ(rows[1].set, "r5");
}

// A damaged snapshot (a crash mid-write, a disk fault, a hand) must not stop the daemon: a row
// with a key of the wrong type, out of range or oversized is left out with one warning line
// naming the row and the key, and the good rows are taken back as usual. Nothing throws.
TEST_F(EngineTest, ADamagedSnapshotLeavesOutItsBadRowsAndKeepsTheGoodOnes) {
  config::Project p;
  p.name = "t";
  for (const char* name : {"web", "api", "db"}) {
    p.services[name] = Sleeper(name);
    p.services[name].restart.mode = config::RestartPolicy::Mode::kAlways;
  }
  engine_->SetProject(p);
  const std::string hash = SpecHash(p.services["web"]);
  auto instance = [](int index) {
    return nlohmann::json{{"index", index},     {"port", 0},    {"restarts", 0},
                          {"state", "running"}, {"health", ""}, {"made_for", ""}};
  };
  nlohmann::json bad_state = instance(2);
  bad_state["state"] = 3;
  nlohmann::json huge_port = instance(3);
  huge_port["port"] = 70000;
  nlohmann::json huge_index = instance(4);
  huge_index["index"] = uint64_t{1} << 40;
  nlohmann::json bad_exit = instance(5);
  bad_exit["exit"] = {{"code", "1"}};
  auto group = [&](const std::string& service, nlohmann::json set, nlohmann::json release,
                   bool primary, nlohmann::json instances) {
    return nlohmann::json{
        {"service", service}, {"set", std::move(set)}, {"release", std::move(release)},
        {"spec_hash", hash},  {"primary", primary},    {"instances", std::move(instances)}};
  };
  using nlohmann::json;
  json snap = {
      {"version", 2},
      {"services", json::array({"web", "api", 7, "db"})},
      {"processes", json::array({"x", json::array({-5, 3}), json::array({uint64_t{1} << 40, 1})})},
      {"groups",
       json::array({group("web", "r4", 4, true,
                          json::array({instance(1), bad_state, huge_port, huge_index, bad_exit,
                                       "not a row"})),
                    group("api", "r2", "2", true, json::array({instance(1)})),
                    group("db", std::string(100'000, 'r'), 1, true, json::array({instance(1)})), 17,
                    group("web", "r5", 5, false, 7),
                    group("web", "r9", 4, false, json::array({instance(1)}))})}};
  ASSERT_TRUE(store_->SetMeta("engine.running", snap.dump()).ok());

  auto sink = std::make_shared<logging::StringSink>();
  auto previous = logging::Default().SetSink(sink);
  std::optional<Status> result;
  engine_->Recover([&](Status st, RecoverReport) { result = st; });
  bool done = RunUntil([&] { return result.has_value(); }, Duration(30'000));
  logging::Default().SetSink(previous);
  ASSERT_TRUE(done);
  ASSERT_TRUE(result->ok()) << result->message();

  // web's good group and its one good instance are back, started again by their policy.
  EXPECT_EQ(engine_->PrimarySet("web"), "r4");
  EXPECT_EQ(engine_->PrimaryRelease("web"), 4);
  EXPECT_FALSE(engine_->GroupState("web", "r5").exists) << "its instances were not a list";
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r4").running == 1; }));
  EXPECT_EQ(engine_->GroupState("web", "r4").instances, 1);
  // api's and db's groups were left out: they start again from nothing, as a fresh `up`.
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"web", "api", "db"}); }));
  EXPECT_EQ(engine_->PrimaryRelease("api"), 0);
  EXPECT_EQ(engine_->PrimaryRelease("db"), 0);

  const std::string& log = sink->text();
  for (const char* expected :
       {"groups[0] (web).instances[1]: \"state\"", "groups[0] (web).instances[2]: \"port\"",
        "groups[0] (web).instances[3]: \"index\"", "groups[0] (web).instances[4]: \"exit\"",
        "groups[0] (web).instances[5]: expected an object", "groups[1]: \"release\"",
        "groups[2]: \"set\"", "groups[3]: expected an object", "groups[4]: \"instances\"",
        "groups[5]: \"set\": names release 9", "services[2]", "processes[0]", "processes[1]",
        "processes[2]"}) {
    EXPECT_NE(log.find(expected), std::string::npos) << expected << " in:\n" << log;
  }
  EXPECT_EQ(log.find(std::string(1000, 'r')), std::string::npos) << "the oversized value is not "
                                                                    "repeated in the log";
}

// A snapshot cut short (the daemon killed while the store wrote it): one warning, nothing is
// taken over, and the engine goes on.
TEST_F(EngineTest, ATruncatedSnapshotTakesNothingOver) {
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  engine_->SetProject(p);
  const std::string text =
      R"({"version":2,"services":["web"],"processes":[],"groups":[{"service":"web","set":"r4",)";
  ASSERT_TRUE(store_->SetMeta("engine.running", text).ok());
  auto sink = std::make_shared<logging::StringSink>();
  auto previous = logging::Default().SetSink(sink);
  std::optional<Status> result;
  RecoverReport report;
  engine_->Recover([&](Status st, RecoverReport r) {
    result = st;
    report = r;
  });
  bool done = RunUntil([&] { return result.has_value(); });
  logging::Default().SetSink(previous);
  ASSERT_TRUE(done);
  EXPECT_TRUE(result->ok()) << result->message();
  EXPECT_EQ(report.adopted, 0);
  EXPECT_EQ(engine_->PrimarySet("web"), "");
  EXPECT_NE(sink->text().find("not a JSON object"), std::string::npos) << sink->text();
}

// The daemon's keeper as the engine sees it: it holds output pipes for every process (the fake
// host reads nothing from them) and reaped none.
class FakeKeeper final : public runtime::ProcessKeeper {
 public:
  Status Park(const std::string&, const std::vector<int>&) override { return Status::OK(); }
  Result<std::vector<net::UniqueFd>> Take(const std::string& key) override {
    taken.push_back(key);
    std::vector<net::UniqueFd> fds;
    fds.emplace_back();
    fds.emplace_back();
    return fds;
  }
  void Drop(const std::string& key) override { dropped.push_back(key); }
  std::optional<int> ExitOf(pid_t) override { return std::nullopt; }
  std::vector<std::string> taken, dropped;
};

// After a daemon restart, an instance whose process still runs (same pid, same start time) is
// adopted, not started again: its pid, PORT and restart count are kept, and its uptime goes on
// from the process's real start (the host's Age(), not this daemon's start). One whose pid now
// names another process (a different start time) is not adopted.
TEST_F(EngineTest, AdoptingAProcessKeepsItsPidPortRestartsAndAge) {
  FakeKeeper keeper;
  EngineOptions o = Options();
  o.process_keeper = &keeper;
  engine_ = std::make_unique<Engine>(loop_.get(), store_.get(), logs_.get(), o);
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  p.services["web"].replicas = 2;
  p.services["web"].restart.mode = config::RestartPolicy::Mode::kAlways;
  engine_->SetProject(p);

  // What the dead daemon left running: two processes of web.
  runtime::ProcessSpec spec;
  spec.argv = {"/bin/sleep", "60"};
  spec.env = {{"SLIPWAY_SERVICE", "web"}};
  auto first = host_.Spawn(loop_.get(), spec, nullptr, nullptr);
  auto second = host_.Spawn(loop_.get(), spec, nullptr, nullptr);
  ASSERT_TRUE(first.ok() && second.ok());
  const pid_t pid = (*first)->pid();
  const pid_t reused = (*second)->pid();
  const uint64_t start = host_.StartTime(pid);
  host_.ages[start] = Duration(90'000);
  auto row = [](int index, pid_t of, uint64_t started, int port) {
    return nlohmann::json{{"index", index},   {"port", port},  {"pid", of},
                          {"start", started}, {"restarts", 2}, {"state", "running"},
                          {"health", ""},     {"made_for", ""}};
  };
  nlohmann::json group = {{"service", "web"},
                          {"set", "r3"},
                          {"release", 3},
                          {"spec_hash", SpecHash(p.services["web"])},
                          {"primary", true}};
  group["instances"] = nlohmann::json::array(
      {row(1, pid, start, 4321), row(2, reused, host_.StartTime(reused) + 7, 4322)});
  nlohmann::json snap = {{"version", 2},
                         {"services", nlohmann::json::array({"web"})},
                         {"processes", nlohmann::json::array()},
                         {"groups", nlohmann::json::array({group})}};
  ASSERT_TRUE(store_->SetMeta("engine.running", snap.dump()).ok());
  const int spawns = host_.spawns();

  std::optional<Status> result;
  RecoverReport report;
  engine_->Recover([&](Status st, RecoverReport r) {
    result = st;
    report = r;
  });
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }, Duration(30'000)));
  ASSERT_TRUE(result->ok()) << result->message();
  EXPECT_EQ(report.adopted, 1);
  EXPECT_TRUE(host_.Find(pid)->adopted);
  EXPECT_FALSE(host_.Find(reused)->adopted) << "another process's start time: not ours";
  ASSERT_EQ(keeper.taken.size(), 1u);
  EXPECT_EQ(keeper.taken[0], runtime::Instance::PipeKey("web", "", 1, pid));

  std::optional<PsRow> adopted;
  for (const PsRow& r : engine_->Ps()) {
    if (r.instance == 1) adopted = r;
  }
  ASSERT_TRUE(adopted.has_value());
  EXPECT_EQ(adopted->state, PsState::kRunning);
  EXPECT_EQ(adopted->pid, pid);
  EXPECT_EQ(adopted->port, 4321);
  EXPECT_EQ(adopted->restarts, 2);
  EXPECT_EQ(adopted->release, 3);
  EXPECT_EQ(adopted->set, "r3");
  EXPECT_GE(adopted->uptime_s, 90.0) << "from the process's start, not the daemon's";
  EXPECT_LT(adopted->uptime_s, 100.0);
  EXPECT_EQ(Count(Events("web"), EventKind::kAdopted), 1u);
  // The instance whose process was not ours is started again by its policy, as a new spawn.
  ASSERT_TRUE(RunUntil([&] { return engine_->GroupState("web", "r3").running == 2; }));
  EXPECT_EQ(host_.spawns(), spawns + 1);
  Pass(Duration(5'000));
  EXPECT_GE(engine_->Ps()[0].uptime_s, 95.0) << "the adopted uptime goes on with the clock";
}

// --- The runtime seam: what the engine does with processes and probes, step by step.

// Each replica is spawned with its own PORT and instance number; ps and the events say so.
TEST_F(EngineTest, UpSpawnsEachReplicaWithItsEnvironment) {
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  p.services["web"].replicas = 2;
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  const std::vector<pid_t> pids = host_.Running("web");
  ASSERT_EQ(pids.size(), 2u);
  std::set<std::string> ports;
  for (size_t i = 0; i < pids.size(); ++i) {
    const FakeHost::Proc* proc = host_.Find(pids[i]);
    ASSERT_NE(proc, nullptr);
    EXPECT_EQ(proc->spec.argv, (std::vector<std::string>{"/bin/sleep", "60"}));
    EXPECT_EQ(proc->spec.env.at("SLIPWAY_INSTANCE"), std::to_string(i + 1));
    EXPECT_EQ(proc->spec.env.at("SLIPWAY_PROJECT"), "t");
    ports.insert(proc->spec.env.at("PORT"));
  }
  EXPECT_EQ(ports.size(), 2u) << "each replica has its own PORT";
  std::vector<PsRow> rows = engine_->Ps();
  ASSERT_EQ(rows.size(), 2u);
  for (const PsRow& r : rows) {
    EXPECT_EQ(r.state, PsState::kRunning);
    EXPECT_EQ(std::to_string(r.port), host_.Find(static_cast<pid_t>(r.pid))->spec.env.at("PORT"));
  }
  EXPECT_EQ(Count(Events("web"), EventKind::kStarted), 2u);
}

// A spawn that fails fails `up` with its reason, and ps says why.
TEST_F(EngineTest, ASpawnThatFailsFailsUpWithItsReason) {
  host_.spawn_result = [](const runtime::ProcessSpec&) {
    return InvalidInput("cannot run \"nope\": No such file or directory");
  };
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  Status st = UpAll();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot run \"nope\""), std::string::npos) << st.message();
  std::vector<PsRow> rows = engine_->Ps();
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0].state, PsState::kFailed);
  EXPECT_GE(Count(Events("web"), EventKind::kFailed), 1u);
}

// restart: always restarts after the backoff (250 ms, then 500 ms); on-failure:1 gives up at
// its limit; no leaves the instance exited.
TEST_F(EngineTest, TheRestartPolicyDecidesAfterACrash) {
  config::Project p;
  p.name = "t";
  p.services["always"] = Sleeper("always");
  p.services["always"].restart.mode = config::RestartPolicy::Mode::kAlways;
  p.services["once"] = Sleeper("once");
  p.services["once"].restart = {config::RestartPolicy::Mode::kOnFailure, 1, Duration(0)};
  p.services["never"] = Sleeper("never");
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  auto row = [&](const std::string& service) {
    for (const PsRow& r : engine_->Ps()) {
      if (r.service == service) return r;
    }
    return PsRow{};
  };

  const pid_t first = host_.Running("always").at(0);
  ASSERT_TRUE(host_.Crash(first, 2));
  EXPECT_EQ(row("always").state, PsState::kBackoff);
  Pass(Duration(200));
  EXPECT_TRUE(host_.Running("always").empty()) << "the backoff is 250 ms";
  ASSERT_TRUE(RunUntil([&] { return host_.Running("always").size() == 1; }, Duration(100)));
  EXPECT_EQ(row("always").restarts, 1);
  ASSERT_TRUE(host_.Crash(host_.Running("always").at(0), 2));
  Pass(Duration(400));
  EXPECT_TRUE(host_.Running("always").empty()) << "the second backoff is 500 ms";
  ASSERT_TRUE(RunUntil([&] { return host_.Running("always").size() == 1; }, Duration(200)));
  EXPECT_EQ(row("always").restarts, 2);

  ASSERT_TRUE(host_.Crash(host_.Running("once").at(0), 1));
  ASSERT_TRUE(RunUntil([&] { return host_.Running("once").size() == 1; }));
  ASSERT_TRUE(host_.Crash(host_.Running("once").at(0), 1));
  Pass(Duration(2000));
  EXPECT_TRUE(host_.Running("once").empty());
  EXPECT_EQ(row("once").state, PsState::kFailed) << "on-failure:1 reached its limit";

  ASSERT_TRUE(host_.Crash(host_.Running("never").at(0), 1));
  Pass(Duration(2000));
  EXPECT_TRUE(host_.Running("never").empty());
  EXPECT_EQ(row("never").state, PsState::kExited);
  EXPECT_EQ(row("never").exit, "exited with code 1");
}

// Probes drive the health state: starting (failures inside start_period do not count) →
// healthy at the first success (routed; `up --wait` returns) → unhealthy after `retries`
// counted failures (out of the routes) → healthy again on a success.
TEST_F(EngineTest, HealthFollowsTheProbes) {
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  config::Healthcheck& hc = p.services["web"].healthcheck;
  hc.kind = config::Healthcheck::Kind::kHttp;
  hc.http_path = "/health";
  hc.interval = Duration(1000);
  hc.timeout = Duration(500);
  hc.retries = 2;
  hc.start_period = Duration(10'000);
  bool healthy = false;
  host_.probe = [&](const health::ProbeTarget& t) {
    health::ProbeResult r;
    r.ok = healthy;
    r.output = healthy ? "HTTP 200" : "HTTP 503 on " + std::to_string(t.port);
    return r;
  };
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  std::optional<Status> up;
  UpOptions wait;
  wait.wait = true;
  wait.timeout = Duration(60'000);
  engine_->Up({}, wait, [&](Status st) { up = st; });
  auto routed = [&] {
    for (const auto& ep : engine_->Endpoints()) {
      if (ep.service == "web") return ep.instances.size();
    }
    return size_t{0};
  };
  Pass(Duration(3000));
  EXPECT_FALSE(up.has_value()) << "up --wait waits for health";
  EXPECT_EQ(engine_->Ps()[0].health, health::HealthState::kStarting);
  EXPECT_EQ(routed(), 0u);

  healthy = true;
  ASSERT_TRUE(RunUntil([&] { return up.has_value(); }));
  EXPECT_TRUE(up->ok()) << up->message();
  EXPECT_EQ(engine_->Ps()[0].health, health::HealthState::kHealthy);
  EXPECT_EQ(routed(), 1u);

  healthy = false;
  ASSERT_TRUE(RunUntil([&] { return engine_->Ps()[0].health == health::HealthState::kUnhealthy; },
                       Duration(5000)));
  EXPECT_EQ(routed(), 0u);
  EXPECT_EQ(Count(Events("web"), EventKind::kUnhealthy), 1u);
  EXPECT_EQ(engine_->GroupState("web", "current").unhealthy, 1);

  healthy = true;
  ASSERT_TRUE(RunUntil([&] { return engine_->Ps()[0].health == health::HealthState::kHealthy; },
                       Duration(2000)));
  EXPECT_EQ(routed(), 1u);
  EXPECT_GE(host_.probes(), 5);
}

// Stop sends the service's stop signal to each instance, then SIGKILL after its grace period
// when the process ignores it; `done` runs once every process is gone.
TEST_F(EngineTest, StopSignalsThenKillsAfterTheGracePeriod) {
  host_.exit_on_stop = false;  // the process ignores SIGTERM
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  p.services["web"].stop_signal = SIGINT;
  p.services["web"].stop_grace_period = Duration(2000);
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  const pid_t pid = host_.Running("web").at(0);
  bool stopped = false;
  engine_->Stop({}, [&] { stopped = true; });
  Pass(Duration(1900));
  EXPECT_FALSE(stopped);
  EXPECT_EQ(host_.Find(pid)->signals, std::vector<int>{SIGINT});
  ASSERT_TRUE(RunUntil([&] { return stopped; }, Duration(300)));
  EXPECT_EQ(host_.Find(pid)->signals, (std::vector<int>{SIGINT, SIGKILL}));
  EXPECT_EQ(engine_->Ps()[0].state, PsState::kExited);
  EXPECT_EQ(host_.spawns(), 1) << "a stop restarts nothing";
}

// A deploy's recreate names the release it runs: an unchanged spec started again as release
// 2 is release 2 in ps, its set and the endpoints (it used to stay release 1, since the spec
// hash had not changed); a plain restart afterwards keeps it.
TEST_F(EngineTest, ARecreateRunsTheReleaseItNamesEvenWithAnUnchangedSpec) {
  int64_t recorded = 0;
  engine_->SetReleaseRecorder(
      [&](const config::Service&, const std::string&) { return ++recorded; });
  config::Project p;
  p.name = "t";
  p.services["web"] = Sleeper("web");
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  EXPECT_EQ(engine_->PrimaryRelease("web"), 1);

  bool stopped = false;
  engine_->Stop({"web"}, [&] { stopped = true; });
  ASSERT_TRUE(RunUntil([&] { return stopped; }));
  engine_->SetServiceSpec(p.services["web"], 2);
  ASSERT_TRUE(UpAll({"web"}).ok());
  EXPECT_EQ(engine_->PrimaryRelease("web"), 2);
  EXPECT_EQ(engine_->PrimarySet("web"), "r2");
  ASSERT_EQ(engine_->Ps().size(), 1u);
  EXPECT_EQ(engine_->Ps()[0].release, 2);
  EXPECT_EQ(engine_->Ps()[0].set, "r2");
  EXPECT_EQ(recorded, 1) << "the recreate's release is the deploy's, not a new one";

  std::optional<Status> restarted;
  engine_->Restart({"web"}, [&](Status st) { restarted = st; });
  ASSERT_TRUE(RunUntil([&] { return restarted.has_value(); }));
  EXPECT_EQ(engine_->Ps()[0].release, 2) << "the pin was used once; the same spec stays r2";
  EXPECT_EQ(recorded, 1);
}

// The engine's closed sets have one name table each; the stored names are read back through
// the parse functions, which refuse (and name) anything else.
TEST(EngineNames, EventKindsRoundTripWithTheirStoredNames) {
  const std::map<EventKind, std::string> expected = {
      {EventKind::kStarted, "started"},       {EventKind::kRestarted, "restarted"},
      {EventKind::kExited, "exited"},         {EventKind::kFailed, "failed"},
      {EventKind::kStarting, "starting"},     {EventKind::kHealthy, "healthy"},
      {EventKind::kUnhealthy, "unhealthy"},   {EventKind::kWarning, "warning"},
      {EventKind::kRestarting, "restarting"}, {EventKind::kStopped, "stopped"},
      {EventKind::kAdopted, "adopted"},       {EventKind::kRecovered, "recovered"}};
  for (const auto& [kind, name] : expected) {
    EXPECT_EQ(EventKindName(kind), name);
    Result<EventKind> back = ParseEventKind(name);
    ASSERT_TRUE(back.ok()) << name;
    EXPECT_EQ(*back, kind) << name;
  }
  for (const std::string& bad : {std::string(""), std::string("Started"), std::string("deployed"),
                                 std::string("none"), std::string(100'000, 'x')}) {
    Result<EventKind> k = ParseEventKind(bad);
    ASSERT_FALSE(k.ok()) << bad.substr(0, 20);
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidInput);
    EXPECT_LT(k.status().message().size(), 400u) << "an oversized name is not repeated";
  }
  // The health kinds are the health module's own names.
  EXPECT_EQ(EventKindName(EventKind::kStarting),
            health::HealthStateName(health::HealthState::kStarting));
  EXPECT_EQ(EventKindName(EventKind::kHealthy),
            health::HealthStateName(health::HealthState::kHealthy));
  EXPECT_EQ(EventKindName(EventKind::kUnhealthy),
            health::HealthStateName(health::HealthState::kUnhealthy));
}

TEST(EngineNames, SetNamesRoundTripWithTheirRelease) {
  EXPECT_EQ(Engine::SetName(0), "current");
  EXPECT_EQ(Engine::SetName(7), "r7");
  for (int64_t release :
       {int64_t{0}, int64_t{1}, int64_t{42}, int64_t{9'223'372'036'854'775'807}}) {
    Result<int64_t> back = Engine::ParseSetName(Engine::SetName(release));
    ASSERT_TRUE(back.ok()) << release;
    EXPECT_EQ(*back, release);
  }
  for (const std::string& bad :
       {std::string(""), std::string("r"), std::string("r0"), std::string("r07"),
        std::string("r-1"), std::string("r1x"), std::string("R1"), std::string("Current"),
        std::string("r99999999999999999999"), std::string(100'000, 'r')}) {
    Result<int64_t> r = Engine::ParseSetName(bad);
    ASSERT_FALSE(r.ok()) << bad.substr(0, 20);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_LT(r.status().message().size(), 200u);
  }
}

}  // namespace
}  // namespace slipway::engine
