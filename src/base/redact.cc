#include "base/redact.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace slipway {
namespace {

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsLower(c) || IsUpper(c) || IsDigit(c); }
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char Upper(char c) { return IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// "dbPassword_2" -> {"DB", "PASSWORD", "2"}.
std::vector<std::string> Words(std::string_view name) {
  std::vector<std::string> words;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!IsAlnum(c)) {
      flush();
      continue;
    }
    if (!cur.empty()) {
      char prev = name[i - 1];
      bool next_lower = i + 1 < name.size() && IsLower(name[i + 1]);
      if ((IsLower(prev) && IsUpper(c)) || (IsUpper(prev) && IsUpper(c) && next_lower) ||
          (IsDigit(prev) != IsDigit(c))) {
        flush();
      }
    }
    cur += Upper(c);
  }
  flush();
  return words;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

template <size_t N>
bool OneOf(std::string_view w, const std::array<std::string_view, N>& set) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

// A word that holds a secret wherever it stands.
bool StrongWord(std::string_view w) {
  static constexpr std::array<std::string_view, 3> kContains = {"PASSWORD", "PASSWD", "PASSPHRASE"};
  for (std::string_view k : kContains) {
    if (w.find(k) != std::string_view::npos) return true;
  }
  static constexpr std::array<std::string_view, 6> kSuffixes = {
      "SECRET", "SECRETS", "TOKEN", "TOKENS", "CREDENTIAL", "CREDENTIALS"};
  for (std::string_view k : kSuffixes) {
    if (EndsWith(w, k)) return true;
  }
  static constexpr std::array<std::string_view, 11> kJoinedKeys = {
      "APIKEY",  "PRIVATEKEY",    "SECRETKEY",  "ACCESSKEY", "MASTERKEY", "SIGNINGKEY",
      "AUTHKEY", "ENCRYPTIONKEY", "LICENSEKEY", "SSHKEY",    "CLIENTKEY"};
  return OneOf(w, kJoinedKeys);
}

// Short words that hold a secret only as a name's last word.
bool LastWord(std::string_view w) {
  static constexpr std::array<std::string_view, 7> kWords = {
      "KEY", "PASS", "PWD", "AUTH", "AUTHORIZATION", "DSN", "PASSCODE"};
  return OneOf(w, kWords);
}

// Last words that describe a secret rather than hold it.
bool Qualifier(std::string_view w) {
  static constexpr std::array<std::string_view, 42> kWords = {
      "FILE",      "FILES",    "PATH",    "DIR",        "FOLDER",   "LOCATION", "TTL",
      "TIMEOUT",   "EXPIRY",   "EXPIRES", "EXPIRATION", "LIFETIME", "AGE",      "LENGTH",
      "LEN",       "SIZE",     "MIN",     "MAX",        "COUNT",    "ENABLED",  "ENABLE",
      "DISABLED",  "REQUIRED", "URL",     "URI",        "ENDPOINT", "HOST",     "PORT",
      "HEADER",    "NAME",     "ID",      "TYPE",       "KIND",     "MODE",     "METHOD",
      "ALGORITHM", "ALG",      "FORMAT",  "PROVIDER",   "POLICY",   "PREFIX",   "ISSUER"};
  return OneOf(w, kWords);
}

// One password found in a text: [begin, end) is what gets masked.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  bool quoted = false;  // a conninfo value in '...': begin/end include the quotes
};

bool UrlAuthorityStop(char c) { return IsBlank(c) || c == '/' || c == '"' || c == '<' || c == '>'; }

bool MatchWordAt(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Upper(text[pos + i]) != word[i]) return false;
  }
  return true;
}

