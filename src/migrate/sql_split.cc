#include "migrate/sql_split.h"

#include <cctype>

namespace slipway::migrate {
namespace {

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// True when the word at [i, i+w.size()) equals `w` (case-insensitive) and is
// a whole word.
bool WordAt(std::string_view s, size_t i, std::string_view w) {
  if (i + w.size() > s.size()) return false;
  if (i > 0 && IsIdentChar(s[i - 1])) return false;
  for (size_t k = 0; k < w.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(s[i + k])) != w[k]) return false;
  }
  return i + w.size() == s.size() || !IsIdentChar(s[i + w.size()]);
}

// If a comment starts at `i` (`-- ...` to the end of the line, or `/* ... */`, which nests
// in PostgreSQL), the index just past it; else `i`.
size_t SkipComment(std::string_view s, size_t i) {
  if (s.compare(i, 2, "--") == 0) {
    while (i < s.size() && s[i] != '\n') ++i;
    return i;
  }
  if (s.compare(i, 2, "/*") != 0) return i;
  int depth = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "/*") == 0) {
      ++depth;
      i += 2;
    } else if (s.compare(i, 2, "*/") == 0) {
      i += 2;
      if (--depth == 0) break;
    } else {
      ++i;
    }
  }
  return i;
}

bool OnlyTrivia(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (size_t end = SkipComment(s, i); end != i) {
      i = end;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<SqlStatement> SplitSql(std::string_view s) {
  std::vector<SqlStatement> out;
  size_t start = 0;
  size_t i = 0;
  int atomic_depth = 0;  // inside BEGIN ATOMIC ... END (SQL-standard function bodies)
  int case_depth = 0;    // CASE ... END inside such a body
  auto emit = [&](size_t end) {
    std::string_view piece = s.substr(start, end - start);
    if (!OnlyTrivia(piece)) {
      // Skip leading whitespace so offsets point at the statement's first token.
      size_t lead = 0;
      while (lead < piece.size() && std::isspace(static_cast<unsigned char>(piece[lead]))) ++lead;
      out.push_back({std::string(piece.substr(lead)), start + lead});
    }
  };
  while (i < s.size()) {
    char c = s[i];
    if (size_t end = SkipComment(s, i); end != i) {
      i = end;
    } else if (c == '\'' || c == '"') {
      // E'...' strings allow backslash escapes; plain ones only doubled quotes.
      bool escapes = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                     (i < 2 || !IsIdentChar(s[i - 2]));
      ++i;
      while (i < s.size()) {
        if (escapes && s[i] == '\\') {
          i += 2;
          continue;
        }
        if (s[i] == c) {
          if (i + 1 < s.size() && s[i + 1] == c) {
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ++i;
      }
    } else if (c == '$' && (i == 0 || !IsIdentChar(s[i - 1]))) {
      // $tag$ ... $tag$ (tag may be empty); a lone $1 parameter is not a quote.
      size_t j = i + 1;
      bool param = j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]));
      while (!param && j < s.size() && IsIdentChar(s[j])) ++j;
      if (!param && j < s.size() && s[j] == '$') {
        std::string tag(s.substr(i, j - i + 1));
        size_t close = s.find(tag, j + 1);
        i = close == std::string_view::npos ? s.size() : close + tag.size();
      } else {
        ++i;
      }
    } else if (IsIdentChar(c) && (i == 0 || !IsIdentChar(s[i - 1]))) {
      if (WordAt(s, i, "begin")) {
        size_t j = i + 5;
        while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (WordAt(s, j, "atomic")) {
          ++atomic_depth;
          i = j + 6;
          continue;
        }
      } else if (atomic_depth > 0 && WordAt(s, i, "case")) {
        ++case_depth;
      } else if (atomic_depth > 0 && WordAt(s, i, "end")) {
        if (case_depth > 0) {
          --case_depth;
        } else {
          --atomic_depth;
        }
      }
      while (i < s.size() && IsIdentChar(s[i])) ++i;
    } else if (c == ';' && atomic_depth == 0) {
      emit(i);
      ++i;
      start = i;
    } else {
      ++i;
    }
  }
  emit(s.size());
  return out;
}

LineCol LineColAt(std::string_view text, size_t offset) {
  LineCol lc;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lc.column = 1;
    } else {
      ++lc.column;
    }
  }
  return lc;
}

std::string OneLine(std::string_view sql, size_t max) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= max) {
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace slipway::migrate
