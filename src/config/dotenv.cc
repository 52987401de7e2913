#include "config/dotenv.h"

#include <algorithm>

#include "config/input_file.h"
#include "config/node.h"

namespace slipway::config {
namespace {

// One UTF-8 character at s[i]: its code point and length. A malformed byte is U+FFFD of
// length 1, as Go's `range` over a string reads it.
std::pair<char32_t, size_t> DecodeUtf8(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return {c, 1};
  size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return {0xFFFD, 1};
  }
  if (i + len > s.size()) return {0xFFFD, 1};
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return {0xFFFD, 1};
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0xFFFD, 1};
  return {cp, len};
}

void EncodeUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Blanks within a line, as compose-go's parser has them (no line break).
bool IsLineSpace(char32_t r) {
  return r == '\t' || r == '\v' || r == '\f' || r == '\r' || r == ' ' || r == 0x85 || r == 0xA0;
}

// Go's unicode.IsSpace.
bool IsAnySpace(char32_t r) {
  return IsLineSpace(r) || r == '\n' || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) ||
         r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000;
}

// Letters and digits of any script, for key names. Go's unicode.IsLetter/IsNumber, by block:
// outside ASCII, a character counts unless it is in a block of punctuation, symbols, marks or
// controls (Latin-1's signs, general punctuation, arrows and math and technical symbols, box
// drawing and dingbats, CJK punctuation, private use, specials and emoji).
bool IsLetterOrNumber(char32_t r) {
  if (r < 0x80) {
    return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9');
  }
  if (r < 0xC0) {
    // Latin-1 signs; of them ª µ º are letters and ² ³ ¹ ¼ ½ ¾ numbers.
    return r == 0xAA || r == 0xB5 || r == 0xBA || r == 0xB2 || r == 0xB3 || r == 0xB9 ||
           (r >= 0xBC && r <= 0xBE);
  }
  if (r == 0xD7 || r == 0xF7) return false;        // × ÷
  if (r >= 0x0300 && r <= 0x036F) return false;    // combining marks
  if (r >= 0x2000 && r <= 0x206F) return false;    // general punctuation
  if (r >= 0x20A0 && r <= 0x20FF) return false;    // currency signs, combining marks for symbols
  if (r >= 0x2190 && r <= 0x2BFF) return false;    // arrows .. miscellaneous symbols and arrows
  if (r >= 0x2E00 && r <= 0x2E7F) return false;    // supplemental punctuation
  if (r >= 0x3000 && r <= 0x303F) return false;    // CJK symbols and punctuation
  if (r >= 0xD800 && r <= 0xF8FF) return false;    // surrogates, private use
  if (r >= 0xFE00 && r <= 0xFE6F) return false;    // variation selectors, small forms
  if (r >= 0xFF00 && r <= 0xFF0F) return false;    // fullwidth ASCII punctuation
  if (r >= 0xFFF0 && r <= 0xFFFF) return false;    // specials (U+FFFD, a malformed byte)
  if (r >= 0x1F000 && r <= 0x1FAFF) return false;  // emoji and pictographs
  if (r >= 0xE0000) return false;                  // tags, private use
  return true;
}

// Escapes in double-quoted values, as compose-go expands them: \a \b \f \n \r \t \v \\ \",
// \$ (a literal $: written $$ for the interpolation that follows) and \0 with three octal
// digits (XSI echo: \0123 is "S"). Any other backslash stays as it is.
std::string ExpandEscapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    const char e = s[i + 1];
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '$':
        out += "$$";
        break;
      case '0': {
        size_t n = 0;  // up to three digits after \0
        while (n < 3 && i + 2 + n < s.size() && s[i + 2 + n] >= '0' && s[i + 2 + n] <= '9') ++n;
        const std::string_view digits = s.substr(i + 2, n);
        bool octal = n == 3;
        unsigned v = 0;
        for (char d : digits) {
          octal = octal && d <= '7';
          v = v * 8 + static_cast<unsigned>(d - '0');
        }
        if (octal && v <= 255) {
          EncodeUtf8(v, &out);
        } else {
          out += '\\';
          out += '0';
          out += digits;
        }
        i += 1 + n;
        continue;
      }
      default:
        // Not an escape (\c among them: Go cannot unquote it either): the backslash stays
        // and the next character is read as any other.
        out += '\\';
        continue;
    }
    ++i;
  }
  return out;
}

std::string_view FirstLine(std::string_view s) { return s.substr(0, s.find('\n')); }

