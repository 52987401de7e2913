// SeriesStore: a short in-memory history of samples, what PromQL range functions read.
//
// Slipway has no time-series database: the alert evaluator scrapes its own registry (the
// Prometheus text exposition) at every evaluation and appends one sample per series here.
// Samples older than the retention (the longest range any rule uses, plus a margin) are
// dropped, and series that vanished for longer than the retention are forgotten, so memory
// is bounded by (series x retention / interval).
//
// A series missing from the latest ingest is stale, like a Prometheus staleness marker:
// instant selectors no longer return it, range selectors still see its old samples.
//
// Owned by its evaluator; single-threaded (the daemon's control loop).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace slipway::promql {

// Label pairs sorted by name; the metric name is the label "__name__".
using Labels = std::vector<std::pair<std::string, std::string>>;

// The value of `name`, or "" when absent.
std::string_view LabelValue(const Labels& l, std::string_view name);
// `{a="1", b="2"}` with __name__ written in front: `up{job="x"}`.
std::string LabelsToString(const Labels& l);

struct Point {
  int64_t t_ms;
  double v;
};

struct ExpositionSample {
  Labels labels;  // sorted, with __name__
  double value;
};

// Parses the Prometheus text format (0.0.4). Comments and TYPE/HELP lines are skipped;
// timestamps on sample lines are ignored (the ingest time is used).
Result<std::vector<ExpositionSample>> ParseExposition(std::string_view text);

class SeriesStore {
 public:
  struct Series {
    Labels labels;
    std::deque<Point> points;
    uint64_t last_ingest = 0;  // ingest generation that last saw this series
  };

  explicit SeriesStore(int64_t retention_ms) : retention_ms_(retention_ms) {}

  void set_retention_ms(int64_t r) { retention_ms_ = r; }
  int64_t retention_ms() const { return retention_ms_; }

  // Appends one sample per series at `t_ms` (non-decreasing across calls) and drops what
  // the retention no longer needs.
  void Ingest(int64_t t_ms, std::vector<ExpositionSample> samples);
  Status IngestText(int64_t t_ms, std::string_view exposition);

  // Series with this metric name ("" = every series).
  const std::vector<Series*>& ByName(std::string_view name) const;
  bool IsFresh(const Series& s) const { return s.last_ingest == generation_; }
  int64_t last_ingest_ms() const { return last_ms_; }
  size_t series_count() const { return series_.size(); }
  size_t point_count() const;

 private:
  int64_t retention_ms_;
  uint64_t generation_ = 0;
  int64_t last_ms_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Series>> series_;  // key: LabelsToString
  std::unordered_map<std::string, std::vector<Series*>> by_name_;
  std::vector<Series*> all_;
};

}  // namespace slipway::promql
