#include "config/dotenv.h"

#include "config/input_file.h"

namespace slipway::config {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

class DotenvParser {
 public:
  DotenvParser(const std::string& text, const std::string& label, const Lookup& lookup)
      : s_(text), label_(label), lookup_(lookup) {}

  Result<std::vector<DotenvEntry>> Parse() {
    while (p_ < s_.size()) {
      SkipSpaces();
      if (p_ >= s_.size()) break;
      if (s_[p_] == '\n') {
        NextLine();
        continue;
      }
      if (s_[p_] == '#') {
        SkipToEol();
        continue;
      }
      RETURN_IF_ERROR(Line());
    }
    return std::move(entries_);
  }

 private:
  Status Line() {
    const int key_line = line_;
    if (s_.compare(p_, 7, "export ") == 0 || s_.compare(p_, 7, "export\t") == 0) {
      p_ += 7;
      SkipSpaces();
    }
    size_t start = p_;
    while (p_ < s_.size() && IsKeyChar(s_[p_])) ++p_;
    std::string key = s_.substr(start, p_ - start);
    SkipSpaces();
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) {
      return Error(key_line, Quote(CurrentLine(start)) + " is not a valid line",
                   "KEY=VALUE with a key of letters, digits and _");
    }
    if (p_ >= s_.size() || s_[p_] == '\n' || s_[p_] == '#') {
      // `KEY` alone: take it from the environment, else leave it out.
      if (p_ < s_.size() && s_[p_] == '#') SkipToEol();
      std::optional<std::string> v = lookup_(key);
      if (v) entries_.push_back({key, *v, key_line});
      return Status::OK();
    }
    if (s_[p_] != '=') {
      return Error(key_line, Quote(CurrentLine(start)) + " is not a valid line",
                   "KEY=VALUE with a key of letters, digits and _");
    }
    ++p_;
    SkipSpaces();
    std::string value;
    if (p_ < s_.size() && s_[p_] == '\'') {
      ++p_;
      size_t close = s_.find('\'', p_);
      if (close == std::string::npos) {
        return Error(key_line, "value of " + key + " has no closing '", "a matching quote");
      }
      value = s_.substr(p_, close - p_);
      CountLines(p_, close);
      p_ = close + 1;
      RETURN_IF_ERROR(AfterQuote(key, key_line));
    } else if (p_ < s_.size() && s_[p_] == '"') {
      ++p_;
      RETURN_IF_ERROR(DoubleQuoted(key, key_line, &value));
      RETURN_IF_ERROR(AfterQuote(key, key_line));
    } else {
      // Unquoted: to end of line, ` #` starts a comment.
      size_t end = p_;
      while (end < s_.size() && s_[end] != '\n') {
        if (s_[end] == '#' && end > p_ && IsSpace(s_[end - 1])) break;
        ++end;
      }
      std::string raw = s_.substr(p_, end - p_);
      while (!raw.empty() && IsSpace(raw.back())) raw.pop_back();
      p_ = end;
      SkipToEol();
      RETURN_IF_ERROR(Interpolate(raw, key, key_line, &value));
    }
    Define(key, value, key_line);
    return Status::OK();
  }

  Status DoubleQuoted(const std::string& key, int key_line, std::string* value) {
    size_t close = p_;
    while (close < s_.size() && s_[close] != '"') close += (s_[close] == '\\') ? 2 : 1;
    if (close >= s_.size()) {
      return Error(key_line, "value of " + key + " has no closing \"", "a matching quote");
    }
    const std::string body = s_.substr(p_, close - p_);
    CountLines(p_, close);
    p_ = close + 1;
    size_t i = 0;
    while (i < body.size()) {
      char c = body[i];
      if (c == '\\' && i + 1 < body.size()) {
        char e = body[i + 1];
        switch (e) {
          case 'n':
            *value += '\n';
            break;
          case 't':
            *value += '\t';
            break;
          case 'r':
            *value += '\r';
            break;
          case '\\':
            *value += '\\';
            break;
          case '"':
            *value += '"';
            break;
          case '$':
            *value += '$';
            break;
          default:
            *value += '\\';
            *value += e;
        }
        i += 2;
        continue;
      }
      if (c == '$') {
        TemplateError err;
        std::string var;
        std::vector<std::string> unset;
        if (!ExpandOne(body, &i, Scoped(), value, &var, &unset, &err, Left())) {
          return Error(key_line, "value of " + key + ": " + err.what, err.expected);
        }
        continue;
      }
      *value += c;
      ++i;
    }
    return Status::OK();
  }

