#include "promql/series_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
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

bool ParseValue(std::string_view s, double* out) {
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  std::string tmp(s);
  char* end = nullptr;
  *out = std::strtod(tmp.c_str(), &end);
  return end != tmp.c_str() && *end == '\0';
}

}  // namespace

Result<std::vector<ExpositionSample>> ParseExposition(std::string_view text) {
  std::vector<ExpositionSample> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](std::string_view what) {
      return InvalidInput(fmt::format("exposition line {}: {}", line_no, what));
    };
    ExpositionSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
    s.labels.emplace_back("__name__", std::string(line.substr(0, i)));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          return bad("bad label");
        }
        std::string name(line.substr(i, eq - i));
        std::string value;
        i = eq + 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            char e = line[i + 1];
            value += e == 'n' ? '\n' : e;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        if (i >= line.size()) return bad("unterminated label value");
        ++i;
        s.labels.emplace_back(std::move(name), std::move(value));
      }
    }
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t end = line.find_first_of(" \t", i);
    if (!ParseValue(
            line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i),
            &s.value)) {
      return bad("bad value");
    }
    std::sort(s.labels.begin(), s.labels.end());
    out.push_back(std::move(s));
  }
  return out;
}

void SeriesStore::Ingest(int64_t t_ms, std::vector<ExpositionSample> samples) {
  ++generation_;
  last_ms_ = t_ms;
  bool changed = false;
  for (ExpositionSample& s : samples) {
    std::string key = LabelsToString(s.labels);
    auto it = series_.find(key);
    if (it == series_.end()) {
      auto series = std::make_unique<Series>();
      series->labels = std::move(s.labels);
      it = series_.emplace(std::move(key), std::move(series)).first;
      changed = true;
    }
    Series& ser = *it->second;
    if (ser.last_ingest == generation_) continue;  // duplicate line: keep the first
    ser.last_ingest = generation_;
    ser.points.push_back({t_ms, s.value});
  }
  const int64_t cutoff = t_ms - retention_ms_;
  for (auto it = series_.begin(); it != series_.end();) {
    auto& pts = it->second->points;
    while (!pts.empty() && pts.front().t_ms < cutoff) pts.pop_front();
    if (pts.empty()) {
      it = series_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) {
    by_name_.clear();
    all_.clear();
    for (auto& [key, ser] : series_) {
      by_name_[std::string(LabelValue(ser->labels, "__name__"))].push_back(ser.get());
      all_.push_back(ser.get());
    }
  }
}

Status SeriesStore::IngestText(int64_t t_ms, std::string_view exposition) {
  ASSIGN_OR_RETURN(auto samples, ParseExposition(exposition));
  Ingest(t_ms, std::move(samples));
  return Status::OK();
}

const std::vector<SeriesStore::Series*>& SeriesStore::ByName(std::string_view name) const {
  static const std::vector<Series*> kNone;
  if (name.empty()) return all_;
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? kNone : it->second;
}

size_t SeriesStore::point_count() const {
  size_t n = 0;
  for (const auto& [k, s] : series_) n += s->points.size();
  return n;
}

}  // namespace slipway::promql
