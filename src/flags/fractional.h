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

namespace slipway::flags {

constexpr uint64_t kMaxFractionalWeight = 2147483647;

uint32_t FractionalHash(std::string_view bucket_by);

// Index of the chosen entry for `hash` over `weights`, or nullopt when the total weight is 0
// or above kMaxFractionalWeight.
std::optional<size_t> FractionalBucket(uint32_t hash, std::span<const int64_t> weights);

}  // namespace slipway::flags
