// Fractional bucketing as flagd defines it for the `fractional` operator.
//
// The bucketing value (by default flag key + targeting key) is hashed with MurmurHash3
// x86 32-bit, seed 0, over its UTF-8 bytes; the bucket is (hash * totalWeight) >> 32, and the
// first entry whose running weight sum exceeds the bucket wins. Weights are integers, negative
// ones count as 0, and their sum must not exceed 2^31-1. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace slipway::flags {

constexpr uint64_t kMaxFractionalWeight = 2147483647;

uint32_t FractionalHash(std::string_view bucket_by);

// Index of the chosen entry for `hash` over `weights`, or nullopt when the total weight is 0
// or above kMaxFractionalWeight.
std::optional<size_t> FractionalBucket(uint32_t hash, std::span<const int64_t> weights);

// The same choice over weights checked and summed once (a rule's literal entries, at compile
// time): Pick() reads no weight and takes no branch per entry, since the winner's index is the
// number of running sums at or below the bucket. Immutable once built; any thread.
class FractionalTable {
 public:
  FractionalTable() = default;
  explicit FractionalTable(std::span<const int64_t> weights);
  // False when FractionalBucket would answer nullopt (total weight 0 or too large).
  bool valid() const { return total_ != 0; }
  // FractionalBucket(hash, weights) for a valid table.
  size_t Pick(uint32_t hash) const;

 private:
  uint64_t total_ = 0;
  std::vector<uint64_t> ends_;  // running weight sums, negative weights counted as 0
};

}  // namespace slipway::flags
