#include "promql/series_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace slipway::promql {

std::string_view LabelValue(const Labels& l, std::string_view name) {
  for (const auto& [k, v] : l) {
    if (k == name) return v;
  }
  return {};
}

std::string LabelsToString(const Labels& l) {
  std::string out(LabelValue(l, "__name__"));
  out += '{';
  bool first = true;
  for (const auto& [k, v] : l) {
    if (k == "__name__") continue;
    if (!first) out += ", ";
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

namespace {

constexpr uint64_t kStaleBits = 0x7ff0000000000002ull;

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// Signed delta-of-delta buckets, as Gorilla (and Prometheus' XOR chunk) use them.
struct Bucket {
  uint64_t prefix;
  int prefix_bits;
  int value_bits;
};
constexpr Bucket kBuckets[] = {{0b10, 2, 14}, {0b110, 3, 17}, {0b1110, 4, 20}};

bool FitsSigned(int64_t v, int bits) {
  const int64_t lo = -(int64_t{1} << (bits - 1));
  const int64_t hi = (int64_t{1} << (bits - 1)) - 1;
  return v >= lo && v <= hi;
}

class BitReader {
 public:
  BitReader(const std::vector<uint8_t>& b, size_t nbits) : b_(b), nbits_(nbits) {}
  bool ok() const { return ok_; }
  uint64_t Read(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= nbits_) {
        ok_ = false;
        return 0;
      }
      v = (v << 1) | ((b_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1u);
      ++pos_;
    }
    return v;
  }
  bool Bit() { return Read(1) != 0; }

 private:
  const std::vector<uint8_t>& b_;
  size_t nbits_;
  size_t pos_ = 0;
  bool ok_ = true;
};

size_t LabelBytes(const Labels& l) {
  size_t n = 0;
  for (const auto& [k, v] : l) n += k.size() + v.size() + 2 * sizeof(std::string);
  return n;
}

}  // namespace

double StaleMarker() { return FromBits(kStaleBits); }
bool IsStaleMarker(double v) { return Bits(v) == kStaleBits; }

void XorChunk::Write(uint64_t v, int nbits) {
  for (int i = nbits - 1; i >= 0; --i) {
    if ((nbits_ & 7) == 0) bits_.push_back(0);
    if ((v >> i) & 1u) bits_.back() |= static_cast<uint8_t>(0x80u >> (nbits_ & 7));
    ++nbits_;
  }
}

bool XorChunk::Append(int64_t t_ms, double v) {
  if (count_ >= kMaxSamples) return false;
  const uint64_t vb = Bits(v);
  if (count_ == 0) {
    bits_.reserve(32);
    Write(static_cast<uint64_t>(t_ms), 64);
    Write(vb, 64);
    min_t_ = max_t_ = t_ms;
    prev_v_ = vb;
    ++count_;
    return true;
  }
  const int64_t delta = t_ms - max_t_;
  const int64_t dod = delta - delta_;
  if (dod == 0) {
    Write(0, 1);
  } else {
    bool done = false;
    for (const Bucket& b : kBuckets) {
      if (FitsSigned(dod, b.value_bits)) {
        Write(b.prefix, b.prefix_bits);
        Write(static_cast<uint64_t>(dod) & ((uint64_t{1} << b.value_bits) - 1), b.value_bits);
        done = true;
        break;
      }
    }
    if (!done) {
      Write(0b1111, 4);
      Write(static_cast<uint64_t>(dod), 64);
    }
  }
  delta_ = delta;
  max_t_ = t_ms;
  const uint64_t x = vb ^ prev_v_;
  prev_v_ = vb;
  if (x == 0) {
    Write(0, 1);
  } else {
    Write(1, 1);
    int lead = __builtin_clzll(x);
    int trail = __builtin_ctzll(x);
    if (lead > 31) lead = 31;
    if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
      Write(0, 1);
      Write(x >> trailing_, 64 - leading_ - trailing_);
    } else {
      const int sig = 64 - lead - trail;
      Write(1, 1);
      Write(static_cast<uint64_t>(lead), 5);
      Write(static_cast<uint64_t>(sig == 64 ? 0 : sig), 6);
      Write(x >> trail, sig);
      leading_ = static_cast<uint8_t>(lead);
      trailing_ = static_cast<uint8_t>(trail);
    }
  }
  ++count_;
  return true;
}

