// End-to-end tests of zero-downtime deploys: the real `slipway` daemon and proxy, testapp
// instances, and a bounded load generator running through every deploy. Each test has its own
// project folder and published port; the daemon is stopped by the harness (by PID).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "http/client.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
const std::string kTestapp = TESTAPP_BIN;

// Requests from a few threads against the published port until stopped (or bounded by count
// and time). Counts failures (no answer, or a status other than 200) and versions seen.
class Load {
 public:
  explicit Load(int port, int threads = 4) : port_(port) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int64_t ok() const { return ok_; }
  int64_t failed() const { return failed_; }
  std::map<std::string, int64_t> versions() {
    std::lock_guard<std::mutex> l(mu_);
    return versions_;
  }
  std::string last_version() {
    std::lock_guard<std::mutex> l(mu_);
    return last_;
  }
  std::string failures() {
    std::lock_guard<std::mutex> l(mu_);
    return first_failures_;
  }

 private:
  void Run() {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    for (int i = 0; i < 200'000 && !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
      http::Endpoint ep;
      ep.host = "127.0.0.1";
      ep.port = port_;
      http::Request req;
      req.target = "/";
      auto r = http::Fetch(ep, req, Duration(10'000));
      if (r.ok() && r->status == 200) {
        ++ok_;
        // "service=api instance=1 version=v2"
        std::string v;
        size_t at = r->body.find("version=");
        if (at != std::string::npos) {
          v = r->body.substr(at + 8);
          v = v.substr(0, v.find_first_of(" \n"));
        }
        std::lock_guard<std::mutex> l(mu_);
        ++versions_[v];
        last_ = v;
      } else {
        ++failed_;
        std::lock_guard<std::mutex> l(mu_);
        if (first_failures_.size() < 400) {
          first_failures_ += (r.ok() ? "status " + std::to_string(r->status) + " " + r->body
                                     : r.status().message()) +
                             "\n";
        }
      }
    }
  }

  int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> failed_{0};
  std::mutex mu_;
  std::map<std::string, int64_t> versions_;
  std::string last_;
  std::string first_failures_;
  std::vector<std::thread> threads_;
};

// The service's health check runs every 100 ms; 3 counted failures make an instance
// unhealthy. kGrace adds a start period: without one, an instance that does not answer within
// about 300 ms of its start (a loaded machine: CI runs two test binaries on its 2 cores) is
// unhealthy, and `up --wait` or a healthy version's deploy fails. A test that deploys a
// version whose health check fails (HEALTH=fail) writes the file with kCounted first, so that
// release's failures count from its first check as before: the verdict is "never became
// ready" within a second, not "not ready within health_timeout" once a start period is over.
enum class HealthStart { kGrace, kCounted };

std::string Compose(int port, const std::string& deploy, const std::string& extra = "",
                    HealthStart start = HealthStart::kGrace) {
  return R"(services:
  api:
    command: [")" +
         kTestapp + R"("]
    environment:
      VERSION: v1
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3)" +
         (start == HealthStart::kGrace ? ", start_period: 10s" : "") + R"(}
)" + extra +
         R"(    x-slipway:
      healthcheck: {http: /health}
      deploy:
)" + deploy;
}

const char kBlueGreen[] = R"(        strategy: blue-green
        monitor: 1500ms
        drain: 300ms
        rollback_window: 60s
        health_timeout: 10s
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
)";

void Up(Project& p, int port) {
  CmdResult r = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }));
}

nlohmann::json Releases(Project& p) { return p.Json({"releases", "api", "--format", "json"}); }

// `slipway deploy api --env VERSION=v2` on a thread of its own, so a test can act on the
// deploy while it runs (pause, promote, kill the daemon). The destructor joins the thread, so
// an assertion that ends a test early does not terminate the process.
class DeployInBackground {
 public:
  explicit DeployInBackground(Project& p)
      : thread_([this, &p] {
          result_ = p.Slipway({"deploy", "api", "--env", "VERSION=v2"}, 180s);
          done_ = true;
        }) {}
  ~DeployInBackground() { Join(); }
  DeployInBackground(const DeployInBackground&) = delete;
  DeployInBackground& operator=(const DeployInBackground&) = delete;

