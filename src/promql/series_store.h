// SeriesStore: the daemon's bounded in-memory time-series store, what PromQL reads.
//
// Producers ("sources") append whole scrapes: the alert evaluator's scrape of Slipway's own
// registry (source "") and every scrape target (scrape/scraper.h, source = the target's key).
// A series that a source's latest scrape no longer carries, or every series of a target that
// went down, gets a staleness marker (Prometheus' special NaN), so instant selectors stop
// returning it at once while range selectors still see its older samples.
//
// Samples are kept Gorilla-compressed (XorChunk: delta-of-delta timestamps, XOR'ed floats, at
// most 120 samples per chunk, as Prometheus' head chunks). Two bounds hold memory:
//   - retention (default 2 h): whole chunks whose newest sample is older are dropped, and a
//     series whose last sample is older is forgotten (a sweep of every series, at most once
//     per 1/120 of the retention of sample time, between 1 s and 60 s);
//   - a byte budget (default 64 MiB, counting chunk bytes and each series' labels and index
//     entries): over it, the oldest chunks across all series are dropped first, down to 90 %
//     of the budget so the next scrapes do not cross it again at once (each crossing costs a
//     sweep of every series); evicted_chunks()/evicted_samples() count them, and the daemon
//     exports them as metrics.
// Measured: about 1.6 bytes per sample for a steady counter scraped every 15 s (see
// series_store_test.cc, BytesPerSample, and docs/reference.md).
//
// Owned by the daemon (or by a RuleEvaluator that was given none); single-threaded (the
// daemon's control loop).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "promql/exposition.h"  // Labels, ExpositionSample

namespace slipway::promql {

// The value of `name`, or "" when absent.
std::string_view LabelValue(const Labels& l, std::string_view name);
// `{a="1", b="2"}` with __name__ written in front: `up{job="x"}`.
std::string LabelsToString(const Labels& l);

struct Point {
  int64_t t_ms;
  double v;
};

// Prometheus' staleness marker: a NaN with this exact bit pattern (a plain NaN is a value).
double StaleMarker();
bool IsStaleMarker(double v);

// A Gorilla-compressed run of samples with increasing timestamps.
class XorChunk {
 public:
  static constexpr int kMaxSamples = 120;

  // False when the chunk is full (the caller starts a new one). Timestamps must increase.
  bool Append(int64_t t_ms, double v);
  // Appends the samples in (from_excl, to_incl] to `out`, staleness markers included.
  void Decode(int64_t from_excl, int64_t to_incl, std::vector<Point>* out) const;
  // Releases spare capacity once no more samples come.
  void Seal() { bits_.shrink_to_fit(); }

  // The encoded samples (for a snapshot, promql/series_snapshot.h): nbits() bits of raw().
  const std::vector<uint8_t>& raw() const { return bits_; }
  size_t nbits() const { return nbits_; }
  // Decodes `count` samples from `nbits` encoded bits (what raw() and nbits() gave) into
  // `out`; false when the bits do not hold that many. Bounded reads: any bytes are safe.
  static bool DecodeRaw(const uint8_t* bits, size_t nbits, int count, std::vector<Point>* out);

  int count() const { return count_; }
  int64_t min_t() const { return min_t_; }
  int64_t max_t() const { return max_t_; }
  size_t bytes() const { return sizeof(XorChunk) + bits_.capacity(); }

 private:
  void Write(uint64_t v, int nbits);

  std::vector<uint8_t> bits_;
  size_t nbits_ = 0;
  int count_ = 0;
  int64_t min_t_ = 0, max_t_ = 0;
  int64_t delta_ = 0;  // previous timestamp delta
  uint64_t prev_v_ = 0;
  uint8_t leading_ = 0xff, trailing_ = 0;  // of the previous XOR'ed value (0xff: none yet)
};

class SeriesStore {
 public:
  static constexpr int64_t kDefaultRetentionMs = 2 * 3600 * 1000;
  static constexpr size_t kDefaultBudgetBytes = 64u << 20;

  struct Series {
    Labels labels;
    std::deque<XorChunk> chunks;  // oldest first; back() takes new samples
    int64_t last_t = INT64_MIN;   // newest sample (a staleness marker too)
    double last_v = 0;
    uint64_t seen = 0;  // the ingest that last carried it
    size_t label_bytes = 0;
    const std::string* key = nullptr;  // its key in the store's index (LabelsToString)

