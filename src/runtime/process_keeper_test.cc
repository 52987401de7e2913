// What lets a service outlive its daemon (process_keeper.h): pipes parked on spawn and dropped
// at exit, enlarged pipes, and adoption of a process with its buffered output and exit status.
#include "runtime/process_keeper.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/instance.h"
#include "runtime/process.h"
#include "runtime/test_util.h"

namespace slipway::runtime {
namespace {

using testing::RunUntil;

// Holds dups of what is parked, as the keeper does; exits come from our own waitpid (the
// test's children are ours, where an adopted service's would be the keeper's).
class FakeKeeper : public ProcessKeeper {
 public:
  Status Park(const std::string& key, const std::vector<int>& fds) override {
    std::vector<net::UniqueFd>& held = parked[key];
    held.clear();
    for (int fd : fds) held.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    ++parks;
    return Status::OK();
  }
  Result<std::vector<net::UniqueFd>> Take(const std::string& key) override {
    auto it = parked.find(key);
    if (it == parked.end()) return NotFound("nothing held under " + key);
    std::vector<net::UniqueFd> out;
    for (const auto& fd : it->second) out.emplace_back(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    return out;
  }
  void Drop(const std::string& key) override {
    parked.erase(key);
    dropped.push_back(key);
  }
  std::optional<int> ExitOf(pid_t pid) override {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    return std::nullopt;
  }

  std::map<std::string, std::vector<net::UniqueFd>> parked;
  std::vector<std::string> dropped;
  int parks = 0;
};

class ProcessKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = net::EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(l).value();
  }

  // Forks `sh -c script` with its stdout/stderr on pipes whose read ends are returned.
  pid_t Fork(const std::string& script, net::UniqueFd* out, net::UniqueFd* err) {
    int o[2], e[2];
    EXPECT_EQ(::pipe2(o, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(e, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::dup2(o[1], 1);
      ::dup2(e[1], 2);
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(o[1]);
    ::close(e[1]);
    *out = net::UniqueFd(o[0]);
    *err = net::UniqueFd(e[0]);
    return pid;
  }

  std::unique_ptr<net::EventLoop> loop_;
  FakeKeeper keeper_;
};

TEST_F(ProcessKeeperTest, AnInstanceParksItsPipesAndDropsThemWhenItsProcessEnds) {
  InstanceSpec spec;
  spec.service = "api";
  spec.set = "r3";
  spec.index = 2;
  spec.process.argv = {"sh", "-c", "echo hello; sleep 0.1"};
  spec.process.env = {{"PATH", "/usr/bin:/bin"}};
  Instance inst(loop_.get(), spec, nullptr, {});
  inst.SetProcessKeeper(&keeper_);
  ASSERT_TRUE(inst.Start().ok());
  const std::string key = Instance::PipeKey("api", "r3", 2, inst.pid());
  EXPECT_EQ(key, "api/r3/2/" + std::to_string(inst.pid()));
  ASSERT_EQ(keeper_.parked.count(key), 1u);
  EXPECT_EQ(keeper_.parked[key].size(), 2u);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return inst.state() == InstanceState::kExited; }));
  EXPECT_EQ(keeper_.parked.count(key), 0u);
  EXPECT_EQ(keeper_.dropped, std::vector<std::string>{key});
  EXPECT_EQ(Instance::PipeKey("api", "", 1, 7), "api/-/1/7");
}

TEST_F(ProcessKeeperTest, SpawnedPipesAreEnlargedForTheGap) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "sleep 5"};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  auto p = Process::Spawn(loop_.get(), spec, nullptr, nullptr);
  ASSERT_TRUE(p.ok()) << p.status().message();
  // Best effort: the kernel may refuse beyond the user's pipe budget, never below the default.
  EXPECT_GE(::fcntl((*p)->stdout_fd(), F_GETPIPE_SZ), 64 * 1024);
  if (::geteuid() == 0) {
    EXPECT_EQ(::fcntl((*p)->stdout_fd(), F_GETPIPE_SZ), Process::kStdoutPipeBytes);
    EXPECT_EQ(::fcntl((*p)->stderr_fd(), F_GETPIPE_SZ), Process::kStderrPipeBytes);
  }
}