// Calls `on_span` for every password in `text`, in order, spans not overlapping.
template <typename F>
void ForEachPassword(std::string_view text, F on_span) {
  size_t pos = 0;
  while (pos < text.size()) {
    // scheme://user:password@host
    if (text.compare(pos, 3, "://") == 0) {
      size_t a = pos + 3;
      size_t e = a;
      while (e < text.size() && !UrlAuthorityStop(text[e])) ++e;
      size_t at = text.substr(a, e - a).rfind('@');
      if (at != std::string_view::npos) {
        at += a;
        size_t colon = text.substr(a, at - a).find(':');
        if (colon != std::string_view::npos && a + colon + 1 < at) {
          on_span(Span{a + colon + 1, at, false});
          pos = at;
          continue;
        }
      }
      pos = a;
      continue;
    }
    // password=... / sslpassword=... (conninfo or URL query), as a whole word.
    char c = text[pos];
    if ((c == 'p' || c == 'P' || c == 's' || c == 'S') &&
        (pos == 0 || !(IsAlnum(text[pos - 1]) || text[pos - 1] == '_'))) {
      size_t k = pos;
      if (MatchWordAt(text, k, "SSLPASSWORD")) {
        k += 11;
      } else if (MatchWordAt(text, k, "PASSWORD")) {
        k += 8;
      } else {
        ++pos;
        continue;
      }
      const bool query = pos > 0 && (text[pos - 1] == '?' || text[pos - 1] == '&');
      while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
      if (k >= text.size() || text[k] != '=') {
        pos = k;
        continue;
      }
      ++k;
      if (!query) {
        while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
      }
      size_t v = k;
      if (!query && v < text.size() && text[v] == '\'') {
        size_t q = v + 1;
        while (q < text.size() && text[q] != '\'') q += text[q] == '\\' ? 2 : 1;
        const bool closed = q < text.size();
        size_t end = closed ? q + 1 : text.size();
        if ((closed ? q : text.size()) > v + 1) on_span(Span{v, end, true});
        pos = end;
        continue;
      }
      while (k < text.size() && !IsBlank(text[k]) && text[k] != '"' &&
             !(query && (text[k] == '&' || text[k] == '#'))) {
        ++k;
      }
      if (k > v) on_span(Span{v, k, false});
      pos = k;
      continue;
    }
    ++pos;
  }
}

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsSecretName(std::string_view name) {
  std::vector<std::string> words = Words(name);
  // The last word that is not a number: API_KEY_2 ends in KEY.
  size_t last = words.size();
  while (last > 0 && IsDigit(words[last - 1][0])) --last;
  if (last == 0) return false;
  --last;
  bool strong_elsewhere = false;
  for (size_t i = 0; i < words.size(); ++i) {
    if (!StrongWord(words[i])) continue;
    if (i >= last) return true;
    strong_elsewhere = true;
  }
  if (strong_elsewhere) return !Qualifier(words[last]);
  if (!LastWord(words[last])) return false;
  // PWD alone is the shell's current folder.
  return !(words[last] == "PWD" && last == 0);
}

std::string RedactUrlPasswords(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  ForEachPassword(text, [&](const Span& s) {
    out.append(text.substr(copied, s.begin - copied));
    if (s.quoted) {
      out += '\'';
      out += kRedacted;
      out += '\'';
    } else {
      out += kRedacted;
    }
    copied = s.end;
  });
  out.append(text.substr(copied));
  return out;
}

std::vector<std::string> UrlPasswords(std::string_view text) {
  std::vector<std::string> out;
  ForEachPassword(text, [&](const Span& s) {
    std::string_view raw = text.substr(s.begin, s.end - s.begin);
    if (s.quoted) {
      raw.remove_prefix(1);
      if (!raw.empty() && raw.back() == '\'') raw.remove_suffix(1);
      std::string v;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
        v += raw[i];
      }
      out.push_back(std::move(v));
      return;
    }
    out.emplace_back(raw);
    std::string decoded = PercentDecode(raw);
    if (decoded != raw) out.push_back(std::move(decoded));
  });
  return out;
}

bool Redactor::Insert(std::string_view value) {
  std::string_view v = Trim(value);
  if (v.size() < kMinValueLength) return false;
  std::string lower;
  for (char c : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "false" || lower == "null" || lower == "none") return false;
  if (!known_.emplace(v).second) return false;
  values_.emplace_back(v);
  return true;
}

