// Regex: a regular expression as the Prometheus ecosystem reads one (Go's RE2 syntax, matched
// in linear time by RE2), fully anchored.
//
// PromQL's `=~`/`!~` matchers and label_replace compile `^(?s:pattern)$` (Prometheus' own
// wrapping, so `.` also matches a newline and a pattern like `a|b` is one alternative of the
// whole value); Alertmanager's `match_re` compiles `^(?:pattern)$`; a migration tool's
// `pending-match` is searched for in each line, as written. Named groups `(?P<name>..)`,
// flags like `(?i)`, and classes like `\d` and `\pL` are Go's. Matching time is linear in the
// value, whatever the pattern (no backtracking), so a pattern from a rule file or a query
// cannot stall the daemon.
//
// A compiled Regex is immutable: any thread may match with it concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace re2 {
class RE2;
}

namespace slipway::promql {

class Regex {
 public:
  enum class Dialect {
    kPromQL,        // ^(?s:pattern)$
    kAlertmanager,  // ^(?:pattern)$
    kSearch,        // the pattern as written, found anywhere (Find): a migration tool's lines
  };

  // InvalidInput `invalid regular expression "p": what` (one line) when it does not compile.
  static Result<std::shared_ptr<const Regex>> Compile(std::string_view pattern,
                                                      Dialect dialect = Dialect::kPromQL);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Whether the whole of `s` matches (kPromQL, kAlertmanager: the pattern is anchored).
  bool FullMatch(std::string_view s) const;
  // The same, filling `groups` with group 0 (the whole value) and each capturing group; a group
  // that took no part in the match has a null data().
  bool FullMatch(std::string_view s, std::vector<std::string_view>* groups) const;
  // kSearch: whether the pattern occurs anywhere in `s`, with its groups as above.
  bool Find(std::string_view s, std::vector<std::string_view>* groups) const {
    return FullMatch(s, groups);  // the same search; only the anchoring at Compile differs
  }

  // Go's regexp.Expand over a match's groups, as label_replace's replacement: `$1`, `${1}`,
  // `$name`, `${name}`, `$$`. A name is the longest run of letters, digits and `_` (so `$1x`
  // is the group named "1x", which expands to ""); a group that does not exist or took no
  // part expands to ""; a malformed `$` is kept as text.
  std::string Expand(std::string_view tmpl, const std::vector<std::string_view>& groups) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;             // as written
  std::unique_ptr<re2::RE2> re_;    // anchored
  std::vector<std::string> names_;  // per group index (0: the whole match), "" when unnamed
};

}  // namespace slipway::promql
