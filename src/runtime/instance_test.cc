#include "runtime/instance.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/test_util.h"

namespace slipway::runtime {
namespace {

using Mode = config::RestartPolicy::Mode;
using testing::PidGone;
using testing::RunUntil;

struct Events {
  int started = 0;
  std::vector<std::pair<ExitStatus, bool>> exits;
  std::vector<Status> spawn_errors;
};

Instance::Observer Record(Events* e) {
  Instance::Observer obs;
  obs.on_started = [e](Instance&) { ++e->started; };
  obs.on_exit = [e](Instance&, ExitStatus st, bool will_restart) {
    e->exits.emplace_back(st, will_restart);
  };
  obs.on_spawn_error = [e](Instance&, const Status& st) { e->spawn_errors.push_back(st); };
  return obs;
}

InstanceSpec ShSpec(const std::string& script, Mode mode, int max_attempts = 0) {
  InstanceSpec spec;
  spec.service = "api";
  spec.index = 2;
  spec.process.argv = {"sh", "-c", script};
  spec.process.env = {{"PATH", "/usr/bin:/bin"}};
  spec.restart.mode = mode;
  spec.restart.max_attempts = max_attempts;
  spec.backoff_initial = Duration(10);
  spec.backoff_max = Duration(40);
  return spec;
}

class InstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = net::EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(l).value();
  }
  std::unique_ptr<net::EventLoop> loop_;
};

TEST(RestartBackoffTest, DoublesUpToTheCapPlusPolicyDelay) {
  InstanceSpec spec;  // defaults: 250 ms doubling to 30 s
  EXPECT_EQ(RestartBackoff(spec, 0), Duration(250));
  EXPECT_EQ(RestartBackoff(spec, 1), Duration(500));
  EXPECT_EQ(RestartBackoff(spec, 6), Duration(16'000));
  EXPECT_EQ(RestartBackoff(spec, 7), Duration(30'000));
  EXPECT_EQ(RestartBackoff(spec, 1000), Duration(30'000));
  spec.restart.delay = Duration(5'000);
  EXPECT_EQ(RestartBackoff(spec, 0), Duration(5'250));
}

TEST_F(InstanceTest, PolicyNoEndsExitedWithTheExitCode) {
  Events e;
  LogStore logs(::testing::TempDir() + "/instlogs." + std::to_string(getpid()), Clock::Real());
  Instance inst(loop_.get(), ShSpec("echo out; echo err >&2; exit 3", Mode::kNo), &logs,
                Record(&e));
  ASSERT_TRUE(inst.Start().ok());
  EXPECT_EQ(inst.state(), InstanceState::kRunning);
  EXPECT_GT(inst.pid(), 0);
  EXPECT_EQ(e.started, 1);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return !e.exits.empty(); }));
  EXPECT_EQ(inst.state(), InstanceState::kExited);
  EXPECT_EQ(inst.last_exit()->code, 3);
  EXPECT_FALSE(e.exits[0].second);
  EXPECT_EQ(inst.restarts(), 0);
  auto lines = logs.Tail({"api"}, 0, 0);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].instance, 2);
  EXPECT_EQ(lines[0].is_stderr != lines[1].is_stderr, true);
  std::filesystem::remove_all(logs.dir());
}

TEST_F(InstanceTest, AlwaysRestartsEvenOnSuccess) {
  Events e;
  Instance inst(loop_.get(), ShSpec("exit 0", Mode::kAlways), nullptr, Record(&e));
  ASSERT_TRUE(inst.Start().ok());
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return e.started >= 4; }));
  EXPECT_GE(inst.restarts(), 3);
  for (auto& [st, will_restart] : e.exits) EXPECT_TRUE(will_restart);
  bool done = false;
  inst.Stop([&] { done = true; });
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return done; }));
  EXPECT_EQ(inst.state(), InstanceState::kExited);
}

TEST_F(InstanceTest, OnFailureStopsAfterNRestartsAndIgnoresSuccess) {
  Events e;
  Instance failing(loop_.get(), ShSpec("exit 1", Mode::kOnFailure, 2), nullptr, Record(&e));
  ASSERT_TRUE(failing.Start().ok());
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return failing.state() == InstanceState::kFailed; }));
  EXPECT_EQ(failing.restarts(), 2);
  EXPECT_EQ(e.started, 3);  // the first run and two restarts
  ASSERT_EQ(e.exits.size(), 3u);
  EXPECT_TRUE(e.exits[0].second);
  EXPECT_TRUE(e.exits[1].second);
  EXPECT_FALSE(e.exits[2].second);

  Events ok_events;
  Instance succeeding(loop_.get(), ShSpec("exit 0", Mode::kOnFailure, 2), nullptr,
                      Record(&ok_events));
  ASSERT_TRUE(succeeding.Start().ok());
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return !ok_events.exits.empty(); }));
  EXPECT_EQ(succeeding.state(), InstanceState::kExited);
  EXPECT_FALSE(ok_events.exits[0].second);
}

TEST_F(InstanceTest, UnlessStoppedRestartsUntilStopDuringBackoff) {
  Events e;
  InstanceSpec spec = ShSpec("exit 0", Mode::kUnlessStopped);
  spec.backoff_initial = Duration(60'000);  // stays in backoff
  spec.backoff_max = Duration(60'000);
  Instance inst(loop_.get(), spec, nullptr, Record(&e));
  ASSERT_TRUE(inst.Start().ok());
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return inst.state() == InstanceState::kBackoff; }));
  EXPECT_TRUE(e.exits[0].second);
  bool done = false;
  inst.Stop([&] { done = true; });
  EXPECT_TRUE(done);  // nothing ran: at once
  EXPECT_EQ(inst.state(), InstanceState::kExited);
}

