#include "flags/fractional.h"

#include <gtest/gtest.h>

#include <vector>

namespace slipway::flags {
namespace {

TEST(Fractional, MurmurHash3KnownVectors) {
  EXPECT_EQ(FractionalHash(""), 0u);
  EXPECT_EQ(FractionalHash("hello"), 0x248bfa47u);
  EXPECT_EQ(FractionalHash("The quick brown fox jumps over the lazy dog"), 0x2e4ff723u);
}

TEST(Fractional, BucketAtHashEdges) {
  const std::vector<int64_t> halves = {50, 50};
  // bucket = (hash * 100) >> 32
  EXPECT_EQ(FractionalBucket(0, halves), 0u);
  EXPECT_EQ(FractionalBucket(1, halves), 0u);
  EXPECT_EQ(FractionalBucket(0x7fffffffu, halves), 0u);  // bucket 49
  EXPECT_EQ(FractionalBucket(0x80000000u, halves), 1u);  // bucket 50
  EXPECT_EQ(FractionalBucket(0xffffffffu, halves), 1u);  // bucket 99
}

TEST(Fractional, BucketEdgesWithUnevenWeights) {
  const std::vector<int64_t> w = {1, 2, 1};  // buckets 0 | 1-2 | 3
  EXPECT_EQ(FractionalBucket(0, w), 0u);
  EXPECT_EQ(FractionalBucket(0x3fffffffu, w), 0u);  // (h*4)>>32 = 0
  EXPECT_EQ(FractionalBucket(0x40000000u, w), 1u);  // = 1
  EXPECT_EQ(FractionalBucket(0xbfffffffu, w), 1u);  // = 2
  EXPECT_EQ(FractionalBucket(0xc0000000u, w), 2u);  // = 3
  EXPECT_EQ(FractionalBucket(0xffffffffu, w), 2u);
}

TEST(Fractional, MaximumTotalWeight) {
  const std::vector<int64_t> max = {2147483646, 1};
  EXPECT_EQ(FractionalBucket(0xffffffffu, max), 1u);
  EXPECT_EQ(FractionalBucket(0xfffffffdu, max), 0u);
  EXPECT_EQ(FractionalBucket(0, std::vector<int64_t>{2147483647, 1}), std::nullopt);
}

TEST(Fractional, ZeroAndNegativeWeights) {
  EXPECT_EQ(FractionalBucket(5, std::vector<int64_t>{0, 0}), std::nullopt);
  EXPECT_EQ(FractionalBucket(5, std::vector<int64_t>{}), std::nullopt);
  EXPECT_EQ(FractionalBucket(0, std::vector<int64_t>{0, 1}), 1u);
  EXPECT_EQ(FractionalBucket(0xffffffffu, std::vector<int64_t>{-3, 1, 0}), 1u);
}

TEST(Fractional, DistributionIsRoughlyEven) {
  const std::vector<int64_t> w = {25, 25, 25, 25};
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 20000; ++i) {
    auto b = FractionalBucket(FractionalHash("flag" + std::to_string(i)), w);
    ASSERT_TRUE(b.has_value());
    ++counts[*b];
  }
  for (int c : counts) {
    EXPECT_GT(c, 4500);
    EXPECT_LT(c, 5500);
  }
}

}  // namespace
}  // namespace slipway::flags