TEST_F(ProcessKeeperTest, AdoptReadsWhatWasWrittenBeforeAndAfterAndGetsTheExitStatus) {
  net::UniqueFd out, err;
  pid_t pid =
      Fork("echo written-in-the-gap; sleep 0.2; echo after; echo oops >&2; exit 4", &out, &err);
  ASSERT_GT(pid, 0);
  // Nobody reads for a while: the lines wait in the pipe.
  ::usleep(100'000);
  uint64_t start = ProcessStartTime(pid);
  ASSERT_NE(start, 0u);
  std::vector<std::pair<bool, std::string>> lines;
  std::optional<ExitStatus> exit;
  auto p = Process::Adopt(
      loop_.get(), pid, start, std::move(out), std::move(err),
      [&](bool is_stderr, std::string_view l) { lines.emplace_back(is_stderr, std::string(l)); },
      [&](ExitStatus st) { exit = st; }, [&](pid_t q) { return keeper_.ExitOf(q); });
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE((*p)->adopted());
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return exit.has_value(); }));
  EXPECT_EQ(exit->code, 4);
  EXPECT_TRUE(exit->known);
  std::vector<std::string> stdout_lines, stderr_lines;
  for (const auto& [is_stderr, l] : lines) (is_stderr ? stderr_lines : stdout_lines).push_back(l);
  EXPECT_EQ(stdout_lines, (std::vector<std::string>{"written-in-the-gap", "after"}));
  EXPECT_EQ(stderr_lines, std::vector<std::string>{"oops"});
}

TEST_F(ProcessKeeperTest, AdoptRefusesAReusedPidAndBadArguments) {
  net::UniqueFd out, err;
  pid_t pid = Fork("sleep 5", &out, &err);
  uint64_t start = ProcessStartTime(pid);
  auto nothing = [](pid_t) { return std::optional<int>(); };
  auto wrong = Process::Adopt(loop_.get(), pid, start + 1, net::UniqueFd(), net::UniqueFd(),
                              nullptr, nullptr, nothing);
  EXPECT_EQ(wrong.status().code(), StatusCode::kNotFound) << wrong.status().message();
  EXPECT_FALSE(Process::Adopt(loop_.get(), 0, start, {}, {}, nullptr, nullptr, nothing).ok());
  EXPECT_FALSE(Process::Adopt(loop_.get(), pid, 0, {}, {}, nullptr, nullptr, nothing).ok());
  EXPECT_FALSE(Process::Adopt(loop_.get(), pid, start, {}, {}, nullptr, nullptr, nullptr).ok());
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  auto gone = Process::Adopt(loop_.get(), pid, start, {}, {}, nullptr, nullptr, nothing);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
}

TEST_F(ProcessKeeperTest, AnInstanceWithoutParkedPipesIsNotAdopted) {
  InstanceSpec spec;
  spec.service = "api";
  spec.index = 1;
  Instance without(loop_.get(), spec, nullptr, {});
  AdoptedProcess ap{::getpid(), ProcessStartTime(::getpid()), 0, {}};
  EXPECT_EQ(without.Adopt(ap).code(), StatusCode::kFailedPrecondition);
  Instance nothing_parked(loop_.get(), spec, nullptr, {});
  nothing_parked.SetProcessKeeper(&keeper_);
  EXPECT_FALSE(nothing_parked.Adopt(ap).ok());
  EXPECT_EQ(nothing_parked.state(), InstanceState::kCreated);
}

TEST_F(ProcessKeeperTest, AnAdoptedInstanceKeepsItsRestartCountAndStopsLikeAnyOther) {
  net::UniqueFd out, err;
  pid_t pid = Fork("trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done", &out, &err);
  ASSERT_TRUE(keeper_.Park(Instance::PipeKey("api", "", 1, pid), {out.get(), err.get()}).ok());
  out.Reset();
  err.Reset();
  InstanceSpec spec;
  spec.service = "api";
  spec.index = 1;
  spec.stop_grace = Duration(5'000);
  Instance inst(loop_.get(), spec, nullptr, {});
  inst.SetProcessKeeper(&keeper_);
  AdoptedProcess ap{pid, ProcessStartTime(pid), 3, loop_->Now()};
  ASSERT_TRUE(inst.Adopt(ap).ok());
  EXPECT_EQ(inst.state(), InstanceState::kRunning);
  EXPECT_EQ(inst.restarts(), 3);
  EXPECT_EQ(inst.pid(), pid);
  EXPECT_TRUE(inst.adopted());
  bool stopped = false;
  inst.Stop([&] { stopped = true; });
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return stopped; }));
  EXPECT_EQ(inst.state(), InstanceState::kExited);
  ASSERT_TRUE(inst.last_exit().has_value());
  EXPECT_TRUE(inst.last_exit()->known);
  EXPECT_EQ(keeper_.parked.count(Instance::PipeKey("api", "", 1, pid)), 0u) << "dropped";
}

}  // namespace
}  // namespace slipway::runtime
