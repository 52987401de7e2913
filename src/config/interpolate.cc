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

class Expander {
 public:
  Expander(std::string_view s, const Lookup& lookup, std::vector<std::string>* unset,
           TemplateError* err, size_t max_bytes)
      : s_(s), lookup_(lookup), unset_(unset), err_(err), max_bytes_(max_bytes) {}

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

  // Parses the expression at s_[*pos] == '$'. When `eval` is false only the
  // syntax is checked (an unused default), nothing is looked up.
  bool One(size_t* pos, bool eval, std::string* out, std::string* var) {
    size_t p = *pos + 1;
    if (p < s_.size() && s_[p] == '$') {
      if (eval && !Append(out, "$")) return false;
      *pos = p + 1;
      return true;
    }
    if (p < s_.size() && IsNameStart(s_[p])) {
      size_t start = p;
      while (p < s_.size() && IsNameChar(s_[p])) ++p;
      std::string name(s_.substr(start, p - start));
      if (eval && !Append(out, Get(name, /*warn=*/true).value_or(""))) return false;
      if (var) *var = name;
      *pos = p;
      return true;
    }
    if (p >= s_.size() || s_[p] != '{') return Invalid();
    ++p;
    size_t start = p;
    if (p >= s_.size() || !IsNameStart(s_[p])) return Invalid();
    while (p < s_.size() && IsNameChar(s_[p])) ++p;
    std::string name(s_.substr(start, p - start));
    if (var) *var = name;
    if (p >= s_.size()) return Invalid();
    if (s_[p] == '}') {
      if (eval && !Append(out, Get(name, /*warn=*/true).value_or(""))) return false;
      *pos = p + 1;
      return true;
    }
    bool colon = false;
    if (s_[p] == ':') {
      colon = true;
      ++p;
    }
    if (p >= s_.size()) return Invalid();
    char op = s_[p];
    if (op != '-' && op != '?' && op != '+') return Invalid();
    ++p;
    std::optional<std::string> value;
    if (eval) value = Get(name, /*warn=*/false);
    const bool set = value.has_value() && (!colon || !value->empty());
    bool use_word = false;
    switch (op) {
      case '-':
        use_word = !set;
        break;
      case '?':
        use_word = !set;  // the word is the error message
        break;
      case '+':
        use_word = set;
        break;
    }
    std::string word;
    if (!Word(&p, eval && use_word, &word)) return false;
    *pos = p;
    if (!eval) return true;
    if (op == '?' && !set) {
      err_->what = "required variable " + name + " is missing a value";
      if (!word.empty()) err_->what += ": " + word;
      err_->expected = name + " to be set in the environment or the .env file";
      return false;
    }
    if (op == '-' || op == '?') return Append(out, use_word ? word : *value);
    return Append(out, use_word ? word : "");
  }

 private:
  // The word after an operator, up to the matching '}'.
  bool Word(size_t* pos, bool eval, std::string* out) {
    size_t p = *pos;
    while (p < s_.size()) {
      char c = s_[p];
      if (c == '}') {
        *pos = p + 1;
        return true;
      }
      if (c == '$') {
        if (!One(&p, eval, out, nullptr)) return false;
        continue;
      }
      if (eval && !Append(out, std::string_view(&c, 1))) return false;
      ++p;
    }
    return Invalid();  // no closing brace
  }

  std::optional<std::string> Get(const std::string& name, bool warn) {
    std::optional<std::string> v = lookup_(name);
    if (!v && warn && unset_ && unset_seen_.insert(name).second) unset_->push_back(name);
    return v;
  }

  bool Invalid() {
    err_->what = Quote(s_) + " is not a valid interpolation";
    err_->expected = std::string(kExpected);
    return false;
  }

  std::string_view s_;
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

bool ExpandOne(std::string_view s, size_t* pos, const Lookup& lookup, std::string* out,
               std::string* var, std::vector<std::string>* unset, TemplateError* err,
               size_t max_bytes) {
  Expander x(s, lookup, unset, err, max_bytes);
  return x.One(pos, /*eval=*/true, out, var);
}

bool ExpandTemplate(std::string_view s, const Lookup& lookup, Expanded* out, TemplateError* err,
                    size_t max_bytes) {
  Expander x(s, lookup, &out->unset, err, max_bytes);
  size_t p = 0;
  while (p < s.size()) {
    if (s[p] != '$') {
      const size_t dollar = std::min(s.find('$', p), s.size());
      if (!x.Append(&out->value, s.substr(p, dollar - p))) return false;
      p = dollar;
      continue;
    }
    const size_t begin = out->value.size();
    std::string var;
    if (!x.One(&p, /*eval=*/true, &out->value, &var)) return false;
    if (!var.empty()) out->substitutions.push_back({begin, out->value.size(), var});
  }
  return true;
}

Status InterpolateTree(Node* root, const std::string& path, const Lookup& lookup,
                       std::vector<std::string>* warnings) {
  TreeInterpolator t(path, lookup, warnings);
  return t.Walk(root);
}

}  // namespace slipway::config
