// FlagService: the live flag sets of every environment, their persistence and their audit trail.
//
// Definitions live in the state store (tables flag_sets, flags, flag_audit; see
// store/schema.cc). For each environment (dev, staging, prod, ...) the service holds one
// compiled FlagSet behind a shared_ptr. Every change — set, delete, enable, disable, rollout,
// target, import — builds and validates a whole new FlagSet first (an invalid change is refused
// with the reason and nothing changes; `set` also refuses a definition with a problem flagd
// would load, while seeds and imports load what flagd loads), then writes the rows and one audit
// entry per flag (who, when, before, after, comment) in one transaction, then swaps the pointer:
// the next evaluation sees the change, an evaluation in flight keeps the set it started with.
//
// Files and `x-slipway.flags` seed the store (Seed): a flag missing from the store is added, and
// a flag whose definition in the file changed since the last seed is replaced; flags changed at
// run time and not in the file again stay as they are, so a restart does not undo a toggle.
//
// Lifecycle: each flag has created/updated times and a last-evaluated time (recorded in memory
// on every evaluation, persisted by FlushEvaluated). Stale() lists flags fully rolled out (no
// targeting, or a fractional rollout with one bucket at 100%) or not evaluated for N days.
//
// Threads: one thread (the daemon's control loop) calls every method; FlagSets handed out by
// Get() may be evaluated anywhere.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "flags/flag_set.h"
#include "store/schema.h"
#include "store/statement.h"
#include "store/store.h"

namespace slipway::flags {

// The flags tables' schema steps (store/schema.h); FlagService::Open applies them.
const store::ModuleSchema& FlagsSchema();

struct Change {
  std::string actor = "unknown";  // who: a user name, "file", "api"
  std::string comment;
};

struct AuditEntry {
  int64_t id = 0;
  std::string env;
  std::string key;
  int64_t wall_ms = 0;
  std::string actor;
  std::string action;  // create, update, delete, enable, disable, rollout, target, import, seed
  Json before;         // null when the flag did not exist
  Json after;          // null when the flag was deleted
  std::string comment;
};

struct FlagInfo {
  std::string key;
  Json definition;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t evaluated_ms = 0;     // 0 = never
  std::string file_definition;  // the definition last seeded from a file ("" = none)
};

// What one context would get from a flag (FlagService::Preview).
struct PreviewAnswer {
  std::string targeting_key;
  std::string variant;  // "" when no variant was chosen
  Json value;           // null: no value, the caller's code default applies
  std::string reason;   // ReasonName(): "TARGETING_MATCH", "DEFAULT", "DISABLED", ...
  std::string error;    // "" unless the evaluation failed
};

struct StaleFlag {
  std::string key;
  std::string why;  // "fully rolled out to \"on\"", "not evaluated for 31 days", "never evaluated"
};

class FlagService {
 public:
  // Uses the state store's connection; `store` must outlive the service.
  static Result<std::unique_ptr<FlagService>> Open(store::Store* store, Clock* clock);
  ~FlagService();

  // Seeds environment `env` from a flagd document (a file or x-slipway.flags). A document loads
  // when flagd loads it; each problem flagd loads anyway (flag_set.h) is appended to `warnings`
  // as "SOURCE: flag KEY: what" (when given) and the flag is answered as flagd answers it.
  Status Seed(const std::string& env, const Json& doc, const std::string& source,
              std::vector<std::string>* warnings = nullptr);

  // The live set of `env`, or nullptr when the environment has no flags yet.
  std::shared_ptr<const FlagSet> Get(const std::string& env) const;
  std::vector<std::string> Environments() const;

  Status Set(const std::string& env, const std::string& key, const Json& definition,
             const Change& change);
  Status Delete(const std::string& env, const std::string& key, const Change& change);
  Status SetEnabled(const std::string& env, const std::string& key, bool enabled,
                    const Change& change);
  // Serves the "on" variant to `percent`% of targeting keys (fractional bucketing), the default
  // variant to the rest; rules added by AddTarget keep precedence.
  Status Rollout(const std::string& env, const std::string& key, int percent, const Change& change);
  // Serves `variant` (default: the "on" variant) when context attribute `attr` is `value`.
  Status AddTarget(const std::string& env, const std::string& key, const std::string& attr,
                   const std::string& value, const std::string& variant, const Change& change);
  // What `key` answers each targeting key with (one context {"targetingKey": K} each), as it
  // is or, with `percent`, as Rollout(percent) would leave it. Evaluated by the same code as
  // OFREP; changes nothing and does not count as an evaluation.
  Result<std::vector<PreviewAnswer>> Preview(const std::string& env, const std::string& key,
                                             std::optional<int> percent,
                                             const std::vector<std::string>& targeting_keys) const;
  // Imports a flagd document; with `replace`, flags absent from it are deleted.
  Status Import(const std::string& env, const Json& doc, bool replace, const Change& change);
  Result<Json> Export(const std::string& env) const;

  Result<std::vector<FlagInfo>> List(const std::string& env) const;
  Result<std::vector<AuditEntry>> History(const std::string& env, const std::string& key,
                                          size_t limit) const;
  Result<std::vector<StaleFlag>> Stale(const std::string& env, int days) const;

  // Writes last-evaluated times noted since the previous flush.
  Status FlushEvaluated();

  // The "on" variant of a flag: the variant whose value is `true`, else the first variant that
  // is not the default one.
  static std::string OnVariant(const Json& definition);

 private:
  struct EnvState {
    std::shared_ptr<const FlagSet> set;
    std::map<std::string, FlagInfo> rows;
    Json evaluators = Json::object();
    Json metadata = Json::object();
  };
  FlagService(sqlite3* db, Clock* clock) : db_(db), clock_(clock) {}
  Status Load();
  // Validates the new definitions of `env`, persists them with audit entries, swaps the set.
  // `changes` maps key -> new definition (null = delete).
  Status Apply(const std::string& env, const std::map<std::string, Json>& changes,
               const std::string& action, const Change& change,
               const std::map<std::string, std::string>* file_defs = nullptr);
  Result<Json> Definition(const std::string& env, const std::string& key) const;
  // The definition of `key` as Rollout(percent) makes it (not applied).
  Result<Json> RolledOut(const std::string& env, const std::string& key, int percent) const;

  sqlite3* db_;
  Clock* clock_;
  std::map<std::string, EnvState> envs_;
  std::map<std::string, std::map<std::string, int64_t>> flushed_;  // env -> key -> evaluated_ms
};

}  // namespace slipway::flags
