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

}  // namespace
}  // namespace slipway
