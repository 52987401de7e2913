#include "config/interpolate.h"

#include <algorithm>

namespace slipway::config {
namespace {

constexpr std::string_view kExpected =
    "$VAR, ${VAR}, ${VAR:-default} or ${VAR:?error}; write $$ for a literal $";

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

class Expander {
 public:
  Expander(std::string_view s, const Lookup& lookup, std::vector<std::string>* unset,
           TemplateError* err)
      : s_(s), lookup_(lookup), unset_(unset), err_(err) {}

  // Parses the expression at s_[*pos] == '$'. When `eval` is false only the
  // syntax is checked (an unused default), nothing is looked up.
  bool One(size_t* pos, bool eval, std::string* out, std::string* var) {
    size_t p = *pos + 1;
    if (p < s_.size() && s_[p] == '$') {
      if (eval) *out += '$';
      *pos = p + 1;
      return true;
    }
    if (p < s_.size() && IsNameStart(s_[p])) {
      size_t start = p;
      while (p < s_.size() && IsNameChar(s_[p])) ++p;
      std::string name(s_.substr(start, p - start));
      if (eval) *out += Get(name, /*warn=*/true).value_or("");
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
      if (eval) *out += Get(name, /*warn=*/true).value_or("");
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
    if (op == '-' || op == '?') {
      *out += use_word ? word : *value;
    } else {
      *out += use_word ? word : "";
    }
    return true;
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
      if (eval) *out += c;
      ++p;
    }
    return Invalid();  // no closing brace
  }

  std::optional<std::string> Get(const std::string& name, bool warn) {
    std::optional<std::string> v = lookup_(name);
    if (!v && warn && unset_ && std::find(unset_->begin(), unset_->end(), name) == unset_->end()) {
      unset_->push_back(name);
    }
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
  TemplateError* err_;
};

Status InterpolateNode(Node* n, const std::string& path, const Lookup& lookup,
                       std::vector<std::string>* warnings, std::vector<std::string>* warned) {
  switch (n->kind) {
    case Node::Kind::kNull:
      return Status::OK();
    case Node::Kind::kScalar: {
      if (n->scalar.find('$') == std::string::npos) return Status::OK();
      Expanded e;
      TemplateError err;
      if (!ExpandTemplate(n->scalar, lookup, &e, &err)) {
        return NodeError(*n, path, err.what, err.expected);
      }
      for (const std::string& v : e.unset) {
        if (std::find(warned->begin(), warned->end(), v) != warned->end()) continue;
        warned->push_back(v);
        if (warnings) {
          warnings->push_back(n->ErrorLoc().ToString() + ": " + path + ": variable " + Quote(v) +
                              " is not set, using an empty string");
        }
      }
      n->scalar = std::move(e.value);
      n->substitutions = std::move(e.substitutions);
      return Status::OK();
    }
    case Node::Kind::kSeq:
      for (size_t i = 0; i < n->children.size(); ++i) {
        RETURN_IF_ERROR(
            InterpolateNode(&n->children[i], IndexPath(path, i), lookup, warnings, warned));
      }
      return Status::OK();
    case Node::Kind::kMap:
      for (Node& c : n->children) {
        RETURN_IF_ERROR(InterpolateNode(&c, JoinPath(path, c.key), lookup, warnings, warned));
      }
      return Status::OK();
  }
  return Status::OK();
}

}  // namespace

bool ExpandOne(std::string_view s, size_t* pos, const Lookup& lookup, std::string* out,
               std::string* var, std::vector<std::string>* unset, TemplateError* err) {
  Expander x(s, lookup, unset, err);
  return x.One(pos, /*eval=*/true, out, var);
}

bool ExpandTemplate(std::string_view s, const Lookup& lookup, Expanded* out, TemplateError* err) {
  Expander x(s, lookup, &out->unset, err);
  size_t p = 0;
  while (p < s.size()) {
    if (s[p] != '$') {
      out->value += s[p++];
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
  std::vector<std::string> warned;
  return InterpolateNode(root, path, lookup, warnings, &warned);
}

}  // namespace slipway::config
