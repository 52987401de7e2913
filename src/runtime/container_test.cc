#include "runtime/container.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/instance.h"
#include "runtime/test_util.h"

namespace slipway::runtime {
namespace {

namespace fs = std::filesystem;
using testing::RunUntil;

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           (std::string("container.") + std::to_string(getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An executable shell script standing in for an engine CLI.
  std::string FakeEngine(const std::string& name, const std::string& body) {
    fs::path p = dir_ / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    chmod(p.c_str(), 0755);
    return p.string();
  }

  config::Service ApiService() {
    config::Service s;
    s.name = "api";
    s.image = "testimg:1";
    s.entrypoint = std::vector<std::string>{"/bin/sh", "-c"};
    s.command = std::vector<std::string>{"echo hi"};
    s.user = "1000";
    return s;
  }

  fs::path dir_;
};

TEST_F(ContainerTest, ContainerNamesAreSanitized) {
  EXPECT_EQ(ContainerEngine::ContainerName("shop", "api", 2), "slipway-shop-api-2");
  EXPECT_EQ(ContainerEngine::ContainerName("my shop", "a/b", 1), "slipway-my_shop-a_b-1");
}

TEST_F(ContainerTest, PodmanRunSpecCarriesTheRecipeFlags) {
  ContainerEngine engine("/usr/bin/podman", {"--root", "/s/root"});
  EXPECT_TRUE(engine.is_podman());
  auto spec = engine.BuildRunSpec("shop", ApiService(), 2, {{"PORT", "4000"}, {"A", "b c"}});
  std::vector<std::string> want = {
      "/usr/bin/podman", "--root", "/s/root", "run", "--rm", "--name", "slipway-shop-api-2",
      "--network=host", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit",
      "nproc=1024:1024", "--user", "1000", "--label", "slipway.project=shop", "--label",
      "slipway.service=api", "-e", "A=b c", "-e", "PORT=4000", "--entrypoint", "/bin/sh",
      "testimg:1", "-c", "echo hi"};
  EXPECT_EQ(spec.argv, want);
  EXPECT_TRUE(spec.env.count("PATH"));  // the CLI runs with the daemon's environment
}

TEST_F(ContainerTest, DockerRunSpecHasNoPodmanFlagsAndHandlesEmptyEntrypoint) {
  ContainerEngine engine("docker");
  EXPECT_FALSE(engine.is_podman());
  config::Service s = ApiService();
  s.user.clear();
  s.entrypoint = std::vector<std::string>{};
  s.command.reset();
  auto spec = engine.BuildRunSpec("shop", s, 1, {{"PORT", "1"}});
  std::vector<std::string> want = {
      "docker", "run", "--rm", "--name", "slipway-shop-api-1", "--network=host", "--label",
      "slipway.project=shop", "--label", "slipway.service=api", "-e", "PORT=1", "--entrypoint",
      "", "testimg:1"};
  EXPECT_EQ(spec.argv, want);
  EXPECT_EQ(engine.BuildRemoveSpec("x").argv, (std::vector<std::string>{"docker", "rm", "-f", "x"}));
}

TEST_F(ContainerTest, DetectSkipsMissingFailingAndHangingEngines) {
  std::string failing = FakeEngine("failing", "echo 'Cannot connect to the daemon' >&2; exit 1");
  std::string hanging = FakeEngine("hanging", "exec sleep 30");
  std::string working = FakeEngine("podman", "[ \"$1\" = --root ] && [ \"$3\" = info ] && exit 0; exit 9");
  auto none = ContainerEngine::Detect({"no-such-engine-here", failing, hanging}, {}, Duration(300));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  const std::string& msg = none.status().message();
  EXPECT_NE(msg.find("no-such-engine-here: not installed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exited with code 1: Cannot connect to the daemon"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did not finish within 300ms"), std::string::npos) << msg;

  auto found = ContainerEngine::Detect({failing, working}, {"--root", "/r"}, Duration(2'000));
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->binary(), working);
  EXPECT_TRUE(found->is_podman());
}

TEST_F(ContainerTest, RemoveTreatsAMissingContainerAsDone) {
  ContainerEngine gone(FakeEngine("docker", "echo \"Error: No such container: $3\" >&2; exit 1"));
  EXPECT_TRUE(gone.RemoveSync("slipway-x-y-1").ok());
  ContainerEngine broken(FakeEngine("docker2", "echo 'permission denied' >&2; exit 125"));
  Status st = broken.RemoveSync("slipway-x-y-1");
  EXPECT_EQ(st.message(),
            "remove container slipway-x-y-1: exited with code 125: permission denied");

  auto l = net::EventLoop::Create();
  ASSERT_TRUE(l.ok());
  std::optional<Status> async_result;
  gone.RemoveAsync(l->get(), "slipway-x-y-1", [&](Status s) { async_result = s; });
  ASSERT_TRUE(RunUntil(l->get(), [&] { return async_result.has_value(); }));
  EXPECT_TRUE(async_result->ok());
}

TEST_F(ContainerTest, RunSpecRunsUnderTheSupervisorLikeAProcess) {
  // A fake engine that prints what it was asked to run: the spec is an ordinary process.
  ContainerEngine engine(FakeEngine("docker", "for a in \"$@\"; do echo \"[$a]\"; done"));
  auto l = net::EventLoop::Create();
  ASSERT_TRUE(l.ok());
  LogStore logs(dir_ / "logs", Clock::Real());
  InstanceSpec spec;
  spec.service = "api";
  spec.process = engine.BuildRunSpec("shop", ApiService(), 1, {{"PORT", "4000"}});
  bool exited = false;
  Instance::Observer obs;
  obs.on_exit = [&](Instance&, ExitStatus, bool) { exited = true; };
  Instance inst(l->get(), spec, &logs, obs);
  ASSERT_TRUE(inst.Start().ok());
  ASSERT_TRUE(RunUntil(l->get(), [&] { return exited; }));
  std::vector<std::string> got;
  for (auto& line : logs.Tail({"api"}, 0, 0)) got.push_back(line.text);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0], "[run]");
  EXPECT_EQ(got.back(), "[echo hi]");
}

TEST(PickFreePortTest, ReturnsABindablePort) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status().message();
  EXPECT_GT(*port, 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(*port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
}

// With a working podman (see RECIPES.md), runs a busybox image end to end: output comes back
// through the supervisor and the container is gone afterwards.
TEST_F(ContainerTest, PodmanRunsABusyboxImage) {
  fs::path storage = dir_ / "storage";
  std::vector<std::string> flags = {"--root",   (storage / "root").string(), "--runroot",
                                    (storage / "runroot").string(), "--tmpdir",
                                    (storage / "tmp").string()};
  auto engine = ContainerEngine::Detect({"podman"}, flags, Duration(5'000));
  if (!engine.ok()) GTEST_SKIP() << "podman not usable here: " << engine.status().message();
  auto busybox = ResolveExecutable("busybox", CurrentEnvironment());
  if (!busybox.ok()) GTEST_SKIP() << "busybox-static not installed";

  fs::path rootfs = dir_ / "rootfs";
  fs::create_directories(rootfs / "bin");
  fs::copy_file(*busybox, rootfs / "bin" / "busybox");
  std::string output;
  ProcessSpec install;
  install.argv = {(rootfs / "bin" / "busybox").string(), "--install", "-s",
                  (rootfs / "bin").string()};
  install.env = CurrentEnvironment();
  auto st = RunSync(install, Duration(10'000), &output);
  ASSERT_TRUE(st.ok() && st->success()) << output;
  ProcessSpec import;
  import.argv = {"sh", "-c", "tar -C \"$1\" -c . | \"$2\" \"$3\" \"$4\" \"$5\" \"$6\" \"$7\" \"$8\" import - slipwaytest:1",
                 "sh", rootfs.string(), engine->binary()};
  import.argv.insert(import.argv.end(), flags.begin(), flags.end());
  import.env = CurrentEnvironment();
  st = RunSync(import, Duration(60'000), &output);
  ASSERT_TRUE(st.ok() && st->success()) << output;

  config::Service svc;
  svc.name = "box";
  svc.image = "slipwaytest:1";
  svc.command = std::vector<std::string>{"/bin/sh", "-c", "echo port=$PORT; echo err >&2; exit 4"};
  std::string name = ContainerEngine::ContainerName("t", "box", 1);
  ASSERT_TRUE(engine->RemoveSync(name).ok());

  auto l = net::EventLoop::Create();
  ASSERT_TRUE(l.ok());
  LogStore logs(dir_ / "logs", Clock::Real());
  InstanceSpec spec;
  spec.service = "box";
  spec.process = engine->BuildRunSpec("t", svc, 1, {{"PORT", "4321"}});
  std::optional<ExitStatus> exit;
  Instance::Observer obs;
  obs.on_exit = [&](Instance&, ExitStatus s, bool) { exit = s; };
  Instance inst(l->get(), spec, &logs, obs);
  ASSERT_TRUE(inst.Start().ok());
  ASSERT_TRUE(RunUntil(l->get(), [&] { return exit.has_value(); }, Duration(60'000)));
  EXPECT_EQ(exit->code, 4);
  bool saw_port = false, saw_err = false;
  for (auto& line : logs.Tail({"box"}, 0, 0)) {
    saw_port |= line.text == "port=4321" && !line.is_stderr;
    saw_err |= line.text == "err" && line.is_stderr;
  }
  EXPECT_TRUE(saw_port);
  EXPECT_TRUE(saw_err);
  EXPECT_TRUE(engine->RemoveSync(name).ok());
}

}  // namespace
}  // namespace slipway::runtime
