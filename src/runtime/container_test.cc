#include "runtime/container.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "config/shell_words.h"
#include "runtime/container_assets.h"
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

  // Real podman (see RECIPES.md "Containers with podman"): a private storage (global flags)
  // in a short temp dir (podman refuses a runroot over 50 characters), and a 2 MB image
  // imported from busybox-static, no registry. Skips, with the reason, only where podman or
  // busybox is missing or `podman info` fails. Callers: `SetUpPodman(); if (IsSkipped() ||
  // HasFatalFailure()) return;`.
  void SetUpPodman() {
    storage_ = fs::temp_directory_path() /
               ("slipway-pm." + std::to_string(getpid()) + "." + std::to_string(++counter_));
    fs::remove_all(storage_);
    flags_ = {"--root",   (storage_ / "root").string(), "--runroot", (storage_ / "run").string(),
              "--tmpdir", (storage_ / "tmp").string()};
    auto engine = ContainerEngine::Detect({"podman"}, flags_, Duration(20'000));
    if (!engine.ok()) GTEST_SKIP() << "podman not usable here: " << engine.status().message();
    engine_ = std::move(engine).value();
    auto busybox = ResolveExecutable("busybox", CurrentEnvironment());
    if (!busybox.ok()) GTEST_SKIP() << "busybox-static not installed";
    ImportImage(*busybox);
  }

  void TearDown() override {
    // Containers first (by name, through podman), then the image, so that no overlay mount
    // is left in the private storage; then the storage dir itself goes.
    if (engine_) {
      for (const auto& name : names_) EXPECT_TRUE(engine_->RemoveSync(name).ok()) << name;
      std::string output;
      auto st = RunSync(Podman({"rmi", "--all", "--force"}), Duration(60'000), &output);
      EXPECT_TRUE(st.ok() && st->success()) << output;
    }
    if (!storage_.empty()) {
      std::error_code ec;
      fs::remove_all(storage_, ec);
      EXPECT_FALSE(ec) << "remove " << storage_ << ": " << ec.message();
    }
    fs::remove_all(dir_);
  }

  ProcessSpec Podman(const std::vector<std::string>& args) {
    ProcessSpec p;
    p.argv = {engine_->binary()};
    p.argv.insert(p.argv.end(), flags_.begin(), flags_.end());
    p.argv.insert(p.argv.end(), args.begin(), args.end());
    p.env = CurrentEnvironment();
    return p;
  }

  // rootfs: /bin/busybox, a relative link per applet (`busybox --install -s` would write
  // absolute host paths), and /www/index.html, which only exists inside the image.
  void ImportImage(const std::string& busybox) {
    fs::path rootfs = dir_ / "rootfs";
    fs::create_directories(rootfs / "bin");
    fs::create_directories(rootfs / "www");
    fs::copy_file(busybox, rootfs / "bin" / "busybox");
    std::ofstream(rootfs / "www" / "index.html") << "inside\n";
    std::string output;
    ProcessSpec list;
    list.argv = {busybox, "--list"};
    list.env = CurrentEnvironment();
    auto st = RunSync(list, Duration(10'000), &output);
    ASSERT_TRUE(st.ok() && st->success()) << output;
    std::istringstream applets(output);
    for (std::string applet; std::getline(applets, applet);) {
      if (applet.empty() || applet == "busybox") continue;
      fs::create_symlink("busybox", rootfs / "bin" / applet);
    }
    ProcessSpec import = Podman({"import", "-", kImage});
    import.argv.insert(
        import.argv.begin(),
        {"/bin/sh", "-c", "root=$1; shift; tar -C \"$root\" -c . | \"$@\"", "sh", rootfs.string()});
    output.clear();
    st = RunSync(import, Duration(60'000), &output);
    ASSERT_TRUE(st.ok() && st->success()) << output;
    fs::remove_all(rootfs);
  }

  std::string Name(const std::string& service) {
    names_.push_back(ContainerEngine::ContainerName("t", service, 1));
    return names_.back();
  }

  // `podman ps -a` names of this storage's containers.
  std::string PsAll() {
    std::string output;
    auto st = RunSync(Podman({"ps", "-a", "--format", "{{.Names}}"}), Duration(30'000), &output);
    EXPECT_TRUE(st.ok() && st->success()) << output;
    return output;
  }

  static constexpr const char* kImage = "slipwaytest:1";
  static inline int counter_ = 0;
  fs::path storage_;
  std::vector<std::string> flags_;
  std::optional<ContainerEngine> engine_;
  std::vector<std::string> names_;

  fs::path dir_;
};

TEST_F(ContainerTest, ContainerNamesAreSanitized) {
  EXPECT_EQ(ContainerEngine::ContainerName("shop", "api", 2), "slipway-shop-api-2");
  EXPECT_EQ(ContainerEngine::ContainerName("my shop", "a/b", 1), "slipway-my_shop-a_b-1");
  // A deploy's set runs beside the old one: its names differ.
  EXPECT_EQ(ContainerEngine::ContainerName("shop", "api", 1, "r3"), "slipway-shop-api-r3-1");
}

TEST_F(ContainerTest, PodmanRunSpecCarriesTheRecipeFlags) {
  ContainerEngine engine("/usr/bin/podman", {"--root", "/s/root"});
  EXPECT_TRUE(engine.is_podman());
  auto spec = engine.BuildRunSpec("shop", ApiService(), 2, {{"PORT", "4000"}, {"A", "b c"}});
  std::vector<std::string> want = {"/usr/bin/podman",
                                   "--root",
                                   "/s/root",
                                   "run",
                                   "--rm",
                                   "--init",
                                   "--name",
                                   "slipway-shop-api-2",
                                   "--network=host",
                                   "--replace",
                                   "--runtime",
                                   "runc",
                                   "--ulimit",
                                   "nofile=1024:1024",
                                   "--ulimit",
                                   "nproc=1024:1024",
                                   "--user",
                                   "1000",
                                   "--label",
                                   "slipway.project=shop",
                                   "--label",
                                   "slipway.service=api",
                                   "-e",
                                   "A=b c",
                                   "-e",
                                   "PORT=4000",
                                   "--entrypoint",
                                   "/bin/sh",
                                   "testimg:1",
                                   "-c",
                                   "echo hi"};
  EXPECT_EQ(spec.argv, want);
  EXPECT_TRUE(spec.env.count("PATH"));  // the CLI runs with the daemon's environment
  EXPECT_EQ(engine.ExecArgv("slipway-shop-api-2"),
            (std::vector<std::string>{"/usr/bin/podman", "--root", "/s/root", "exec",
                                      "slipway-shop-api-2"}));
}

// deploy.resources.limits become podman's flags; reservations are not enforced (no flag).
TEST_F(ContainerTest, ResourceLimitsBecomeEngineFlags) {
  ContainerEngine engine("/usr/bin/podman");
  config::Service s = ApiService();
  s.resources.cpus = 0.5;
  s.resources.memory_bytes = int64_t{64} << 20;
  s.resources.pids = 50;
  s.resources.reserved_memory_bytes = int64_t{16} << 20;
  auto spec = engine.BuildRunSpec("shop", s, 1, {{"PORT", "1"}});
  auto flag = [&](const std::string& name) -> std::string {
    auto it = std::find(spec.argv.begin(), spec.argv.end(), name);
    return it == spec.argv.end() || it + 1 == spec.argv.end() ? "" : *(it + 1);
  };
  EXPECT_EQ(flag("--cpus"), "0.500");
  EXPECT_EQ(flag("--memory"), std::to_string(64 << 20));
  EXPECT_EQ(flag("--pids-limit"), "50");
  EXPECT_EQ(flag("--memory-reservation"), "");
  // Before the image: everything after it is the container's command.
  auto image = std::find(spec.argv.begin(), spec.argv.end(), "testimg:1");
  EXPECT_LT(std::find(spec.argv.begin(), spec.argv.end(), "--cpus"), image);
  // No limits, no flags.
  spec = engine.BuildRunSpec("shop", ApiService(), 1, {{"PORT", "1"}});
  EXPECT_EQ(flag("--cpus"), "");
  EXPECT_EQ(flag("--memory"), "");
}

// Volumes, binds, tmpfs, secrets (runtime/container_assets.h) go after the environment; a
// service with a build and no image runs "<project>-<service>".
TEST_F(ContainerTest, MountsSecretsAndBuiltImagesInTheRunSpec) {
  ContainerEngine engine("/usr/bin/podman");
  config::Service s;
  s.name = "db";
  s.build = config::BuildSpec{"/p/ctx", "Dockerfile.prod", {{"V", "1"}}, "runtime"};
  using T = config::Mount::Type;
  s.mounts = {{T::kVolume, "shop_data", "/data", false, false, 0, "data", "", "", {}},
              {T::kBind, "/p/conf", "/etc/app", true, true, 0, "", "", "", {}},
              {T::kTmpfs, "", "/scratch", false, false, 64 << 20, "", "", "", {}},
              {T::kVolume, "", "/anon", false, false, 0, "", "", "", {}},
              {T::kBind, "/p/pw.txt", "/run/secrets/pw", true, false, 0, "", "secrets.pw", "", {}}};
  s.engine_secrets = {{"prod_key", "api_key", "secrets.api_key", {}}};
  std::vector<std::string> want_mounts = {
      "--mount",  "type=volume,source=shop_data,destination=/data",
      "--mount",  "type=bind,source=/p/conf,destination=/etc/app,ro=true",
      "--mount",  "type=tmpfs,tmpfs-size=67108864,destination=/scratch",
      "--mount",  "type=volume,destination=/anon",
      "--mount",  "type=bind,source=/p/pw.txt,destination=/run/secrets/pw,ro=true",
      "--secret", "prod_key,type=mount,target=api_key"};
  EXPECT_EQ(MountFlags(s), want_mounts);
  auto spec = engine.BuildRunSpec("shop", s, 1, {{"PORT", "1"}});
  auto e = std::find(spec.argv.begin(), spec.argv.end(), "PORT=1");
  ASSERT_NE(e, spec.argv.end());
  EXPECT_EQ(std::vector<std::string>(e + 1, e + 1 + want_mounts.size()), want_mounts);
  EXPECT_EQ(spec.argv.back(), "shop-db");

  config::Project p;
  p.name = "shop";
  auto build = BuildImageSpec(engine, p, s);
  ASSERT_TRUE(build.ok()) << build.status().message();
  EXPECT_EQ(build->argv, (std::vector<std::string>{"/usr/bin/podman",
                                                   "build",
                                                   "-t",
                                                   "shop-db",
                                                   "-f",
                                                   "/p/ctx/Dockerfile.prod",
                                                   "--target",
                                                   "runtime",
                                                   "--build-arg",
                                                   "V=1",
                                                   "--label",
                                                   "slipway.project=shop",
                                                   "--label",
                                                   "slipway.service=db",
                                                   "--runtime",
                                                   "runc",
                                                   "--ulimit",
                                                   "nofile=1024:1024",
                                                   "--ulimit",
                                                   "nproc=1024:1024",
                                                   "/p/ctx"}));
  s.image = "registry/db:2";  // a named image is tagged as named
  EXPECT_EQ(BuildImageSpec(engine, p, s)->argv[3], "registry/db:2");
  s.build.reset();
  EXPECT_EQ(BuildImageSpec(engine, p, s).status().code(), StatusCode::kInvalidInput);
}

TEST_F(ContainerTest, GlobalFlagsComeFromTheEnvironment) {
  EXPECT_EQ(*ContainerEngine::SplitFlags("  --root /a\t--runroot  /b\n"),
            (std::vector<std::string>{"--root", "/a", "--runroot", "/b"}));
  EXPECT_TRUE(ContainerEngine::SplitFlags(" \t")->empty());
  // Quotes keep a path with blanks in one word, as in a shell.
  EXPECT_EQ(*ContainerEngine::SplitFlags("--root '/srv/my root' --tmpdir \"/t x\""),
            (std::vector<std::string>{"--root", "/srv/my root", "--tmpdir", "/t x"}));
  auto unclosed = ContainerEngine::SplitFlags("--root '/srv/my root");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_EQ(unclosed.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(unclosed.status().message().find("SLIPWAY_CONTAINER_FLAGS"), std::string::npos);

  // Detect() without candidates reads SLIPWAY_CONTAINER_FLAGS and passes them to `info`: a fake
  // podman first in PATH answers only when it sees them.
  FakeEngine("podman",
             "[ \"$1 $2 $3\" = \"--root /x info\" ] && exit 0; echo \"args: $*\" >&2; exit 3");
  const char* old_path = std::getenv("PATH");
  std::string saved_path = old_path ? old_path : "";
  setenv("PATH", (dir_.string() + ":" + saved_path).c_str(), 1);
  setenv(ContainerEngine::kFlagsEnv, " --root  /x ", 1);
  auto found = ContainerEngine::Detect(Duration(2'000));
  unsetenv(ContainerEngine::kFlagsEnv);
  auto without = ContainerEngine::Detect(Duration(2'000));
  setenv("PATH", saved_path.c_str(), 1);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->binary(), (dir_ / "podman").string());
  EXPECT_EQ(found->global_flags(), (std::vector<std::string>{"--root", "/x"}));
  // Without the flags the fake refuses; a real docker may still answer on some machine.
  if (without.ok()) {
    EXPECT_NE(without->binary(), (dir_ / "podman").string());
  }
}

TEST_F(ContainerTest, DockerRunSpecHasNoPodmanFlagsAndHandlesEmptyEntrypoint) {
  ContainerEngine engine("docker");
  EXPECT_FALSE(engine.is_podman());
  config::Service s = ApiService();
  s.user.clear();
  s.entrypoint = std::vector<std::string>{};
  s.command.reset();
  auto spec = engine.BuildRunSpec("shop", s, 1, {{"PORT", "1"}});
  std::vector<std::string> want = {"docker",
                                   "run",
                                   "--rm",
                                   "--init",
                                   "--name",
                                   "slipway-shop-api-1",
                                   "--network=host",
                                   "--label",
                                   "slipway.project=shop",
                                   "--label",
                                   "slipway.service=api",
                                   "-e",
                                   "PORT=1",
                                   "--entrypoint",
                                   "",
                                   "testimg:1"};
  // Docker has no --replace: a shell removes a leftover of the name, then execs the client.
  ASSERT_EQ(spec.argv.size(), 3u);
  EXPECT_EQ(spec.argv[0], "/bin/sh");
  EXPECT_EQ(spec.argv[1], "-c");
  EXPECT_EQ(spec.argv[2], "'docker' 'rm' '-f' 'slipway-shop-api-1' >/dev/null 2>&1; exec " +
                              config::ShellJoin(want));
  EXPECT_EQ(engine.BuildRemoveSpec("x").argv,
            (std::vector<std::string>{"docker", "rm", "-f", "x"}));
}

// What the docker spec does when it runs: `rm -f <name>` first (its failure ignored: usually
// there is nothing to remove), then `run`, whose exit code is the instance's; the shell has
// become the client (same PID), so the supervisor's stop signal reaches it.
TEST_F(ContainerTest, DockerRunRemovesALeftoverOfTheSameNameFirst) {
  const fs::path calls = dir_ / "calls";
  ContainerEngine engine(
      FakeEngine("docker", "echo \"$*\" >> '" + calls.string() +
                               "'; case $1 in rm) echo 'Error: No such container' >&2; exit 1;; "
                               "run) echo \"pid $$\"; exit 7;; esac; exit 99"));
  config::Service s = ApiService();
  s.user.clear();
  s.entrypoint.reset();
  s.command = std::vector<std::string>{"it's", "$HOME"};
  auto l = net::EventLoop::Create();
  ASSERT_TRUE(l.ok());
  LogStore logs(dir_ / "logs", Clock::Real());
  InstanceSpec spec;
  spec.service = "api";
  spec.process = engine.BuildRunSpec("shop", s, 2, {{"PORT", "9"}}, "r3");
  std::optional<ExitStatus> exit;
  Instance::Observer obs;
  obs.on_exit = [&](Instance&, ExitStatus st, bool) { exit = st; };
  Instance inst(l->get(), spec, &logs, obs);
  ASSERT_TRUE(inst.Start().ok());
  const pid_t pid = inst.pid();
  ASSERT_TRUE(RunUntil(l->get(), [&] { return exit.has_value(); }));
  EXPECT_EQ(exit->code, 7);
  std::string output;
  for (auto& line : logs.Tail({"api"}, 0, 0)) output += line.text + "\n";
  EXPECT_EQ(output, "pid " + std::to_string(pid) + "\n");  // rm's complaint is dropped
  std::ifstream in(calls);
  std::string rm, run, extra;
  std::getline(in, rm);
  std::getline(in, run);
  EXPECT_FALSE(std::getline(in, extra)) << extra;
  EXPECT_EQ(rm, "rm -f slipway-shop-api-r3-2");
  EXPECT_EQ(run.rfind("run --rm --init --name slipway-shop-api-r3-2 ", 0), 0u) << run;
  // Arguments reach the client as they were, not re-split or expanded by the shell.
  EXPECT_NE(run.find(" testimg:1 it's $HOME"), std::string::npos) << run;
}

TEST_F(ContainerTest, DetectSkipsMissingFailingAndHangingEngines) {
  std::string failing = FakeEngine("failing", "echo 'Cannot connect to the daemon' >&2; exit 1");
  std::string hanging = FakeEngine("hanging", "exec sleep 30");
  std::string working =
      FakeEngine("podman", "[ \"$1\" = --root ] && [ \"$3\" = info ] && exit 0; exit 9");
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

// Output comes back through the supervisor (stdout and stderr apart), PORT reaches the
// container, the exit code is the container's, and --rm leaves nothing behind.
TEST_F(ContainerTest, PodmanRunsABusyboxImage) {
  SetUpPodman();
  if (IsSkipped() || HasFatalFailure()) return;
  config::Service svc;
  svc.name = "box";
  svc.image = kImage;
  svc.command = std::vector<std::string>{"/bin/sh", "-c", "echo port=$PORT; echo err >&2; exit 4"};
  std::string name = Name("box");

  auto l = net::EventLoop::Create();
  ASSERT_TRUE(l.ok());
  LogStore logs(dir_ / "logs", Clock::Real());
  InstanceSpec spec;
  spec.service = "box";
  spec.process = engine_->BuildRunSpec("t", svc, 1, {{"PORT", "4321"}});
  std::optional<ExitStatus> exit;
  Instance::Observer obs;
  obs.on_exit = [&](Instance&, ExitStatus s, bool) { exit = s; };
  Instance inst(l->get(), spec, &logs, obs);
  ASSERT_TRUE(inst.Start().ok());
  ASSERT_TRUE(RunUntil(
      l->get(), [&] { return exit.has_value(); }, Duration(60'000)));
  EXPECT_EQ(exit->code, 4);
  bool saw_port = false, saw_err = false;
  for (auto& line : logs.Tail({"box"}, 0, 0)) {
    saw_port |= line.text == "port=4321" && !line.is_stderr;
    saw_err |= line.text == "err" && line.is_stderr;
  }
  EXPECT_TRUE(saw_port);
  EXPECT_TRUE(saw_err);
  EXPECT_EQ(PsAll().find(name), std::string::npos);
}

// A long-running server: HTTP on PORT from the host (--network=host), `exec` runs inside the
// container (the file exists only in the image), and the supervisor's SIGTERM stops it quickly
// (--init) with the container removed.
TEST_F(ContainerTest, PodmanServesOnPortExecsInsideAndStopsOnSigterm) {
  SetUpPodman();
  if (IsSkipped() || HasFatalFailure()) return;
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  config::Service svc;
  svc.name = "web";
  svc.image = kImage;
  svc.command =
      std::vector<std::string>{"/bin/sh", "-c", "exec /bin/httpd -f -p 127.0.0.1:$PORT -h /www"};
  std::string name = Name("web");

  auto l = net::EventLoop::Create();
  ASSERT_TRUE(l.ok());
  LogStore logs(dir_ / "logs", Clock::Real());
  InstanceSpec spec;
  spec.service = "web";
  spec.stop_grace = Duration(20'000);
  spec.process = engine_->BuildRunSpec("t", svc, 1, {{"PORT", std::to_string(*port)}});
  std::optional<ExitStatus> exit;
  Instance::Observer obs;
  obs.on_exit = [&](Instance&, ExitStatus s, bool) { exit = s; };
  Instance inst(l->get(), spec, &logs, obs);
  ASSERT_TRUE(inst.Start().ok());
  pid_t client = inst.pid();

  // Poll until httpd answers (the loop keeps draining the client's output meanwhile).
  bool served = RunUntil(
      l->get(),
      [&] {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(*port));
        bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        close(fd);
        return ok || exit.has_value();
      },
      Duration(30'000));
  ASSERT_TRUE(served && !exit) << "httpd did not listen on " << *port;

  auto exec = [&](std::vector<std::string> cmd) {
    ProcessSpec p;
    p.argv = engine_->ExecArgv(name);
    p.argv.insert(p.argv.end(), cmd.begin(), cmd.end());
    p.env = CurrentEnvironment();
    std::string output;
    auto st = RunSync(p, Duration(30'000), &output);
    EXPECT_TRUE(st.ok()) << st.status().message();
    return st.ok() ? st->code : -1;
  };
  ASSERT_FALSE(fs::exists("/www/index.html"));  // on the host it must not exist
  EXPECT_EQ(exec({"test", "-f", "/www/index.html"}), 0);
  EXPECT_EQ(exec({"test", "-f", "/www/missing.html"}), 1);
  EXPECT_EQ(exec({"/bin/sh", "-c", "test \"$PORT\" = " + std::to_string(*port)}), 0);

  auto t0 = std::chrono::steady_clock::now();
  bool stopped = false;
  inst.Stop([&] { stopped = true; });
  ASSERT_TRUE(RunUntil(
      l->get(), [&] { return stopped; }, Duration(30'000)));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(5)) << "SIGTERM did not stop the container";
  EXPECT_TRUE(testing::PidGone(client));
  EXPECT_EQ(PsAll().find(name), std::string::npos);
}

}  // namespace
}  // namespace slipway::runtime
