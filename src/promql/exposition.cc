#include "promql/exposition.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace slipway::promql {

namespace {

bool IsName(std::string_view s, bool colon) {
  if (s.empty() || !IsNameStart(s[0], colon)) return false;
  return std::all_of(s.begin() + 1, s.end(), [colon](char c) { return IsNameChar(c, colon); });
}

// The index of the first character at or after `i` that is not a space or a tab.
size_t SkipBlanks(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return i;
}

// A float as the format writes it: Go's ParseFloat syntax, plus Inf/NaN spellings.
bool ParseFloat(std::string_view s, double* out) {
  if (s.empty() || s.size() > 64) return false;
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
  for (char c : s) {  // strtod also takes hex floats, "infinity" and leading spaces
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return false;
  }
  std::string tmp(s);
  char* end = nullptr;
  *out = std::strtod(tmp.c_str(), &end);
  return end == tmp.c_str() + tmp.size();
}

bool ParseTimestamp(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  return std::all_of(s.begin() + i, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "summary", "untyped"};

class Parser {
 public:
  Parser(std::string_view text, const ExpositionLimits& limits) : text_(text), lim_(limits) {}

  Result<std::vector<ExpositionSample>> Run() {
    while (!text_.empty()) {
      size_t nl = text_.find('\n');
      line_ = text_.substr(0, nl);
      text_.remove_prefix(nl == std::string_view::npos ? text_.size() : nl + 1);
      ++line_no_;
      if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
      line_.remove_prefix(SkipBlanks(line_, 0));
      if (line_.empty()) continue;
      Status st = line_[0] == '#' ? Comment() : Sample();
      if (!st.ok()) return st;
    }
    return std::move(out_);
  }

 private:
  Status Bad(std::string_view what, std::string_view expected) const {
    return InvalidInput(fmt::format("line {}: {} (expected {})", line_no_, what, expected));
  }

  Status Comment() {
    std::string_view rest = line_.substr(1);
    while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    bool help = rest.rfind("HELP ", 0) == 0;
    bool type = rest.rfind("TYPE ", 0) == 0;
    if (!help && !type) return Status::OK();  // a plain comment
    rest.remove_prefix(5);
    size_t sp = rest.find(' ');
    std::string_view name = rest.substr(0, sp);
    if (!IsMetricName(name)) {
      return Bad(fmt::format("{} names no metric", help ? "HELP" : "TYPE"), "a metric name");
    }
    if (type) {
      std::string_view t = sp == std::string_view::npos ? "" : rest.substr(sp + 1);
      while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
      if (std::find(std::begin(kTypes), std::end(kTypes), t) == std::end(kTypes)) {
        return Bad(fmt::format("TYPE {:.40} is not a metric type", t),
                   "counter, gauge, histogram, summary or untyped");
      }
    }
    return Status::OK();
  }

  Status Sample() {
    if (out_.size() >= lim_.max_samples) {
      return Bad(fmt::format("more than {} samples", lim_.max_samples), "fewer samples");
    }
    ExpositionSample s;
    size_t i = 0;
    while (i < line_.size() && IsNameChar(line_[i], true)) ++i;
    std::string_view name = line_.substr(0, i);
    if (!IsMetricName(name)) return Bad("no metric name", "a sample: name{labels} value");
    if (name.size() > lim_.max_label_length) {
      return Bad(fmt::format("metric name longer than {} bytes", lim_.max_label_length),
                 "a shorter name");
    }
    s.labels.emplace_back("__name__", std::string(name));
    if (i < line_.size() && line_[i] == '{') {
      ++i;
      RETURN_IF_ERROR(LabelSet(&i, &s.labels));
    }
    if (i >= line_.size() || (line_[i] != ' ' && line_[i] != '\t')) {
      return Bad("no value after the metric", "a space, then a number");
    }
    i = SkipBlanks(line_, i);
    size_t end = line_.find_first_of(" \t", i);
    std::string_view value = line_.substr(i, end == std::string_view::npos ? end : end - i);
    if (!ParseFloat(value, &s.value)) {
      return Bad(fmt::format("{:.40} is not a number", value), "a float, +Inf, -Inf or NaN");
    }
    if (end != std::string_view::npos) {
      std::string_view ts = line_.substr(SkipBlanks(line_, end));
      while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t')) ts.remove_suffix(1);
      if (!ts.empty() && !ParseTimestamp(ts)) {
        return Bad(fmt::format("{:.40} is not a timestamp", ts), "integer milliseconds");
      }
    }
    std::sort(s.labels.begin(), s.labels.end());
    for (size_t k = 1; k < s.labels.size(); ++k) {
      if (s.labels[k].first == s.labels[k - 1].first) {
        return Bad("label " + s.labels[k].first + " given twice", "each label once");
      }
    }
    out_.push_back(std::move(s));
    return Status::OK();
  }

  Status LabelSet(size_t* pos, Labels* labels) {
    size_t i = *pos;
    while (true) {
      i = SkipBlanks(line_, i);
      if (i < line_.size() && line_[i] == '}') {
        *pos = i + 1;
        return Status::OK();
      }
      size_t start = i;
      while (i < line_.size() && IsNameChar(line_[i], false)) ++i;
      std::string_view lname = line_.substr(start, i - start);
      if (!IsLabelName(lname)) return Bad("bad label name", "[a-zA-Z_][a-zA-Z0-9_]*");
      if (lname.size() > lim_.max_label_length) {
        return Bad(fmt::format("label name longer than {} bytes", lim_.max_label_length),
                   "a shorter name");
      }
      i = SkipBlanks(line_, i);
      if (i + 1 >= line_.size() || line_[i] != '=' || line_[i + 1] != '"') {
        return Bad("label " + std::string(lname) + " has no =\"value\"", "name=\"value\"");
      }
      i += 2;
      std::string value;
      bool closed = false;
      while (i < line_.size()) {
        char c = line_[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line_.size()) break;
          char e = line_[i++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            return Bad(fmt::format("escape \\{} in label {}", e, lname), "\\\\, \\\" or \\n");
          }
        } else {
          value += c;
        }
        if (value.size() > lim_.max_label_length) {
          return Bad(
              fmt::format("value of label {} longer than {} bytes", lname, lim_.max_label_length),
              "a shorter value");
        }
      }
      if (!closed) return Bad("unterminated value of label " + std::string(lname), "a closing \"");
      if (labels->size() >= lim_.max_labels) {
        return Bad(fmt::format("more than {} labels", lim_.max_labels), "fewer labels");
      }
      labels->emplace_back(std::string(lname), std::move(value));
      i = SkipBlanks(line_, i);
      if (i < line_.size() && line_[i] == ',') {
        ++i;
        continue;
      }
      if (i < line_.size() && line_[i] == '}') continue;
      return Bad("labels not separated", "',' or '}'");
    }
  }

  std::string_view text_;
  std::string_view line_;
  const ExpositionLimits& lim_;
  size_t line_no_ = 0;
  std::vector<ExpositionSample> out_;
};

}  // namespace

bool IsMetricName(std::string_view s) { return IsName(s, true); }
bool IsLabelName(std::string_view s) { return IsName(s, false); }

Result<std::vector<ExpositionSample>> ParseExposition(std::string_view text,
                                                      const ExpositionLimits& limits) {
  return Parser(text, limits).Run();
}

}  // namespace slipway::promql
