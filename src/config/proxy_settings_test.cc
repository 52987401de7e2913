#include "config/proxy_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

Result<Project> LoadProxy(const std::string& body) {
  return LoadText("services:\n  api:\n    command: ./api\nx-slipway:\n  proxy:\n" + body);
}

TEST(ProxySettingsTest, DefaultsAreUnsetAndEveryKeyParses) {
  auto none = LoadText("services:\n  api:\n    command: ./api\n");
  ASSERT_TRUE(none.ok()) << ErrorOf(none);
  EXPECT_FALSE(none->proxy.workers.has_value());
  EXPECT_FALSE(none->proxy.max_body.has_value());

  auto p = LoadProxy(
      "    workers: 1\n    connect_timeout: 500ms\n    response_timeout: 20s\n"
      "    request_timeout: 0s\n    idle_timeout: 30s\n    header_timeout: 5s\n"
      "    max_body: 10MiB\n    retry_after: 120\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const ProxySettings& s = p->proxy;
  EXPECT_EQ(*s.workers, 1);
  EXPECT_EQ(*s.connect_timeout, Duration(500));
  EXPECT_EQ(*s.response_timeout, Duration(20'000));
  EXPECT_EQ(*s.request_timeout, Duration(0));
  EXPECT_EQ(*s.idle_timeout, Duration(30'000));
  EXPECT_EQ(*s.header_timeout, Duration(5'000));
  EXPECT_EQ(*s.max_body, 10ull << 20);
  EXPECT_EQ(*s.retry_after, 120);
}

TEST(ProxySettingsTest, ErrorsNameFileLineKeyAndExpectation) {
  EXPECT_EQ(ErrorOf(LoadProxy("    workers: 0\n")),
            "compose.yaml:6:5: x-slipway.proxy.workers: must be 1-256 (expected a thread count)");
  EXPECT_EQ(ErrorOf(LoadProxy("    max_body: 10MB\n")),
            "compose.yaml:6:5: x-slipway.proxy.max_body: \"10MB\" is not a size (expected bytes, "
            "or a number with KiB, MiB or GiB, e.g. 10MiB)");
  EXPECT_NE(ErrorOf(LoadProxy("    connect_timeout: 0s\n")).find("must be more than 0"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadProxy("    keepalive: 3\n")).find("unknown key \"keepalive\""),
            std::string::npos);
}

}  // namespace
}  // namespace slipway::config
