#include "promql/series_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <random>

#include "promql/evaluator.h"
#include "promql/exposition.h"
#include "promql/parser.h"

namespace slipway::promql {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

ExpositionSample S(std::string name, double v, std::string l = "", std::string lv = "") {
  ExpositionSample s{{{"__name__", std::move(name)}}, v};
  if (!l.empty()) s.labels.emplace_back(std::move(l), std::move(lv));
  std::sort(s.labels.begin(), s.labels.end());
  return s;
}

TEST(XorChunk, RoundTripsIrregularTimesAndAwkwardValues) {
  std::mt19937_64 rng(7);
  std::vector<Point> in;
  int64_t t = kT0;
  const double specials[] = {0.0,
                             -0.0,
                             1e308,
                             -1e-308,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::denorm_min(),
                             StaleMarker()};
  for (int i = 0; i < XorChunk::kMaxSamples; ++i) {
    // Regular steps, jitter, and jumps in every delta-of-delta bucket (up to days).
    const int64_t steps[] = {15'000, 15'001, 14'990, 1, 70'000, 600'000, 86'400'000'000};
    t += steps[rng() % 7];
    double v = (i % 9 == 0) ? specials[(i / 9) % 8] : static_cast<double>(rng() % 1000) / 7.0;
    if (i % 5 == 0 && !in.empty()) v = in.back().v;  // repeated values: the 1-bit case
    in.push_back({t, v});
  }
  XorChunk c;
  for (const Point& p : in) ASSERT_TRUE(c.Append(p.t_ms, p.v));
  EXPECT_FALSE(c.Append(t + 1, 1));  // full
  std::vector<Point> out;
  c.Decode(INT64_MIN, INT64_MAX, &out);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].t_ms, in[i].t_ms) << i;
    EXPECT_EQ(std::memcmp(&out[i].v, &in[i].v, sizeof(double)), 0) << i;
  }
  out.clear();
  c.Decode(in[10].t_ms, in[20].t_ms, &out);  // (from, to]
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(out.front().t_ms, in[11].t_ms);
}