  // The command returned (its result is ready).
  bool done() const { return done_; }
  // Waits for the command; its result.
  const CmdResult& Join() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  CmdResult result_;
  std::atomic<bool> done_{false};
  std::thread thread_;  // last: it starts once the members it writes exist
};

TEST(DeployTest, BlueGreenAndManualRollbackUnderLoadLoseNothing) {
  int port = FreePort();
  Project p(Compose(port, kBlueGreen));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  auto rel = Releases(p);
  ASSERT_EQ(rel.size(), 1u) << rel.dump();
  EXPECT_EQ(rel[0]["strategy"], "up");
  EXPECT_EQ(rel[0]["status"], "succeeded");

  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  CmdResult d = p.Slipway({"deploy", "api", "--env", "VERSION=v2", "--version", "2.0"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("deployed api r2 (blue-green, 2.0)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("switched all traffic from r1 to r2"), std::string::npos) << d.out;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 5s));
  auto ps = p.Ps();
  ASSERT_FALSE(ps.empty());
  bool r2_running = false;
  for (const auto& row : ps) {
    if (row.value("release", 0) == 2 && row.value("state", "") == "running") r2_running = true;
  }
  EXPECT_TRUE(r2_running) << ps.dump();

  // The old set is warm: rolling back is a weight switch.
  CmdResult rb = p.Slipway({"rollback", "api"});
  ASSERT_EQ(rb.rc, 0) << rb.out << rb.err;
  EXPECT_NE(rb.out.find("runs r1 again"), std::string::npos) << rb.out;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v1"; }, 5s));
  int64_t at_rollback = load.ok();
  ASSERT_TRUE(WaitFor([&] { return load.ok() > at_rollback + 200; }, 10s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.failures();
  auto versions = load.versions();
  EXPECT_GT(versions["v1"], 0);
  EXPECT_GT(versions["v2"], 0);

  rel = Releases(p);
  ASSERT_GE(rel.size(), 2u) << rel.dump();
  EXPECT_EQ(rel[0]["number"], 2);
  EXPECT_EQ(rel[0]["status"], "rolled-back");
  EXPECT_EQ(rel[0]["version"], "2.0");
  EXPECT_TRUE(rel[0]["numbers"].contains("cutover_ms")) << rel[0].dump();
}

TEST(DeployTest, CanaryStepsUnderLoadLoseNothing) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: canary
        steps: [20, 50]
        step_duration: 700ms
        drain: 300ms
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
)"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  CmdResult d = p.Slipway({"deploy", "--env", "VERSION=v2"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("canary step 1/3: 20%"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("canary step 3/3: 100%"), std::string::npos) << d.out;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 30s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.failures();
  EXPECT_EQ(Releases(p)[0]["status"], "succeeded");
}

// `slipway deploy promote` ends a canary's judging at once: with steps far longer than the
// test, the new version takes all the traffic within seconds of the word, the deploy's own
// caller sees it succeed, and no request fails. Promoting a service with no deploy running
// is refused (exit 1, the API's 409 named).
TEST(DeployTest, PromoteFromTheCliEndsACanaryAtOnceLosingNothing) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: canary
        steps: [20, 50]
        step_duration: 10m
        drain: 300ms
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
)"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  CmdResult idle = p.Slipway({"deploy", "promote", "api"});
  EXPECT_NE(idle.rc, 0) << idle.out << idle.err;
  EXPECT_NE(idle.err.find("promote"), std::string::npos) << idle.err;
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  DeployInBackground deploy(p);
  ASSERT_TRUE(WaitFor([&] { return load.versions()["v2"] > 0 || deploy.done(); }, 120s));
  if (deploy.done()) {
    const CmdResult& d = deploy.Join();
    FAIL() << "the deploy ended before its promote: " << d.out << d.err;
  }
  CmdResult promote = p.Slipway({"deploy", "promote", "api", "--reason", "looks good"});
  ASSERT_EQ(promote.rc, 0) << promote.out << promote.err;
  EXPECT_NE(promote.out.find("api r2 promoted"), std::string::npos) << promote.out;
  ASSERT_TRUE(WaitFor([&] { return deploy.done(); }, 30s)) << "10 min steps were skipped";
  const CmdResult& d = deploy.Join();
  EXPECT_EQ(d.rc, 0) << d.out << d.err;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 30s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.failures();
  EXPECT_EQ(Releases(p)[0]["status"], "succeeded");
}

// POST to the daemon's API over its unix socket with curl (bounded by --max-time): the HTTP
// status and the body.
std::pair<int, std::string> CurlPost(Project& p, const std::string& path, const std::string& body) {
  CmdResult r = RunCmd({"/usr/bin/env", "curl", "-sS", "--max-time", "10", "--unix-socket",
                        (p.dir() / ".slipway" / "api.sock").string(), "-X", "POST", "-H",
                        "Content-Type: application/json", "-d", body, "-w", "\n%{http_code}",
                        "http://localhost" + path},
                       p.dir(), {}, 15s);
  size_t nl = r.out.rfind('\n');
  if (r.rc != 0 || nl == std::string::npos) return {0, r.out + r.err};
  return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
}

// An operator's pause at a canary step: the split stays as it was (both versions answer) while
// the step's analysis and timer stop; resumed, the same step goes on and the deploy succeeds;
// no request fails throughout.
TEST(DeployTest, CanaryPausedAtAStepKeepsTheSplitAndResumesLosingNothing) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: canary
        steps: [30, 60]
        step_duration: 3s
        drain: 300ms
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
)"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  DeployInBackground deploy(p);
  // The first step sends some requests to v2: pause there. On a loaded machine starting v2
  // may take a while, so the bound is generous; a deploy that ended first is reported as such.
  ASSERT_TRUE(WaitFor([&] { return load.versions()["v2"] > 0 || deploy.done(); }, 120s))
      << "v2 got no traffic within 120 s";
  if (deploy.done()) {
    const CmdResult& d = deploy.Join();
    FAIL() << "the deploy ended before its first step could be paused: " << d.out << d.err;
  }
  CmdResult pause = p.Slipway({"deploy", "pause", "api", "--reason", "checking the canary"});
  EXPECT_EQ(pause.rc, 0) << pause.out << pause.err;
  EXPECT_NE(pause.out.find("api r2 paused"), std::string::npos) << pause.out;
  // Held longer than the whole rollout would take (2 steps of 3 s): both versions keep
  // answering and the deploy does not end. The hold lasts at least 8 s, and until each
  // version answered enough requests (however slowly the loaded machine serves them).
  auto before = load.versions();
  const auto held_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = load.versions();
        return std::chrono::steady_clock::now() - held_at >= 8s && v["v1"] > before["v1"] + 20 &&
               v["v2"] > before["v2"] + 5;
      },
      120s))
      << "while paused, the split did not serve both versions";
  EXPECT_FALSE(deploy.done()) << "the paused deploy ended";
  EXPECT_EQ(Releases(p)[0]["status"], "running");
  // Pausing again is refused with the reason (409).
  auto again = CurlPost(p, "/api/v1/deploy/api/pause", "{}");
  EXPECT_EQ(again.first, 409) << again.second;
  EXPECT_NE(again.second.find("already paused"), std::string::npos) << again.second;
  // The event log says who paused and why.
  bool logged = false;
  for (const auto& e : p.Events()) {
    if (e.value("kind", "") == "deploy-paused" &&
        e.value("message", "").find("checking the canary") != std::string::npos) {
      logged = true;
    }
  }
  EXPECT_TRUE(logged) << p.Events().dump();
  CmdResult resume = p.Slipway({"deploy", "resume", "api", "--reason", "numbers look fine"});
  EXPECT_EQ(resume.rc, 0) << resume.out << resume.err;
  const CmdResult& d = deploy.Join();
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("paused by"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("resumed by"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("canary step 3/3: 100%"), std::string::npos) << d.out;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 30s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.failures();
  EXPECT_EQ(Releases(p)[0]["status"], "succeeded");
  // The deploy is over: a pause is a 409 that says so.
  auto late = CurlPost(p, "/api/v1/deploy/api/pause", "{\"reason\": \"too late\"}");
  EXPECT_EQ(late.first, 409) << late.second;
  EXPECT_NE(late.second.find("no deploy of api is in progress (its last release, r2, succeeded)"),
            std::string::npos)
      << late.second;
  CmdResult cli_late = p.Slipway({"deploy", "resume", "api"});
  EXPECT_EQ(cli_late.rc, 1);
  EXPECT_NE(cli_late.err.find("resume: no deploy of api is in progress"), std::string::npos)
      << cli_late.err;
  // Hostile input is a 400 naming the field.
  auto bad = CurlPost(p, "/api/v1/deploy/api/pause", "{\"reason\": 5}");
  EXPECT_EQ(bad.first, 400) << bad.second;
  EXPECT_NE(bad.second.find("reason"), std::string::npos) << bad.second;
}