  // After a closing quote only spaces and a comment may follow.
  Status AfterQuote(const std::string& key, int key_line) {
    SkipSpaces();
    if (p_ < s_.size() && s_[p_] != '\n' && s_[p_] != '#') {
      return Error(line_, "unexpected text after the quoted value of " + key,
                   "nothing or a # comment after the closing quote");
    }
    SkipToEol();
    return Status::OK();
  }

  Status Interpolate(const std::string& raw, const std::string& key, int key_line,
                     std::string* out) {
    Expanded e;
    TemplateError err;
    if (!ExpandTemplate(raw, Scoped(), &e, &err, Left())) {
      return Error(key_line, "value of " + key + ": " + err.what, err.expected);
    }
    *out = std::move(e.value);
    return Status::OK();
  }

  // Environment first, then keys defined earlier in this file.
  Lookup Scoped() const {
    return [this](const std::string& k) -> std::optional<std::string> {
      if (auto v = lookup_(k)) return v;
      auto it = defined_.find(k);
      if (it != defined_.end()) return it->second;
      return std::nullopt;
    };
  }

  void Define(const std::string& key, const std::string& value, int line) {
    entries_.push_back({key, value, line});
    defined_[key] = value;
    used_ += value.size();
  }

  // What the values of this file may still add (kMaxInterpolatedBytes in all).
  size_t Left() const { return used_ < kMaxInterpolatedBytes ? kMaxInterpolatedBytes - used_ : 0; }

  std::string CurrentLine(size_t from) const {
    size_t end = s_.find('\n', from);
    std::string l = s_.substr(from, end == std::string::npos ? std::string::npos : end - from);
    while (!l.empty() && IsSpace(l.back())) l.pop_back();
    return l;
  }

  void SkipSpaces() {
    while (p_ < s_.size() && IsSpace(s_[p_])) ++p_;
  }
  void SkipToEol() {
    while (p_ < s_.size() && s_[p_] != '\n') ++p_;
    NextLine();
  }
  void NextLine() {
    if (p_ < s_.size() && s_[p_] == '\n') {
      ++p_;
      ++line_;
    }
  }
  void CountLines(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) line_ += s_[i] == '\n';
  }

  Status Error(int line, const std::string& what, const std::string& expected) const {
    std::string msg = label_ + ":" + std::to_string(line) + ": " + what;
    if (!expected.empty()) msg += " (expected " + expected + ")";
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    return InvalidInput(std::move(msg));
  }

  const std::string& s_;
  const std::string& label_;
  const Lookup& lookup_;
  size_t p_ = 0;
  int line_ = 1;
  std::vector<DotenvEntry> entries_;
  std::map<std::string, std::string> defined_;
  size_t used_ = 0;  // bytes of values defined so far
};

}  // namespace

Result<std::vector<DotenvEntry>> ParseDotenv(const std::string& text, const std::string& label,
                                             const Lookup& lookup) {
  DotenvParser parser(text, label, lookup);
  return parser.Parse();
}

Status ParseDotenvInto(const std::string& text, const std::string& label, const Lookup& lookup,
                       std::map<std::string, std::string>* vars) {
  Lookup l = [&](const std::string& k) -> std::optional<std::string> {
    if (auto v = lookup(k)) return v;
    auto it = vars->find(k);
    if (it != vars->end()) return it->second;
    return std::nullopt;
  };
  ASSIGN_OR_RETURN(std::vector<DotenvEntry> entries, ParseDotenv(text, label, l));
  for (DotenvEntry& e : entries) (*vars)[e.key] = std::move(e.value);
  return Status::OK();
}

Status ReadDotenvFileInto(const std::filesystem::path& path, const std::string& label,
                          const Lookup& lookup, std::map<std::string, std::string>* vars) {
  ASSIGN_OR_RETURN(std::string text, ReadInputFile(path, label));
  return ParseDotenvInto(text, label, lookup, vars);
}

Result<std::map<std::string, std::string>> ReadDotenvFile(const std::filesystem::path& path,
                                                          const std::string& label,
                                                          const Lookup& lookup) {
  ASSIGN_OR_RETURN(std::string text, ReadInputFile(path, label));
  ASSIGN_OR_RETURN(std::vector<DotenvEntry> entries, ParseDotenv(text, label, lookup));
  std::map<std::string, std::string> out;
  for (DotenvEntry& e : entries) out[e.key] = std::move(e.value);
  return out;
}

}  // namespace slipway::config
