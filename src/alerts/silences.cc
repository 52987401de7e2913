#include "alerts/silences.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "alerts/notifier.h"
#include "alerts/rules.h"
#include "base/hex.h"
#include "base/log.h"

namespace slipway::alerts {

using nlohmann::json;

std::string_view MatchOpName(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return "=";
    case MatchOp::kNotEqual:
      return "!=";
    case MatchOp::kRegex:
      return "=~";
    case MatchOp::kNotRegex:
      return "!~";
  }
  return "=";
}

bool Matcher::Matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(name);
  const std::string& v = it == labels.end() ? std::string() : it->second;
  switch (op) {
    case MatchOp::kEqual:
      return v == value;
    case MatchOp::kNotEqual:
      return v != value;
    case MatchOp::kRegex:
      return re && re->FullMatch(v);
    case MatchOp::kNotRegex:
      return re && !re->FullMatch(v);
  }
  return false;
}

std::string Matcher::ToString() const {
  std::string quoted;
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return fmt::format("{}{}\"{}\"", name, MatchOpName(op), quoted);
}

namespace {

bool ValidLabelName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string NewId() {
  std::random_device rd;
  unsigned char bytes[8];
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd() & 0xff);
  return HexEncode(bytes, sizeof(bytes));
}

}  // namespace

Result<Matcher> MakeMatcher(std::string name, MatchOp op, std::string value) {
  if (!ValidLabelName(name)) {
    return InvalidInput(
        fmt::format("\"{}\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", name.substr(0, 64)));
  }
  if (value.size() > Silences::kMaxValue) {
    return InvalidInput(fmt::format("{}: value longer than {} bytes", name, Silences::kMaxValue));
  }
  Matcher m{std::move(name), std::move(value), op, nullptr};
  if (op == MatchOp::kRegex || op == MatchOp::kNotRegex) {
    auto re = promql::Regex::Compile(m.value, promql::Regex::Dialect::kAlertmanager);
    if (!re.ok()) return InvalidInput(m.name + ": " + re.status().message());
    m.re = std::move(re).value();
  }
  return m;
}

Result<Matcher> ParseMatcher(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
    ++i;
  std::string name(text.substr(0, i));
  std::string_view rest = text.substr(i);
  MatchOp op;
  if (rest.starts_with("=~")) {
    op = MatchOp::kRegex;
  } else if (rest.starts_with("!~")) {
    op = MatchOp::kNotRegex;
  } else if (rest.starts_with("!=")) {
    op = MatchOp::kNotEqual;
  } else if (rest.starts_with("=")) {
    op = MatchOp::kEqual;
  } else {
    return InvalidInput(fmt::format(
        "\"{}\" is not a matcher (expected name=\"value\", name!=\"value\", name=~\"regex\" "
        "or name!~\"regex\")",
        text.substr(0, 64)));
  }
  rest.remove_prefix(op == MatchOp::kEqual ? 1 : 2);
  std::string value;
  if (!rest.empty() && rest.front() == '"') {
    size_t j = 1;
    bool closed = false;
    for (; j < rest.size(); ++j) {
      if (rest[j] == '\\' && j + 1 < rest.size()) {
        value += rest[++j];
      } else if (rest[j] == '"') {
        closed = true;
        break;
      } else {
        value += rest[j];
      }
    }
    if (!closed || j + 1 != rest.size()) {
      return InvalidInput(
          fmt::format("\"{}\": the quoted value is not closed at the end", text.substr(0, 64)));
    }
  } else {
    value = std::string(rest);
  }
  return MakeMatcher(std::move(name), op, std::move(value));
}

bool Silence::Matches(const std::map<std::string, std::string>& labels) const {
  if (matchers.empty()) return false;
  return std::all_of(matchers.begin(), matchers.end(),
                     [&](const Matcher& m) { return m.Matches(labels); });
}

