#include "runtime/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/test_util.h"

namespace slipway::runtime {
namespace {

using testing::PidGone;
using testing::RunUntil;

struct Captured {
  std::vector<std::pair<bool, std::string>> lines;
  std::optional<ExitStatus> exit;
};

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = net::EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(l).value();
  }

  ProcessSpec Sh(const std::string& script) {
    ProcessSpec spec;
    spec.argv = {"sh", "-c", script};
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    return spec;
  }

  std::unique_ptr<Process> SpawnCapture(const ProcessSpec& spec, Captured* c) {
    auto p = Process::Spawn(
        loop_.get(), spec,
        [c](bool is_stderr, std::string_view line) {
          c->lines.emplace_back(is_stderr, std::string(line));
        },
        [c](ExitStatus st) { c->exit = st; });
    EXPECT_TRUE(p.ok()) << p.status().message();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  std::unique_ptr<net::EventLoop> loop_;
};

TEST_F(ProcessTest, CapturesLinesWithStderrFlagAndPartialLastLine) {
  Captured c;
  auto p =
      SpawnCapture(Sh("echo one; echo two >&2; printf 'three\\r\\nfour'; printf tail >&2"), &c);
  ASSERT_TRUE(p);
  EXPECT_GT(p->pid(), 0);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  EXPECT_TRUE(c.exit->success());
  EXPECT_FALSE(p->running());
  std::vector<std::string> out, err;
  for (auto& [is_err, line] : c.lines) (is_err ? err : out).push_back(line);
  EXPECT_EQ(out, (std::vector<std::string>{"one", "three", "four"}));
  EXPECT_EQ(err, (std::vector<std::string>{"two", "tail"}));
}

TEST_F(ProcessTest, OverlongLinesAreSplit) {
  Captured c;
  // 40000 'x' then a newline: 16384 + 16384 + 7232.
  auto p = SpawnCapture(Sh("head -c 40000 /dev/zero | tr '\\0' x; echo; echo end"), &c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  ASSERT_EQ(c.lines.size(), 4u);
  EXPECT_EQ(c.lines[0].second.size(), Process::kMaxLineBytes);
  EXPECT_EQ(c.lines[1].second.size(), Process::kMaxLineBytes);
  EXPECT_EQ(c.lines[2].second.size(), 40000 - 2 * Process::kMaxLineBytes);
  EXPECT_EQ(c.lines[3].second, "end");
}

TEST_F(ProcessTest, ExitCodesAndSignals) {
  Captured a, b;
  auto p1 = SpawnCapture(Sh("exit 3"), &a);
  auto p2 = SpawnCapture(Sh("kill -9 $$"), &b);
  ASSERT_TRUE(p1 && p2);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return a.exit && b.exit; }));
  EXPECT_FALSE(a.exit->success());
  EXPECT_EQ(a.exit->code, 3);
  EXPECT_EQ(a.exit->ToString(), "exited with code 3");
  EXPECT_TRUE(b.exit->signaled);
  EXPECT_EQ(b.exit->signal, SIGKILL);
  EXPECT_EQ(b.exit->ToString(), "killed by SIGKILL");
}

TEST_F(ProcessTest, EnvironmentAndCwdAreExactlyTheSpec) {
  Captured c;
  ProcessSpec spec = Sh("echo \"$FOO|$HOME|$(pwd)\"");
  spec.env["FOO"] = "bar baz";
  spec.cwd = "/tmp";
  auto p = SpawnCapture(spec, &c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0].second, "bar baz||/tmp");
}

// The child joins ProcessSpec::cgroup before exec by writing "0" to its cgroup.procs; a group
// it cannot join fails the spawn with the group's name. (A plain folder stands in for the
// cgroup here: the write lands in a regular file.)
TEST_F(ProcessTest, JoinsItsCgroupBeforeExec) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("slipway-cg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cgroup.procs") << "";
  Captured c;
  ProcessSpec spec = Sh("echo ran");
  spec.cgroup = dir;
  auto p = SpawnCapture(spec, &c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  std::ifstream in(dir / "cgroup.procs");
  std::string written;
  std::getline(in, written);
  EXPECT_EQ(written, "0");
  ASSERT_EQ(c.lines.size(), 1u);

  spec.cgroup = dir / "missing";
  auto r = Process::Spawn(loop_.get(), spec, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot run \"sh\": join cgroup " + spec.cgroup.string() +
                                      ": No such file or directory");
  std::filesystem::remove_all(dir);
}

TEST_F(ProcessTest, SpawnErrorsComeBackAsStatus) {
  ProcessSpec missing;
  missing.argv = {"pyhton", "app.py"};
  missing.env = {{"PATH", "/usr/bin:/bin"}};
  auto r = Process::Spawn(loop_.get(), missing, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot run \"pyhton\": No such file or directory");

  ProcessSpec abs = missing;
  abs.argv = {"/nonexistent/bin/tool"};
  r = Process::Spawn(loop_.get(), abs, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "cannot run \"/nonexistent/bin/tool\": No such file or directory");

  ProcessSpec bad_cwd = Sh("true");
  bad_cwd.cwd = "/nonexistent/dir";
  r = Process::Spawn(loop_.get(), bad_cwd, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "cannot run \"sh\": chdir /nonexistent/dir: No such file or directory");

  ProcessSpec bad_user = Sh("true");
  bad_user.user = "no-such-user-here";
  r = Process::Spawn(loop_.get(), bad_user, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot run \"sh\": unknown user \"no-such-user-here\"");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
}

