// SelectionMemo: which series each selector of a fixed set of expressions matches, kept
// between evaluations while the store's set of series does not change.
//
// An alerting or recording rule reads the same selectors every round, and matching them is a
// scan of every series of the metric name with each label matcher (50 rules over 21k series
// were a tenth of the daemon's CPU). The series a selector matches change only when the store
// creates or forgets a series (SeriesStore::membership_changes()), so the memo keeps each
// selector's matches, sorted by labels, and matches again only after such a change. Samples
// are always read from the store: the memo holds which series, never their values.
//
// Keyed by the selector node's address: the expressions must outlive the memo (a
// RuleEvaluator's parsed rules do) and be evaluated only over the store given to Get().
// Owned by whoever owns the expressions; used on the thread that owns the store.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "promql/parser.h"
#include "promql/series_store.h"

namespace slipway::promql {

class SelectionMemo {
 public:
  using SeriesList = std::vector<const SeriesStore::Series*>;

  // The series of `store` that selector `sel` matches, sorted by labels; valid until the
  // next call or until the store changes.
  const SeriesList& Get(const Expr& sel, const SeriesStore& store);

  // How many times Get() had to match (for tests).
  uint64_t matches() const { return matches_; }

 private:
  struct Entry {
    uint64_t membership = 0;
    const SeriesStore* store = nullptr;
    SeriesList series;
  };
  std::unordered_map<const Expr*, Entry> entries_;
  uint64_t matches_ = 0;
};

// The series of `store` that `sel` matches, sorted by labels, into `out` (cleared first).
void MatchSelector(const Expr& sel, const SeriesStore& store, SelectionMemo::SeriesList* out);

}  // namespace slipway::promql