    // Samples in (from_excl, to_incl], staleness markers left out.
    void Points(int64_t from_excl, int64_t to_incl, std::vector<Point>* out) const;
    // The newest sample at or before t within `lookback_ms`; false when there is none or it
    // is a staleness marker.
    bool LatestAt(int64_t t, int64_t lookback_ms, Point* out) const;
    int64_t first_t() const { return chunks.empty() ? INT64_MAX : chunks.front().min_t(); }
  };

  explicit SeriesStore(int64_t retention_ms = kDefaultRetentionMs,
                       size_t budget_bytes = kDefaultBudgetBytes)
      : retention_ms_(retention_ms), budget_(budget_bytes) {}

  void set_retention_ms(int64_t r) { retention_ms_ = r; }
  int64_t retention_ms() const { return retention_ms_; }
  // Raises the retention to `ms` when shorter; never lowers it, since several readers (the
  // scrape settings, the alert rules' longest range) each need a minimum.
  void EnsureRetention(int64_t ms) { retention_ms_ = std::max(retention_ms_, ms); }
  void set_budget_bytes(size_t b) { budget_ = b; }
  size_t budget_bytes() const { return budget_; }

  // Appends one scrape of `source` at `t_ms`: one sample per series (a repeated series keeps
  // its first sample), a staleness marker for each series the source's previous scrape had
  // and this one lacks. A sample not newer than its series' last one is skipped (counted in
  // out_of_order()). Then drops what the retention and the budget no longer allow.
  void Ingest(int64_t t_ms, std::vector<ExpositionSample> samples, std::string_view source = "");
  Status IngestText(int64_t t_ms, std::string_view exposition);
  // Every series of `source` gets a staleness marker at t_ms (a target went down or left).
  void MarkStale(std::string_view source, int64_t t_ms);
  // Forgets a source (its series stay until the retention drops them).
  void DropSource(std::string_view source) { sources_.erase(std::string(source)); }

  // Restoring a snapshot (promql/series_snapshot.h): appends `points` (increasing times) to
  // the series `labels` (sorted), as a scrape without a source would; then Trim(now) applies
  // the retention and the budget as of `now_ms`.
  void Restore(Labels labels, const std::vector<Point>& points);
  void Trim(int64_t now_ms) {
    last_collect_ms_ = INT64_MIN;
    Collect(now_ms);
  }

  // Series with this metric name ("" = every series).
  const std::vector<Series*>& ByName(std::string_view name) const;
  int64_t last_ingest_ms() const { return last_ms_; }
  size_t series_count() const { return series_.size(); }
  // Changes whenever a series is created or forgotten (what a selector can match changes
  // only then; promql/selection_memo.h).
  uint64_t membership_changes() const { return membership_changes_; }
  // Samples within the retention (as of the last ingest), staleness markers excluded.
  size_t point_count() const;
  // Every sample kept, staleness markers included (what the memory holds).
  size_t stored_samples() const { return samples_; }
  size_t bytes() const { return bytes_; }
  uint64_t evicted_chunks() const { return evicted_chunks_; }
  uint64_t evicted_samples() const { return evicted_samples_; }
  uint64_t out_of_order() const { return out_of_order_; }

 private:
  struct Source {
    std::vector<Series*> series;  // what its last scrape carried
  };
  Series* FindOrCreate(Labels labels, std::string key);
  void Append(Series* s, int64_t t, double v);
  void Collect(int64_t now);
  void Evict();
  void Erase(const std::vector<Series*>& gone);

  int64_t retention_ms_;
  size_t budget_;
  size_t bytes_ = 0;
  size_t samples_ = 0;  // kept where bytes_ is
  uint64_t generation_ = 0;
  uint64_t membership_changes_ = 0;
  int64_t last_ms_ = 0;
  int64_t last_collect_ms_ = INT64_MIN;
  uint64_t evicted_chunks_ = 0, evicted_samples_ = 0, out_of_order_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Series>> series_;  // key: LabelsToString
  std::unordered_map<std::string, std::vector<Series*>> by_name_;
  std::vector<Series*> all_;
  std::unordered_map<std::string, Source> sources_;
};

}  // namespace slipway::promql