void XorChunk::Decode(int64_t from_excl, int64_t to_incl, std::vector<Point>* out) const {
  if (count_ == 0 || max_t_ <= from_excl || min_t_ > to_incl) return;
  BitReader r(bits_, nbits_);
  int64_t t = static_cast<int64_t>(r.Read(64));
  uint64_t v = r.Read(64);
  int64_t delta = 0;
  int lead = 0, trail = 0;
  for (int i = 0; i < count_; ++i) {
    if (i > 0) {
      int64_t dod = 0;
      if (r.Bit()) {
        int n = 0;
        int width = 64;
        while (n < 3 && r.Bit()) ++n;
        if (n < 3) {
          width = kBuckets[n].value_bits;
        }
        uint64_t raw = r.Read(width);
        if (width < 64 && (raw >> (width - 1)) & 1u) raw |= ~uint64_t{0} << width;  // sign
        dod = static_cast<int64_t>(raw);
      }
      // Bits we wrote never overflow a time nor hold more than 64 bits of a value; bits read
      // from a damaged snapshot may (DecodeRaw): stop there, short of `count`.
      if (__builtin_add_overflow(delta, dod, &delta) || __builtin_add_overflow(t, delta, &t)) {
        return;
      }
      if (r.Bit()) {
        if (r.Bit()) {
          lead = static_cast<int>(r.Read(5));
          int sig = static_cast<int>(r.Read(6));
          if (sig == 0) sig = 64;
          if (lead + sig > 64) return;
          trail = 64 - lead - sig;
        }
        v ^= r.Read(64 - lead - trail) << trail;
      }
    }
    if (!r.ok()) return;  // cannot happen for a chunk we wrote; never read past it
    if (t > to_incl) return;
    if (t > from_excl) out->push_back({t, FromBits(v)});
  }
}

bool XorChunk::DecodeRaw(const uint8_t* bits, size_t nbits, int count, std::vector<Point>* out) {
  if (count <= 0 || count > kMaxSamples || nbits == 0) return false;
  XorChunk c;
  c.bits_.assign(bits, bits + (nbits + 7) / 8);
  c.nbits_ = nbits;
  c.count_ = count;
  c.min_t_ = INT64_MIN;  // no window: Decode reads every sample
  c.max_t_ = INT64_MAX;
  const size_t before = out->size();
  c.Decode(INT64_MIN, INT64_MAX, out);
  return out->size() - before == static_cast<size_t>(count);
}

void SeriesStore::Series::Points(int64_t from_excl, int64_t to_incl,
                                 std::vector<Point>* out) const {
  size_t start = out->size();
  for (const XorChunk& c : chunks) {
    if (c.max_t() <= from_excl) continue;
    if (c.min_t() > to_incl) break;
    c.Decode(from_excl, to_incl, out);
  }
  out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(start), out->end(),
                            [](const Point& p) { return IsStaleMarker(p.v); }),
             out->end());
}

bool SeriesStore::Series::LatestAt(int64_t t, int64_t lookback_ms, Point* out) const {
  Point p{last_t, last_v};
  if (last_t > t) {  // an evaluation in the past (a range query's earlier step)
    std::vector<Point> pts;
    for (auto it = chunks.rbegin(); it != chunks.rend() && pts.empty(); ++it) {
      if (it->min_t() > t) continue;
      it->Decode(t - lookback_ms, t, &pts);
    }
    if (pts.empty()) return false;
    p = pts.back();
  }
  if (p.t_ms <= t - lookback_ms || p.t_ms == INT64_MIN || IsStaleMarker(p.v)) return false;
  *out = p;
  return true;
}