// An operator's pause survives a kill -9 of the daemon: the keeper's next daemon holds the
// canary again with the same split (both versions keep answering, the release still runs,
// another deploy is refused), and resume completes it with no failed request. Only requests
// the killed daemon had in flight (at most one per client thread) may be cut.
TEST(DeployTest, APausedCanarySurvivesAKilledDaemon) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: canary
        steps: [30, 60]
        step_duration: 3s
        drain: 300ms
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
)"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  DeployInBackground deploy(p);
  ASSERT_TRUE(WaitFor([&] { return load.versions()["v2"] > 0 || deploy.done(); }, 120s));
  if (deploy.done()) {
    const CmdResult& d = deploy.Join();
    FAIL() << "the deploy ended before it could be paused: " << d.out << d.err;
  }
  CmdResult pause = p.Slipway({"deploy", "pause", "api", "--reason", "overnight"});
  ASSERT_EQ(pause.rc, 0) << pause.out << pause.err;

  const pid_t daemon = p.DaemonPid();
  ASSERT_TRUE(PidAlive(daemon));
  const int64_t failed_before = load.failed();
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return deploy.done(); }, 60s)) << "the deploy's caller goes on";
  const CmdResult& d = deploy.Join();
  EXPECT_NE(d.rc, 0) << "its daemon died under it: " << d.out << d.err;
  ASSERT_TRUE(WaitFor(
      [&] {
        const pid_t now = p.DaemonPid();
        return now != daemon && PidAlive(now);
      },
      30s))
      << "the keeper starts the next daemon";
  ASSERT_TRUE(WaitFor(
      [&] {
        const nlohmann::json r = Releases(p);
        return r.is_array() && !r.empty() && r[0].value("number", 0) == 2;
      },
      30s));
  const auto log = p.dir() / ".slipway" / "logs" / "daemon.log";
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadFile(log).find("api r2: the paused canary deploy is held again (paused by") !=
               std::string::npos;
      },
      30s))
      << Tail(log);
  EXPECT_EQ(Releases(p)[0]["status"], "running") << Releases(p).dump();
  const int64_t cut = load.failed() - failed_before;
  EXPECT_LE(cut, 4) << "only requests in flight at the kill: " << load.failures();

  // Held again: longer than the rest of the rollout would take, both versions answer.
  auto before = load.versions();
  const auto held_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = load.versions();
        return std::chrono::steady_clock::now() - held_at >= 8s && v["v1"] > before["v1"] + 20 &&
               v["v2"] > before["v2"] + 5;
      },
      120s))
      << "after the restart the split did not serve both versions";
  EXPECT_EQ(Releases(p)[0]["status"], "running");
  CmdResult busy = p.Slipway({"deploy", "api", "--env", "VERSION=v3"}, 60s);
  EXPECT_NE(busy.rc, 0);
  EXPECT_NE(busy.err.find("is paused"), std::string::npos) << busy.out << busy.err;

  // Resumed: the rollout completes, and no request fails meanwhile.
  const int64_t failed_at_resume = load.failed();
  CmdResult resume = p.Slipway({"deploy", "resume", "api", "--reason", "morning"});
  EXPECT_EQ(resume.rc, 0) << resume.out << resume.err;
  ASSERT_TRUE(WaitFor([&] { return Releases(p)[0]["status"] == "succeeded"; }, 90s))
      << Releases(p).dump();
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 30s));
  load.Stop();
  EXPECT_EQ(load.failed(), failed_at_resume) << load.failures();
}

