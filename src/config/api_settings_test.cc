#include "config/api_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

TEST(ApiSettingsTest, ReadsListenHostsAndMetricsAccess) {
  auto p = testing::LoadText(R"(services:
  a: {image: x}
x-slipway:
  api:
    listen: 127.0.0.1:8700
    hosts: [ops.example.com, Slipway.Internal]
    public_metrics: false
)");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->api.listen, "127.0.0.1:8700");
  EXPECT_EQ(p->api.hosts, (std::vector<std::string>{"ops.example.com", "Slipway.Internal"}));
  EXPECT_FALSE(p->api.public_metrics);
}

TEST(ApiSettingsTest, DefaultsAreLoopbackAndPublicMetrics) {
  auto p = testing::LoadText("services:\n  a: {image: x}\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->api.listen, "127.0.0.1:0");
  EXPECT_TRUE(p->api.hosts.empty());
  EXPECT_TRUE(p->api.public_metrics);
}

TEST(ApiSettingsTest, BadValuesNameFileLineAndKey) {
  auto err = [](const std::string& api) {
    return testing::ErrorOf(
        testing::LoadText("services:\n  a: {image: x}\nx-slipway:\n  api:\n" + api));
  };
  EXPECT_EQ(err("    hosts: [\"http://x.example\"]\n"),
            "compose.yaml:5:5: x-slipway.api.hosts: \"http://x.example\" is not a host name "
            "(expected names like ops.example.com, without scheme or port)");
  EXPECT_NE(err("    hosts: ops.example.com\n").find("x-slipway.api.hosts"), std::string::npos);
  EXPECT_NE(err("    public_metrics: sometimes\n").find("x-slipway.api.public_metrics"),
            std::string::npos);
  EXPECT_EQ(err("    host: [x]\n"),
            "compose.yaml:5:5: x-slipway.api.host: unknown key \"host\" (expected one of listen, "
            "hosts, public_metrics)");
}

}  // namespace
}  // namespace slipway::config
