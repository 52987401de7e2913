#include "flags/fractional.h"

#include <murmurhash.h>

#include <algorithm>

namespace slipway::flags {

uint32_t FractionalHash(std::string_view bucket_by) {
  uint32_t out[1] = {0};
  lmmh_x86_32(bucket_by.data(), static_cast<unsigned>(bucket_by.size()), 0, out);
  return out[0];
}

std::optional<size_t> FractionalBucket(uint32_t hash, std::span<const int64_t> weights) {
  uint64_t total = 0;
  for (int64_t w : weights) {
    total += static_cast<uint64_t>(std::max<int64_t>(0, w));
    if (total > kMaxFractionalWeight) return std::nullopt;
  }
  if (total == 0) return std::nullopt;
  // hash < 2^32 and total < 2^31, so the product fits in 64 bits.
  const uint64_t bucket = (static_cast<uint64_t>(hash) * total) >> 32;
  uint64_t sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    sum += static_cast<uint64_t>(std::max<int64_t>(0, weights[i]));
    if (sum > bucket) return i;
  }
  return std::nullopt;  // unreachable: bucket < total
}

FractionalTable::FractionalTable(std::span<const int64_t> weights) {
  uint64_t sum = 0;
  for (int64_t w : weights) {
    sum += static_cast<uint64_t>(std::max<int64_t>(0, w));
    if (sum > kMaxFractionalWeight) {
      ends_.clear();
      return;  // total_ stays 0: invalid
    }
    ends_.push_back(sum);
  }
  total_ = sum;
}

size_t FractionalTable::Pick(uint32_t hash) const {
  const uint64_t bucket = (static_cast<uint64_t>(hash) * total_) >> 32;
  size_t index = 0;
  for (uint64_t end : ends_) index += end <= bucket;
  return index;  // < ends_.size(): bucket < total_ == ends_.back()
}

}  // namespace slipway::flags
