#include "promql/series_snapshot.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace slipway::promql {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class Dir {
 public:
  Dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "snapXXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  std::filesystem::path operator/(const char* f) const { return path_ / f; }

 private:
  std::filesystem::path path_;
};

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every series with every sample it keeps (staleness markers included), as text.
std::string Dump(const SeriesStore& s) {
  std::vector<std::string> rows;
  for (const SeriesStore::Series* x : s.ByName("")) {
    std::string row = LabelsToString(x->labels);
    std::vector<Point> pts;
    for (const XorChunk& c : x->chunks) c.Decode(INT64_MIN, INT64_MAX, &pts);
    for (const Point& p : pts) {
      row += fmt::format(" {}={}", p.t_ms, IsStaleMarker(p.v) ? "stale" : fmt::format("{}", p.v));
    }
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  std::string out;
  for (const std::string& r : rows) out += r + "\n";
  return out;
}

// Two targets over 400 scrapes (several chunks per series), one series gone stale halfway.
void Fill(SeriesStore* s, int scrapes = 400) {
  for (int i = 0; i < scrapes; ++i) {
    std::vector<ExpositionSample> a = {
        {{{"__name__", "req_total"}, {"code", "200"}, {"path", "/a \"q\"\n"}}, 10.0 * i},
        {{{"__name__", "temp"}, {"room", "kitchen ünïcode"}}, std::sin(i) * 1e6}};
    if (i < scrapes / 2) a.push_back({{{"__name__", "going"}}, 1});
    s->Ingest(kT0 + i * 15'000, std::move(a), "t1");
    s->Ingest(kT0 + i * 15'000 + 7, {{{{"__name__", "up"}, {"job", "x"}}, i % 3 == 0 ? NAN : 1}},
              "t2");
  }
}

TEST(SeriesSnapshot, RoundTripsEverySampleAndKeepsAppending) {
  Dir dir;
  SeriesStore s(24 * 3'600'000);
  Fill(&s);
  const int64_t now = kT0 + 400 * 15'000;
  auto w = WriteSnapshot(s, dir / "series.snapshot", now);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->series, 4u);
  EXPECT_EQ(w->samples, s.stored_samples());
  EXPECT_EQ(w->bytes, std::filesystem::file_size(dir / "series.snapshot"));
  EXPECT_LT(w->bytes, s.bytes());  // bounded by what the store holds
  EXPECT_FALSE(std::filesystem::exists(dir / "series.snapshot.tmp"));

  SeriesStore back(24 * 3'600'000);
  auto l = LoadSnapshot(dir / "series.snapshot", now, MaxSnapshotBytes(back.budget_bytes()), &back);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->series, 4u);
  EXPECT_EQ(l->samples, s.stored_samples());
  EXPECT_EQ(Dump(back), Dump(s));
  EXPECT_EQ(back.bytes(), s.bytes());
  EXPECT_EQ(back.last_ingest_ms(), s.last_ingest_ms());
  // Scrapes go on where the snapshot ended: nothing is out of order.
  back.Ingest(now + 15'000, {{{{"__name__", "up"}, {"job", "x"}}, 1}}, "t2");
  EXPECT_EQ(back.out_of_order(), 0u);
  Point p{};
  ASSERT_TRUE(back.ByName("up")[0]->LatestAt(now + 15'000, 300'000, &p));
  EXPECT_EQ(p.v, 1);

  EXPECT_EQ(LoadSnapshot(dir / "nothing", now, 1u << 30, &back).status().code(),
            StatusCode::kNotFound);
}

TEST(SeriesSnapshot, RetentionAppliesAtLoadAndFutureSamplesAreLeftOut) {
  Dir dir;
  SeriesStore s(24 * 3'600'000);
  Fill(&s);  // 100 minutes of samples
  const int64_t end = kT0 + 400 * 15'000;
  ASSERT_TRUE(WriteSnapshot(s, dir / "s", end).ok());
  // Loaded 30 min later with a 1 h retention: whole chunks older than now - 1h are gone, and
  // the series that stopped 50 min before the end with them.
  SeriesStore later(3'600'000);
  const int64_t cutoff = end + 1'800'000 - 3'600'000;
  auto l = LoadSnapshot(dir / "s", end + 1'800'000, 1u << 30, &later);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_TRUE(later.ByName("going").empty());
  EXPECT_EQ(later.series_count(), 3u);
  EXPECT_LT(later.stored_samples(), s.stored_samples());
  for (const SeriesStore::Series* x : later.ByName("")) {
    EXPECT_GE(x->chunks.front().max_t(), cutoff);
  }
  // Loaded "before" the samples (the clock went back 10 minutes): the later ones are left out,
  // so new scrapes are not out of order.
  SeriesStore earlier(24 * 3'600'000);
  ASSERT_TRUE(LoadSnapshot(dir / "s", end - 600'000, 1u << 30, &earlier).ok());
  for (const SeriesStore::Series* x : earlier.ByName("")) EXPECT_LE(x->last_t, end - 600'000);
  earlier.Ingest(end - 590'000, {{{{"__name__", "up"}, {"job", "x"}}, 1}});
  EXPECT_EQ(earlier.out_of_order(), 0u);
}

// A small snapshot with every byte damaged in turn, and cut at every length: each is refused
// with one line, and the store keeps what it had (no crash, no half-loaded series).
TEST(SeriesSnapshot, DamageAtEveryOffsetIsRefusedWhole) {
  Dir dir;
  SeriesStore s;
  Fill(&s, 3);
  ASSERT_TRUE(WriteSnapshot(s, dir / "s", kT0 + 60'000).ok());
  const std::string good = Slurp(dir / "s");
  ASSERT_GT(good.size(), 40u);
  SeriesStore before;
  before.Ingest(kT0, {{{{"__name__", "kept"}}, 1}});
  const std::string kept = Dump(before);
  size_t accepted = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ flip);
      SeriesStore into;
      into.Ingest(kT0, {{{{"__name__", "kept"}}, 1}});
      auto r = DecodeSnapshot(bad, kT0 + 60'000, &into);
      if (r.ok()) {
        // Only the header's time-written field is not checked: the content is the original.
        EXPECT_GE(i, 32u) << i;
        EXPECT_EQ(Dump(into), Dump(s)) << i;
        ++accepted;
        continue;
      }
      EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
      EXPECT_EQ(Dump(into), kept) << "offset " << i << ": " << r.status().message();
    }
  }
  EXPECT_LE(accepted, 8u * 3);
  for (size_t n = 0; n < good.size(); ++n) {
    SeriesStore into;
    auto r = DecodeSnapshot(std::string_view(good).substr(0, n), kT0 + 60'000, &into);
    EXPECT_FALSE(r.ok()) << n;
    EXPECT_EQ(into.series_count(), 0u);
  }
  // Bytes after the end are refused too.
  SeriesStore into;
  EXPECT_FALSE(DecodeSnapshot(good + "x", kT0 + 60'000, &into).ok());
}

// A file whose checksum holds but whose content lies (counts, lengths, order): refused.
TEST(SeriesSnapshot, ConsistentChecksumButHostileContentIsRefused) {
  auto file = [](const std::string& payload, uint32_t version = kSnapshotVersion) {
    std::string h("SLWYSERS", 8);
    auto u32 = [&](uint32_t v) {
      for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>(v >> (8 * i)));
    };
    auto u64 = [&](uint64_t v) {
      for (int i = 0; i < 8; ++i) h.push_back(static_cast<char>(v >> (8 * i)));
    };
    u32(version);
    u32(0);
    u64(payload.size());
    u64(XXH64(payload.data(), payload.size(), 0));
    u64(0);
    return h + payload;
  };
  auto le = [](uint64_t v, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
    return s;
  };
  auto label = [&](const std::string& k, const std::string& v) {
    return le(k.size(), 4) + k + le(v.size(), 4) + v;
  };
  struct Case {
    std::string payload;
    const char* what;
  };
  const std::vector<Case> cases = {
      {le(1, 8), "truncated"},
      {le(UINT64_MAX, 8), "truncated"},
      {le(1, 8) + le(2000, 4), "labels"},
      {le(1, 8) + le(1, 4) + le(0xffffffff, 4), "over"},
      {le(1, 8) + le(2, 4) + label("b", "1") + label("a", "1") + le(0, 4), "invalid labels"},
      {le(1, 8) + le(1, 4) + label("a-b", "1") + le(0, 4), "invalid labels"},
      {le(2, 8) + le(1, 4) + label("a", "1") + le(0, 4) + le(1, 4) + label("a", "1") + le(0, 4),
       "twice"},
      {le(1, 8) + le(1, 4) + label("a", "1") + le(1, 4) + le(121, 4) + le(8, 4) + "x", "chunk of"},
      {le(1, 8) + le(1, 4) + label("a", "1") + le(1, 4) + le(5, 4) + le(130, 4) +
           std::string(17, '\0'),
       "does not decode"},
      {le(0, 8) + "junk", "after the last series"},
  };
  for (const Case& c : cases) {
    SeriesStore into;
    auto r = DecodeSnapshot(file(c.payload), kT0, &into);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.status().message().find(c.what), std::string::npos) << r.status().message();
    EXPECT_EQ(into.series_count(), 0u);
  }
  SeriesStore into;
  auto v = DecodeSnapshot(file(le(0, 8), 2), kT0, &into);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("version 2 (this daemon reads 1)"), std::string::npos);
  EXPECT_NE(DecodeSnapshot("not a snapshot at all, but long enough to hold a header", kT0, &into)
                .status()
                .message()
                .find("not a series snapshot"),
            std::string::npos);
  EXPECT_TRUE(DecodeSnapshot(file(le(0, 8)), kT0, &into).ok());  // empty is fine
}

TEST(SeriesSnapshot, OversizedFileIsRefusedBeforeReading) {
  Dir dir;
  SeriesStore s;
  Fill(&s, 50);
  auto w = WriteSnapshot(s, dir / "s", kT0);
  ASSERT_TRUE(w.ok());
  SeriesStore into;
  into.Ingest(kT0, {{{{"__name__", "kept"}}, 1}});
  auto r = LoadSnapshot(dir / "s", kT0 + 1, w->bytes - 1, &into);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("over the"), std::string::npos) << r.status().message();
  EXPECT_EQ(into.series_count(), 1u);
  EXPECT_EQ(MaxSnapshotBytes(64u << 20), (128u << 20) + (1u << 20));
  // A folder where the file should be, and a folder that cannot be written: errors, no crash.
  std::filesystem::create_directories(dir / "d");
  EXPECT_FALSE(LoadSnapshot(dir / "d", kT0, 1u << 30, &into).ok());
  EXPECT_FALSE(WriteSnapshot(s, dir / "missing/s", kT0).ok());
}

}  // namespace
}  // namespace slipway::promql