class DotenvParser {
 public:
  DotenvParser(std::string_view text, const std::string& label, const Lookup& lookup,
               std::map<std::string, std::string>* vars, std::vector<DotenvEntry>* entries)
      : s_(text), label_(label), lookup_(lookup), vars_(vars), entries_(entries) {
    // An editor's UTF-8 byte order mark is not part of the first key.
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") s_.remove_prefix(3);
  }

  Status Parse() {
    size_t p = 0;
    while ((p = StatementStart(p)) < s_.size()) RETURN_IF_ERROR(Statement(&p));
    return Status::OK();
  }

 private:
  // Skips blanks, line breaks and `#` comment lines.
  size_t StatementStart(size_t p) const {
    while (p < s_.size()) {
      auto [r, len] = DecodeUtf8(s_, p);
      if (IsAnySpace(r)) {
        p += len;
      } else if (r == '#') {
        p = std::min(s_.find('\n', p), s_.size());
      } else {
        break;
      }
    }
    return p;
  }

  size_t SkipLineSpaces(size_t p) const {
    while (p < s_.size()) {
      auto [r, len] = DecodeUtf8(s_, p);
      if (!IsLineSpace(r)) break;
      p += len;
    }
    return p;
  }

  Status Statement(size_t* pos) {
    size_t p = *pos;
    const int line = LineAt(p);
    // `export` and a blank (a line break counts, as in compose-go) before the key.
    if (s_.compare(p, 6, "export") == 0 && p + 6 < s_.size() &&
        std::string_view("\t\n\f\r ").find(s_[p + 6]) != std::string_view::npos) {
      p = SkipLineSpaces(p + 6);
    }
    // The key runs to `=`, `:` (YAML style) or the end of the line (`KEY` alone: inherited).
    const size_t key_begin = p;
    size_t key_end = p;
    size_t value_begin = p;  // where the value starts; the key's start when none ends it
    bool terminated = false;
    bool inherited = false;
    for (size_t i = p; i < s_.size();) {
      auto [r, len] = DecodeUtf8(s_, i);
      if (r == '=' || r == ':' || r == '\n') {
        key_end = i;
        value_begin = i + 1;
        inherited = r == '\n';
        terminated = true;
        break;
      }
      if (!IsLineSpace(r) && r != '_' && r != '.' && r != '-' && r != '[' && r != ']' &&
          !IsLetterOrNumber(r)) {
        return Error(line,
                     "unexpected character " + Quote(s_.substr(i, len)) + " in variable name " +
                         Quote(FirstLine(s_.substr(key_begin))),
                     "KEY=VALUE, with a key of letters, digits, '_', '.', '-', '[' and ']'");
      }
      i += len;
    }
    // Text without `=` at the very end of the input is a value with an empty key, as
    // compose-go reads it.
    std::string key(s_.substr(key_begin, terminated ? key_end - key_begin : 0));
    while (!key.empty()) {
      size_t last = key.size() - 1;
      while (last > 0 && (static_cast<unsigned char>(key[last]) & 0xC0) == 0x80) --last;
      if (!IsAnySpace(DecodeUtf8(key, last).first)) break;
      key.resize(last);
    }
    if (key.find(' ') != std::string::npos) {
      return Error(line, "key cannot contain a space: " + Quote(key),
                   "KEY=VALUE, or KEY alone to take it from the environment");
    }
    p = SkipLineSpaces(value_begin);
    if (inherited) {
      if (std::optional<std::string> v = lookup_(key)) Define(key, *v, line);
      *pos = p;
      return Status::OK();
    }
    std::string value;
    RETURN_IF_ERROR(Value(key, line, &p, &value));
    Define(key, std::move(value), line);
    *pos = p;
    return Status::OK();
  }

