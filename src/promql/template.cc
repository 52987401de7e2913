#include "promql/template.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "promql/evaluator.h"

namespace slipway::promql {

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return FormatValue(v);
  static const char* kBig[] = {"", "k", "M", "G", "T", "P", "E"};
  static const char* kSmall[] = {"", "m", "u", "n", "p", "f", "a"};
  double a = std::fabs(v);
  int i = 0;
  if (a >= 1) {
    while (a >= 1000 && i < 6) {
      a /= 1000;
      v /= 1000;
      ++i;
    }
    return fmt::format("{:.4g}{}", v, kBig[i]);
  }
  while (a < 1 && i < 6) {
    a *= 1000;
    v *= 1000;
    ++i;
  }
  return fmt::format("{:.4g}{}", v, kSmall[i]);
}

namespace {

std::string HumanizeDuration(double secs) {
  if (std::isnan(secs) || std::isinf(secs)) return FormatValue(secs);
  if (secs == 0) return "0s";
  if (std::fabs(secs) < 1) {  // Prometheus: 4 significant digits with an SI prefix
    double v = secs;
    const char* prefix = "";
    for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
      if (std::fabs(v) >= 1) break;
      prefix = p;
      v *= 1000;
    }
    return fmt::format("{:.4g}{}s", v, prefix);
  }
  std::string sign = secs < 0 ? "-" : "";
  auto total = static_cast<long long>(std::fabs(secs));
  long long d = total / 86400, h = total / 3600 % 24, m = total / 60 % 60, s = total % 60;
  // Under a minute Prometheus keeps 4 significant digits ("4.6s"); above, whole seconds.
  if (!d && !h && !m) return fmt::format("{}{:.4g}s", sign, std::fabs(secs));
  std::string out = sign;
  if (d) out += fmt::format("{}d ", d);
  if (d || h) out += fmt::format("{}h ", h);
  if (d || h || m) out += fmt::format("{}m ", m);
  out += fmt::format("{}s", s);
  return out;
}

// A typed template value: numbers stay numbers until printed.
struct TVal {
  bool is_num = false;
  double num = 0;
  std::string str;
  std::string Text() const { return is_num ? FormatValue(num) : str; }
};

class Renderer {
 public:
  Renderer(std::string_view action, size_t base, const std::map<std::string, std::string>* labels,
           double value)
      : s_(action), base_(base), labels_(labels), value_(value) {}

  Result<TVal> Run() {
    ASSIGN_OR_RETURN(TVal v, Term());
    while (true) {
      Skip();
      if (i_ >= s_.size()) return v;
      if (s_[i_] != '|') return Err("expected \"|\" or \"}}\"");
      ++i_;
      Skip();
      std::string fn = Word();
      double num = v.is_num ? v.num : std::strtod(v.str.c_str(), nullptr);
      if (fn == "humanize") {
        v = {false, 0, Humanize(num)};
      } else if (fn == "humanizePercentage") {
        v = {false, 0, fmt::format("{:.4g}%", num * 100)};
      } else if (fn == "humanizeDuration") {
        v = {false, 0, HumanizeDuration(num)};
      } else if (fn == "toUpper" || fn == "toLower") {
        std::string t = v.Text();
        for (char& c : t) c = fn == "toUpper" ? std::toupper(c) : std::tolower(c);
        v = {false, 0, t};
      } else {
        return Err(fn.empty() ? "expected a function name" : "unknown function \"" + fn + "\"");
      }
    }
  }

