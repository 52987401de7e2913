#include "config/shell_words.h"

namespace slipway::config {

std::optional<std::vector<std::string>> SplitShellWords(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  size_t p = 0;
  while (p < s.size()) {
    char c = s[p];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      ++p;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (p + 1 >= s.size()) return std::nullopt;
      cur += s[p + 1];
      p += 2;
      continue;
    }
    if (c == '\'') {
      size_t close = s.find('\'', p + 1);
      if (close == std::string_view::npos) return std::nullopt;
      cur.append(s.substr(p + 1, close - p - 1));
      p = close + 1;
      continue;
    }
    if (c == '"') {
      ++p;
      bool closed = false;
      while (p < s.size()) {
        char d = s[p];
        if (d == '"') {
          closed = true;
          ++p;
          break;
        }
        if (d == '\\' && p + 1 < s.size() &&
            (s[p + 1] == '"' || s[p + 1] == '\\' || s[p + 1] == '$' || s[p + 1] == '`')) {
          cur += s[p + 1];
          p += 2;
          continue;
        }
        cur += d;
        ++p;
      }
      if (!closed) return std::nullopt;
      continue;
    }
    cur += c;
    ++p;
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::string ShellQuote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";  // close, an escaped quote, reopen
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string ShellJoin(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += ShellQuote(w);
  }
  return out;
}

}  // namespace slipway::config