void Redactor::AddValue(std::string_view value) {
  if (Insert(value)) Rebuild();
}

void Redactor::AddValues(const std::vector<std::string>& values) {
  bool added = false;
  for (const std::string& v : values) added |= Insert(v);
  if (added) Rebuild();
}

void Redactor::Merge(const Redactor& other) { AddValues(other.values_); }

int Redactor::Child(int state, unsigned char c) const {
  const auto& next = nodes_[static_cast<size_t>(state)].next;
  auto it = std::lower_bound(
      next.begin(), next.end(), c,
      [](const std::pair<unsigned char, int>& e, unsigned char b) { return e.first < b; });
  return it != next.end() && it->first == c ? it->second : -1;
}

int Redactor::Step(int state, unsigned char c) const {
  while (true) {
    int n = Child(state, c);
    if (n >= 0) return n;
    if (state == 0) return 0;
    state = nodes_[static_cast<size_t>(state)].fail;
  }
}

void Redactor::Rebuild() {
  nodes_.assign(1, Node{});
  for (const std::string& v : values_) {
    int state = 0;
    for (char ch : v) {
      auto c = static_cast<unsigned char>(ch);
      int n = Child(state, c);
      if (n < 0) {
        n = static_cast<int>(nodes_.size());
        nodes_.push_back(Node{});
        auto& next = nodes_[static_cast<size_t>(state)].next;
        next.insert(
            std::upper_bound(next.begin(), next.end(), std::make_pair(c, -1),
                             [](const auto& a, const auto& b) { return a.first < b.first; }),
            {c, n});
      }
      state = n;
    }
    nodes_[static_cast<size_t>(state)].out = static_cast<int>(v.size());
  }
  // Breadth first: a node's failure link points to a shallower node, already linked.
  std::vector<int> queue;
  for (const auto& [c, child] : nodes_[0].next) queue.push_back(child);
  for (size_t q = 0; q < queue.size(); ++q) {
    int u = queue[q];
    for (const auto& [c, v] : nodes_[static_cast<size_t>(u)].next) {
      int f = nodes_[static_cast<size_t>(u)].fail;
      int target = Child(f, c);
      while (target < 0 && f != 0) {
        f = nodes_[static_cast<size_t>(f)].fail;
        target = Child(f, c);
      }
      Node& node = nodes_[static_cast<size_t>(v)];
      node.fail = target >= 0 && target != v ? target : 0;
      const Node& fail = nodes_[static_cast<size_t>(node.fail)];
      node.dict_link = fail.out >= 0 ? node.fail : fail.dict_link;
      queue.push_back(v);
    }
  }
}

std::string Redactor::Scrub(std::string_view text) const {
  if (values_.empty()) return RedactUrlPasswords(text);
  // The longest value ending at each position covers every shorter one ending there.
  std::vector<std::pair<size_t, size_t>> spans;
  int state = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    state = Step(state, static_cast<unsigned char>(text[i]));
    const Node& n = nodes_[static_cast<size_t>(state)];
    int len =
        n.out >= 0 ? n.out : (n.dict_link >= 0 ? nodes_[static_cast<size_t>(n.dict_link)].out : -1);
    if (len > 0) spans.emplace_back(i + 1 - static_cast<size_t>(len), i + 1);
  }
  if (spans.empty()) return RedactUrlPasswords(text);
  std::sort(spans.begin(), spans.end());
  std::string masked;
  masked.reserve(text.size());
  size_t copied = 0;
  for (size_t i = 0; i < spans.size();) {
    size_t begin = spans[i].first, end = spans[i].second;
    for (++i; i < spans.size() && spans[i].first <= end; ++i) end = std::max(end, spans[i].second);
    masked.append(text.substr(copied, begin - copied));
    masked += kRedacted;
    copied = end;
  }
  masked.append(text.substr(copied));
  return RedactUrlPasswords(masked);
}

std::string Redactor::Value(std::string_view name, std::string_view value) const {
  if (IsSecretName(name)) return std::string(kRedacted);
  return Scrub(value);
}

}  // namespace slipway
