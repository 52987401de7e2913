// Comparison of secrets (API tokens) in time that does not depend on where two texts differ,
// so a client timing failed attempts learns nothing about how much of a guess was right. The
// length is not hidden: tokens have a fixed, public length. Pure function; any thread.
#pragma once

#include <string_view>

namespace slipway {

inline bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace slipway
