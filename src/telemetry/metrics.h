// Metrics registry: counters, gauges and histograms with labels, sharded per writer thread.
//
// The Registry owns every metric family and every labelled child; pointers it hands out
// (Counter*, Gauge*, Histogram*) stay valid for the registry's lifetime, so hot paths look a
// child up once and keep the pointer. Each child holds one cache-line-aligned cell per shard;
// a writer passes its shard index (a proxy worker uses its worker index) and updates its own
// cell with relaxed atomics, so writers never contend. Readers sum the shards.
//
// Threads: Get*() (creating or finding a child) takes a mutex and may be called from any
// thread. Add/Set/Observe are lock-free and callable from any thread; for zero contention
// each shard should have one writer. RenderPrometheus() and the snapshot readers may run on
// any thread at any time (they read relaxed values, so a sum can be a few updates stale).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slipway::telemetry {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// Prometheus' default histogram buckets (seconds).
const std::vector<double>& DefaultBuckets();

class Counter {
 public:
  void Add(int shard, uint64_t v = 1) {
    cells_[Idx(shard)].v.fetch_add(v, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  friend class Registry;
  struct alignas(64) Cell {
    std::atomic<uint64_t> v{0};
  };
  explicit Counter(int shards) : shards_(shards), cells_(new Cell[shards]) {}
  size_t Idx(int shard) const { return static_cast<size_t>(shard) % shards_; }
  int shards_;
  std::unique_ptr<Cell[]> cells_;
};

// A gauge is a sum of per-shard signed values: each worker adds and removes its own part
// (e.g. active connections), so Add(-1) on one shard balances Add(+1) on the same shard.
class Gauge {
 public:
  void Add(int shard, int64_t v) { cells_[Idx(shard)].v.fetch_add(v, std::memory_order_relaxed); }
  // Sets this shard's part; use shard 0 for gauges with a single writer.
  void Set(int shard, int64_t v) { cells_[Idx(shard)].v.store(v, std::memory_order_relaxed); }
  int64_t Value() const;

 private:
  friend class Registry;
  struct alignas(64) Cell {
    std::atomic<int64_t> v{0};
  };
  explicit Gauge(int shards) : shards_(shards), cells_(new Cell[shards]) {}
  size_t Idx(int shard) const { return static_cast<size_t>(shard) % shards_; }
  int shards_;
  std::unique_ptr<Cell[]> cells_;
};

// A float value read from elsewhere: a counter's total (the kernel's CPU seconds of a process;
// GetSampledCounter, rendered as a counter) or a gauge (a CPU limit; GetSampledGauge). Its one
// writer Set()s the latest value.
class SampledValue {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  SampledValue() = default;
  std::atomic<double> v_{0};
};

struct HistogramSnapshot {
  std::vector<double> bounds;     // upper bounds, without +Inf
  std::vector<uint64_t> buckets;  // cumulative counts, one per bound, then +Inf
  uint64_t count = 0;
  double sum = 0;
  // Estimate of quantile q (0..1) by linear interpolation inside the bucket, the same
  // way Prometheus' histogram_quantile() does. 0 when empty; the highest finite bound
  // when the quantile falls into +Inf.
  double Quantile(double q) const;
};

class Histogram {
 public:
  void Observe(int shard, double v);
  HistogramSnapshot Snapshot() const;

 private:
  friend class Registry;
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // non-cumulative, bounds+1 entries
    std::atomic<double> sum{0};
    std::atomic<uint64_t> count{0};
  };
  Histogram(int shards, const std::vector<double>* bounds);
  int shards_;
  const std::vector<double>* bounds_;  // owned by the family
  std::unique_ptr<Shard[]> cells_;
};

class Registry {
 public:
  // `shards`: number of writer shards (proxy workers + 1 for the control thread is typical).
  explicit Registry(int shards = 1);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  int shards() const { return shards_; }

  // Finds or creates the child of family `name` with these label values. The first call
  // for a name fixes its help text, label names (and buckets); later calls must agree on
  // the label names (a mismatch is a programming error and aborts).
  Counter* GetCounter(std::string_view name, std::string_view help,
                      const std::vector<std::string>& label_names = {},
                      const LabelValues& values = {});
  Gauge* GetGauge(std::string_view name, std::string_view help,
                  const std::vector<std::string>& label_names = {}, const LabelValues& values = {});
  Histogram* GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<std::string>& label_names = {},
                          const LabelValues& values = {},
                          const std::vector<double>& buckets = DefaultBuckets());
  SampledValue* GetSampledCounter(std::string_view name, std::string_view help,
                                  const std::vector<std::string>& label_names = {},
                                  const LabelValues& values = {});
  SampledValue* GetSampledGauge(std::string_view name, std::string_view help,
                                const std::vector<std::string>& label_names = {},
                                const LabelValues& values = {});

  // Forgets the child of `name` with these values (an instance that is gone), of whatever
  // kind; false when there was none. Pointers to it become invalid: only the code that owns
  // the child's updates may remove it. The family stays (its HELP and TYPE lines too).
  bool Remove(std::string_view name, const LabelValues& values);

  // Read side, for code that never created the child: nullptr when absent.
  const Counter* FindCounter(std::string_view name, const LabelValues& values) const;
  const Histogram* FindHistogram(std::string_view name, const LabelValues& values) const;

  // Prometheus text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4).
  std::string RenderPrometheus() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram, kSampledCounter, kSampledGauge };
  struct Family;
  Family* GetFamily(std::string_view name, std::string_view help, Kind kind,
                    const std::vector<std::string>& label_names,
                    const std::vector<double>* buckets);
  const Family* FindFamily(std::string_view name) const;
  SampledValue* GetSampled(std::string_view name, std::string_view help, Kind kind,
                           const std::vector<std::string>& label_names, const LabelValues& values);

  int shards_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;  // sorted output
};

// Escapes a label value for the exposition format (backslash, quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace slipway::telemetry