TEST_F(ProcessTest, RunsAsAnotherUserWhenRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  Captured c;
  ProcessSpec spec = Sh("id -u; id -g");
  spec.user = "65534:65534";
  auto p = SpawnCapture(spec, &c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0].second, "65534");
  EXPECT_EQ(c.lines[1].second, "65534");
}

// Reads the pid a child wrote to `path`, waiting for it to appear.
pid_t ReadPidFile(net::EventLoop* loop, const std::string& path) {
  pid_t pid = 0;
  RunUntil(loop, [&] {
    std::ifstream f(path);
    return static_cast<bool>(f >> pid) && pid > 0;
  });
  return pid;
}

TEST_F(ProcessTest, StopEscalatesToKillForTheWholeGroup) {
  std::string pidfile = ::testing::TempDir() + "/grandchild." + std::to_string(getpid());
  unlink(pidfile.c_str());
  Captured c;
  // The shell ignores TERM (and so does its sleep, which inherits the ignored disposition).
  auto p = SpawnCapture(Sh("trap '' TERM; sleep 30 & echo $! > " + pidfile + "; wait"), &c);
  ASSERT_TRUE(p);
  pid_t grandchild = ReadPidFile(loop_.get(), pidfile);
  ASSERT_GT(grandchild, 0);
  auto t0 = std::chrono::steady_clock::now();
  p->Stop(SIGTERM, Duration(300));
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  EXPECT_TRUE(c.exit->signaled);
  EXPECT_EQ(c.exit->signal, SIGKILL);
  // The grandchild was in the group: killed too (it is reaped by init; poll until gone).
  EXPECT_TRUE(RunUntil(loop_.get(), [&] { return PidGone(grandchild); }));
  unlink(pidfile.c_str());
}

TEST_F(ProcessTest, StopWithCooperativeChildEndsBeforeGrace) {
  Captured c;
  auto p = SpawnCapture(Sh("trap 'echo bye; exit 0' TERM; echo ready; sleep 30 & wait"), &c);
  ASSERT_TRUE(p);
  // The trap is installed once "ready" is out.
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return !c.lines.empty(); }));
  auto t0 = std::chrono::steady_clock::now();
  p->Stop(SIGTERM, Duration(10'000));
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(3000));
  EXPECT_TRUE(c.exit->success()) << c.exit->ToString();
  ASSERT_FALSE(c.lines.empty());
  EXPECT_EQ(c.lines.back().second, "bye");
}

TEST_F(ProcessTest, LeftoverGroupMembersAreKilledWhenTheLeaderExits) {
  std::string pidfile = ::testing::TempDir() + "/orphan." + std::to_string(getpid());
  unlink(pidfile.c_str());
  Captured c;
  auto p = SpawnCapture(Sh("sleep 30 >/dev/null 2>&1 & echo $! > " + pidfile), &c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return c.exit.has_value(); }));
  pid_t orphan = ReadPidFile(loop_.get(), pidfile);
  ASSERT_GT(orphan, 0);
  EXPECT_TRUE(RunUntil(loop_.get(), [&] { return PidGone(orphan); }));
  unlink(pidfile.c_str());
}

TEST_F(ProcessTest, DestructorKillsAndReapsTheGroup) {
  Captured c;
  auto p = SpawnCapture(Sh("sleep 30"), &c);
  ASSERT_TRUE(p);
  pid_t pid = p->pid();
  p.reset();
  EXPECT_TRUE(PidGone(pid));  // reaped: not even a zombie left
  EXPECT_FALSE(c.exit.has_value());
}

TEST_F(ProcessTest, OnExitMayDestroyTheProcess) {
  std::unique_ptr<Process> p;
  bool exited = false;
  auto r = Process::Spawn(
      loop_.get(), Sh("echo hi"), [](bool, std::string_view) {},
      [&](ExitStatus) {
        p.reset();
        exited = true;
      });
  ASSERT_TRUE(r.ok());
  p = std::move(r).value();
  ASSERT_TRUE(RunUntil(loop_.get(), [&] { return exited; }));
  EXPECT_EQ(p, nullptr);
}

TEST_F(ProcessTest, ManyLinesArriveInOrder) {
  Captured c;
  auto p = SpawnCapture(Sh("i=0; while [ $i -lt 5000 ]; do echo line$i; i=$((i+1)); done"), &c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(RunUntil(
      loop_.get(), [&] { return c.exit.has_value(); }, Duration(10'000)));
  ASSERT_EQ(c.lines.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(c.lines[i].second, "line" + std::to_string(i));
}

}  // namespace
}  // namespace slipway::runtime