TEST_F(InstanceTest, BackoffGrowsAndResetsAfterALongRun) {
  FakeClock clock;
  auto l = net::EventLoop::Create(&clock);
  ASSERT_TRUE(l.ok());
  auto loop = std::move(l).value();
  Events e;
  InstanceSpec spec = ShSpec("exit 1", Mode::kAlways);
  spec.backoff_initial = Duration(250);
  spec.backoff_max = Duration(1'000);
  spec.backoff_reset = Duration(10'000);
  spec.restart.delay = Duration(5);
  Instance inst(loop.get(), spec, nullptr, Record(&e));
  ASSERT_TRUE(inst.Start().ok());
  std::vector<int64_t> delays;
  for (int i = 0; i < 5; ++i) {
    size_t before = e.exits.size();
    ASSERT_TRUE(RunUntil(loop.get(), [&] { return e.exits.size() > before; }));
    ASSERT_EQ(inst.state(), InstanceState::kBackoff);
    Duration delay = std::chrono::duration_cast<Duration>(inst.next_restart_at() - clock.Now());
    delays.push_back(delay.count());
    clock.AdvanceForTest(delay - Duration(1));
    loop->RunOnce(Duration(0));
    EXPECT_EQ(inst.state(), InstanceState::kBackoff);  // not yet
    clock.AdvanceForTest(Duration(1));
    loop->RunOnce(Duration(0));
    ASSERT_EQ(inst.state(), InstanceState::kRunning);
    if (i == 3) clock.AdvanceForTest(Duration(10'000));  // this run counts as a long one
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{255, 505, 1005, 1005, 255}));
  EXPECT_EQ(inst.restarts(), 5);
}

TEST_F(InstanceTest, StopEscalatesAndPreventsRestart) {
  Events e;
  InstanceSpec spec = ShSpec("trap '' TERM; echo ready; sleep 30", Mode::kAlways);
  spec.stop_grace = Duration(200);
  LogStore logs(::testing::TempDir() + "/instlogs2." + std::to_string(getpid()), Clock::Real());
  Instance inst(loop_.get(), spec, &logs, Record(&e));
  ASSERT_TRUE(inst.Start().ok());
  pid_t pid = inst.pid();
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return !logs.Tail({}, 0, 0).empty(); }));
  int done = 0;
  inst.Stop([&] { ++done; });
  inst.Stop([&] { ++done; });  // a second waiter
  EXPECT_EQ(inst.state(), InstanceState::kStopping);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return done == 2; }));
  EXPECT_EQ(inst.state(), InstanceState::kExited);
  EXPECT_EQ(inst.last_exit()->signal, SIGKILL);
  ASSERT_EQ(e.exits.size(), 1u);
  EXPECT_FALSE(e.exits[0].second);
  EXPECT_TRUE(PidGone(pid));
  // Started again after a stop: a fresh run.
  ASSERT_TRUE(inst.Start().ok());
  EXPECT_EQ(inst.state(), InstanceState::kRunning);
  EXPECT_FALSE(inst.Start().ok());  // already running
  std::filesystem::remove_all(logs.dir());
}

TEST_F(InstanceTest, SpawnErrorsOnStartAndOnRestart) {
  Events e;
  InstanceSpec spec = ShSpec("", Mode::kAlways);
  spec.process.argv = {"pyhton", "app.py"};
  Instance bad(loop_.get(), spec, nullptr, Record(&e));
  Status st = bad.Start();
  EXPECT_EQ(st.message(), "api: cannot run \"pyhton\": No such file or directory");
  EXPECT_EQ(bad.state(), InstanceState::kFailed);
  EXPECT_EQ(e.started, 0);

  // A program that disappears between runs: the restart fails and says why.
  std::string exe = ::testing::TempDir() + "/vanishing." + std::to_string(getpid());
  std::filesystem::copy_file("/bin/true", exe, std::filesystem::copy_options::overwrite_existing);
  InstanceSpec vanish = ShSpec("", Mode::kAlways);
  vanish.process.argv = {exe};
  vanish.backoff_initial = vanish.backoff_max = Duration(50);
  Events e2;
  Instance inst(loop_.get(), vanish, nullptr, Record(&e2));
  ASSERT_TRUE(inst.Start().ok());
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return !e2.exits.empty(); }));
  std::filesystem::remove(exe);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return !e2.spawn_errors.empty(); }));
  EXPECT_EQ(inst.state(), InstanceState::kFailed);
  EXPECT_NE(e2.spawn_errors[0].message().find("No such file or directory"), std::string::npos);
}

TEST_F(InstanceTest, DestroyingARunningInstanceKillsItsGroup) {
  Events e;
  auto inst = std::make_unique<Instance>(loop_.get(), ShSpec("sleep 30", Mode::kAlways), nullptr,
                                         Record(&e));
  ASSERT_TRUE(inst->Start().ok());
  pid_t pid = inst->pid();
  inst.reset();
  EXPECT_TRUE(PidGone(pid));
  EXPECT_TRUE(e.exits.empty());
}

}  // namespace
}  // namespace slipway::runtime
