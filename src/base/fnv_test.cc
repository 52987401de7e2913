#include "base/fnv.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

// The published FNV-1a 64 test vectors: the values the callers had computed before.
TEST(Fnv1a64, KnownVectors) {
  EXPECT_EQ(Fnv1a64Of(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64Of("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64Of("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a64, AddingInPiecesEqualsTheWhole) {
  EXPECT_EQ(Fnv1a64().Add("foo").Add("bar").value(), Fnv1a64Of("foobar"));
  EXPECT_EQ(Fnv1a64().Add('f').Add("oobar").value(), Fnv1a64Of("foobar"));
}

// The published FNV-1a 32 test vectors: the migration lock key (migrate/pg_driver.cc) had
// computed these by hand before, and binaries of other versions still do.
TEST(Fnv1a32, KnownVectors) {
  EXPECT_EQ(Fnv1a32Of(""), 0x811c9dc5u);
  EXPECT_EQ(Fnv1a32Of("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv1a32Of("foobar"), 0xbf9cf968u);
  EXPECT_EQ(Fnv1a32().Add("foo").Add("bar").value(), Fnv1a32Of("foobar"));
  static_assert(Fnv1a32Of("a") == 0xe40c292cu, "usable at compile time");
}

}  // namespace
}  // namespace slipway
