#include "config/interpolate.h"

#include <algorithm>
#include <unordered_set>

namespace slipway::config {
namespace {

constexpr std::string_view kExpected =
    "$VAR, ${VAR}, ${VAR:-default} or ${VAR:?error}; write $$ for a literal $";

std::string SizeText(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Substitutes templates as compose-go does (its template package): `$$` is a `$`, `$NAME` and
// `${NAME}` a variable, `${NAME<op>word}` with op one of :- - :+ + :? ? uses `word` (itself a
// template, evaluated only when used), and a `$` followed by anything else stays as it is.
// Where a `${NAME<op>` expression ends follows compose-go too: its pattern reaches the last
// `}` of the line, and is then cut at the brace that closes `${` (every `{` opens a level and
// hides the character after it); when none does, the expression runs to that last `}`.
class Expander {
 public:
  Expander(std::string_view whole, const Lookup& lookup, std::vector<std::string>* unset,
           TemplateError* err, size_t max_bytes)
      : whole_(whole), lookup_(lookup), unset_(unset), err_(err), max_bytes_(max_bytes) {}

  // Appends `v` to *out unless that passes the bound.
  bool Append(std::string* out, std::string_view v) {
    if (out->size() + v.size() > max_bytes_) {
      // Callers pass what is left of the per-file bound; the message names the bound.
      err_->what = "interpolation produces more than " + SizeText(kMaxInterpolatedBytes) +
                   " of text in this file";
      err_->expected = "smaller values, or fewer uses of large variables";
      return false;
    }
    out->append(v);
    return true;
  }

  // Substitutes the template `s` (the whole value, or a word inside it at nesting `depth`),
  // appending to *out. `subs`, when set, receives the substitutions made at this level.
  bool Run(std::string_view s, int depth, std::string* out, std::vector<Substitution>* subs) {
    if (depth > kMaxInterpolationDepth) {
      err_->what = Quote(Short(whole_)) + " nests ${...} more than " +
                   std::to_string(kMaxInterpolationDepth) + " levels deep";
      err_->expected = "fewer nested defaults";
      return false;
    }
    Line line;  // the last `}` of the line at hand, found once per line
    size_t p = 0;
    while (p < s.size()) {
      const size_t d = std::min(s.find('$', p), s.size());
      if (!Append(out, s.substr(p, d - p))) return false;
      p = d;
      if (p == s.size()) break;
      const char next = p + 1 < s.size() ? s[p + 1] : '\0';
      if (next == '$') {
        if (!Append(out, "$")) return false;
        p += 2;
      } else if (IsNameStart(next)) {
        size_t q = p + 1;
        while (q < s.size() && IsNameChar(s[q])) ++q;
        const std::string name(s.substr(p + 1, q - p - 1));
        const size_t begin = out->size();
        if (!Append(out, Get(name, /*warn=*/true).value_or(""))) return false;
        if (subs) subs->push_back({begin, out->size(), name});
        p = q;
      } else if (next == '{' && p + 1 < s.size()) {
        if (!Braced(s, &p, depth, &line, out, subs)) return false;
      } else {
        if (!Append(out, "$")) return false;  // not an expression: kept, as compose-go does
        ++p;
      }
    }
    return true;
  }

 private:
  struct Line {
    size_t end = 0;                         // one past the line's last character
    size_t last_brace = std::string::npos;  // its last `}`
    bool known = false;
  };

  // The last `}` at or after `from` on the line holding `from`.
  static size_t LastBraceOnLine(std::string_view s, size_t from, Line* line) {
    if (!line->known || from >= line->end) {
      line->end = std::min(s.find('\n', from), s.size());
      const size_t at = s.substr(from, line->end - from).rfind('}');
      line->last_brace = at == std::string::npos ? at : from + at;
      line->known = true;
    }
    return line->last_brace != std::string::npos && line->last_brace >= from ? line->last_brace
                                                                             : std::string::npos;
  }

  // s[*p] is the `$` of `${`.
  bool Braced(std::string_view s, size_t* p, int depth, Line* line, std::string* out,
              std::vector<Substitution>* subs) {
    const size_t start = *p;
    size_t q = start + 2;
    if (q >= s.size() || !IsNameStart(s[q])) return Invalid();
    while (q < s.size() && IsNameChar(s[q])) ++q;
    const std::string name(s.substr(start + 2, q - start - 2));
    if (q < s.size() && s[q] == '}') {
      const size_t begin = out->size();
      if (!Append(out, Get(name, /*warn=*/true).value_or(""))) return false;
      if (subs) subs->push_back({begin, out->size(), name});
      *p = q + 1;
      return true;
    }
    bool colon = false;
    if (q < s.size() && s[q] == ':') {
      colon = true;
      ++q;
    }
    if (q >= s.size() || (s[q] != '-' && s[q] != '+' && s[q] != '?')) return Invalid();
    const char op = s[q++];
    const size_t match_end = LastBraceOnLine(s, q, line);
    if (match_end == std::string::npos) return Invalid();
    // Cut at the brace that closes `${`; compose-go's count starts after the `{` and the
    // character it hides.
    size_t close = match_end;
    int open = 1;
    for (size_t i = start + 3; i <= match_end; ++i) {
      if (s[i] == '}' && --open == 0) {
        close = i;
        break;
      }
      if (s[i] == '{') {
        ++open;
        ++i;
      }
    }
    const std::string_view word = s.substr(q, close - q);
    *p = close + 1;

    std::optional<std::string> value = Get(name, /*warn=*/false);
    const bool set = value.has_value() && (!colon || !value->empty());
    const size_t begin = out->size();
    switch (op) {
      case '-':
        if (set) {
          if (!Append(out, *value)) return false;
        } else if (!Run(word, depth + 1, out, nullptr)) {
          return false;
        }
        break;
      case '+':
        if (set) {
          if (!Run(word, depth + 1, out, nullptr)) return false;
        } else if (!Append(out, value.value_or(""))) {
          return false;
        }
        break;
      default:  // '?'
        if (!set) {
          std::string reason;
          if (!Run(word, depth + 1, &reason, nullptr)) return false;
          err_->what = "required variable " + name + " is missing a value";
          if (!reason.empty()) err_->what += ": " + reason;
          err_->expected = name + " to be set in the environment or the .env file";
          return false;
        }
        if (!Append(out, *value)) return false;
        break;
    }
    if (subs) subs->push_back({begin, out->size(), name});
    return true;
  }

  std::optional<std::string> Get(const std::string& name, bool warn) {
    std::optional<std::string> v = lookup_(name);
    if (!v && warn && unset_ && unset_seen_.insert(name).second) unset_->push_back(name);
    return v;
  }

  static std::string_view Short(std::string_view s) { return s.substr(0, 200); }

  bool Invalid() {
    err_->what = Quote(Short(whole_)) + " is not a valid interpolation";
    err_->expected = std::string(kExpected);
    return false;
  }

  std::string_view whole_;
  const Lookup& lookup_;
  std::vector<std::string>* unset_;
  std::unordered_set<std::string> unset_seen_;  // *unset_, for a constant-time check
  TemplateError* err_;
  size_t max_bytes_;
};

// One walk over a tree. The key path of the node at hand is kept as segments and spelled out
// only for a message, so a long key costs once, not once per value beneath it.
class TreeInterpolator {
 public:
  TreeInterpolator(const std::string& root_path, const Lookup& lookup,
                   std::vector<std::string>* warnings)
      : root_path_(root_path), lookup_(lookup), warnings_(warnings) {}

  Status Walk(Node* n) {
    switch (n->kind) {
      case Node::Kind::kNull:
        return Status::OK();
      case Node::Kind::kScalar:
        return Scalar(n);
      case Node::Kind::kSeq:
        for (size_t i = 0; i < n->children.size(); ++i) {
          path_.push_back({nullptr, i});
          Status st = Walk(&n->children[i]);
          path_.pop_back();
          RETURN_IF_ERROR(st);
        }
        return Status::OK();
      case Node::Kind::kMap:
        for (Node& c : n->children) {
          path_.push_back({&c.key, 0});
          Status st = Walk(&c);
          path_.pop_back();
          RETURN_IF_ERROR(st);
        }
        return Status::OK();
    }
    return Status::OK();
  }

 private:
  struct Segment {
    const std::string* key;  // nullptr for a list index
    size_t index;
  };

  std::string Path() const {
    std::string p = root_path_;
    for (const Segment& s : path_) p = s.key ? JoinPath(p, *s.key) : IndexPath(p, s.index);
    return p;
  }

  Status Scalar(Node* n) {
    if (n->scalar.find('$') == std::string::npos) {
      used_ += n->scalar.size();
      return Status::OK();
    }
    Expanded e;
    TemplateError err;
    const size_t left = used_ < kMaxInterpolatedBytes ? kMaxInterpolatedBytes - used_ : 0;
    if (!ExpandTemplate(n->scalar, lookup_, &e, &err, left)) {
      return NodeError(*n, Path(), err.what, err.expected);
    }
    used_ += e.value.size();
    for (const std::string& v : e.unset) {
      if (!warned_.insert(v).second) continue;
      if (warnings_) {
        warnings_->push_back(n->ErrorLoc().ToString() + ": " + Path() + ": variable " + Quote(v) +
                             " is not set, using an empty string");
      }
    }
    n->scalar = std::move(e.value);
    n->substitutions = std::move(e.substitutions);
    return Status::OK();
  }

  const std::string& root_path_;
  const Lookup& lookup_;
  std::vector<std::string>* warnings_;
  std::vector<Segment> path_;
  std::unordered_set<std::string> warned_;  // variables already warned about
  size_t used_ = 0;                         // bytes of scalars so far
};

}  // namespace

bool ExpandTemplate(std::string_view s, const Lookup& lookup, Expanded* out, TemplateError* err,
                    size_t max_bytes) {
  Expander x(s, lookup, &out->unset, err, max_bytes);
  return x.Run(s, 0, &out->value, &out->substitutions);
}

Status InterpolateTree(Node* root, const std::string& path, const Lookup& lookup,
                       std::vector<std::string>* warnings) {
  TreeInterpolator t(path, lookup, warnings);
  return t.Walk(root);
}

}  // namespace slipway::config
