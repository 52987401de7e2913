#include "telemetry/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/status.h"

namespace slipway::telemetry {

const std::vector<double>& DefaultBuckets() {
  static const std::vector<double> kBuckets = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  return kBuckets;
}

uint64_t Counter::Value() const {
  uint64_t s = 0;
  for (int i = 0; i < shards_; ++i) s += cells_[i].v.load(std::memory_order_relaxed);
  return s;
}

int64_t Gauge::Value() const {
  int64_t s = 0;
  for (int i = 0; i < shards_; ++i) s += cells_[i].v.load(std::memory_order_relaxed);
  return s;
}

Histogram::Histogram(int shards, const std::vector<double>* bounds)
    : shards_(shards), bounds_(bounds), cells_(new Shard[shards]) {
  for (int i = 0; i < shards; ++i) {
    cells_[i].buckets.reset(new std::atomic<uint64_t>[bounds->size() + 1]);
    for (size_t b = 0; b <= bounds->size(); ++b) cells_[i].buckets[b].store(0);
  }
}

void Histogram::Observe(int shard, double v) {
  Shard& s = cells_[static_cast<size_t>(shard) % shards_];
  // Few buckets: a linear scan beats a binary search here.
  size_t b = 0;
  const size_t n = bounds_->size();
  while (b < n && v > (*bounds_)[b]) ++b;
  s.buckets[b].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot snap;
  snap.bounds = *bounds_;
  snap.buckets.assign(bounds_->size() + 1, 0);
  for (int i = 0; i < shards_; ++i) {
    for (size_t b = 0; b <= bounds_->size(); ++b)
      snap.buckets[b] += cells_[i].buckets[b].load(std::memory_order_relaxed);
    snap.sum += cells_[i].sum.load(std::memory_order_relaxed);
  }
  uint64_t cum = 0;
  for (auto& b : snap.buckets) {
    cum += b;
    b = cum;
  }
  // The count is the +Inf bucket, so the exposition is always self-consistent.
  snap.count = cum;
  return snap;
}

double HistogramSnapshot::Quantile(double q) const {
  if (count == 0 || buckets.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  double rank = q * static_cast<double>(count);
  size_t b = 0;
  while (b < buckets.size() && static_cast<double>(buckets[b]) < rank) ++b;
  if (b >= bounds.size()) return bounds.empty() ? 0 : bounds.back();
  double lower = b == 0 ? 0 : bounds[b - 1];
  double upper = bounds[b];
  uint64_t below = b == 0 ? 0 : buckets[b - 1];
  uint64_t in = buckets[b] - below;
  if (in == 0) return upper;
  return lower + (upper - lower) * ((rank - static_cast<double>(below)) / static_cast<double>(in));
}

struct Registry::Family {
  std::string name;
  std::string help;
  Kind kind;
  std::vector<std::string> label_names;
  std::vector<double> buckets;
  std::map<LabelValues, std::unique_ptr<Counter>> counters;
  std::map<LabelValues, std::unique_ptr<Gauge>> gauges;
  std::map<LabelValues, std::unique_ptr<Histogram>> histograms;
  std::map<LabelValues, std::unique_ptr<SampledValue>> sampled;
};

Registry::Registry(int shards) : shards_(std::max(1, shards)) {}
Registry::~Registry() = default;

Registry::Family* Registry::GetFamily(std::string_view name, std::string_view help, Kind kind,
                                      const std::vector<std::string>& label_names,
                                      const std::vector<double>* buckets) {
  auto it = families_.find(name);
  if (it != families_.end()) {
    SLIPWAY_CHECK(it->second->kind == kind);
    SLIPWAY_CHECK(it->second->label_names == label_names);
    return it->second.get();
  }
  auto f = std::make_unique<Family>();
  f->name = std::string(name);
  f->help = std::string(help);
  f->kind = kind;
  f->label_names = label_names;
  if (buckets) f->buckets = *buckets;
  Family* raw = f.get();
  families_.emplace(f->name, std::move(f));
  return raw;
}

const Registry::Family* Registry::FindFamily(std::string_view name) const {
  auto it = families_.find(name);
  return it == families_.end() ? nullptr : it->second.get();
}

Counter* Registry::GetCounter(std::string_view name, std::string_view help,
                              const std::vector<std::string>& label_names,
                              const LabelValues& values) {
  SLIPWAY_CHECK(label_names.size() == values.size());
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = GetFamily(name, help, Kind::kCounter, label_names, nullptr);
  auto& slot = f->counters[values];
  if (!slot) slot.reset(new Counter(shards_));
  return slot.get();
}

Gauge* Registry::GetGauge(std::string_view name, std::string_view help,
                          const std::vector<std::string>& label_names, const LabelValues& values) {
  SLIPWAY_CHECK(label_names.size() == values.size());
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = GetFamily(name, help, Kind::kGauge, label_names, nullptr);
  auto& slot = f->gauges[values];
  if (!slot) slot.reset(new Gauge(shards_));
  return slot.get();
}

Histogram* Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const std::vector<std::string>& label_names,
                                  const LabelValues& values, const std::vector<double>& buckets) {
  SLIPWAY_CHECK(label_names.size() == values.size());
  SLIPWAY_CHECK(std::is_sorted(buckets.begin(), buckets.end()));
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = GetFamily(name, help, Kind::kHistogram, label_names, &buckets);
  auto& slot = f->histograms[values];
  if (!slot) slot.reset(new Histogram(shards_, &f->buckets));
  return slot.get();
}

SampledValue* Registry::GetSampled(std::string_view name, std::string_view help, Kind kind,
                                   const std::vector<std::string>& label_names,
                                   const LabelValues& values) {
  SLIPWAY_CHECK(label_names.size() == values.size());
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = GetFamily(name, help, kind, label_names, nullptr);
  auto& slot = f->sampled[values];
  if (!slot) slot.reset(new SampledValue());
  return slot.get();
}

SampledValue* Registry::GetSampledCounter(std::string_view name, std::string_view help,
                                          const std::vector<std::string>& label_names,
                                          const LabelValues& values) {
  return GetSampled(name, help, Kind::kSampledCounter, label_names, values);
}

SampledValue* Registry::GetSampledGauge(std::string_view name, std::string_view help,
                                        const std::vector<std::string>& label_names,
                                        const LabelValues& values) {
  return GetSampled(name, help, Kind::kSampledGauge, label_names, values);
}

bool Registry::Remove(std::string_view name, const LabelValues& values) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return false;
  Family& f = *it->second;
  return f.counters.erase(values) + f.gauges.erase(values) + f.histograms.erase(values) +
             f.sampled.erase(values) >
         0;
}