 private:
  Status Err(std::string what) const {
    return InvalidInput(fmt::format("at char {}: {}", base_ + i_ + 1, what));
  }
  void Skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  std::string Word() {
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
                              s_[i_] == '$' || s_[i_] == '.')) {
      ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }

  std::string Label(std::string_view name) const {
    if (!labels_) return "";
    auto it = labels_->find(std::string(name));
    return it == labels_->end() ? "" : it->second;
  }

  Result<TVal> Term() {
    Skip();
    size_t start = i_;
    std::string w = Word();
    if (w == "$value" || w == ".Value") return TVal{true, value_, ""};
    for (std::string_view prefix : {"$labels.", ".Labels.", "$externalLabels."}) {
      if (w.rfind(prefix, 0) == 0 && w.size() > prefix.size()) {
        std::string name = w.substr(prefix.size());
        if (name.find('.') != std::string::npos) break;
        return TVal{false, 0, prefix == "$externalLabels." ? "" : Label(name)};
      }
    }
    if (w == "printf") {
      Skip();
      if (i_ >= s_.size() || s_[i_] != '"') return Err("printf needs a quoted format");
      size_t q = s_.find('"', i_ + 1);
      if (q == std::string_view::npos) return Err("unterminated format string");
      std::string format(s_.substr(i_ + 1, q - i_ - 1));
      size_t fpos = i_;
      i_ = q + 1;
      ASSIGN_OR_RETURN(TVal arg, Term());
      return Printf(format, arg, fpos);
    }
    i_ = start;
    return Err(w.empty() ? "expected $value or $labels.NAME"
                         : "unknown term \"" + w + "\" (expected $value or $labels.NAME)");
  }

  Result<TVal> Printf(const std::string& format, const TVal& arg, size_t fpos) {
    // Exactly one verb; "%%" is a literal percent.
    size_t verb_at = std::string::npos;
    for (size_t k = 0; k < format.size(); ++k) {
      if (format[k] != '%') continue;
      if (k + 1 < format.size() && format[k + 1] == '%') {
        ++k;
        continue;
      }
      if (verb_at != std::string::npos) {
        i_ = fpos;
        return Err("printf: only one % verb is supported");
      }
      verb_at = k;
    }
    if (verb_at == std::string::npos) return TVal{false, 0, format};
    size_t k = verb_at + 1;
    while (k < format.size() && std::strchr("-+ 0#", format[k])) ++k;
    while (k < format.size() &&
           (std::isdigit(static_cast<unsigned char>(format[k])) || format[k] == '.'))
      ++k;
    if (k >= format.size() || !std::strchr("difegsv", format[k])) {
      i_ = fpos;
      return Err("printf: unsupported verb in \"" + format + "\"");
    }
    char verb = format[k];
    std::string spec = format.substr(verb_at, k - verb_at);
    std::string head = format.substr(0, verb_at);
    std::string tail = format.substr(k + 1);
    char buf[128];
    double num = arg.is_num ? arg.num : std::strtod(arg.str.c_str(), nullptr);
    if (verb == 's' || verb == 'v') {
      std::snprintf(buf, sizeof buf, (spec + "s").c_str(), arg.Text().c_str());
    } else if (verb == 'd' || verb == 'i') {
      std::snprintf(buf, sizeof buf, (spec + "lld").c_str(), static_cast<long long>(num));
    } else {
      std::snprintf(buf, sizeof buf, (spec + verb).c_str(), num);
    }
    auto unescape = [](std::string s) {
      std::string out;
      for (size_t j = 0; j < s.size(); ++j) {
        if (s[j] == '%' && j + 1 < s.size() && s[j + 1] == '%') ++j;
        out += s[j];
      }
      return out;
    };
    return TVal{false, 0, unescape(head) + buf + unescape(tail)};
  }

  std::string_view s_;
  size_t base_;
  const std::map<std::string, std::string>* labels_;
  double value_;
  size_t i_ = 0;
};

Result<std::string> Walk(std::string_view text, const std::map<std::string, std::string>* labels,
                         double value) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return InvalidInput(fmt::format("at char {}: \"{{{{\" without \"}}}}\"", open + 1));
    }
    Renderer r(text.substr(open + 2, close - open - 2), open + 2, labels, value);
    ASSIGN_OR_RETURN(TVal v, r.Run());
    out += v.Text();
    i = close + 2;
  }
  return out;
}

}  // namespace

Status CheckTemplate(std::string_view text) { return Walk(text, nullptr, 0).status(); }

Result<std::string> RenderTemplate(std::string_view text,
                                   const std::map<std::string, std::string>& labels, double value) {
  return Walk(text, &labels, value);
}

}  // namespace slipway::promql
