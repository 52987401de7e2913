// FNV-1a, 64 and 32 bit: a small, stable, non-cryptographic hash for values that must not
// change between runs, builds or versions (a scrape target's offset in its interval, an
// alert's fingerprint, a project's loopback address block; 32 bit: a migration's PostgreSQL
// advisory-lock key, which binaries of different versions must agree on). Not for untrusted
// keys of hash tables. Any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace slipway {

class Fnv1a64 {
 public:
  static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ull;  // 14695981039346656037
  static constexpr uint64_t kPrime = 0x100000001b3ull;             // 1099511628211

  constexpr Fnv1a64& Add(unsigned char c) {
    h_ ^= c;
    h_ *= kPrime;
    return *this;
  }
  constexpr Fnv1a64& Add(std::string_view s) {
    for (char c : s) Add(static_cast<unsigned char>(c));
    return *this;
  }
  constexpr uint64_t value() const { return h_; }

 private:
  uint64_t h_ = kOffsetBasis;
};

// The hash of `s` alone.
constexpr uint64_t Fnv1a64Of(std::string_view s) { return Fnv1a64().Add(s).value(); }

class Fnv1a32 {
 public:
  static constexpr uint32_t kOffsetBasis = 0x811c9dc5u;  // 2166136261
  static constexpr uint32_t kPrime = 0x01000193u;        // 16777619

  constexpr Fnv1a32& Add(unsigned char c) {
    h_ ^= c;
    h_ *= kPrime;
    return *this;
  }
  constexpr Fnv1a32& Add(std::string_view s) {
    for (char c : s) Add(static_cast<unsigned char>(c));
    return *this;
  }
  constexpr uint32_t value() const { return h_; }

 private:
  uint32_t h_ = kOffsetBasis;
};

constexpr uint32_t Fnv1a32Of(std::string_view s) { return Fnv1a32().Add(s).value(); }

}  // namespace slipway