const Counter* Registry::FindCounter(std::string_view name, const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Family* f = FindFamily(name);
  if (!f) return nullptr;
  auto it = f->counters.find(values);
  return it == f->counters.end() ? nullptr : it->second.get();
}

const Histogram* Registry::FindHistogram(std::string_view name, const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Family* f = FindFamily(name);
  if (!f) return nullptr;
  auto it = f->histograms.find(values);
  return it == f->histograms.end() ? nullptr : it->second.get();
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// The shortest form that reads back as the same double.
std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  // Plain decimals from 1e-4 up to 1e21 ("100", not "1e+02"), still the shortest that reads
  // back as the same double; an exponent outside that range.
  if (std::strchr(buf, 'e') != nullptr && std::fabs(v) >= 1e-4 && std::fabs(v) < 1e21) {
    if (v == std::floor(v)) {
      std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
      for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*f", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
      }
    }
  }
  return buf;
}

// {a="x",b="y"} with an optional extra pair (le for buckets); "" when empty.
std::string LabelString(const std::vector<std::string>& names, const LabelValues& values,
                        std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string Registry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, f] : families_) {
    const char* type = f->kind == Kind::kGauge || f->kind == Kind::kSampledGauge ? "gauge"
                       : f->kind == Kind::kHistogram                             ? "histogram"
                                                                                 : "counter";
    out += "# HELP " + name + " " + EscapeHelp(f->help) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    switch (f->kind) {
      case Kind::kCounter:
        for (const auto& [vals, c] : f->counters)
          out += name + LabelString(f->label_names, vals) + " " + std::to_string(c->Value()) + "\n";
        break;
      case Kind::kGauge:
        for (const auto& [vals, g] : f->gauges)
          out += name + LabelString(f->label_names, vals) + " " + std::to_string(g->Value()) + "\n";
        break;
      case Kind::kSampledCounter:
      case Kind::kSampledGauge:
        for (const auto& [vals, c] : f->sampled)
          out += name + LabelString(f->label_names, vals) + " " + FormatDouble(c->Value()) + "\n";
        break;
      case Kind::kHistogram:
        for (const auto& [vals, h] : f->histograms) {
          HistogramSnapshot s = h->Snapshot();
          for (size_t b = 0; b < s.buckets.size(); ++b) {
            std::string le = b < s.bounds.size() ? FormatDouble(s.bounds[b]) : "+Inf";
            out += name + "_bucket" + LabelString(f->label_names, vals, "le", le) + " " +
                   std::to_string(s.buckets[b]) + "\n";
          }
          out +=
              name + "_sum" + LabelString(f->label_names, vals) + " " + FormatDouble(s.sum) + "\n";
          out += name + "_count" + LabelString(f->label_names, vals) + " " +
                 std::to_string(s.count) + "\n";
        }
        break;
    }
  }
  return out;
}

}  // namespace slipway::telemetry
