#include "promql/selection_memo.h"

#include <algorithm>

#include "promql/evaluator.h"

namespace slipway::promql {

void MatchSelector(const Expr& sel, const SeriesStore& store, SelectionMemo::SeriesList* out) {
  out->clear();
  for (const SeriesStore::Series* s : store.ByName(sel.text)) {
    if (SelectorMatches(*s, sel)) out->push_back(s);
  }
  // Labels are unique per series: a total order, the one evaluation answers are sorted by.
  std::sort(out->begin(), out->end(),
            [](const SeriesStore::Series* a, const SeriesStore::Series* b) {
              return a->labels < b->labels;
            });
}

const SelectionMemo::SeriesList& SelectionMemo::Get(const Expr& sel, const SeriesStore& store) {
  Entry& e = entries_[&sel];
  if (e.store != &store || e.membership != store.membership_changes()) {
    MatchSelector(sel, store, &e.series);
    e.store = &store;
    e.membership = store.membership_changes();
    ++matches_;
  }
  return e.series;
}

}  // namespace slipway::promql
