#include "promql/regex.h"

#include <re2/re2.h>

#include <cctype>

namespace slipway::promql {

namespace {

// RE2's messages are "what: argument"; the argument repeats our wrapping, so only the part
// before it is kept.
std::string Describe(const re2::RE2& re) {
  std::string e = re.error();
  const size_t colon = e.find(": ");
  if (colon != std::string::npos) e.resize(colon);
  return e.empty() ? "does not compile" : e;
}

}  // namespace

Regex::~Regex() = default;

Result<std::shared_ptr<const Regex>> Regex::Compile(std::string_view pattern, Dialect dialect) {
  std::string wrapped;
  if (dialect == Dialect::kSearch) {
    wrapped = std::string(pattern);
  } else {
    wrapped = dialect == Dialect::kPromQL ? "^(?s:" : "^(?:";
    wrapped.append(pattern);
    wrapped += ")$";
  }
  re2::RE2::Options opts;
  opts.set_log_errors(false);  // the error is returned, not printed to stderr
  std::shared_ptr<Regex> r(new Regex());
  r->pattern_ = std::string(pattern);
  r->re_ = std::make_unique<re2::RE2>(wrapped, opts);
  if (!r->re_->ok()) {
    std::string shown;  // one line, bounded: the pattern may be long or hold newlines
    for (char c : pattern.substr(0, 200))
      shown += c == '\n' ? std::string("\\n") : std::string(1, c);
    if (pattern.size() > 200) shown += "...";
    return InvalidInput("invalid regular expression \"" + shown + "\": " + Describe(*r->re_));
  }
  r->names_.assign(static_cast<size_t>(r->re_->NumberOfCapturingGroups()) + 1, "");
  for (const auto& [name, index] : r->re_->NamedCapturingGroups()) {
    if (index >= 0 && static_cast<size_t>(index) < r->names_.size()) {
      r->names_[static_cast<size_t>(index)] = name;
    }
  }
  return std::shared_ptr<const Regex>(std::move(r));
}

bool Regex::FullMatch(std::string_view s) const {
  return re_->Match(s, 0, s.size(), re2::RE2::UNANCHORED, nullptr, 0);
}

bool Regex::FullMatch(std::string_view s, std::vector<std::string_view>* groups) const {
  std::vector<re2::StringPiece> pieces(names_.size());
  groups->assign(names_.size(), std::string_view());
  if (!re_->Match(s, 0, s.size(), re2::RE2::UNANCHORED, pieces.data(),
                  static_cast<int>(pieces.size()))) {
    return false;
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].data() != nullptr)
      (*groups)[i] = std::string_view(pieces[i].data(), pieces[i].size());
  }
  return true;
}

std::string Regex::Expand(std::string_view tmpl,
                          const std::vector<std::string_view>& groups) const {
  std::string out;
  while (!tmpl.empty()) {
    const size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar);
    if (tmpl.size() > 1 && tmpl[1] == '$') {
      out += '$';
      tmpl.remove_prefix(2);
      continue;
    }
    std::string_view rest = tmpl.substr(1);
    const bool brace = !rest.empty() && rest[0] == '{';
    if (brace) rest.remove_prefix(1);
    size_t n = 0;
    while (n < rest.size() &&
           (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_')) {
      ++n;
    }
    if (n == 0 || (brace && (n >= rest.size() || rest[n] != '}'))) {
      out += '$';
      tmpl.remove_prefix(1);
      continue;
    }
    const std::string_view name = rest.substr(0, n);
    tmpl = rest.substr(n + (brace ? 1 : 0));
    long num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100'000'000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    size_t index = groups.size();  // none
    if (num >= 0) {
      index = static_cast<size_t>(num);
    } else {
      for (size_t i = 1; i < names_.size(); ++i) {
        if (names_[i] == name) {
          index = i;
          break;
        }
      }
    }
    if (index < groups.size() && groups[index].data() != nullptr) out.append(groups[index]);
  }
  out.append(tmpl);
  return out;
}

}  // namespace slipway::promql
