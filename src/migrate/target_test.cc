#include "migrate/target.h"

#include <gtest/gtest.h>

#include "base/test_require.h"
#include "migrate/driver.h"
#include "migrate/pg_test_server.h"

namespace slipway::migrate {
namespace {

TEST(TargetTest, ConnInfoWithoutPasswordKeepsEverythingElse) {
  auto t = ParseTarget("postgres://app:s3cr%27et@db.local:6543/shop?sslmode=disable", "/");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->Password(), "s3cr'et");
  EXPECT_NE(t->ConnInfo().find("password='s3cr\\'et'"), std::string::npos) << t->ConnInfo();
  const std::string bare = t->ConnInfoWithoutPassword();
  EXPECT_EQ(bare.find("s3cr"), std::string::npos) << bare;
  EXPECT_EQ(bare.find("password"), std::string::npos) << bare;
  EXPECT_NE(bare.find("host='db.local'"), std::string::npos) << bare;
  EXPECT_NE(bare.find("port='6543'"), std::string::npos) << bare;
  EXPECT_NE(bare.find("dbname='shop'"), std::string::npos) << bare;
  EXPECT_NE(bare.find("sslmode='disable'"), std::string::npos) << bare;
  EXPECT_EQ(t->Display(), "postgres://app:***@db.local:6543/shop");

  auto kv = ParseTarget("postgres:host=h user=u password='p w'", "/");
  ASSERT_TRUE(kv.ok()) << kv.status().message();
  EXPECT_EQ(kv->Password(), "p w");
  EXPECT_EQ(kv->ConnInfoWithoutPassword(), "host='h' user='u'");

  auto none = ParseTarget("postgres://app@h/db", "/");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->Password(), "");
  EXPECT_EQ(none->ConnInfoWithoutPassword(), none->ConnInfo());
}

TEST(TargetTest, ParseErrorsDoNotEchoThePassword) {
  const char* bad[] = {
      "mysql://app:pw-secret-1@h/db",               // unsupported scheme
      "postgres://app:pw-secret-1@[::1/db",         // libpq: unterminated IPv6 address
      "postgres://app:pw-secret-1%zz@h/db",         // libpq: bad percent-encoding
      "postgres://app:pw-secret-1@h/db?x=y=z",      // libpq: bad query
      "postgres:host=h password=pw-secret-1 junk",  // libpq: missing '='
      "postgres:host=h password='pw-secret-1",      // libpq: unterminated quote
  };
  for (const char* url : bad) {
    auto t = ParseTarget(url, "/");
    ASSERT_FALSE(t.ok()) << url;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput) << url;
    EXPECT_EQ(t.status().message().find("pw-secret-1"), std::string::npos)
        << url << " -> " << t.status().message();
  }
}

TEST(TargetTest, ConnectErrorsDoNotEchoThePassword) {
  std::string why;
  auto pg = testing::PgServer::Start(&why, "right-pw-1");
  SLIPWAY_REQUIRE(pg != nullptr, "a PostgreSQL server to test against: " << why);
  auto good = ParseTarget(pg->Url(), "/");
  ASSERT_TRUE(good.ok());
  auto d = Driver::Open(*good);
  ASSERT_TRUE(d.ok()) << d.status().message();  // the password is required and works

  auto wrong = ParseTarget(
      "postgres://postgres:wrong-pw-1@127.0.0.1:" + std::to_string(pg->port()) + "/postgres", "/");
  ASSERT_TRUE(wrong.ok());
  auto w = Driver::Open(*wrong);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("password authentication failed"), std::string::npos)
      << w.status().message();
  EXPECT_EQ(w.status().message().find("wrong-pw-1"), std::string::npos) << w.status().message();
}

}  // namespace
}  // namespace slipway::migrate
