#include <gtest/gtest.h>

#include "api/routes.h"

namespace slipway::api {
namespace {

TEST(DaemonInfoTest, RoundTripsThroughItsJson) {
  DaemonInfo in;
  in.pid = 4242;
  in.started_ms = 1'790'000'000'000;
  in.generation = 3;
  in.start_cause = "handover";
  in.keeper_pid = 4200;
  in.keeper_started_ms = 1'789'000'000'000;
  in.binary = "/usr/local/bin/slipway";
  in.binary_mtime_ns = -5;  // a file dated before 1970 is odd, not invalid
  in.binary_inode = 1ULL << 40;
  in.handing_over = true;
  auto out = ParseDaemonInfo(DaemonInfoJson(in));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->pid, in.pid);
  EXPECT_EQ(out->started_ms, in.started_ms);
  EXPECT_EQ(out->generation, in.generation);
  EXPECT_EQ(out->start_cause, in.start_cause);
  EXPECT_EQ(out->keeper_pid, in.keeper_pid);
  EXPECT_EQ(out->keeper_started_ms, in.keeper_started_ms);
  EXPECT_EQ(out->binary, in.binary);
  EXPECT_EQ(out->binary_mtime_ns, in.binary_mtime_ns);
  EXPECT_EQ(out->binary_inode, in.binary_inode);
  EXPECT_TRUE(out->handing_over);
}

TEST(DaemonInfoTest, ANewerDaemonsExtraFieldsAreSkipped) {
  auto out = ParseDaemonInfo({{"pid", 7}, {"listeners", {1, 2}}, {"future", "x"}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->pid, 7);
  EXPECT_EQ(out->binary, "");
}

TEST(DaemonInfoTest, WrongShapesAreOneLineErrorsNotThrows) {
  const nlohmann::json bad[] = {
      nullptr,
      nlohmann::json::array({1, 2}),
      "daemon",
      {{"pid", "4242"}},
      {{"pid", -1}},
      {{"pid", 1.5}},
      {{"generation", nlohmann::json::object()}},
      {{"handing_over", "yes"}},
      {{"binary", 12}},
      {{"binary_inode", -3}},
      {{"started_ms", 1e300}},
      nlohmann::json::parse(R"({"pid": 99999999999999999999999})"),
  };
  for (const nlohmann::json& b : bad) {
    auto out = ParseDaemonInfo(b);
    ASSERT_FALSE(out.ok()) << b.dump();
    EXPECT_EQ(out.status().message().find('\n'), std::string::npos) << out.status().message();
  }
  auto typed = ParseDaemonInfo({{"pid", "4242"}});
  EXPECT_NE(typed.status().message().find("daemon.pid"), std::string::npos)
      << typed.status().message();
}

}  // namespace
}  // namespace slipway::api
