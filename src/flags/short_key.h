// Equality and hashing of short keys (flag keys, variant names, context attribute names) with
// word loads instead of libc calls: these run several times per evaluation, on strings of a
// few to a few dozen bytes, where a memcmp call through the PLT costs more than the compare.
// Pure inline functions; any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace slipway::flags {

// a == b, comparing 8 (or 4) bytes at a time; the tail is one overlapping load.
inline bool SameKey(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    uint64_t u, v;
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&u, x + i, 8);
      std::memcpy(&v, y + i, 8);
      if (u != v) return false;
    }
    std::memcpy(&u, x + n - 8, 8);
    std::memcpy(&v, y + n - 8, 8);
    return u == v;
  }
  if (n >= 4) {
    uint32_t u1, v1, u2, v2;
    std::memcpy(&u1, x, 4);
    std::memcpy(&v1, y, 4);
    std::memcpy(&u2, x + n - 4, 4);
    std::memcpy(&v2, y + n - 4, 4);
    return u1 == v1 && u2 == v2;
  }
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

// <0, 0, >0 as a and b compare bytewise (std::string_view::compare's order), 8 bytes at a time.
inline int CompareKeys(std::string_view a, std::string_view b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
  for (; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// A key to search a std::map<std::string, ..., std::less<>> with CompareKeys instead of
// std::string's compare (a memcmp call per tree level).
struct KeyProbe {
  std::string_view key;
};
inline bool operator<(const std::string& a, KeyProbe b) { return CompareKeys(a, b.key) < 0; }
inline bool operator<(KeyProbe a, const std::string& b) { return CompareKeys(a.key, b) < 0; }

inline bool KeyStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && SameKey(s.substr(0, prefix.size()), prefix);
}

inline bool KeyEndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && SameKey(s.substr(s.size() - suffix.size()), suffix);
}

// A multiplicative hash taking 8 bytes at a time, finished with MurmurHash3's 64-bit mixer so
// every input bit reaches the low bits an index table uses (keys like "flag-01" and "flag-02"
// differ only in their high bytes). Not for untrusted adversarial keys at scale.
inline uint64_t KeyHash(std::string_view k) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = (k.size() + 1) * kMul;
  const char* p = k.data();
  const size_t size = k.size();
  uint64_t w = 0;
  if (size >= 8) {
    size_t i = 0;
    for (; i + 8 < size; i += 8) {
      std::memcpy(&w, p + i, 8);
      h = (h ^ w) * kMul;
      h ^= h >> 32;
    }
    std::memcpy(&w, p + size - 8, 8);  // the last 8 bytes, overlapping: one load, no stall
  } else if (size >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + size - 4, 4);
    w = (static_cast<uint64_t>(hi) << 32) | lo;
  } else {
    for (size_t i = 0; i < size; ++i)
      w |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  h ^= w;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

}  // namespace slipway::flags
