// Engine checks that must refuse before anything changes, and depends_on restart with real
// (sleeping) host processes. Real loop, store and log store in a scratch folder.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>

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
    loop_ = std::move(net::EventLoop::Create()).value();
    store_ = std::move(store::Store::Open(dir_ / "state.db", &clock_)).value();
    logs_ = std::make_unique<runtime::LogStore>(dir_ / "logs", &clock_);
    engine_ = std::make_unique<Engine>(loop_.get(), store_.get(), logs_.get(), EngineOptions{});
  }
  void TearDown() override {
    engine_.reset();
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs the loop until `pred` holds or `max` passes (bounded: tests never hang on it).
  bool RunUntil(const std::function<bool()>& pred, Duration max = Duration(10'000)) {
    const auto deadline = std::chrono::steady_clock::now() + max;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_->RunOnce(Duration(20));
    }
    return true;
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
    for (const auto& row : engine_->Ps()) {
      const std::string name = row.value("service", "");
      if (!out.count(name)) out[name] = 0;
      if (row.value("state", "") == "running" && out[name] == 0) out[name] = row.value("pid", 0);
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
  static size_t Count(const std::vector<store::Event>& events, const std::string& kind) {
    size_t n = 0;
    for (const auto& e : events) n += e.kind == kind ? 1 : 0;
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
  std::filesystem::path dir_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runtime::LogStore> logs_;
  std::unique_ptr<Engine> engine_;
};

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
  ASSERT_EQ(Count(api, "restarting"), 1u);
  int64_t db_started = 0, api_restarting = 0;
  for (const auto& e : db) {
    if (e.kind == "started") db_started = e.id;
  }
  for (const auto& e : api) {
    if (e.kind == "restarting") api_restarting = e.id;
  }
  EXPECT_LT(db_started, api_restarting);
  // Settled: no second restart comes.
  RunUntil([] { return false; }, Duration(300));
  EXPECT_EQ(Count(Events("api"), "restarting"), 1u);
  EXPECT_FALSE(engine_->Busy());
}

TEST_F(EngineTest, ACrashRestartByThePolicyRestartsNoDependent) {
  config::Project p;
  p.name = "t";
  p.services["db"] = Sleeper("db");
  p.services["db"].command = {"/bin/sh", "-c", "sleep 0.2; exit 3"};
  p.services["db"].restart.mode = config::RestartPolicy::Mode::kAlways;
  p.services["api"] = Sleeper("api");
  p.services["api"].depends_on.push_back({.service = "db", .required = true, .restart = true});
  ASSERT_TRUE(engine_->SetProjectIfStartable(p, {}).ok());
  ASSERT_TRUE(UpAll().ok());
  ASSERT_TRUE(RunUntil([&] { return AllRunning({"api"}); }));
  const int64_t api = Pids()["api"];
  ASSERT_TRUE(RunUntil([&] { return Count(Events("db"), "restarted") >= 1; }, Duration(15'000)));
  RunUntil([] { return false; }, Duration(200));
  EXPECT_EQ(Pids()["api"], api);
  EXPECT_EQ(Count(Events("api"), "restarting"), 0u);
}

// The dependent's own condition decides when: completed_successfully waits for the job's exit.
TEST_F(EngineTest, TheDependentsRestartWaitsForItsOwnCondition) {
  config::Project p;
  p.name = "t";
  p.services["migrate"] = Sleeper("migrate");
  p.services["migrate"].command = {"/bin/sh", "-c", "sleep 0.4"};
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
  ASSERT_TRUE(RunUntil([&] { return engine_->Group("db", Engine::SetName(7)).ready == 1; }));
  EXPECT_EQ(Pids()["api"], api) << "a side group alone changes nothing";
  ASSERT_TRUE(engine_->Promote("db", Engine::SetName(7)).ok());
  ASSERT_TRUE(RunUntil([&] {
    auto now = Pids();
    return now["api"] != 0 && now["api"] != api;
  }));
  EXPECT_EQ(Count(Events("api"), "restarting"), 1u);
}

}  // namespace
}  // namespace slipway::engine
