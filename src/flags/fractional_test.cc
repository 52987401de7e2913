#include "flags/fractional.h"

#include <gtest/gtest.h>

#include <random>
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

// The compiled table must choose exactly as FractionalBucket does: at the hash edges, on
// zero, negative and maximal weights, and on random weights and hashes.
TEST(Fractional, TableAgreesWithBucket) {
  const std::vector<std::vector<int64_t>> fixed = {
      {50, 50}, {1, 2, 1}, {2147483646, 1}, {0, 1},          {-3, 1, 0}, {0, 0, 7, 0}, {1},
      {0, 0},   {},        {2147483647, 1}, {100, 0, 0, 100}};
  const uint32_t edges[] = {0,           1,           2,           0x3fffffffu,
                            0x40000000u, 0x7fffffffu, 0x80000000u, 0xbfffffffu,
                            0xc0000000u, 0xfffffffdu, 0xfffffffeu, 0xffffffffu};
  auto check = [](const std::vector<int64_t>& w, uint32_t h) {
    FractionalTable t(w);
    auto want = FractionalBucket(h, w);
    ASSERT_EQ(t.valid(), want.has_value()) << "weights " << w.size() << " hash " << h;
    if (want) {
      ASSERT_EQ(t.Pick(h), *want) << "hash " << h;
    }
  };
  for (const auto& w : fixed) {
    for (uint32_t h : edges) check(w, h);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::vector<int64_t> w(1 + rng() % 6);
    for (auto& x : w) x = static_cast<int64_t>(rng() % 120) - 10;
    for (int i = 0; i < 20; ++i) check(w, static_cast<uint32_t>(rng()));
  }
}

}  // namespace
}  // namespace slipway::flags
