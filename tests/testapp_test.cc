// Integration test of tools/testapp: starts the real binary on a free port and checks every
// endpoint and knob. Every wait is bounded; children are stopped by PID.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "net/socket.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using slipway::Duration;
using slipway::http::Endpoint;
using slipway::http::Fetch;
using slipway::http::Request;

int FreePort() {
  auto fd = slipway::net::ListenTcp("127.0.0.1", 0);
  SLIPWAY_CHECK(fd.ok());
  return slipway::net::LocalPort(fd->get()).value();
}

using Env = std::map<std::string, std::string>;

class TestApp {
 public:
  TestApp(const TestApp&) = delete;
  TestApp& operator=(const TestApp&) = delete;
  explicit TestApp(std::map<std::string, std::string> env, std::vector<std::string> args = {}) {
    port_ = FreePort();
    env.emplace("PORT", std::to_string(port_));
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    for (auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_s = {TESTAPP_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, TESTAPP_BIN, &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    SLIPWAY_CHECK(rc == 0);
  }
  ~TestApp() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Polls until the port accepts a request; false after `bound`.
  bool WaitReady(Duration bound = Duration(5000)) {
    auto end = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < end) {
      if (Get("/health").status != 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  struct Reply {
    int status = 0;  // 0: no answer
    std::string body;
  };
  Reply Call(std::string method, std::string target, std::string body = "") {
    Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    auto r = Fetch(Endpoint{"127.0.0.1", port_, "", nullptr, ""}, req, Duration(3000));
    if (!r.ok()) return {};
    return {r->status, r->body};
  }
  Reply Get(std::string target) { return Call("GET", std::move(target)); }

  // Waits for exit; returns the exit code, or -1 if still running after `bound`.
  int WaitExit(Duration bound) {
    auto end = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(5ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(TestAppTest, Endpoints) {
  TestApp app(Env{{"VERSION", "1.2.3"}, {"SLIPWAY_SERVICE", "api"}, {"SLIPWAY_INSTANCE", "api-2"}});
  ASSERT_TRUE(app.WaitReady());
  EXPECT_EQ(app.Get("/health").status, 200);
  EXPECT_EQ(app.Get("/health").body, "ok\n");
  EXPECT_EQ(app.Get("/version").body, "1.2.3\n");
  auto root = app.Get("/");
  EXPECT_EQ(root.status, 200);
  EXPECT_NE(root.body.find("service=api"), std::string::npos);
  EXPECT_NE(root.body.find("instance=api-2"), std::string::npos);
  auto echo = app.Call("POST", "/echo", "payload 123");
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body, "payload 123");
  EXPECT_EQ(app.Call("PUT", "/echo", "x").body, "x");
  EXPECT_EQ(app.Get("/status/418").status, 418);
  EXPECT_EQ(app.Get("/status/503").status, 503);
  EXPECT_EQ(app.Get("/nope").status, 404);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(app.Get("/slow?ms=150").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 140ms);
}

TEST(TestAppTest, HealthFailAndErrorRate) {
  TestApp app(Env{{"HEALTH", "fail"}, {"ERROR_RATE", "1"}});
  ASSERT_TRUE(app.WaitReady());
  EXPECT_EQ(app.Get("/health").status, 500);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(app.Get("/").status, 500);
  TestApp half(Env{{"ERROR_RATE", "0.5"}});
  ASSERT_TRUE(half.WaitReady());
  int errors = 0;
  for (int i = 0; i < 200; ++i) errors += half.Get("/").status == 500;
  EXPECT_GT(errors, 40);  // ~100 expected; wide bounds keep this stable
  EXPECT_LT(errors, 160);
  EXPECT_EQ(half.Get("/health").status, 200);  // health is never injected
}

TEST(TestAppTest, LatencyAndStartupDelay) {
  TestApp app(Env{{"LATENCY_MS", "100"}, {"STARTUP_DELAY_MS", "300"}});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(app.WaitReady());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(app.Get("/").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t, 95ms);
}

TEST(TestAppTest, CrashAfter) {
  TestApp app(Env{{"CRASH_AFTER_S", "0.3"}});
  ASSERT_TRUE(app.WaitReady());
  EXPECT_EQ(app.WaitExit(Duration(5000)), 3);
}

TEST(TestAppTest, SigtermExitsZeroUnlessIgnored) {
  TestApp app(Env{});
  ASSERT_TRUE(app.WaitReady());
  kill(app.pid(), SIGTERM);
  EXPECT_EQ(app.WaitExit(Duration(5000)), 0);

  TestApp stubborn(Env{{"IGNORE_SIGTERM", "1"}});
  ASSERT_TRUE(stubborn.WaitReady());
  kill(stubborn.pid(), SIGTERM);
  EXPECT_EQ(stubborn.WaitExit(Duration(300)), -1);  // still running
  EXPECT_EQ(stubborn.Get("/health").status, 200);
  kill(stubborn.pid(), SIGINT);
  EXPECT_EQ(stubborn.WaitExit(Duration(5000)), 0);
}

TEST(TestAppTest, ThreadsShareThePort) {
  TestApp app(Env{{"THREADS", "2"}});
  ASSERT_TRUE(app.WaitReady());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(app.Get("/").status, 200);
}

TEST(TestAppTest, OneShotMode) {
  TestApp app(Env{}, {"--exit-after-ms", "50", "--exit-code", "7"});
  EXPECT_EQ(app.WaitExit(Duration(5000)), 7);
  TestApp ok(Env{}, {"--exit-after-ms", "0"});
  EXPECT_EQ(ok.WaitExit(Duration(5000)), 0);
}

}  // namespace
