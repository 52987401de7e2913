#include "migrate/libpq.h"

#include <gtest/gtest.h>

namespace slipway::migrate {
namespace {

TEST(LibPqTest, LoadsOnceAndParsesAConnectionUrl) {
  Result<const LibPq*> a = GetLibPq();
  ASSERT_TRUE(a.ok()) << a.status().message();
  Result<const LibPq*> b = GetLibPq();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  const LibPq& pq = **a;
  char* err = nullptr;
  PQconninfoOption* opts = pq.conninfoParse("postgres://ann@db.local:6543/shop", &err);
  ASSERT_NE(opts, nullptr);
  std::string host, port, dbname;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string(o->keyword) == "host") host = o->val;
    if (std::string(o->keyword) == "port") port = o->val;
    if (std::string(o->keyword) == "dbname") dbname = o->val;
  }
  pq.conninfoFree(opts);
  EXPECT_EQ(host, "db.local");
  EXPECT_EQ(port, "6543");
  EXPECT_EQ(dbname, "shop");
}

}  // namespace
}  // namespace slipway::migrate
