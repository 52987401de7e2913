// Silences: Alertmanager's silences, kept by the daemon. A silence is a set of label matchers
// (`name=value`, `name!=value`, `name=~regex`, `name!~regex`, all of which must hold), a
// start and an end time, who made it and why. An alert whose labels match a silence that is
// live now (starts_ms <= now < ends_ms) is still evaluated and listed, marked silenced, but
// the Notifier sends none of its notifications (resolved ones included).
//
// As in Alertmanager, a label the alert lacks reads as "", regexes are anchored
// (`^(?:re)$`, RE2), and a silence must have at least one matcher that does not match the
// empty string (so it cannot silence everything by accident). Expiring a silence sets its end
// to now; expired silences stay listed for kRetentionMs, then are forgotten.
//
// Kept in the state database (table `silences`, step 2 of the "alerts" module, rules.h's
// AlertStateSchema) at every change and read back by Open(), so a restarted daemon keeps them.
//
// Ownership: the AlertingService owns the set; it borrows the store and the clock.
// Threads: the control loop only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "promql/regex.h"
#include "store/store.h"

namespace slipway::alerts {

enum class MatchOp { kEqual, kNotEqual, kRegex, kNotRegex };
std::string_view MatchOpName(MatchOp op);  // "=", "!=", "=~", "!~"

struct Matcher {
  std::string name;
  std::string value;  // the literal, or the regex as written
  MatchOp op = MatchOp::kEqual;
  std::shared_ptr<const promql::Regex> re;  // kRegex, kNotRegex: compiled from value

  bool Matches(const std::map<std::string, std::string>& labels) const;
  // name="value" with the value quoted (backslash and quote escaped).
  std::string ToString() const;
};

// Parses `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"` (the value may also be
// unquoted). InvalidInput naming what is wrong: a bad label name, a missing operator, a regex
// that does not compile.
Result<Matcher> ParseMatcher(std::string_view text);
// The same from parts (the regex compiled, the name checked).
Result<Matcher> MakeMatcher(std::string name, MatchOp op, std::string value);

struct Silence {
  std::string id;  // 16 hex digits
  std::vector<Matcher> matchers;
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;
  int64_t created_ms = 0;
  std::string created_by;
  std::string comment;

  bool ActiveAt(int64_t now_ms) const { return starts_ms <= now_ms && now_ms < ends_ms; }
  bool Matches(const std::map<std::string, std::string>& labels) const;
  // {"id", "matchers": ["a=\"b\"", ...], "starts_at", "ends_at" (RFC 3339), "starts_ms",
  //  "ends_ms", "created_by", "comment", "state": "active"|"pending"|"expired"}
  nlohmann::json ToJson(int64_t now_ms) const;
};

// What Add() is given; checked there (the API and the CLI send the same).
struct SilenceSpec {
  std::vector<Matcher> matchers;
  int64_t starts_ms = 0;  // 0: now
  int64_t ends_ms = 0;
  std::string created_by;
  std::string comment;
};

class Silences {
 public:
  static constexpr int64_t kMaxDurationMs = 30LL * 24 * 3600 * 1000;  // 30 days
  static constexpr int64_t kRetentionMs = 5LL * 24 * 3600 * 1000;     // expired ones listed
  static constexpr size_t kMaxMatchers = 32;
  static constexpr size_t kMaxComment = 1024;
  static constexpr size_t kMaxCreatedBy = 128;
  static constexpr size_t kMaxValue = 1024;

  // Applies the alerts module's schema and loads the silences kept (store nullptr: in memory).
  static Result<std::unique_ptr<Silences>> Open(store::Store* store, Clock* clock);

  // Checks the spec (InvalidInput naming the field: matchers, ends_at, comment, by) and keeps
  // the silence; answers it with its id.
  Result<Silence> Add(SilenceSpec spec);
  // Alertmanager's edit: ends the live or pending silence `id` now and keeps `spec` as a new
  // one (a new id), answered. The spec is checked first: on any error nothing changes.
  // NotFound for an unknown id; FailedPrecondition when it already expired.
  Result<Silence> Replace(const std::string& id, SilenceSpec spec);
  // Ends a silence now. NotFound for an unknown id; FailedPrecondition when already expired.
  Status Expire(const std::string& id);
  // The ids of the silences live at `now_ms` that match `labels`.
  std::vector<std::string> Active(const std::map<std::string, std::string>& labels,
                                  int64_t now_ms) const;
  // Every silence kept (live, pending and recently expired), newest first.
  std::vector<Silence> List() const;

 private:
  Silences(store::Store* store, Clock* clock) : store_(store), clock_(clock) {}
  // Add's checks; fills a zero start with now.
  Status Check(SilenceSpec& spec, int64_t now) const;
  Status Load();
  Status Save(const Silence& s);
  Status Purge(int64_t now_ms);

  store::Store* store_;
  Clock* clock_;
  std::map<std::string, Silence> silences_;  // by id
};

}  // namespace slipway::alerts
