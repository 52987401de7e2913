// RuleEvaluator: evaluates alerting and recording rules over the series store and keeps each
// alert's state.
//
// Rules come in groups (Prometheus' rule groups; inline and built-in rules are one implicit
// group). Every Tick() scrapes the registry (the Prometheus exposition text from `scrape`),
// appends the samples to the SeriesStore (the daemon's shared one, or its own sized for the
// longest range any rule uses; a shared one's retention is raised to that when shorter), then
// evaluates each group that is due (its interval has passed since its last round; interval 0:
// every Tick), its rules in order at one timestamp. A recording rule's result is written back
// to the store under the recorded name (source "rule:<key>", so a series it stops giving is
// marked stale), where the next rules of the group and every query see it at once.
// An alerting rule moves every alert (one per output series) through Prometheus' states:
//   new series        -> pending (active since now), or firing at once when `for` is 0
//   pending >= for    -> firing
//   series gone       -> pending alerts vanish; firing ones become resolved, unless the rule
//                        has keep_firing_for: then they fire on until that long has passed
//                        since the series went
//   resolved alerts are kept 15 minutes (so notifications can say so), then forgotten.
// A group's `limit`: a rule giving more series fails for that round (an alerting rule's
// alerts are dropped, a recording rule writes nothing), as in Prometheus.
// Labels are the series' labels (without the name) plus the rule's labels (templated) plus
// `alertname`; annotations are rendered from templates with {{ $value }} and {{ $labels.x }}.
//
// State is written to the store (tables alert_state, alert_history) at every change, and
// read back by Create(), so a restarted daemon keeps `for` timers and firing alerts. A Tick's
// writes are one transaction with statements prepared once: a round that moves a thousand
// alerts would otherwise commit (and write the WAL) a thousand times.
// Writes are never given up on when the database refuses them (another process holds the
// write lock past the busy timeout, disk full): the in-memory state has already moved on, so
// a resolution or a history row not written would be lost for good. Each write is queued
// (typed, in order) and the database always holds a prefix of the queue: a round first writes
// what earlier rounds could not, then its own; the first write that fails stops the round's
// writing (the rest wait, so one held lock costs one busy timeout, not one per write), and a
// COMMIT that fails puts the whole round back. When BEGIN fails the writes go one by one,
// under the same rule. Kept writes are bounded (Options::max_kept_rounds / max_kept_writes;
// a state row superseded by a later one of the same alert is dropped first, as it would be
// overwritten); past the bound the oldest go, counted in slipway_alert_writes_dropped_total
// and logged once per episode; slipway_alert_writes_kept shows the queue's length.
//
// Ownership: the daemon owns the evaluator; the evaluator borrows the store and the clock.
// Threads: the control loop only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/alerts_settings.h"
#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promql/selection_memo.h"
#include "promql/series_store.h"
#include "store/schema.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace slipway::alerts {

// The alerts module's schema steps (store/schema.h): alert state and history, then silences
// (silences.h); RuleEvaluator::Create and Silences::Open apply them.
const store::ModuleSchema& AlertStateSchema();

enum class AlertState { kInactive, kPending, kFiring, kResolved };
std::string_view AlertStateName(AlertState s);

struct Alert {
  std::string rule;         // the alert name
  std::string rule_key;     // the rule's identity in the state table (see RuleGroup)
  std::string fingerprint;  // of the labels; stable across runs
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  AlertState state = AlertState::kPending;
  int64_t active_ms = 0;    // when it became pending
  int64_t fired_ms = 0;     // when it started firing (0 if never)
  int64_t resolved_ms = 0;  // when it resolved (0 if not)
  double value = 0;
  int64_t keep_firing_since = 0;  // when its series went while keep_firing_for holds it
};

// One alert as the API lists it: {"rule", "fingerprint", "labels", "annotations", "state",
// "active_ms", "fired_ms", "resolved_ms", "value"}.
nlohmann::json AlertJson(const Alert& a);

struct RuleStatus {
  config::AlertRuleSpec spec;
  std::string group;  // "" for the implicit group
  bool builtin = false;
  AlertState state = AlertState::kInactive;  // the worst of its alerts
  std::string last_error;                    // evaluation error, "" when fine
  int64_t last_eval_ms = 0;
  double last_eval_seconds = 0;
};

struct HistoryEntry {
  int64_t wall_ms = 0;
  std::string rule;
  std::string fingerprint;
  std::map<std::string, std::string> labels;
  std::string state;  // pending, firing, resolved, inactive
  double value = 0;
};

// A group of rules evaluated together. Rules of a group with a `file` are keyed in the state
// table as "file:group:name" (with "#n" for the n-th repeat of a name); the others by name.
struct RuleGroup {
  std::string name;  // "" for the implicit group of inline and built-in rules
  std::string file;
  int64_t interval_ms = 0;  // 0: every Tick()
  int limit = 0;            // 0: none
  std::vector<config::AlertRuleSpec> rules;
  std::vector<bool> builtin;  // per rule; missing entries are false
};