json Silence::ToJson(int64_t now_ms) const {
  json ms = json::array();
  for (const Matcher& m : matchers) ms.push_back(m.ToString());
  const char* state = ActiveAt(now_ms) ? "active" : now_ms < starts_ms ? "pending" : "expired";
  return {{"id", id},
          {"matchers", ms},
          {"starts_at", Rfc3339(starts_ms)},
          {"ends_at", Rfc3339(ends_ms)},
          {"starts_ms", starts_ms},
          {"ends_ms", ends_ms},
          {"created_ms", created_ms},
          {"created_by", created_by},
          {"comment", comment},
          {"state", state}};
}

Result<std::unique_ptr<Silences>> Silences::Open(store::Store* store, Clock* clock) {
  if (store) RETURN_IF_ERROR(store->Apply(AlertStateSchema()));
  std::unique_ptr<Silences> s(new Silences(store, clock));
  RETURN_IF_ERROR(s->Load());
  return s;
}

Status Silences::Load() {
  if (!store_) return Status::OK();
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(store_->db(),
                                                      "SELECT id, matchers, starts_ms, ends_ms, "
                                                      "created_ms, created_by, comment "
                                                      "FROM silences",
                                                      "load silences"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    Silence s;
    s.id = st->ColumnText(0);
    json ms = json::parse(st->ColumnText(1), nullptr, false);
    bool ok = ms.is_array();
    for (const json& m : ok ? ms : json::array()) {
      auto parsed = m.is_string() ? ParseMatcher(m.get<std::string>())
                                  : Result<Matcher>(InvalidInput("not a string"));
      if (!parsed.ok()) {
        ok = false;
        break;
      }
      s.matchers.push_back(std::move(parsed).value());
    }
    // A row this binary cannot read (written by hand, or a regex RE2 no longer takes) would
    // silence something else than meant: it is left out, and said so, rather than guessed at.
    if (!ok || s.matchers.empty()) {
      logging::Warn("alerts", fmt::format("silence {}: its matchers do not parse; ignored", s.id));
      continue;
    }
    s.starts_ms = st->ColumnInt64(2);
    s.ends_ms = st->ColumnInt64(3);
    s.created_ms = st->ColumnInt64(4);
    s.created_by = st->ColumnText(5);
    s.comment = st->ColumnText(6);
    silences_[s.id] = std::move(s);
  }
  return Purge(clock_->WallMillis());
}

Status Silences::Save(const Silence& s) {
  if (!store_) return Status::OK();
  json ms = json::array();
  for (const Matcher& m : s.matchers) ms.push_back(m.ToString());
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                store_->db(),
                                "INSERT OR REPLACE INTO silences(id, matchers, starts_ms, ends_ms, "
                                "created_ms, created_by, comment) VALUES(?,?,?,?,?,?,?)",
                                "save silence"));
  RETURN_IF_ERROR(st->BindText(1, s.id));
  RETURN_IF_ERROR(st->BindText(2, ms.dump()));
  RETURN_IF_ERROR(st->BindInt64(3, s.starts_ms));
  RETURN_IF_ERROR(st->BindInt64(4, s.ends_ms));
  RETURN_IF_ERROR(st->BindInt64(5, s.created_ms));
  RETURN_IF_ERROR(st->BindText(6, s.created_by));
  RETURN_IF_ERROR(st->BindText(7, s.comment));
  return st->Run();
}

Status Silences::Purge(int64_t now_ms) {
  const int64_t cutoff = now_ms - kRetentionMs;
  for (auto it = silences_.begin(); it != silences_.end();) {
    it = it->second.ends_ms < cutoff ? silences_.erase(it) : std::next(it);
  }
  if (!store_) return Status::OK();
  ASSIGN_OR_RETURN(auto st,
                   store::Statement::Prepare(store_->db(), "DELETE FROM silences WHERE ends_ms < ?",
                                             "forget expired silences"));
  RETURN_IF_ERROR(st->BindInt64(1, cutoff));
  return st->Run();
}

