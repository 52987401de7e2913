#include "alerts/rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "base/log.h"
#include "promql/selection_memo.h"
#include "promql/template.h"
#include "store/statement.h"

namespace slipway::alerts {

using nlohmann::json;

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "?";
}

std::string Fingerprint(const std::map<std::string, std::string>& labels) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : labels) {
    mix(k);
    mix(v);
  }
  return fmt::format("{:016x}", h);
}

struct RuleEvaluator::Rule {
  config::AlertRuleSpec spec;
  std::string key;  // see RuleGroup
  size_t group = 0;
  promql::ExprPtr expr;
  std::map<std::string, Alert> alerts;  // by fingerprint
};

namespace {

json MapJson(const std::map<std::string, std::string>& m) { return json(m); }

std::map<std::string, std::string> JsonMap(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

AlertState StateFromName(std::string_view s) {
  if (s == "pending") return AlertState::kPending;
  if (s == "firing") return AlertState::kFiring;
  if (s == "resolved") return AlertState::kResolved;
  return AlertState::kInactive;
}

int Severity(AlertState s) {
  switch (s) {
    case AlertState::kFiring:
      return 3;
    case AlertState::kPending:
      return 2;
    case AlertState::kResolved:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

json AlertJson(const Alert& a) {
  return {{"rule", a.rule},
          {"fingerprint", a.fingerprint},
          {"labels", MapJson(a.labels)},
          {"annotations", MapJson(a.annotations)},
          {"state", std::string(AlertStateName(a.state))},
          {"active_ms", a.active_ms},
          {"fired_ms", a.fired_ms},
          {"resolved_ms", a.resolved_ms},
          {"value", std::isfinite(a.value) ? json(a.value) : json(promql::FormatValue(a.value))}};
}

RuleEvaluator::RuleEvaluator(Options opts) : opts_(std::move(opts)) {
  series_ = opts_.series;
  if (series_ == nullptr) {
    own_series_ = std::make_unique<promql::SeriesStore>(0);
    series_ = own_series_.get();
  }
}
RuleEvaluator::~RuleEvaluator() = default;

namespace {

// Append new steps at the end; never edit a released one.
constexpr store::SchemaStep kAlertStateSteps[] = {
    {1, "alert state and history",
     "CREATE TABLE alert_state(rule TEXT NOT NULL, fingerprint TEXT NOT NULL, "
     "labels TEXT NOT NULL, annotations TEXT NOT NULL, state TEXT NOT NULL, "
     "active_ms INTEGER NOT NULL, fired_ms INTEGER NOT NULL DEFAULT 0, "
     "resolved_ms INTEGER NOT NULL DEFAULT 0, value REAL NOT NULL DEFAULT 0, "
     "PRIMARY KEY(rule, fingerprint));"
     "CREATE TABLE alert_history(id INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL, "
     "rule TEXT NOT NULL, fingerprint TEXT NOT NULL, labels TEXT NOT NULL, "
     "state TEXT NOT NULL, value REAL NOT NULL DEFAULT 0);"
     "CREATE INDEX alert_history_wall ON alert_history(wall_ms);",
     6},
    // Silences (silences.h): matchers as a JSON list of `name="value"` strings.
    {2, "silences",
     "CREATE TABLE silences(id TEXT PRIMARY KEY, matchers TEXT NOT NULL, "
     "starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, "
     "created_by TEXT NOT NULL, comment TEXT NOT NULL);"},
};
constexpr store::ModuleSchema kAlertStateSchema{"alerts", kAlertStateSteps};

}  // namespace

const store::ModuleSchema& AlertStateSchema() { return kAlertStateSchema; }

Result<std::unique_ptr<RuleEvaluator>> RuleEvaluator::Create(
    std::vector<config::AlertRuleSpec> rules, std::vector<bool> builtin, Options opts) {
  std::vector<RuleGroup> groups(1);
  groups[0].rules = std::move(rules);
  groups[0].builtin = std::move(builtin);
  return Create(std::move(groups), std::move(opts));
}

Result<std::unique_ptr<RuleEvaluator>> RuleEvaluator::Create(std::vector<RuleGroup> groups,
                                                             Options opts) {
  if (opts.store) RETURN_IF_ERROR(opts.store->Apply(kAlertStateSchema));
  std::unique_ptr<RuleEvaluator> ev(new RuleEvaluator(std::move(opts)));
  if (telemetry::Registry* reg = ev->opts_.registry) {
    ev->m_dropped_ = reg->GetCounter(
        "slipway_alert_writes_dropped_total",
        "Alert state and history writes the store refused for too long, dropped unwritten.");
    ev->m_kept_ = reg->GetGauge("slipway_alert_writes_kept",
                                "Alert state and history writes the store refused so far, "
                                "waiting for a later round.");
  }
  int64_t max_range = 0;
  for (RuleGroup& g : groups) {
    Group group;
    group.interval_ms = g.interval_ms;
    group.limit = g.limit;
    std::map<std::string, int> repeats;
    for (size_t i = 0; i < g.rules.size(); ++i) {
      auto rule = std::make_unique<Rule>();
      auto parsed = promql::Parse(g.rules[i].expr);
      if (!parsed.ok()) {
        return InvalidInput(fmt::format(
            "{} {}: expr {}", g.rules[i].kind == config::RuleKind::kRecord ? "record" : "alert",
            g.rules[i].name, parsed.status().message()));
      }
      rule->expr = std::move(parsed).value();
      max_range = std::max(max_range, promql::MaxRangeMs(*rule->expr));
      rule->key = g.rules[i].name;
      if (!g.file.empty()) {
        rule->key = fmt::format("{}:{}:{}", g.file, g.name, g.rules[i].name);
        if (int n = repeats[g.rules[i].name]++; n > 0) rule->key += fmt::format("#{}", n + 1);
      }
      rule->group = ev->groups_.size();
      RuleStatus st;
      st.spec = g.rules[i];
      st.group = g.name;
      st.builtin = i < g.builtin.size() && g.builtin[i];
      rule->spec = std::move(g.rules[i]);
      group.rules.push_back(ev->rules_.size());
      ev->rules_.push_back(std::move(rule));
      ev->status_.push_back(std::move(st));
    }
    ev->groups_.push_back(std::move(group));
  }
  // Keep the longest range plus the lookback, so a range selector always sees full windows.
  const int64_t needed = std::max(max_range, promql::kLookbackMs) + 60'000;
  ev->series_->EnsureRetention(needed);
  RETURN_IF_ERROR(ev->Load());
  return ev;
}

Status RuleEvaluator::Load() {
  if (!opts_.store) return Status::OK();
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                opts_.store->db(),
                                "SELECT rule, fingerprint, labels, annotations, state, active_ms, "
                                "fired_ms, resolved_ms, value FROM alert_state",
                                "load alert state"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    Alert a;
    a.rule_key = st->ColumnText(0);
    a.fingerprint = st->ColumnText(1);
    a.labels = JsonMap(st->ColumnText(2));
    a.annotations = JsonMap(st->ColumnText(3));
    a.state = StateFromName(st->ColumnText(4));
    a.active_ms = st->ColumnInt64(5);
    a.fired_ms = st->ColumnInt64(6);
    a.resolved_ms = st->ColumnInt64(7);
    a.value = sqlite3_column_double(st->raw(), 8);
    auto it = std::find_if(rules_.begin(), rules_.end(), [&](const auto& r) {
      return r->key == a.rule_key && r->spec.kind == config::RuleKind::kAlert;
    });
    if (it == rules_.end()) {
      RETURN_IF_ERROR(Forget(a));  // the rule is gone from the project
      continue;
    }
    a.rule = (*it)->spec.name;
    (*it)->alerts[a.fingerprint] = std::move(a);
  }
  EndRound(/*rolled_back=*/false);  // the Forgets above committed one by one
  return Status::OK();
}

Result<store::Statement*> RuleEvaluator::Prepared(std::unique_ptr<store::Statement>* slot,
                                                  std::string_view sql, std::string_view purpose) {
  if (*slot == nullptr) {
    ASSIGN_OR_RETURN(*slot,
                     store::Statement::Prepare(opts_.store->db(), sql, std::string(purpose)));
  }
  (*slot)->Reset();
  return slot->get();
}

Status RuleEvaluator::Persist(const Alert& a) {
  if (!opts_.store) return Status::OK();
  Write w;
  w.kind = Write::Kind::kPersist;
  w.alert = a;
  return Submit(std::move(w));
}

Status RuleEvaluator::Forget(const Alert& a) {
  if (!opts_.store) return Status::OK();
  Write w;
  w.kind = Write::Kind::kForget;
  w.alert.rule_key = a.rule_key;
  w.alert.fingerprint = a.fingerprint;
  return Submit(std::move(w));
}

Status RuleEvaluator::Record(const Alert& a, std::string_view state) {
  HistoryEntry h{opts_.clock->WallMillis(), a.rule, a.fingerprint, a.labels,
                 std::string(state),        a.value};
  if (!opts_.store) {
    memory_history_.push_back(std::move(h));
    if (memory_history_.size() > 1000) memory_history_.erase(memory_history_.begin());
    return Status::OK();
  }
  Write w;
  w.kind = Write::Kind::kRecord;
  w.history = std::move(h);
  return Submit(std::move(w));
}

Status RuleEvaluator::Submit(Write w) {
  w.round = round_;
  writes_.push_back(std::move(w));
  // Only in order: once a write failed, the later ones wait behind it.
  if (blocked_) return Status::OK();
  WritePending();
  return blocked_ ? write_error_ : Status::OK();  // not blocked before: this write's failure
}

void RuleEvaluator::WritePending() {
  for (; !blocked_ && written_ < writes_.size(); ++written_) {
    if (Status st = Apply(writes_[written_]); !st.ok()) {
      blocked_ = true;
      if (write_error_.ok()) write_error_ = st;
      return;
    }
  }
}

Status RuleEvaluator::Apply(const Write& w) {
  switch (w.kind) {
    case Write::Kind::kPersist: {
      const Alert& a = w.alert;
      ASSIGN_OR_RETURN(store::Statement * st,
                       Prepared(&persist_,
                                "INSERT OR REPLACE INTO alert_state(rule, fingerprint, labels, "
                                "annotations, state, active_ms, fired_ms, resolved_ms, value) "
                                "VALUES(?,?,?,?,?,?,?,?,?)",
                                "save alert state"));
      RETURN_IF_ERROR(st->BindText(1, a.rule_key));
      RETURN_IF_ERROR(st->BindText(2, a.fingerprint));
      RETURN_IF_ERROR(st->BindText(3, MapJson(a.labels).dump()));
      RETURN_IF_ERROR(st->BindText(4, MapJson(a.annotations).dump()));
      RETURN_IF_ERROR(st->BindText(5, AlertStateName(a.state)));
      RETURN_IF_ERROR(st->BindInt64(6, a.active_ms));
      RETURN_IF_ERROR(st->BindInt64(7, a.fired_ms));
      RETURN_IF_ERROR(st->BindInt64(8, a.resolved_ms));
      RETURN_IF_ERROR(st->BindDouble(9, a.value));
      return st->Run();
    }
    case Write::Kind::kForget: {
      ASSIGN_OR_RETURN(
          store::Statement * st,
          Prepared(&forget_, "DELETE FROM alert_state WHERE rule = ? AND fingerprint = ?",
                   "forget alert"));
      RETURN_IF_ERROR(st->BindText(1, w.alert.rule_key));
      RETURN_IF_ERROR(st->BindText(2, w.alert.fingerprint));
      return st->Run();
    }
    case Write::Kind::kRecord: {
      const HistoryEntry& h = w.history;
      ASSIGN_OR_RETURN(store::Statement * st,
                       Prepared(&record_,
                                "INSERT INTO alert_history(wall_ms, rule, fingerprint, labels, "
                                "state, value) VALUES(?,?,?,?,?,?)",
                                "record alert history"));
      RETURN_IF_ERROR(st->BindInt64(1, h.wall_ms));
      RETURN_IF_ERROR(st->BindText(2, h.rule));
      RETURN_IF_ERROR(st->BindText(3, h.fingerprint));
      RETURN_IF_ERROR(st->BindText(4, MapJson(h.labels).dump()));
      RETURN_IF_ERROR(st->BindText(5, h.state));
      RETURN_IF_ERROR(st->BindDouble(6, h.value));
      return st->Run();
    }
  }
  return Internal("alert write: unknown kind");
}

void RuleEvaluator::EndRound(bool rolled_back) {
  if (rolled_back) written_ = 0;
  writes_.erase(writes_.begin(), writes_.begin() + static_cast<std::ptrdiff_t>(written_));
  written_ = 0;
  blocked_ = false;
  if (writes_.empty()) {
    drop_logged_ = false;
  } else {
    // A later state row of the same alert overwrites an earlier one: keep the latest only.
    // History rows are all kept.
    std::unordered_set<std::string> later;
    std::vector<bool> superseded(writes_.size(), false);
    for (size_t i = writes_.size(); i-- > 0;) {
      const Write& w = writes_[i];
      if (w.kind == Write::Kind::kRecord) continue;
      std::string key = w.alert.rule_key + '\0' + w.alert.fingerprint;
      if (!later.insert(std::move(key)).second) superseded[i] = true;
    }
    std::deque<Write> kept;
    for (size_t i = 0; i < writes_.size(); ++i) {
      if (!superseded[i]) kept.push_back(std::move(writes_[i]));
    }
    writes_ = std::move(kept);
    size_t dropped = 0;
    while (!writes_.empty() && (writes_.size() > opts_.max_kept_writes ||
                                round_ - writes_.front().round >= opts_.max_kept_rounds)) {
      writes_.pop_front();
      ++dropped;
    }
    if (dropped > 0) {
      dropped_writes_ += dropped;
      if (m_dropped_) m_dropped_->Add(0, dropped);
      if (!drop_logged_) {
        drop_logged_ = true;
        LOG_WARN("alerts",
                 "the alert store refused writes for too long: dropped the {} oldest kept "
                 "writes (state or history rows; see slipway_alert_writes_dropped_total)",
                 dropped);
      }
    }
  }
  if (m_kept_) m_kept_->Set(0, static_cast<int64_t>(writes_.size()));
}

promql::EvalContext RuleEvaluator::RuleContext(int64_t now) {
  promql::EvalContext ctx{now, now, opts_.subquery_step_ms};
  ctx.memo = &memo_;
  return ctx;
}

Status RuleEvaluator::Scrape(int64_t now) {
  if (!opts_.scrape || now <= last_scrape_ms_) return Status::OK();
  last_scrape_ms_ = now;
  return series_->IngestText(now, opts_.scrape());
}

Status RuleEvaluator::Tick() {
  const int64_t now = opts_.clock->WallMillis();
  notify_.clear();
  RETURN_IF_ERROR(Scrape(now));
  ++round_;
  Status first_error;
  write_error_ = Status::OK();
  // The round's writes in one transaction. When it cannot begin (another process holds the
  // write lock past the busy timeout), each write commits on its own, as it would alone.
  bool batched = false;
  if (opts_.store) {
    first_error = store::Exec(opts_.store->db(), "BEGIN IMMEDIATE", "begin alert round");
    batched = first_error.ok();
    // What earlier rounds could not write goes first, so the database sees every write in
    // the order it was made.
    WritePending();
  }
  for (Group& g : groups_) {
    // A timer may fire a little late or early: a group is due within a tenth of its interval.
    if (g.interval_ms > 0 && g.next_ms != INT64_MIN && now < g.next_ms - g.interval_ms / 10) {
      continue;
    }
    g.next_ms = now + g.interval_ms;
    for (size_t i : g.rules) {
      if (rules_[i]->spec.kind == config::RuleKind::kRecord) {
        EvalRecord(i, now);
      } else {
        EvalRule(i, now);
      }
    }
  }
  // Persist: every alert that changed (EvalRule marks them by pushing to notify_ with a flag).
  for (auto& rule : rules_) {
    for (auto it = rule->alerts.begin(); it != rule->alerts.end();) {
      Alert& a = it->second;
      if (a.state == AlertState::kResolved && now - a.resolved_ms >= opts_.resolved_retention_ms) {
        Status st = Forget(a);
        if (!st.ok() && first_error.ok()) first_error = st;
        it = rule->alerts.erase(it);
        continue;
      }
      if (a.state == AlertState::kFiring) notify_.push_back(a);
      ++it;
    }
  }
  if (!write_error_.ok() && first_error.ok()) first_error = write_error_;
  bool rolled_back = false;
  if (batched) {
    sqlite3* db = opts_.store->db();
    Status commit = store::Exec(db, "COMMIT", "save alert round");
    // A failed COMMIT (SQLITE_BUSY) leaves the transaction open: roll it back, so the next
    // round starts clean. The round's writes stay queued and the next round writes them
    // again, before its own.
    if (!commit.ok() && sqlite3_get_autocommit(db) == 0) {
      if (Status rb = store::Exec(db, "ROLLBACK", "save alert round"); !rb.ok()) {
        commit = Status(commit.code(), commit.message() + "; rolling back: " + rb.message());
      }
    }
    rolled_back = !commit.ok();
    if (!commit.ok() && first_error.ok()) first_error = commit;
  }
  if (opts_.store) EndRound(rolled_back);
  return first_error;
}

void RuleEvaluator::EvalRule(size_t i, int64_t now) {
  Rule& rule = *rules_[i];
  RuleStatus& status = status_[i];
  auto t0 = std::chrono::steady_clock::now();
  auto v = promql::Evaluate(*rule.expr, *series_, now, RuleContext(now));
  status.last_eval_ms = now;
  status.last_eval_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!v.ok()) {
    status.last_error = v.status().message();
    return;  // keep the alerts as they are: an error is not a resolution
  }
  status.last_error.clear();
  promql::Vector out = std::move(v->vector);
  if (v->type == promql::ValueType::kScalar) out.push_back({{}, v->scalar});
  if (const int limit = groups_[rule.group].limit; limit > 0 && out.size() > size_t(limit)) {
    // Prometheus drops the rule's alerts: too many series is an error, not a resolution.
    for (auto& [fp, a] : rule.alerts) {
      if (Status st = Forget(a); !st.ok()) status.last_error = st.message();
    }
    rule.alerts.clear();
    status.state = AlertState::kInactive;
    status.last_error = fmt::format("exceeded limit of {} with {} alerts", limit, out.size());
    return;
  }

  std::map<std::string, bool> seen;
  auto save = [&](const Alert& a, std::string_view state) {
    Status s1 = Persist(a);
    Status s2 = Record(a, state);
    if (!s1.ok()) status.last_error = s1.message();
    if (!s2.ok()) status.last_error = s2.message();
  };
  for (const promql::Sample& s : out) {
    std::map<std::string, std::string> labels;
    for (const auto& [k, val] : s.labels) {
      if (k != "__name__") labels[k] = val;
    }
    std::map<std::string, std::string> series_labels = labels;
    for (const auto& [k, tmpl] : rule.spec.labels) {
      auto r = promql::RenderTemplate(tmpl, series_labels, s.value);
      labels[k] = r.ok() ? *r : tmpl;
    }
    labels["alertname"] = rule.spec.name;
    std::string fp = Fingerprint(labels);
    if (seen.count(fp)) {
      status.last_error = "the expression gives several series with the same labels";
      continue;
    }
    seen[fp] = true;
    std::map<std::string, std::string> annotations;
    for (const auto& [k, tmpl] : rule.spec.annotations) {
      auto r = promql::RenderTemplate(tmpl, series_labels, s.value);
      annotations[k] = r.ok() ? *r : tmpl;
    }
    auto it = rule.alerts.find(fp);
    if (it == rule.alerts.end() || it->second.state == AlertState::kResolved) {
      Alert a;
      a.rule = rule.spec.name;
      a.rule_key = rule.key;
      a.fingerprint = fp;
      a.labels = std::move(labels);
      a.annotations = std::move(annotations);
      a.active_ms = now;
      a.value = s.value;
      a.state = AlertState::kPending;
      if (rule.spec.for_duration.count() == 0) {
        a.state = AlertState::kFiring;
        a.fired_ms = now;
      }
      rule.alerts[fp] = a;
      save(a, AlertStateName(a.state));
      continue;
    }
    Alert& a = it->second;
    a.value = s.value;
    a.keep_firing_since = 0;
    a.annotations = std::move(annotations);
    if (a.state == AlertState::kPending && now - a.active_ms >= rule.spec.for_duration.count()) {
      a.state = AlertState::kFiring;
      a.fired_ms = now;
      save(a, "firing");
    } else {
      Status st = Persist(a);  // value and annotations move on
      if (!st.ok()) status.last_error = st.message();
    }
  }
  for (auto it = rule.alerts.begin(); it != rule.alerts.end();) {
    Alert& a = it->second;
    if (seen.count(a.fingerprint) || a.state == AlertState::kResolved) {
      ++it;
      continue;
    }
    if (a.state == AlertState::kPending) {
      Status s1 = Forget(a);
      Status s2 = Record(a, "inactive");
      if (!s1.ok() || !s2.ok()) status.last_error = (s1.ok() ? s2 : s1).message();
      it = rule.alerts.erase(it);
      continue;
    }
    if (rule.spec.keep_firing_for.count() > 0) {
      if (a.keep_firing_since == 0) a.keep_firing_since = now;
      if (now - a.keep_firing_since < rule.spec.keep_firing_for.count()) {
        ++it;  // still firing
        continue;
      }
    }
    a.state = AlertState::kResolved;
    a.resolved_ms = now;
    a.keep_firing_since = 0;
    save(a, "resolved");
    notify_.push_back(a);  // resolved this round: notifications say so once
    ++it;
  }
  AlertState worst = AlertState::kInactive;
  for (const auto& [fp, a] : rule.alerts) {
    if (a.state != AlertState::kResolved && Severity(a.state) > Severity(worst)) worst = a.state;
  }
  status.state = worst;
}

void RuleEvaluator::EvalRecord(size_t i, int64_t now) {
  Rule& rule = *rules_[i];
  RuleStatus& status = status_[i];
  auto t0 = std::chrono::steady_clock::now();
  auto v = promql::Evaluate(*rule.expr, *series_, now, RuleContext(now));
  status.last_eval_ms = now;
  const std::string source = "rule:" + rule.key;
  auto done = [&] {
    status.last_eval_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (!v.ok()) {
    status.last_error = v.status().message();
    series_->Ingest(now, {}, source);  // what it recorded goes stale, as in Prometheus
    return done();
  }
  promql::Vector out = std::move(v->vector);
  if (v->type == promql::ValueType::kScalar) out.push_back({{}, v->scalar});
  if (const int limit = groups_[rule.group].limit; limit > 0 && out.size() > size_t(limit)) {
    status.last_error = fmt::format("exceeded limit of {} with {} series", limit, out.size());
    series_->Ingest(now, {}, source);
    return done();
  }
  std::vector<promql::ExpositionSample> samples;
  samples.reserve(out.size());
  std::map<promql::Labels, bool> seen;
  status.last_error.clear();
  for (promql::Sample& s : out) {
    std::map<std::string, std::string> labels;
    for (auto& [k, val] : s.labels) labels[k] = std::move(val);
    for (const auto& [k, val] : rule.spec.labels) labels[k] = val;
    labels["__name__"] = rule.spec.name;
    promql::Labels l(labels.begin(), labels.end());
    if (!seen.emplace(l, true).second) {
      status.last_error =
          "vector contains metrics with the same labelset after applying rule labels";
      samples.clear();
      break;
    }
    samples.push_back({std::move(l), s.value});
  }
  series_->Ingest(now, std::move(samples), source);
  done();
}

std::vector<Alert> RuleEvaluator::Alerts() const {
  std::vector<Alert> out;
  for (const auto& rule : rules_) {
    for (const auto& [fp, a] : rule->alerts) out.push_back(a);
  }
  std::stable_sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) {
    if (Severity(a.state) != Severity(b.state)) return Severity(a.state) > Severity(b.state);
    return a.active_ms < b.active_ms;
  });
  return out;
}

Result<promql::Value> RuleEvaluator::EvaluateNow(const std::string& rule_or_expr) {
  const int64_t now = opts_.clock->WallMillis();
  RETURN_IF_ERROR(Scrape(now));
  for (const auto& rule : rules_) {
    if (rule->spec.name == rule_or_expr)
      return promql::Evaluate(*rule->expr, *series_, now, RuleContext(now));
  }
  auto parsed = promql::Parse(rule_or_expr);
  if (!parsed.ok()) {
    return InvalidInput(fmt::format("\"{}\" is neither a rule nor an expression that parses ({})",
                                    rule_or_expr, parsed.status().message()));
  }
  return promql::Evaluate(**parsed, *series_, now, {now, now, opts_.subquery_step_ms});
}

Result<std::vector<HistoryEntry>> RuleEvaluator::History(size_t limit) const {
  if (!opts_.store) {
    size_t from = memory_history_.size() > limit ? memory_history_.size() - limit : 0;
    return std::vector<HistoryEntry>(memory_history_.begin() + from, memory_history_.end());
  }
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                opts_.store->db(),
                                "SELECT wall_ms, rule, fingerprint, labels, state, value FROM "
                                "alert_history ORDER BY id DESC LIMIT ?",
                                "read alert history"));
  RETURN_IF_ERROR(st->BindInt64(1, static_cast<int64_t>(limit)));
  std::vector<HistoryEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back({st->ColumnInt64(0), st->ColumnText(1), st->ColumnText(2),
                   JsonMap(st->ColumnText(3)), st->ColumnText(4),
                   sqlite3_column_double(st->raw(), 5)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

json RuleEvaluator::ToJson(size_t history_limit) const {
  json rules = json::array();
  for (const RuleStatus& r : status_) {
    rules.push_back({{"name", r.spec.name},
                     {"type", r.spec.kind == config::RuleKind::kRecord ? "recording" : "alerting"},
                     {"group", r.group},
                     {"expr", r.spec.expr},
                     {"for_ms", r.spec.for_duration.count()},
                     {"labels", MapJson(r.spec.labels)},
                     {"builtin", r.builtin},
                     {"state", std::string(AlertStateName(r.state))},
                     {"last_error", r.last_error},
                     {"last_eval_ms", r.last_eval_ms},
                     {"last_eval_seconds", r.last_eval_seconds}});
  }
  json alerts = json::array();
  for (const Alert& a : Alerts()) alerts.push_back(AlertJson(a));
  json history = json::array();
  if (auto h = History(history_limit); h.ok()) {
    for (const HistoryEntry& e : *h) {
      history.push_back(
          {{"t", e.wall_ms},
           {"rule", e.rule},
           {"fingerprint", e.fingerprint},
           {"labels", MapJson(e.labels)},
           {"state", e.state},
           {"value", std::isfinite(e.value) ? json(e.value) : json(promql::FormatValue(e.value))}});
    }
  }
  return {{"rules", rules}, {"alerts", alerts}, {"history", history}};
}

}  // namespace slipway::alerts