// 200 series of one target every 15 s for 2 h; returns bytes per sample kept (labels and
// index included). What docs/reference.md quotes.
double BytesPerSample(bool noisy) {
  SeriesStore s;
  std::mt19937_64 rng(1);
  std::vector<double> vals(200, 0);
  const int scrapes = 2 * 3600 / 15;
  for (int k = 0; k < scrapes; ++k) {
    std::vector<ExpositionSample> in;
    for (int i = 0; i < 200; ++i) {
      if (noisy) {  // counters growing by random amounts, gauges wandering by tenths
        vals[i] += (i % 2 == 0) ? static_cast<double>(rng() % 20) : (double(rng() % 100) - 50) / 10;
      } else {  // a typical app: steady counters, mostly idle ones, gauges that rarely move
        vals[i] += (i % 4 == 0) ? 3 : (i % 4 == 1 && k % 8 == 0) ? 1 : 0;
        if (i % 4 == 2 && k % 40 == 0) vals[i] = static_cast<double>(rng() % 64);
      }
      in.push_back(S(fmt::format("m{}", i % 20), vals[i], "i", std::to_string(i)));
    }
    const int64_t jitter = noisy ? static_cast<int64_t>(rng() % 3) : 0;
    s.Ingest(kT0 + k * 15'000 + jitter, std::move(in));
  }
  EXPECT_EQ(s.series_count(), 200u);
  EXPECT_EQ(s.stored_samples(), 200u * scrapes);
  const double per = static_cast<double>(s.bytes()) / static_cast<double>(s.stored_samples());
  std::printf("series store (%s): %zu samples in %zu bytes: %.2f bytes per sample\n",
              noisy ? "noisy values, jittered scrapes" : "typical app", s.stored_samples(),
              s.bytes(), per);
  return per;
}

// Bits as a snapshot file may hold them (damaged but checksummed): a time that overflows, a
// value with more than 64 significant bits. DecodeRaw refuses them (no undefined behaviour,
// found by tests/fuzz/fuzz_series_snapshot.cc).
class Bits {
 public:
  Bits& Put(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      if (nbits_ % 8 == 0) bytes_.push_back(0);
      if ((v >> i) & 1u) bytes_.back() |= static_cast<uint8_t>(0x80u >> (nbits_ % 8));
      ++nbits_;
    }
    return *this;
  }
  bool Decode(int count, std::vector<Point>* out) const {
    return XorChunk::DecodeRaw(bytes_.data(), nbits_, count, out);
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t nbits_ = 0;
};

TEST(XorChunk, DecodeRawRefusesOverflowingTimesAndOverlongValues) {
  const uint64_t one = std::bit_cast<uint64_t>(1.0);
  std::vector<Point> out;
  // Two samples: t0 near the top, then a delta-of-delta (64-bit bucket) that passes INT64_MAX.
  Bits times;
  times.Put(uint64_t{INT64_MAX} - 10, 64).Put(one, 64).Put(0b1111, 4).Put(1000, 64).Put(0, 1);
  EXPECT_FALSE(times.Decode(2, &out));
  // The same with a delta that fits decodes (the shape is right).
  Bits fits;
  fits.Put(1000, 64).Put(one, 64).Put(0b1111, 4).Put(15, 64).Put(0, 1);
  out.clear();
  ASSERT_TRUE(fits.Decode(2, &out));
  EXPECT_EQ(out[1].t_ms, 1015);
  // 31 leading zeros and 64 significant bits: 95 bits of a 64-bit value.
  Bits value;
  value.Put(1000, 64).Put(one, 64).Put(0, 1).Put(0b11, 2).Put(31, 5).Put(0, 6).Put(~0ull, 64);
  EXPECT_FALSE(value.Decode(2, &out));
}

TEST(SeriesStore, BytesPerSample) {
  const double typical = BytesPerSample(false);
  const double noisy = BytesPerSample(true);
  // 16 bytes per raw (t, v) pair. The sizing, 10k series x 2 h at 15 s in 64 MiB,
  // allows 13.98 bytes per sample: both must fit.
  const double allowed = 64.0 * (1 << 20) / (10'000.0 * 2 * 3600 / 15);
  EXPECT_LT(typical, 3.0);
  EXPECT_LT(noisy, allowed);
}

TEST(SeriesStore, StaleMarkersPerSourceAndWhenATargetGoesDown) {
  SeriesStore s;
  s.Ingest(kT0, {S("up", 1, "instance", "a")}, "a");
  s.Ingest(kT0, {S("up", 1, "instance", "b")}, "b");
  s.Ingest(kT0 + 15'000, {S("up", 1, "instance", "a")}, "a");  // b not scraped: still there
  auto e = Parse("up");
  ASSERT_TRUE(e.ok());
  auto v = Evaluate(**e, s, kT0 + 15'000);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->vector.size(), 2u);
  s.MarkStale("b", kT0 + 20'000);
  v = Evaluate(**e, s, kT0 + 20'000);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->vector.size(), 1u);
  EXPECT_EQ(LabelValue(v->vector[0].labels, "instance"), "a");
  // In the past (a range query's earlier step) b is still there.
  v = Evaluate(**e, s, kT0 + 16'000);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->vector.size(), 2u);
  // Range functions skip the marker.
  auto r = Parse("count_over_time(up[1m])");
  ASSERT_TRUE(r.ok());
  v = Evaluate(**r, s, kT0 + 20'000);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->vector.size(), 2u);
  EXPECT_EQ(v->vector[1].value, 1);  // b: one real sample
}

TEST(SeriesStore, OutOfOrderSamplesAreSkipped) {
  SeriesStore s;
  s.Ingest(kT0 + 10, {S("g", 1)}, "x");
  s.Ingest(kT0 + 10, {S("g", 2)}, "y");
  s.Ingest(kT0, {S("g", 3)}, "y");
  EXPECT_EQ(s.out_of_order(), 2u);
  EXPECT_EQ(s.stored_samples(), 1u);
}

TEST(SeriesStore, RetentionDropsWholeChunksAndForgetsSeries) {
  SeriesStore s(3600'000);
  for (int k = 0; k < 3 * 240; ++k) {  // 3 h at 15 s
    std::vector<ExpositionSample> in = {S("c", k)};
    if (k < 10) in.push_back(S("gone", 1));
    s.Ingest(kT0 + k * 15'000, std::move(in));
  }
  EXPECT_EQ(s.series_count(), 1u);
  // The oldest chunk kept may start before the cutoff; no more than one chunk of slack.
  EXPECT_LE(s.stored_samples(), 240u + XorChunk::kMaxSamples);
  EXPECT_GE(s.stored_samples(), 240u);
  EXPECT_EQ(s.point_count(), 241u);  // (now - 1 h, now] at 15 s, both ends' samples
}

TEST(SeriesStore, ScrapesInAnotherOrderOrWithRepeatsReachTheSameSeries) {
  // Ingest finds a series by its position in the source's previous scrape when the labels
  // agree: reordered, repeated, added and missing lines must still reach their own series.
  SeriesStore s;
  auto ingest = [&](int k, std::vector<std::string> names) {
    std::vector<ExpositionSample> in;
    for (const std::string& n : names) in.push_back(S(n, k * 10 + (n[0] - 'a')));
    s.Ingest(kT0 + k * 15'000, std::move(in), "t");
  };
  ingest(0, {"a", "b", "c"});
  ingest(1, {"c", "a", "b"});
  ingest(2, {"a", "a", "b", "c"});  // a repeated line: the first counts
  ingest(3, {"b", "d"});            // a and c go stale
  ingest(4, {"a", "b", "c", "d"});
  std::map<std::string, std::vector<double>> got;
  for (const SeriesStore::Series* ser : s.ByName("")) {
    std::vector<Point> pts;
    ser->Points(0, INT64_MAX, &pts);
    for (const Point& p : pts) got[std::string(LabelValue(ser->labels, "__name__"))].push_back(p.v);
  }
  EXPECT_EQ(s.series_count(), 4u);
  EXPECT_EQ(got["a"], (std::vector<double>{0, 10, 20, 40}));
  EXPECT_EQ(got["b"], (std::vector<double>{1, 11, 21, 31, 41}));
  EXPECT_EQ(got["c"], (std::vector<double>{2, 12, 22, 42}));
  EXPECT_EQ(got["d"], (std::vector<double>{33, 43}));
}

TEST(SeriesStore, RetentionSweepsAtMostEvery120thOfTheRetention) {
  // 2 h retention: a sweep of every series at most once a minute of sample time, so a series
  // whose last sample left the retention goes between 2 h and 2 h + 1 min (+ one scrape).
  // (Two sources, so "gone" gets no staleness marker: its last sample stays at kT0.)
  SeriesStore s;
  s.Ingest(kT0, {S("gone", 1), S("c", 0)}, "a");
  int64_t forgotten = 0;
  for (int k = 1; k < 600 && forgotten == 0; ++k) {
    const int64_t t = kT0 + k * 15'000;
    s.Ingest(t, {S("c", k)}, "b");
    if (s.series_count() == 1) forgotten = t;
  }
  ASSERT_NE(forgotten, 0);
  EXPECT_GT(forgotten - kT0, SeriesStore::kDefaultRetentionMs);
  EXPECT_LE(forgotten - kT0, SeriesStore::kDefaultRetentionMs + 60'000 + 15'000);
  // Short retentions sweep every second, as before: 30 s retention, scrapes 5 s apart.
  SeriesStore short_store(30'000);
  short_store.Ingest(kT0, {S("gone", 1), S("c", 0)}, "a");
  for (int k = 1; k <= 7; ++k) short_store.Ingest(kT0 + k * 5'000, {S("c", k)}, "b");
  EXPECT_EQ(short_store.series_count(), 1u);  // gone at 35 s: 5 s past the retention
}

TEST(SeriesStore, BudgetEvictsOldestChunksFirst) {
  SeriesStore s(SeriesStore::kDefaultRetentionMs, 64 * 1024);
  for (int k = 0; k < 400; ++k) {
    std::vector<ExpositionSample> in;
    for (int i = 0; i < 50; ++i) in.push_back(S("m", k * 1000.0 / (i + 1), "i", std::to_string(i)));
    s.Ingest(kT0 + k * 15'000, std::move(in));
  }
  EXPECT_LE(s.bytes(), 64u * 1024);
  EXPECT_GT(s.evicted_chunks(), 0u);
  EXPECT_GT(s.evicted_samples(), 0u);
  // What was dropped is the oldest: the newest samples are all still there.
  auto e = Parse("count_over_time(m[5m])");
  ASSERT_TRUE(e.ok());
  auto v = Evaluate(**e, s, kT0 + 399 * 15'000);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->vector.size(), 50u);
  for (const auto& smp : v->vector) EXPECT_EQ(smp.value, 20) << LabelsToString(smp.labels);
  // The oldest samples are gone.
  auto old = Evaluate(**e, s, kT0 + 20 * 15'000);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->vector.empty());
}

TEST(SeriesStore, BudgetTooSmallForTheSeriesDropsWholeSeriesNotTheProcess) {
  SeriesStore s(SeriesStore::kDefaultRetentionMs, 4096);
  std::vector<ExpositionSample> in;
  for (int i = 0; i < 500; ++i) in.push_back(S("m", i, "i", std::to_string(i)));
  s.Ingest(kT0, std::move(in));
  EXPECT_LE(s.bytes(), 4096u);
  EXPECT_LT(s.series_count(), 500u);
  EXPECT_GT(s.evicted_chunks(), 0u);
}

}  // namespace
}  // namespace slipway::promql