void SeriesStore::Append(Series* s, int64_t t, double v) {
  if (t <= s->last_t) {
    ++out_of_order_;
    return;
  }
  if (s->chunks.empty() || s->chunks.back().count() >= XorChunk::kMaxSamples) {
    if (!s->chunks.empty()) {
      size_t before = s->chunks.back().bytes();
      s->chunks.back().Seal();
      bytes_ -= before - s->chunks.back().bytes();
    }
    s->chunks.emplace_back();
    bytes_ += s->chunks.back().bytes();
  }
  XorChunk& c = s->chunks.back();
  size_t before = c.bytes();
  c.Append(t, v);
  bytes_ += c.bytes() - before;
  ++samples_;
  s->last_t = t;
  s->last_v = v;
}

void SeriesStore::Ingest(int64_t t_ms, std::vector<ExpositionSample> samples,
                         std::string_view source) {
  ++generation_;
  last_ms_ = std::max(last_ms_, t_ms);
  Source& src = sources_[std::string(source)];
  std::vector<Series*> now;
  now.reserve(samples.size());
  for (ExpositionSample& s : samples) {
    // A target lists its series in the same order scrape after scrape: the series at this
    // position last time is most often this one, and comparing labels costs less than
    // building and hashing the key (40 % of a 200-series scrape's ingest).
    Series* found = nullptr;
    if (now.size() < src.series.size() && src.series[now.size()]->labels == s.labels) {
      found = src.series[now.size()];
    } else {
      std::string key = LabelsToString(s.labels);
      found = FindOrCreate(std::move(s.labels), std::move(key));
    }
    Series& ser = *found;
    if (ser.seen == generation_) continue;  // duplicate line: keep the first
    ser.seen = generation_;
    now.push_back(&ser);
    Append(&ser, t_ms, s.value);
  }
  for (Series* old : src.series) {
    if (old->seen != generation_) Append(old, t_ms, StaleMarker());
  }
  src.series = std::move(now);
  Collect(t_ms);
}

SeriesStore::Series* SeriesStore::FindOrCreate(Labels labels, std::string key) {
  auto it = series_.find(key);
  if (it != series_.end()) return it->second.get();
  ++membership_changes_;
  auto series = std::make_unique<Series>();
  series->labels = std::move(labels);
  series->label_bytes = LabelBytes(series->labels) + key.size() + sizeof(Series) + 64;
  bytes_ += series->label_bytes;
  Series* raw = series.get();
  it = series_.emplace(std::move(key), std::move(series)).first;
  raw->key = &it->first;
  by_name_[std::string(LabelValue(raw->labels, "__name__"))].push_back(raw);
  all_.push_back(raw);
  return raw;
}

void SeriesStore::Restore(Labels labels, const std::vector<Point>& points) {
  if (points.empty()) return;
  std::string key = LabelsToString(labels);
  Series* s = FindOrCreate(std::move(labels), std::move(key));
  for (const Point& p : points) Append(s, p.t_ms, p.v);
  last_ms_ = std::max(last_ms_, points.back().t_ms);
}

Status SeriesStore::IngestText(int64_t t_ms, std::string_view exposition) {
  ExpositionLimits own;  // Slipway's own registry: trusted, and sized by the project
  own.max_samples = size_t{1} << 24;
  own.max_labels = 256;
  own.max_label_length = 64 * 1024;
  ASSIGN_OR_RETURN(auto samples, ParseExposition(exposition, own));
  Ingest(t_ms, std::move(samples));
  return Status::OK();
}

void SeriesStore::MarkStale(std::string_view source, int64_t t_ms) {
  auto it = sources_.find(std::string(source));
  if (it == sources_.end()) return;
  for (Series* s : it->second.series) Append(s, t_ms, StaleMarker());
  it->second.series.clear();
  last_ms_ = std::max(last_ms_, t_ms);
}

