// Shared checks for the HTTP codec fuzzers: slices must lie inside the input, and parsing a
// split input must reach the same verdict as parsing it whole.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace slipway::http::fuzz {

inline void Require(bool cond) {
  if (!cond) std::abort();
}

inline bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// A split point derived from the input, so the fuzzer explores it too.
inline size_t SplitPoint(std::string_view data) {
  if (data.empty()) return 0;
  return static_cast<unsigned char>(data[0]) % (data.size() + 1);
}

}  // namespace slipway::http::fuzz
