// Semantic versions for flagd's `sem_ver` operator.
//
// Parsing follows flagd's SDKs: an optional leading v/V, then a strict semver 2.0.0 version
// (MAJOR.MINOR.PATCH, optional -prerelease and +build); partial versions made of digits only
// ("1", "1.2") are completed with zeros. Anything else does not parse. Plain values; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::flags {

// A sem_ver operator: "=", "!=", "<", "<=", ">", ">=", "^", "~".
enum class SemVerOp { kEq, kNe, kLt, kLe, kGt, kGe, kCaret, kTilde };

struct SemVer {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers; empty = a release
};

std::optional<SemVer> ParseSemVer(std::string_view text);

// The usual shape alone, "[v]MAJOR.MINOR.PATCH" of digits without leading zeros (surrounding
// blanks allowed): true and the three numbers in `out`. False means "not that shape", not
// "invalid": ParseSemVer decides then. Lets a rule compare plain versions without building a
// SemVer.
bool ParsePlainSemVer(std::string_view text, uint64_t out[3]);

// SemVerMatches for two releases given as plain triples.
bool PlainSemVerMatches(const uint64_t a[3], SemVerOp op, const uint64_t b[3]);

// <0, 0, >0 by semver precedence (build metadata ignored).
int CompareSemVer(const SemVer& a, const SemVer& b);

// Applies a sem_ver operator ("=", "!=", "<", "<=", ">", ">=", "^", "~"); nullopt for an
// unknown operator.
std::optional<bool> SemVerMatches(const SemVer& a, std::string_view op, const SemVer& b);

// The same with the operator parsed once (a literal operator in a compiled rule).
std::optional<SemVerOp> ParseSemVerOp(std::string_view op);
bool SemVerMatches(const SemVer& a, SemVerOp op, const SemVer& b);

}  // namespace slipway::flags
