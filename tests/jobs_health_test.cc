// End-to-end: health and job semantics a team relies on from its first `up`. A finished
// one-shot job is "completed" in ps, metrics and status and raises no alert; a service with
// compose's default health settings takes traffic about half a second after it is ready (not
// after a 30 s interval); a crash-looping service fails `up --wait` at once with its last lines.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

TEST(JobsHealthTest, AFinishedJobIsCompletedAndADefaultHealthcheckIsReadyAtOnce) {
  const int port = FreePort();
  Project p(
      "services:\n"
      "  init:\n"
      "    command: [\"/bin/sh\", \"-c\", \"echo migrated\"]\n"
      "    restart: \"no\"\n"
      "  web:\n"
      "    command: [\"" +
      kTestapp +
      "\"]\n"
      "    ports: [\"127.0.0.1:" +
      std::to_string(port) +
      ":8080\"]\n"
      "    depends_on: {init: {condition: service_completed_successfully}}\n"
      "    healthcheck: {retries: 3}\n"  // compose's defaults: interval 30s
      "    x-slipway: {healthcheck: {http: /health}}\n");
  auto t0 = std::chrono::steady_clock::now();
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(up.rc, 0) << up.err;
  // Docker's first probe would come after the 30 s interval.
  EXPECT_LT(took, 15s) << "up --wait waited for a slow first probe";
  EXPECT_EQ(HttpGet(port, "/health"), 200);

  bool saw_init = false;
  for (const auto& row : p.Ps()) {
    if (row.value("service", "") != "init") continue;
    saw_init = true;
    EXPECT_EQ(row.value("state", ""), "completed") << row.dump();
  }
  EXPECT_TRUE(saw_init);
  CmdResult ps = p.Slipway({"ps"});
  EXPECT_NE(ps.out.find("completed"), std::string::npos) << ps.out;

  std::string metrics;
  ASSERT_EQ(HttpGet(p.ApiPort(), "/metrics", &metrics), 200);
  EXPECT_NE(metrics.find("slipway_service_healthy{service=\"init\"} 1"), std::string::npos)
      << metrics.substr(0, 2000);
  EXPECT_NE(metrics.find("slipway_service_completed{service=\"init\"} 1"), std::string::npos);
  auto status = p.Json({"status", "--format", "json"});
  EXPECT_EQ(status["services"]["init"].value("status", ""), "ok") << status.dump();
  EXPECT_EQ(p.Slipway({"status"}).rc, 0);
  auto alerts = p.Json({"alerts", "--format", "json"});
  EXPECT_EQ(alerts.dump().find("init"), std::string::npos) << alerts.dump();
}

TEST(JobsHealthTest, ACrashLoopFailsUpWaitWithItsLastLines) {
  Project p(
      "services:\n"
      "  flaky:\n"
      "    command: [\"/bin/sh\", \"-c\", \"echo cannot-open-config-file; exit 3\"]\n"
      "    restart: always\n"
      "    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s}\n");
  auto t0 = std::chrono::steady_clock::now();
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(up.rc, 1) << up.err;
  EXPECT_NE(up.err.find("crash-looping"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("exited with code 3"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("cannot-open-config-file"), std::string::npos) << "its last lines";
  EXPECT_LT(took, 30s) << "not the whole --wait timeout (300 s)";
}

// `up` runs a one-shot job again when it failed or its definition changed, not when it
// completed with the same definition (a migration job must not run twice for nothing).
TEST(JobsHealthTest, UpRerunsAFailedOrChangedJobOnly) {
  auto compose = [](const std::string& word) {
    return "services:\n"
           "  init:\n"
           "    command: [\"/bin/sh\", \"-c\", \"test -f ready || { echo not-yet; exit 1; }; "
           "echo " +
           word +
           "\"]\n"
           "    restart: \"no\"\n"
           "  web:\n"
           "    command: [\"" +
           kTestapp +
           "\"]\n"
           "    depends_on: {init: {condition: service_completed_successfully}}\n";
  };
  Project p(compose("ran-once"));
  CmdResult first = p.Slipway({"up", "-d", "--wait"}, 60s);
  EXPECT_EQ(first.rc, 1) << first.err;
  EXPECT_NE(first.err.find("exited with code 1"), std::string::npos) << first.err;
  p.Write("ready", "");
  CmdResult second = p.Slipway({"up", "-d", "--wait"}, 60s);
  ASSERT_EQ(second.rc, 0) << "the failed job runs again: " << second.err;
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}, 60s).rc, 0);
  auto count = [&](const std::string& word) {
    std::string logs = p.Slipway({"logs", "init"}).out;
    size_t n = 0;
    for (size_t at = logs.find(word); at != std::string::npos; at = logs.find(word, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("ran-once"), 1u) << "a completed, unchanged job is not run again";
  p.Write("compose.yaml", compose("ran-changed"));
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}, 60s).rc, 0);
  EXPECT_TRUE(WaitFor([&] { return count("ran-changed") == 1; }, 5s));
  EXPECT_EQ(count("ran-once"), 1u);
}

}  // namespace
}  // namespace slipway::testing