class RuleEvaluator {
 public:
  struct Options {
    Clock* clock = Clock::Real();
    store::Store* store = nullptr;        // nullptr: state is not persisted
    std::function<std::string()> scrape;  // the exposition text to evaluate over
    // The store to ingest into and evaluate over (the daemon's, which the scraper also fills
    // with the services' metrics); nullptr: a store of its own.
    promql::SeriesStore* series = nullptr;
    int64_t resolved_retention_ms = 15 * 60 * 1000;
    // The step of a subquery written without one (`x[5m:]`).
    int64_t subquery_step_ms = promql::kDefaultSubqueryStepMs;
    // Writes the database refused, kept for later rounds: at most this many rounds' worth
    // and this many rows; the oldest are dropped past either.
    int64_t max_kept_rounds = 60;
    size_t max_kept_writes = 10'000;
    // Optional: slipway_alert_writes_dropped_total and slipway_alert_writes_kept.
    telemetry::Registry* registry = nullptr;
  };

  // Rules must have parsed at load (config does that); a rule that does not parse here is an
  // error all the same.
  static Result<std::unique_ptr<RuleEvaluator>> Create(std::vector<config::AlertRuleSpec> rules,
                                                       std::vector<bool> builtin, Options opts);
  static Result<std::unique_ptr<RuleEvaluator>> Create(std::vector<RuleGroup> groups, Options opts);
  ~RuleEvaluator();

  // One evaluation round. Errors of single rules are kept in their status, not returned;
  // the returned Status is for a scrape that does not parse or a store failure.
  Status Tick();

  // Pending, firing and recently resolved alerts, firing first.
  std::vector<Alert> Alerts() const;
  const std::vector<RuleStatus>& rules() const { return status_; }
  // Alerts that changed state in the last Tick() (for notifications), plus every firing one.
  const std::vector<Alert>& notify_set() const { return notify_; }

  // Evaluates a rule (by name) or any expression now, over the history kept so far, after a
  // fresh scrape. For `slipway alerts test`.
  Result<promql::Value> EvaluateNow(const std::string& rule_or_expr);

  // Recent state changes, newest last.
  Result<std::vector<HistoryEntry>> History(size_t limit) const;

  // {"rules": [...], "alerts": [...], "history": [...]} for the API.
  nlohmann::json ToJson(size_t history_limit = 50) const;

  const promql::SeriesStore& series() const { return *series_; }

  // Writes the database has refused so far and that wait for a later round; and how many
  // were dropped past the bound since Create().
  size_t kept_writes() const { return writes_.size(); }
  uint64_t dropped_writes() const { return dropped_writes_; }

 private:
  struct Rule;
  // One row write, kept typed until the database has it.
  struct Write {
    enum class Kind { kPersist, kForget, kRecord };
    Kind kind = Kind::kPersist;
    int64_t round = 0;     // the Tick that made it
    Alert alert;           // kPersist: the row; kForget: rule_key and fingerprint
    HistoryEntry history;  // kRecord
  };
  explicit RuleEvaluator(Options opts);
  Status Load();
  Status Persist(const Alert& a);
  Status Forget(const Alert& a);
  Status Record(const Alert& a, std::string_view state);
  // Queues `w` and writes it unless an earlier write of the round failed; answers the
  // write's own failure (it stays queued).
  Status Submit(Write w);
  // Writes the queue from written_ on, in order, until a write fails (blocked_, write_error_).
  void WritePending();
  Status Apply(const Write& w);
  // After the round: forgets what the database now holds (nothing of the round when its
  // COMMIT failed), drops superseded state rows, then enforces the bound.
  void EndRound(bool rolled_back);
  // The statement in `slot`, prepared on first use and reset for new bindings.
  Result<store::Statement*> Prepared(std::unique_ptr<store::Statement>* slot, std::string_view sql,
                                     std::string_view purpose);
  Status Scrape(int64_t now);
  void EvalRule(size_t i, int64_t now);
  void EvalRecord(size_t i, int64_t now);
  // A rule's evaluation at `now`: its selectors' matches come from memo_.
  promql::EvalContext RuleContext(int64_t now);
  struct Group {
    int64_t interval_ms = 0;
    int limit = 0;
    int64_t next_ms = INT64_MIN;
    std::vector<size_t> rules;  // indexes into rules_, in order
  };
  std::vector<Group> groups_;

  Options opts_;
  std::vector<std::unique_ptr<Rule>> rules_;
  std::vector<RuleStatus> status_;
  std::unique_ptr<promql::SeriesStore> own_series_;
  promql::SeriesStore* series_ = nullptr;
  std::vector<Alert> notify_;
  std::vector<HistoryEntry> memory_history_;  // when there is no store
  int64_t last_scrape_ms_ = -1;
  // Which series each rule's selectors match, kept while the store's series do not change.
  promql::SelectionMemo memo_;
  // Prepared on first use; the daemon's store outlives the evaluator.
  std::unique_ptr<store::Statement> persist_, forget_, record_;
  // Writes not yet in the database, oldest first; the first written_ went to it this round
  // (in the open transaction, when batched). blocked_: a write of this round failed.
  std::deque<Write> writes_;
  size_t written_ = 0;
  bool blocked_ = false;
  Status write_error_;  // the round's first failed write
  int64_t round_ = 0;
  uint64_t dropped_writes_ = 0;
  bool drop_logged_ = false;  // until the queue empties again
  telemetry::Counter* m_dropped_ = nullptr;
  telemetry::Gauge* m_kept_ = nullptr;
};

// Stable 16-hex-digit fingerprint of a label set (FNV-1a 64 over sorted name/value pairs).
std::string Fingerprint(const std::map<std::string, std::string>& labels);

}  // namespace slipway::alerts