TEST(DeployTest, RollingThreeReplicasUnderLoadLoseNothing) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: rolling
        drain: 300ms
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
)",
                    "    deploy:\n      replicas: 3\n      update_config: {parallelism: 1, order: "
                    "start-first, monitor: 300ms}\n"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  CmdResult d = p.Slipway({"deploy", "--env", "VERSION=v2"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("rolling: 2 of 3 replaced"), std::string::npos) << d.out;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 5s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.failures();
  auto ps = p.Ps();
  int v2 = 0;
  for (const auto& row : ps) {
    if (row.value("release", 0) == 2 && row.value("state", "") == "running") ++v2;
  }
  EXPECT_EQ(v2, 3) << ps.dump();
}

// Rolling with a version whose health check always fails. max_failure_ratio 0.4 of 3
// replicas tolerates the first failed instance (1/3); the second (2/3) triggers
// failure_action: rollback, and the old release is back to 3 serving replicas.
TEST(DeployTest, RollingToleratesFailuresUpToMaxFailureRatioThenRollsBack) {
  int port = FreePort();
  const char deploy[] = R"(        strategy: rolling
        drain: 200ms
        health_timeout: 5s
        analysis: {min_requests: 10, window: 2s, interval: 100ms, health_failures: 2}
)";
  const std::string extra =
      "    deploy:\n      replicas: 3\n      update_config: {parallelism: 1, order: "
      "start-first, monitor: 200ms, failure_action: rollback, max_failure_ratio: 0.4}\n";
  Project p(Compose(port, deploy, extra));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  p.Write("compose.yaml", Compose(port, deploy, extra, HealthStart::kCounted));
  CmdResult d = p.Slipway({"deploy", "--env", "VERSION=v2", "--env", "HEALTH=fail"});
  EXPECT_EQ(d.rc, 1) << d.out << d.err;
  EXPECT_NE(d.out.find("tolerating 1 failed of 3 replicas (33% <= max_failure_ratio 40%)"),
            std::string::npos)
      << d.out;
  EXPECT_NE(d.err.find("rolled back"), std::string::npos) << d.err;
  load.Stop();
  // Unhealthy instances never get traffic: nothing fails for the clients.
  EXPECT_EQ(load.failed(), 0) << load.failures();
  EXPECT_EQ(load.last_version(), "v1");
  int v1 = 0;
  for (const auto& row : p.Ps()) {
    if (row.value("release", 0) == 1 && row.value("state", "") == "running") ++v1;
  }
  EXPECT_EQ(v1, 3);
  EXPECT_EQ(Releases(p)[0]["status"], "rolled-back");
}