Status Silences::Check(SilenceSpec& spec, int64_t now) const {
  if (spec.matchers.empty()) {
    return InvalidInput("matchers: is empty (a silence must match something)");
  }
  if (spec.matchers.size() > kMaxMatchers) {
    return InvalidInput(fmt::format("matchers: more than {}", kMaxMatchers));
  }
  const std::map<std::string, std::string> none;
  if (std::all_of(spec.matchers.begin(), spec.matchers.end(),
                  [&](const Matcher& m) { return m.Matches(none); })) {
    return InvalidInput(
        "matchers: each one matches an alert without the label; at least one must not (a "
        "silence must match something)");
  }
  if (spec.starts_ms == 0) spec.starts_ms = now;
  if (spec.ends_ms <= spec.starts_ms || spec.ends_ms <= now) {
    return InvalidInput("ends_at: must be later than the start and than now");
  }
  if (spec.ends_ms - spec.starts_ms > kMaxDurationMs) {
    return InvalidInput("ends_at: a silence lasts at most 30 days");
  }
  if (spec.comment.size() > kMaxComment) {
    return InvalidInput(fmt::format("comment: longer than {} bytes", kMaxComment));
  }
  if (spec.created_by.size() > kMaxCreatedBy) {
    return InvalidInput(fmt::format("by: longer than {} bytes", kMaxCreatedBy));
  }
  return Status::OK();
}

Result<Silence> Silences::Add(SilenceSpec spec) {
  const int64_t now = clock_->WallMillis();
  RETURN_IF_ERROR(Check(spec, now));
  Silence s;
  do {
    s.id = NewId();
  } while (silences_.count(s.id));
  s.matchers = std::move(spec.matchers);
  s.starts_ms = spec.starts_ms;
  s.ends_ms = spec.ends_ms;
  s.created_ms = now;
  s.created_by = std::move(spec.created_by);
  s.comment = std::move(spec.comment);
  RETURN_IF_ERROR(Save(s));
  silences_[s.id] = s;
  RETURN_IF_ERROR(Purge(now));
  return s;
}

Result<Silence> Silences::Replace(const std::string& id, SilenceSpec spec) {
  auto it = silences_.find(id);
  if (it == silences_.end()) return NotFound(fmt::format("silence {}: no such silence", id));
  const int64_t now = clock_->WallMillis();
  if (it->second.ends_ms <= now) {
    return FailedPrecondition(
        fmt::format("silence {}: already expired (make a new one without id)", id));
  }
  RETURN_IF_ERROR(Check(spec, now));
  RETURN_IF_ERROR(Expire(id));
  return Add(std::move(spec));
}

Status Silences::Expire(const std::string& id) {
  auto it = silences_.find(id);
  if (it == silences_.end()) return NotFound(fmt::format("silence {}: no such silence", id));
  const int64_t now = clock_->WallMillis();
  if (it->second.ends_ms <= now) {
    return FailedPrecondition(fmt::format("silence {}: already expired", id));
  }
  Silence s = it->second;
  s.ends_ms = now;
  if (s.starts_ms > now) s.starts_ms = now;  // a pending one never starts
  RETURN_IF_ERROR(Save(s));
  it->second = std::move(s);
  return Status::OK();
}

std::vector<std::string> Silences::Active(const std::map<std::string, std::string>& labels,
                                          int64_t now_ms) const {
  std::vector<std::string> ids;
  for (const auto& [id, s] : silences_) {
    if (s.ActiveAt(now_ms) && s.Matches(labels)) ids.push_back(id);
  }
  return ids;
}

std::vector<Silence> Silences::List() const {
  std::vector<Silence> out;
  out.reserve(silences_.size());
  for (const auto& [id, s] : silences_) out.push_back(s);
  std::sort(out.begin(), out.end(), [](const Silence& a, const Silence& b) {
    return a.created_ms != b.created_ms ? a.created_ms > b.created_ms : a.id < b.id;
  });
  return out;
}

}  // namespace slipway::alerts
