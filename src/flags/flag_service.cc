#include "flags/flag_service.h"

#include <algorithm>

#include "base/log.h"

namespace slipway::flags {
namespace {

using store::Statement;

Json ParseOr(const std::string& text, Json fallback) {
  if (text.empty()) return fallback;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

std::string DumpOrEmpty(const Json& j) { return j.is_null() ? std::string() : j.dump(); }

// A fractional node with exactly two buckets, anywhere in a rule (the rollout's).
Json* FindFractional(Json* rule) {
  if (rule->is_object()) {
    if (rule->size() == 1 && rule->contains("fractional")) return rule;
    for (auto& [k, v] : rule->items()) {
      if (Json* f = FindFractional(&v)) return f;
    }
  } else if (rule->is_array()) {
    for (Json& v : *rule) {
      if (Json* f = FindFractional(&v)) return f;
    }
  }
  return nullptr;
}

// Puts a rollout where nothing else matched: an empty rule becomes the rollout; in an if-chain
// the rollout becomes the final else (replacing a null one, or nested in a trailing if).
bool PlaceRollout(Json* t, const Json& fractional) {
  if (t->is_null() || (t->is_object() && t->empty())) {
    *t = fractional;
    return true;
  }
  if (!t->is_object() || t->size() != 1 || !t->contains("if") || !(*t)["if"].is_array()) {
    return false;
  }
  Json& chain = (*t)["if"];
  if (chain.size() % 2 == 0) {
    chain.push_back(fractional);
    return true;
  }
  return PlaceRollout(&chain.back(), fractional);
}

}  // namespace

namespace {

// Append new steps at the end; never edit a released one.
constexpr store::SchemaStep kFlagsSteps[] = {
    {1, "feature flags",
     "CREATE TABLE flag_sets(env TEXT PRIMARY KEY, evaluators TEXT NOT NULL DEFAULT '{}', "
     "metadata TEXT NOT NULL DEFAULT '{}');"
     "CREATE TABLE flags(env TEXT NOT NULL, key TEXT NOT NULL, definition TEXT NOT NULL, "
     "file_definition TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL, "
     "updated_ms INTEGER NOT NULL, evaluated_ms INTEGER NOT NULL DEFAULT 0, "
     "PRIMARY KEY(env, key));"
     "CREATE TABLE flag_audit(id INTEGER PRIMARY KEY, env TEXT NOT NULL, key TEXT NOT NULL, "
     "wall_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
     "before TEXT NOT NULL DEFAULT '', after TEXT NOT NULL DEFAULT '', "
     "comment TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX flag_audit_key ON flag_audit(env, key, id);",
     4},
};
constexpr store::ModuleSchema kFlagsSchema{"flags", kFlagsSteps};

}  // namespace

const store::ModuleSchema& FlagsSchema() { return kFlagsSchema; }

Result<std::unique_ptr<FlagService>> FlagService::Open(store::Store* store, Clock* clock) {
  RETURN_IF_ERROR(store->Apply(kFlagsSchema));
  std::unique_ptr<FlagService> s(new FlagService(store->db(), clock));
  RETURN_IF_ERROR(s->Load());
  return s;
}

FlagService::~FlagService() {
  if (Status st = FlushEvaluated(); !st.ok()) {
    logging::Warn("flags", "cannot save the evaluation counts: " + st.message());
  }
}

Status FlagService::Load() {
  ASSIGN_OR_RETURN(
      auto sets,
      Statement::Prepare(db_, "SELECT env, evaluators, metadata FROM flag_sets", "load flag sets"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, sets->Step());
    if (!row) break;
    EnvState& e = envs_[sets->ColumnText(0)];
    e.evaluators = ParseOr(sets->ColumnText(1), Json::object());
    e.metadata = ParseOr(sets->ColumnText(2), Json::object());
  }
  ASSIGN_OR_RETURN(auto flags,
                   Statement::Prepare(db_,
                                      "SELECT env, key, definition, file_definition, created_ms, "
                                      "updated_ms, evaluated_ms FROM flags",
                                      "load flags"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, flags->Step());
    if (!row) break;
    FlagInfo info;
    std::string env = flags->ColumnText(0);
    info.key = flags->ColumnText(1);
    info.definition = ParseOr(flags->ColumnText(2), Json());
    info.file_definition = flags->ColumnText(3);
    info.created_ms = flags->ColumnInt64(4);
    info.updated_ms = flags->ColumnInt64(5);
    info.evaluated_ms = flags->ColumnInt64(6);
    flushed_[env][info.key] = info.evaluated_ms;
    envs_[env].rows[info.key] = std::move(info);
  }
  for (auto& [env, e] : envs_) {
    std::map<std::string, Json> defs;
    for (const auto& [k, info] : e.rows) defs[k] = info.definition;
    auto set = FlagSet::Build(defs, e.evaluators, e.metadata);
    if (!set.ok()) return set.status().WithContext("stored flags of environment " + env);
    for (const auto& [k, info] : e.rows) {
      if (const Flag* f = (*set)->Find(k)) f->NoteEvaluated(info.evaluated_ms);
    }
    e.set = *set;
  }
  return Status::OK();
}

std::shared_ptr<const FlagSet> FlagService::Get(const std::string& env) const {
  auto it = envs_.find(env);
  return it == envs_.end() ? nullptr : it->second.set;
}

std::vector<std::string> FlagService::Environments() const {
  std::vector<std::string> out;
  for (const auto& [env, e] : envs_) out.push_back(env);
  return out;
}

Status FlagService::Apply(const std::string& env, const std::map<std::string, Json>& changes,
                          const std::string& action, const Change& change,
                          const std::map<std::string, std::string>* file_defs) {
  if (env.empty()) return InvalidInput("an environment name must not be empty");
  EnvState& cur = envs_[env];  // created on first change
  std::map<std::string, Json> defs;
  for (const auto& [k, info] : cur.rows) defs[k] = info.definition;
  for (const auto& [k, def] : changes) {
    if (def.is_null()) {
      defs.erase(k);
    } else {
      defs[k] = def;
    }
  }
  // Validate the whole new set before touching anything.
  auto built = FlagSet::Build(defs, cur.evaluators, cur.metadata);
  if (built.ok() && action == "set") {
    // A definition written by hand is held to flagd's schema; files load as flagd loads them.
    for (const auto& [k, def] : changes) {
      const Flag* f = def.is_null() ? nullptr : (*built)->Find(k);
      if (f != nullptr && !f->valid()) {
        built = InvalidInput(
            f->problems().front() +
            (f->problems().size() > 1
                 ? " (and " + std::to_string(f->problems().size() - 1) + " more problem(s))"
                 : ""));
        break;
      }
    }
  }
  if (!built.ok()) {
    if (cur.rows.empty() && !cur.set) envs_.erase(env);
    return built.status();
  }
  const int64_t now = clock_->WallMillis();
  auto run = [&]() -> Status {
    ASSIGN_OR_RETURN(
        auto set_row,
        Statement::Prepare(db_,
                           "INSERT INTO flag_sets(env, evaluators, metadata) "
                           "VALUES(?, ?, ?) ON CONFLICT(env) DO UPDATE SET "
                           "evaluators = excluded.evaluators, metadata = excluded.metadata",
                           "save flag set"));
    RETURN_IF_ERROR(set_row->BindText(1, env));
    RETURN_IF_ERROR(set_row->BindText(2, cur.evaluators.dump()));
    RETURN_IF_ERROR(set_row->BindText(3, cur.metadata.dump()));
    RETURN_IF_ERROR(set_row->Run());
    ASSIGN_OR_RETURN(auto upsert, Statement::Prepare(
                                      db_,
                                      "INSERT INTO flags(env, key, definition, file_definition, "
                                      "created_ms, updated_ms) VALUES(?, ?, ?, ?, ?, ?) "
                                      "ON CONFLICT(env, key) DO UPDATE SET definition = "
                                      "excluded.definition, file_definition = "
                                      "excluded.file_definition, updated_ms = excluded.updated_ms",
                                      "save flag"));
    ASSIGN_OR_RETURN(
        auto del,
        Statement::Prepare(db_, "DELETE FROM flags WHERE env = ? AND key = ?", "delete flag"));
    ASSIGN_OR_RETURN(auto audit,
                     Statement::Prepare(db_,
                                        "INSERT INTO flag_audit(env, key, wall_ms, actor, action, "
                                        "before, after, comment) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                                        "append flag audit"));
    for (const auto& [k, def] : changes) {
      auto old = cur.rows.find(k);
      Json before = old == cur.rows.end() ? Json() : old->second.definition;
      if (before == def) continue;  // nothing to record
      std::string file_def = old == cur.rows.end() ? "" : old->second.file_definition;
      if (file_defs) {
        if (auto f = file_defs->find(k); f != file_defs->end()) file_def = f->second;
      }
      if (def.is_null()) {
        del->Reset();
        RETURN_IF_ERROR(del->BindText(1, env));
        RETURN_IF_ERROR(del->BindText(2, k));
        RETURN_IF_ERROR(del->Run());
      } else {
        upsert->Reset();
        RETURN_IF_ERROR(upsert->BindText(1, env));
        RETURN_IF_ERROR(upsert->BindText(2, k));
        RETURN_IF_ERROR(upsert->BindText(3, def.dump()));
        RETURN_IF_ERROR(upsert->BindText(4, file_def));
        RETURN_IF_ERROR(upsert->BindInt64(5, now));
        RETURN_IF_ERROR(upsert->BindInt64(6, now));
        RETURN_IF_ERROR(upsert->Run());
      }
      std::string act = action;
      if (act == "set") act = before.is_null() ? "create" : (def.is_null() ? "delete" : "update");
      audit->Reset();
      RETURN_IF_ERROR(audit->BindText(1, env));
      RETURN_IF_ERROR(audit->BindText(2, k));
      RETURN_IF_ERROR(audit->BindInt64(3, now));
      RETURN_IF_ERROR(audit->BindText(4, change.actor));
      RETURN_IF_ERROR(audit->BindText(5, act));
      RETURN_IF_ERROR(audit->BindText(6, DumpOrEmpty(before)));
      RETURN_IF_ERROR(audit->BindText(7, DumpOrEmpty(def)));
      RETURN_IF_ERROR(audit->BindText(8, change.comment));
      RETURN_IF_ERROR(audit->Run());
    }
    return Status::OK();
  };
  RETURN_IF_ERROR(store::InTransaction(db_, "flag change", run));

  // Committed: update the in-memory rows and swap the set.
  for (const auto& [k, def] : changes) {
    if (def.is_null()) {
      cur.rows.erase(k);
      continue;
    }
    FlagInfo& info = cur.rows[k];
    if (info.key.empty()) {
      info.key = k;
      info.created_ms = now;
    }
    if (info.definition != def) info.updated_ms = now;
    info.definition = def;
    if (file_defs) {
      if (auto f = file_defs->find(k); f != file_defs->end()) info.file_definition = f->second;
    }
  }
  // Evaluation times carry over to the new compiled flags.
  if (cur.set) {
    for (const auto& [k, f] : (*built)->flags()) {
      if (const Flag* old = cur.set->Find(k)) f->NoteEvaluated(old->evaluated_ms());
    }
  }
  cur.set = *built;
  return Status::OK();
}

Status FlagService::Seed(const std::string& env, const Json& doc, const std::string& source,
                         std::vector<std::string>* warnings) {
  // Validate the document on its own first, so errors point at the file.
  ASSIGN_OR_RETURN(auto parsed, FlagSet::Parse(doc, source));
  if (warnings != nullptr) {
    for (const FlagSet::Problem& p : parsed->Problems()) {
      warnings->push_back(source + ": " + (p.flag.empty() ? "" : "flag " + p.flag + ": ") +
                          p.message);
    }
  }
  EnvState& cur = envs_[env];
  bool set_changed = false;
  if (doc.contains("$evaluators") && doc["$evaluators"] != cur.evaluators) {
    cur.evaluators = doc["$evaluators"];
    set_changed = true;
  }
  if (doc.contains("metadata") && doc["metadata"] != cur.metadata) {
    cur.metadata = doc["metadata"];
    set_changed = true;
  }
  std::map<std::string, Json> changes;
  std::map<std::string, std::string> file_defs;
  for (const auto& [k, f] : parsed->flags()) {
    std::string text = f->definition().dump();
    auto row = cur.rows.find(k);
    if (row == cur.rows.end() || row->second.file_definition != text) {
      changes[k] = f->definition();
      file_defs[k] = text;
    }
  }
  if (changes.empty() && !set_changed && cur.set) return Status::OK();
  Change c{"file", "seeded from " + source};
  return Apply(env, changes, "seed", c, &file_defs);
}

Result<Json> FlagService::Definition(const std::string& env, const std::string& key) const {
  auto e = envs_.find(env);
  if (e == envs_.end()) return NotFound("no flags in environment \"" + env + "\"");
  auto r = e->second.rows.find(key);
  if (r == e->second.rows.end()) {
    return NotFound("flag \"" + key + "\" not found in environment \"" + env + "\"");
  }
  return r->second.definition;
}

Status FlagService::Set(const std::string& env, const std::string& key, const Json& definition,
                        const Change& change) {
  if (definition.is_null()) return InvalidInput("flag definition missing");
  return Apply(env, {{key, definition}}, "set", change);
}

Status FlagService::Delete(const std::string& env, const std::string& key, const Change& change) {
  RETURN_IF_ERROR(Definition(env, key));
  return Apply(env, {{key, Json()}}, "delete", change);
}

Status FlagService::SetEnabled(const std::string& env, const std::string& key, bool enabled,
                               const Change& change) {
  ASSIGN_OR_RETURN(Json def, Definition(env, key));
  def["state"] = enabled ? "ENABLED" : "DISABLED";
  return Apply(env, {{key, def}}, enabled ? "enable" : "disable", change);
}

std::string FlagService::OnVariant(const Json& definition) {
  const Json variants = definition.value("variants", Json::object());
  for (auto it = variants.begin(); it != variants.end(); ++it) {
    if (it.value() == true) return it.key();
  }
  std::string dflt = definition.value("defaultVariant", Json()).is_string()
                         ? definition["defaultVariant"].get<std::string>()
                         : "";
  for (auto it = variants.begin(); it != variants.end(); ++it) {
    if (it.key() != dflt) return it.key();
  }
  return variants.empty() ? "" : variants.begin().key();
}

Result<Json> FlagService::RolledOut(const std::string& env, const std::string& key,
                                    int percent) const {
  if (percent < 0 || percent > 100) {
    return InvalidInput("rollout percent must be 0..100, got " + std::to_string(percent));
  }
  ASSIGN_OR_RETURN(Json def, Definition(env, key));
  const std::string on = OnVariant(def);
  std::string off = def.value("defaultVariant", Json()).is_string()
                        ? def["defaultVariant"].get<std::string>()
                        : "";
  if (off.empty() || off == on) {
    return FailedPrecondition("flag \"" + key +
                              "\" needs a defaultVariant different from its on variant \"" + on +
                              "\" for a rollout");
  }
  Json fractional = {
      {"fractional", Json::array({Json::array({on, percent}), Json::array({off, 100 - percent})})}};
  Json targeting = def.value("targeting", Json::object());
  if (Json* f = FindFractional(&targeting)) {
    *f = fractional;
  } else if (!PlaceRollout(&targeting, fractional)) {
    return FailedPrecondition("flag \"" + key +
                              "\" has custom targeting; edit it with `slipway flags set`");
  }
  def["targeting"] = targeting;
  def["state"] = "ENABLED";
  return def;
}

Status FlagService::Rollout(const std::string& env, const std::string& key, int percent,
                            const Change& change) {
  ASSIGN_OR_RETURN(Json def, RolledOut(env, key, percent));
  return Apply(env, {{key, def}}, "rollout", change);
}

Result<std::vector<PreviewAnswer>> FlagService::Preview(
    const std::string& env, const std::string& key, std::optional<int> percent,
    const std::vector<std::string>& targeting_keys) const {
  Json def;
  if (percent) {
    ASSIGN_OR_RETURN(def, RolledOut(env, key, *percent));
  } else {
    ASSIGN_OR_RETURN(def, Definition(env, key));
  }
  const EnvState& state = envs_.at(env);  // Definition() found it
  // The flag alone in a set of its own, with the environment's shared evaluators: evaluated
  // as the live set would, without touching it (nor its last-evaluated time).
  ASSIGN_OR_RETURN(std::shared_ptr<const FlagSet> set,
                   FlagSet::Build({{key, def}}, state.evaluators, state.metadata));
  const int64_t now_s = clock_->WallMillis() / 1000;
  std::vector<PreviewAnswer> out;
  out.reserve(targeting_keys.size());
  for (const std::string& tk : targeting_keys) {
    Evaluation e = set->Evaluate(key, Json{{"targetingKey", tk}}, now_s);
    PreviewAnswer a;
    a.targeting_key = tk;
    if (e.variant) a.variant = *e.variant;
    if (e.value) a.value = *e.value;
    a.reason = std::string(ReasonName(e.reason));
    a.error = e.error == ErrorCode::kNone ? "" : e.error_message;
    out.push_back(std::move(a));
  }
  return out;
}

Status FlagService::AddTarget(const std::string& env, const std::string& key,
                              const std::string& attr, const std::string& value,
                              const std::string& variant, const Change& change) {
  if (attr.empty()) return InvalidInput("target: attribute name is empty (expected attr=value)");
  ASSIGN_OR_RETURN(Json def, Definition(env, key));
  const std::string v = variant.empty() ? OnVariant(def) : variant;
  if (!def.value("variants", Json::object()).contains(v)) {
    return InvalidInput("flag \"" + key + "\" has no variant \"" + v + "\"");
  }
  Json targeting = def.value("targeting", Json::object());
  if (targeting.is_null()) targeting = Json::object();
  // Reuse an existing `in` list for the same attribute and variant at the head of the chain.
  if (targeting.contains("if") && targeting["if"].is_array() && targeting["if"].size() >= 2) {
    Json& cond = targeting["if"][0];
    if (cond.contains("in") && cond["in"].is_array() && cond["in"].size() == 2 &&
        cond["in"][0] == Json{{"var", attr}} && cond["in"][1].is_array() &&
        targeting["if"][1] == v) {
      Json& list = cond["in"][1];
      if (std::find(list.begin(), list.end(), Json(value)) == list.end()) list.push_back(value);
      def["targeting"] = targeting;
      return Apply(env, {{key, def}}, "target", change);
    }
  }
  Json cond = {{"in", Json::array({Json{{"var", attr}}, Json::array({value})})}};
  Json rest = targeting.empty() ? Json() : targeting;
  def["targeting"] = {{"if", Json::array({cond, v, rest})}};
  return Apply(env, {{key, def}}, "target", change);
}

Status FlagService::Import(const std::string& env, const Json& doc, bool replace,
                           const Change& change) {
  ASSIGN_OR_RETURN(auto parsed, FlagSet::Parse(doc, "import"));
  EnvState& cur = envs_[env];
  Json old_evaluators = cur.evaluators, old_metadata = cur.metadata;
  if (doc.contains("$evaluators")) cur.evaluators = doc["$evaluators"];
  if (doc.contains("metadata")) cur.metadata = doc["metadata"];
  std::map<std::string, Json> changes;
  for (const auto& [k, f] : parsed->flags()) changes[k] = f->definition();
  if (replace) {
    for (const auto& [k, info] : cur.rows) {
      if (!changes.count(k)) changes[k] = Json();
    }
  }
  Status st = Apply(env, changes, "import", change);
  if (!st.ok()) {
    cur.evaluators = old_evaluators;
    cur.metadata = old_metadata;
  }
  return st;
}

Result<Json> FlagService::Export(const std::string& env) const {
  auto set = Get(env);
  if (!set) return NotFound("no flags in environment \"" + env + "\"");
  return set->ToDocument();
}

Result<std::vector<FlagInfo>> FlagService::List(const std::string& env) const {
  std::vector<FlagInfo> out;
  auto e = envs_.find(env);
  if (e == envs_.end()) return out;
  for (const auto& [k, info] : e->second.rows) {
    FlagInfo row = info;
    if (const Flag* f = e->second.set ? e->second.set->Find(k) : nullptr) {
      row.evaluated_ms = std::max(row.evaluated_ms, f->evaluated_ms());
    }
    out.push_back(std::move(row));
  }
  return out;
}

Result<std::vector<AuditEntry>> FlagService::History(const std::string& env, const std::string& key,
                                                     size_t limit) const {
  ASSIGN_OR_RETURN(auto q, Statement::Prepare(db_,
                                              "SELECT id, wall_ms, actor, action, before, after, "
                                              "comment FROM flag_audit WHERE env = ? AND key = ? "
                                              "ORDER BY id DESC LIMIT ?",
                                              "read flag history"));
  RETURN_IF_ERROR(q->BindText(1, env));
  RETURN_IF_ERROR(q->BindText(2, key));
  RETURN_IF_ERROR(q->BindInt64(3, limit == 0 ? -1 : static_cast<int64_t>(limit)));
  std::vector<AuditEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) break;
    AuditEntry a;
    a.id = q->ColumnInt64(0);
    a.env = env;
    a.key = key;
    a.wall_ms = q->ColumnInt64(1);
    a.actor = q->ColumnText(2);
    a.action = q->ColumnText(3);
    a.before = ParseOr(q->ColumnText(4), Json());
    a.after = ParseOr(q->ColumnText(5), Json());
    a.comment = q->ColumnText(6);
    out.push_back(std::move(a));
  }
  std::reverse(out.begin(), out.end());  // oldest first
  return out;
}

Result<std::vector<StaleFlag>> FlagService::Stale(const std::string& env, int days) const {
  ASSIGN_OR_RETURN(auto rows, List(env));
  const int64_t now = clock_->WallMillis();
  const int64_t horizon = static_cast<int64_t>(days) * 86'400'000;
  std::vector<StaleFlag> out;
  for (const FlagInfo& info : rows) {
    const Json& def = info.definition;
    Json targeting = def.value("targeting", Json::object());
    std::string why;
    if (def.value("state", "") == "ENABLED") {
      if (targeting.is_null() || targeting.empty()) {
        why = "fully rolled out (static \"" +
              (def.value("defaultVariant", Json()).is_string()
                   ? def["defaultVariant"].get<std::string>()
                   : std::string("null")) +
              "\")";
      } else if (targeting.size() == 1 && targeting.contains("fractional")) {
        int positive = 0;
        std::string winner;
        for (const Json& b : targeting["fractional"]) {
          if (b.is_array() && b.size() == 2 && b[1].is_number() && b[1].get<double>() > 0) {
            ++positive;
            winner = b[0].is_string() ? b[0].get<std::string>() : b[0].dump();
          }
        }
        if (positive == 1) why = "fully rolled out to \"" + winner + "\"";
      }
    }
    if (why.empty()) {
      if (info.evaluated_ms == 0 && now - info.created_ms >= horizon) {
        why = "never evaluated";
      } else if (info.evaluated_ms > 0 && now - info.evaluated_ms >= horizon) {
        why =
            "not evaluated for " + std::to_string((now - info.evaluated_ms) / 86'400'000) + " days";
      }
    }
    if (!why.empty()) out.push_back({info.key, why});
  }
  return out;
}

Status FlagService::FlushEvaluated() {
  std::unique_ptr<Statement> q;
  for (auto& [env, e] : envs_) {
    if (!e.set) continue;
    for (const auto& [k, f] : e.set->flags()) {
      int64_t ms = f->evaluated_ms();
      int64_t& done = flushed_[env][k];
      if (ms <= done) continue;
      if (!q) {
        ASSIGN_OR_RETURN(q, Statement::Prepare(db_,
                                               "UPDATE flags SET evaluated_ms = ? WHERE env = ? "
                                               "AND key = ?",
                                               "record flag evaluation"));
      }
      q->Reset();
      RETURN_IF_ERROR(q->BindInt64(1, ms));
      RETURN_IF_ERROR(q->BindText(2, env));
      RETURN_IF_ERROR(q->BindText(3, k));
      RETURN_IF_ERROR(q->Run());
      done = ms;
      if (auto r = e.rows.find(k); r != e.rows.end()) r->second.evaluated_ms = ms;
    }
  }
  return Status::OK();
}

}  // namespace slipway::flags