// Two replicas updated one at a time (start-first) under `failure_action`.
std::string RollingTwoReplicas(int port, const std::string& health_timeout,
                               const std::string& failure_action,
                               HealthStart start = HealthStart::kGrace) {
  return Compose(
      port,
      "        strategy: rolling\n        drain: 200ms\n        health_timeout: " + health_timeout +
          "\n        analysis: {min_requests: 10, window: 2s, interval: 100ms, "
          "health_failures: 2}\n",
      "    deploy:\n      replicas: 2\n      update_config: {parallelism: 1, order: "
      "start-first, monitor: 200ms, failure_action: " +
          failure_action + "}\n",
      start);
}

// failure_action: pause stops the update where it failed: no rollback, the release is
// marked failed with "paused", and the replicas already replaced stay as they are.
TEST(DeployTest, RollingPausesOnFailureWhenAsked) {
  int port = FreePort();
  Project p(RollingTwoReplicas(port, "5s", "pause"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  p.Write("compose.yaml", RollingTwoReplicas(port, "5s", "pause", HealthStart::kCounted));
  CmdResult d = p.Slipway({"deploy", "--env", "VERSION=v2", "--env", "HEALTH=fail"});
  EXPECT_EQ(d.rc, 1) << d.out << d.err;
  EXPECT_NE(d.err.find("paused"), std::string::npos) << d.err;
  std::string body;
  EXPECT_EQ(HttpGet(port, "/version", &body), 200);
  EXPECT_EQ(body, "v1\n");
  auto rel = Releases(p);
  EXPECT_EQ(rel[0]["status"], "failed");
  EXPECT_NE(rel[0]["reason"].get<std::string>().find("paused"), std::string::npos) << rel.dump();
}

// failure_action: continue goes on past failed instances, as compose's update_config defines
// it: the deploy notes each failure it continued past and does not roll back. A release that
// ends with no ready replica is still reported as failed (exit 1), not "succeeded".
TEST(DeployTest, RollingContinuesPastFailuresWhenAsked) {
  int port = FreePort();
  Project p(RollingTwoReplicas(port, "3s", "continue"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  p.Write("compose.yaml", RollingTwoReplicas(port, "3s", "continue", HealthStart::kCounted));
  CmdResult d = p.Slipway({"deploy", "--env", "VERSION=v2", "--env", "HEALTH=fail"}, 60s);
  EXPECT_EQ(d.rc, 1) << d.out << d.err;
  // Both batches failed and both were continued past: the update went through to the end.
  size_t first = d.out.find("continuing (failure_action: continue)");
  ASSERT_NE(first, std::string::npos) << d.out;
  EXPECT_NE(d.out.find("continuing (failure_action: continue)", first + 1), std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("rolling: 1 of 2 replaced"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("rolling back"), std::string::npos) << d.out;
  EXPECT_NE(d.err.find("none of the 2 new replicas is ready"), std::string::npos) << d.err;
  auto rel = Releases(p);
  EXPECT_EQ(rel[0]["status"], "failed") << rel[0].dump();
  EXPECT_EQ(rel[0]["numbers"]["failed_instances"], 2) << rel[0].dump();
  int r2 = 0, r1 = 0;
  for (const auto& row : p.Ps()) {
    if (row.value("state", "") != "running") continue;
    (row.value("release", 0) == 2 ? r2 : r1)++;
  }
  EXPECT_EQ(r2, 2);  // continued to the end: every replica replaced
  EXPECT_EQ(r1, 0);
}

struct BadCase {
  const char* name;
  std::vector<std::string> env;  // the bad release's --env
  const char* reason;            // part of the one-line verdict
  bool traffic_moves;            // requests may fail while the analysis observes them
  // The bad release's health check (see Compose): kCounted for a version that must never
  // become ready.
  HealthStart start = HealthStart::kGrace;
};

class BadVersionTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadVersionTest, RolledBackAutomatically) {
  const BadCase& c = GetParam();
  int port = FreePort();
  const char deploy[] = R"(        strategy: blue-green
        monitor: 8s
        drain: 300ms
        health_timeout: 10s
        analysis: {min_requests: 6, window: 3s, interval: 100ms}
)";
  Project p(Compose(port, deploy));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  if (c.start == HealthStart::kCounted) p.Write("compose.yaml", Compose(port, deploy, "", c.start));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> args = {"deploy", "api"};
  for (const std::string& e : c.env) args.insert(args.end(), {"--env", e});
  CmdResult d = p.Slipway(args, 60s);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(d.rc, 1) << d.out << d.err;
  EXPECT_NE(d.err.find(c.reason), std::string::npos) << d.err;
  EXPECT_LT(took, 20s);
  auto rel = Releases(p);
  ASSERT_FALSE(rel.empty());
  if (c.traffic_moves) {
    // The breach cut the 8 s monitor window short.
    EXPECT_LT(rel[0]["numbers"].value("detect_ms", 1e9), 7000) << rel[0].dump();
  }
  // Every request after the rollback is served by the old set.
  int64_t ok_before = load.ok(), failed_before = load.failed();
  ASSERT_TRUE(WaitFor([&] { return load.ok() > ok_before + 100; }, 10s));
  load.Stop();
  EXPECT_EQ(load.failed(), failed_before) << load.failures();
  if (!c.traffic_moves) {
    EXPECT_EQ(load.failed(), 0) << load.failures();
  }
  EXPECT_EQ(load.last_version(), "v1");
  EXPECT_EQ(rel[0]["status"], "rolled-back") << rel.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Bad, BadVersionTest,
    ::testing::Values(
        BadCase{"errors", {"ERROR_RATE=0.5"}, "rolled back: 5xx rate", true},
        BadCase{"health", {"HEALTH=fail"}, "never became ready", false, HealthStart::kCounted},
        // It crashes 50 ms after it starts to listen. Its health check fails too: a probe that
        // lands in those 50 ms (a slow start on a loaded machine) would make it ready and move
        // traffic to it. Whether the crash or the failing checks end it first, it is abandoned
        // before any request reaches it.
        BadCase{"crash",
                {"CRASH_AFTER_S=0.05", "HEALTH=fail"},
                "abandoned",
                false,
                HealthStart::kCounted},
        BadCase{"latency", {"LATENCY_MS=2000"}, "p95 latency", true}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

TEST(DeployTest, ConcurrentDeployIsRefused) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: blue-green
        monitor: 3s
        drain: 100ms
        analysis: {min_requests: 1000}
)"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  CmdResult first;
  std::thread t([&] { first = p.Slipway({"deploy", "api", "--env", "VERSION=v2"}); });
  ASSERT_TRUE(WaitFor([&] {
    auto prog = p.Slipway({"releases", "api", "--format", "json"});
    return prog.out.find("\"running\"") != std::string::npos;
  }));
  CmdResult second = p.Slipway({"deploy", "api", "--env", "VERSION=v3"});
  t.join();
  EXPECT_EQ(second.rc, 1) << second.out << second.err;
  EXPECT_NE(second.err.find("a deploy of api is already in progress"), std::string::npos)
      << second.err;
  EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
  EXPECT_EQ(first.rc, 0) << first.out << first.err;
}

// The compose way to ship a version: the image tag comes from the environment, and a deploy
// re-reads the file. Without --version, each release is labelled with its image's tag.
TEST(DeployTest, AnUnlabelledReleaseCarriesItsImageTag) {
  int port = FreePort();
  Project p(R"(services:
  api:
    image: shop/api:${API_TAG:-1.0}
    ports: ["127.0.0.1:)" +
            std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
    x-slipway:
      command: [")" +
            kTestapp +
            R"("]
      healthcheck: {http: /health}
      deploy: {strategy: blue-green, monitor: 200ms, drain: 100ms}
)");
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  auto rel = Releases(p);
  ASSERT_EQ(rel.size(), 1u) << rel.dump();
  EXPECT_EQ(rel[0]["version"], "1.0");

  CmdResult d = p.Slipway({"deploy", "api"}, 60s, {"API_TAG=1.1"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("deployed api r2 (blue-green, 1.1)"), std::string::npos) << d.out;
  CmdResult labelled =
      p.Slipway({"deploy", "api", "--version", "1.1-hotfix"}, 60s, {"API_TAG=1.1"});
  ASSERT_EQ(labelled.rc, 0) << labelled.out << labelled.err;
  rel = Releases(p);
  ASSERT_EQ(rel.size(), 3u) << rel.dump();
  EXPECT_EQ(rel[0]["version"], "1.1-hotfix");  // --version wins
  EXPECT_EQ(rel[1]["version"], "1.1");
}

TEST(DeployTest, FailingPreHookAbortsBeforeTrafficMoves) {
  int port = FreePort();
  Project p(Compose(port, R"(        strategy: blue-green
        hooks: {pre: [sh, -c, "echo no backup; exit 4"]}
)"));
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  CmdResult d = p.Slipway({"deploy", "api", "--env", "VERSION=v2"});
  EXPECT_EQ(d.rc, 1) << d.out << d.err;
  EXPECT_NE(d.err.find("pre hook run sh -c echo no backup; exit 4 failed"), std::string::npos)
      << d.err;
  EXPECT_NE(d.err.find("no backup"), std::string::npos) << d.err;
  std::string body;
  EXPECT_EQ(HttpGet(port, "/", &body), 200);
  EXPECT_NE(body.find("version=v1"), std::string::npos) << body;
  EXPECT_EQ(Releases(p)[0]["status"], "failed");
}

// A service reached only through x-slipway.routes (no published port of its own) is as much
// behind the proxy as a published one: without a strategy it deploys blue-green, not recreate
// (which would stop the old instance first and fail requests), and a background worker with
// neither keeps the recreate default.
TEST(DeployTest, ARouteOnlyServiceDefaultsToBlueGreenAndLosesNothing) {
  const int port = FreePort();
  Project p(R"(services:
  api:
    command: [")" +
            kTestapp + R"("]
    environment: {VERSION: v1}
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      deploy:
        monitor: 1s
        drain: 300ms
        health_timeout: 10s
        analysis: {min_requests: 10, window: 2s, interval: 100ms}
  worker:
    command: ["sleep", "60"]
x-slipway:
  routes:
    - {listen: "127.0.0.1:)" +
            std::to_string(port) + R"(", service: api}
)");
  ASSERT_NO_FATAL_FAILURE(Up(p, port));
  Load load(port);
  ASSERT_TRUE(WaitFor([&] { return load.ok() > 50; }));
  CmdResult d = p.Slipway({"deploy", "api", "--env", "VERSION=v2"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("(blue-green"), std::string::npos) << d.out;
  ASSERT_TRUE(WaitFor([&] { return load.last_version() == "v2"; }, 5s));
  int64_t at_switch = load.ok();
  ASSERT_TRUE(WaitFor([&] { return load.ok() > at_switch + 100; }, 10s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.failures();
  EXPECT_EQ(Releases(p)[0]["strategy"], "blue-green");

  CmdResult w = p.Slipway({"deploy", "worker", "--env", "X=1"});
  ASSERT_EQ(w.rc, 0) << w.out << w.err;
  EXPECT_NE(w.out.find("(recreate"), std::string::npos) << w.out;

  // A recreate of an unchanged spec: ps names the release the deploy made, not the one
  // before it (the spec hash alone did not change the release).
  const nlohmann::json before = p.Ps();
  CmdResult same = p.Slipway({"deploy", "worker", "--env", "X=1", "--strategy", "recreate"});
  ASSERT_EQ(same.rc, 0) << same.out << same.err;
  const nlohmann::json worker = p.Json({"releases", "worker", "--format", "json"});
  ASSERT_GE(worker.size(), 2u) << worker.dump();
  const int64_t newest = worker[0].value("number", int64_t{0});
  int rows = 0;
  for (const auto& row : p.Ps()) {
    if (row.value("service", "") != "worker") continue;
    ++rows;
    EXPECT_EQ(row.value("release", int64_t{0}), newest)
        << row.dump() << "\nbefore: " << before.dump();
    EXPECT_EQ(row.value("set", ""), "r" + std::to_string(newest)) << row.dump();
  }
  EXPECT_EQ(rows, 1);
}

}  // namespace
}  // namespace slipway::testing