void SeriesStore::Erase(const std::vector<Series*>& gone) {
  if (gone.empty()) return;
  ++membership_changes_;
  const std::unordered_set<Series*> dead(gone.begin(), gone.end());
  auto is_dead = [&](Series* s) { return dead.count(s) != 0; };
  for (auto& [name, src] : sources_) std::erase_if(src.series, is_dead);
  std::erase_if(all_, is_dead);
  for (Series* s : gone) {
    auto by = by_name_.find(std::string(LabelValue(s->labels, "__name__")));
    if (by != by_name_.end()) {
      std::erase(by->second, s);
      if (by->second.empty()) by_name_.erase(by);
    }
    for (const XorChunk& c : s->chunks) {
      bytes_ -= c.bytes();
      samples_ -= static_cast<size_t>(c.count());
    }
    bytes_ -= s->label_bytes;
    series_.erase(series_.find(*s->key));  // the key lives in the node: find, then erase
  }
}

void SeriesStore::Collect(int64_t now) {
  // A sweep walks every series, so with many targets each scrape would otherwise walk them
  // all: one sweep per 1/120 of the retention of sample time (1 s to 60 s; 21k series at a
  // 2 h retention swept every second were 4 % of the daemon's CPU), so what the retention
  // drops goes at most that late. Over the budget, every ingest sweeps.
  const int64_t period = std::clamp<int64_t>(retention_ms_ / 120, 1000, 60'000);
  if (bytes_ <= budget_ && last_collect_ms_ != INT64_MIN && now >= last_collect_ms_ &&
      now - last_collect_ms_ < period) {
    return;
  }
  last_collect_ms_ = now;
  const int64_t cutoff = now - retention_ms_;
  std::vector<Series*> gone;
  for (Series* s : all_) {
    if (s->last_t < cutoff) {
      gone.push_back(s);
      continue;
    }
    while (s->chunks.size() > 1 && s->chunks.front().max_t() < cutoff) {
      bytes_ -= s->chunks.front().bytes();
      samples_ -= static_cast<size_t>(s->chunks.front().count());
      s->chunks.pop_front();
    }
  }
  Erase(gone);
  if (bytes_ > budget_) Evict();
}

void SeriesStore::Evict() {
  // Down to a low-water mark: stopping just under the budget would have the next ingest
  // cross it again, and each crossing sweeps and heaps every series.
  const size_t low_water = budget_ - budget_ / 10;
  // Oldest chunks first, across series: a min-heap on each series' first chunk's start.
  using Entry = std::pair<int64_t, Series*>;
  auto later = [](const Entry& a, const Entry& b) { return a.first > b.first; };
  std::vector<Entry> heap;
  heap.reserve(all_.size());
  for (Series* s : all_) {
    if (!s->chunks.empty()) heap.emplace_back(s->first_t(), s);
  }
  std::make_heap(heap.begin(), heap.end(), later);
  std::vector<Series*> gone;
  while (bytes_ > low_water && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Series* s = heap.back().second;
    heap.pop_back();
    ++evicted_chunks_;
    evicted_samples_ += static_cast<uint64_t>(s->chunks.front().count());
    samples_ -= static_cast<size_t>(s->chunks.front().count());
    bytes_ -= s->chunks.front().bytes();
    s->chunks.pop_front();
    if (s->chunks.empty()) {
      gone.push_back(s);  // nothing left of it: its labels go too
    } else {
      heap.emplace_back(s->first_t(), s);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  Erase(gone);
}

const std::vector<SeriesStore::Series*>& SeriesStore::ByName(std::string_view name) const {
  static const std::vector<Series*> kNone;
  if (name.empty()) return all_;
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? kNone : it->second;
}

size_t SeriesStore::point_count() const {
  size_t n = 0;
  std::vector<Point> pts;
  for (Series* s : all_) {
    pts.clear();
    s->Points(last_ms_ - retention_ms_ - 1, INT64_MAX, &pts);
    n += pts.size();
  }
  return n;
}

}  // namespace slipway::promql