  // The value at *p; *p moves past it. A closing quote ends the statement: what follows on
  // the line is read as the next one (blanks and a `#` comment, as a rule).
  Status Value(const std::string& key, int line, size_t* p, std::string* value) {
    const size_t start = *p;
    if (start < s_.size() && (s_[start] == '"' || s_[start] == '\'')) {
      const char quote = s_[start];
      std::string chars;
      bool escaped = false;
      for (size_t i = start + 1; i < s_.size(); ++i) {
        const char c = s_[i];
        if (c != quote) {
          if (!escaped && c == '\\') {
            escaped = true;
            continue;
          }
          if (escaped) {
            escaped = false;
            chars += '\\';
          }
          chars += c;
          continue;
        }
        if (escaped) {  // \" or \' : the quote itself
          escaped = false;
          chars += c;
          continue;
        }
        *p = i + 1;
        if (quote == '\'') {
          *value = std::move(chars);
          return Status::OK();
        }
        return Interpolate(ExpandEscapes(chars), key, line, value);
      }
      return Error(line, "unterminated quoted value " + Quote(FirstLine(s_.substr(start))),
                   std::string("a closing ") + quote);
    }
    const size_t end = std::min(s_.find('\n', start), s_.size());
    std::string_view raw = s_.substr(start, end - start);
    *p = std::min(end + 1, s_.size());
    raw = raw.substr(0, raw.find(" #"));  // an inline comment needs a blank before it
    std::string text(raw);
    while (!text.empty()) {
      size_t last = text.size() - 1;
      while (last > 0 && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
      if (!IsAnySpace(DecodeUtf8(text, last).first)) break;
      text.resize(last);
    }
    return Interpolate(text, key, line, value);
  }

  Status Interpolate(const std::string& raw, const std::string& key, int line, std::string* out) {
    if (raw.find('$') == std::string::npos) {
      *out = raw;
      return Status::OK();
    }
    Expanded e;
    TemplateError err;
    if (!ExpandTemplate(raw, Scoped(), &e, &err, Left())) {
      return Error(line, "value of " + key + ": " + err.what, err.expected);
    }
    *out = std::move(e.value);
    return Status::OK();
  }

  // The lookup first, then the variables read so far (of this file and those before it).
  Lookup Scoped() const {
    return [this](const std::string& k) -> std::optional<std::string> {
      if (auto v = lookup_(k)) return v;
      auto it = vars_->find(k);
      if (it != vars_->end()) return it->second;
      return std::nullopt;
    };
  }

  void Define(const std::string& key, std::string value, int line) {
    used_ += value.size();
    if (entries_) entries_->push_back({key, value, line});
    (*vars_)[key] = std::move(value);
  }

  // What the values of this file may still add (kMaxInterpolatedBytes in all).
  size_t Left() const { return used_ < kMaxInterpolatedBytes ? kMaxInterpolatedBytes - used_ : 0; }

  // The 1-based line of s_[pos]; positions only move forward, so this is linear in all.
  int LineAt(size_t pos) {
    line_ += static_cast<int>(std::count(s_.begin() + static_cast<std::ptrdiff_t>(line_pos_),
                                         s_.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
    line_pos_ = pos;
    return line_;
  }

  Status Error(int line, const std::string& what, const std::string& expected) const {
    std::string msg = label_ + ":" + std::to_string(line) + ": " + what;
    if (!expected.empty()) msg += " (expected " + expected + ")";
    for (char& c : msg) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return InvalidInput(std::move(msg));
  }

  std::string_view s_;
  const std::string& label_;
  const Lookup& lookup_;
  std::map<std::string, std::string>* vars_;
  std::vector<DotenvEntry>* entries_;
  size_t line_pos_ = 0;
  int line_ = 1;
  size_t used_ = 0;  // bytes of values defined so far
};

}  // namespace

Status ParseDotenvInto(const std::string& text, const std::string& label, const Lookup& lookup,
                       std::map<std::string, std::string>* vars,
                       std::vector<DotenvEntry>* entries) {
  DotenvParser parser(text, label, lookup, vars, entries);
  return parser.Parse();
}

Result<std::vector<DotenvEntry>> ParseDotenv(const std::string& text, const std::string& label,
                                             const Lookup& lookup) {
  std::map<std::string, std::string> vars;
  std::vector<DotenvEntry> entries;
  RETURN_IF_ERROR(ParseDotenvInto(text, label, lookup, &vars, &entries));
  return entries;
}

Status ReadDotenvFileInto(const std::filesystem::path& path, const std::string& label,
                          const Lookup& lookup, std::map<std::string, std::string>* vars) {
  ASSIGN_OR_RETURN(std::string text, ReadInputFile(path, label));
  std::vector<DotenvEntry> entries;
  RETURN_IF_ERROR(ParseDotenvInto(text, label, lookup, vars, &entries));
  // compose-go reads `=value` (or a last line without `=` or line break) as a variable with
  // an empty name; no program can use one, so a file that has one is refused.
  for (const DotenvEntry& e : entries) {
    if (e.key.empty()) {
      vars->erase("");
      return InvalidInput(label + ":" + std::to_string(e.line) + ": " + Quote(e.value) +
                          " has no key (expected KEY=VALUE; a KEY alone, to take it from the "
                          "environment, needs a line break after it)");
    }
  }
  return Status::OK();
}

Result<std::map<std::string, std::string>> ReadDotenvFile(const std::filesystem::path& path,
                                                          const std::string& label,
                                                          const Lookup& lookup) {
  std::map<std::string, std::string> vars;
  RETURN_IF_ERROR(ReadDotenvFileInto(path, label, lookup, &vars));
  return vars;
}

}  // namespace slipway::config
