#include "net/host_port.h"

#include <gtest/gtest.h>

namespace slipway::net {
namespace {

TEST(ParsePort, DigitsOnlyInRange) {
  EXPECT_EQ(ParsePort("0"), 0);
  EXPECT_EQ(ParsePort("80"), 80);
  EXPECT_EQ(ParsePort("65535"), 65535);
  EXPECT_EQ(ParsePort("00080"), 80);
  for (const char* bad : {"", "65536", "99999", "100000", "+80", "-1", " 80", "80 ", "8o", "0x50",
                          "80abc", "123456789012345678901234567890"}) {
    EXPECT_EQ(ParsePort(bad), std::nullopt) << bad;
  }
}

TEST(SplitHostPort, HostsAndBrackets) {
  auto hp = SplitHostPort("127.0.0.1:8080");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 8080);

  hp = SplitHostPort("[::1]:443");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 443);

  hp = SplitHostPort(":9");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "");
  EXPECT_EQ(hp->port, 9);

  hp = SplitHostPort("localhost:0");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->port, 0);
}

TEST(SplitHostPort, MalformedIsRefused) {
  for (const char* bad : {"", "localhost", "8080", "host:", "host:+1", "host:70000", "[::1:80",
                          "[:80", "host: 80", "::1", "::1:80", "[::1]"}) {
    EXPECT_EQ(SplitHostPort(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace slipway::net
