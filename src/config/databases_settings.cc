#include "config/databases_settings.h"

#include <cctype>
#include <set>

#include "config/migration_tool_names.h"
#include "config/node.h"
#include "config/project.h"
#include "config/values.h"
#include "promql/regex.h"

namespace slipway::config {
namespace {

bool ValidUrl(const std::string& u) {
  for (const char* p : {"postgres://", "postgresql://", "postgres:", "sqlite:"}) {
    if (u.rfind(p, 0) == 0 && u.size() > std::string(p).size()) return true;
  }
  return false;
}

// Cheap shape check; backup::CronExpr does the full parse where it is used.
bool PlausibleCron(const std::string& s) {
  if (!s.empty() && s[0] == '@') {
    return s == "@yearly" || s == "@annually" || s == "@monthly" || s == "@weekly" ||
           s == "@daily" || s == "@midnight" || s == "@hourly";
  }
  int fields = 0;
  bool in = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      in = false;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '*' && c != ',' && c != '-' &&
        c != '/') {
      return false;
    }
    if (!in) ++fields;
    in = true;
  }
  return fields == 5;
}

Status UnknownKey(const Node& n, const std::string& path, const std::string& known) {
  return NodeError(n, path, "unknown key " + Quote(n.key), "one of " + known);
}

constexpr char kToolKeys[] =
    "tool, up, command, down, pending, status, pending-match, dir, timeout";

// `migrations: {tool: alembic, ...}`: the preset, then the keys written over it.
Status ParseMigrationTool(const Node& n, const std::string& path, MigrationToolSettings* out) {
  if (const Node* t = n.Find("tool"); t != nullptr) {
    ASSIGN_OR_RETURN(std::string name,
                     ReadEnum(*t, JoinPath(path, "tool"), MigrationToolPresets()));
    *out = MigrationPreset(*kMigrationToolNames.Parse(name));  // ReadEnum admitted a preset
  } else {
    *out = MigrationPreset(MigrationTool::kCommands);
  }
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    std::string* cmd = nullptr;
    if (f.key == "tool") continue;
    if (f.key == "up" || f.key == "command") cmd = &out->up;
    if (f.key == "down") cmd = &out->down;
    if (f.key == "pending") cmd = &out->pending;
    if (f.key == "status") cmd = &out->status;
    if (cmd != nullptr) {
      ASSIGN_OR_RETURN(*cmd, ReadString(f, fpath));
      if (cmd->find_first_not_of(" \t") == std::string::npos) {
        return NodeError(f, fpath, "is empty", "a shell command line");
      }
    } else if (f.key == "pending-match") {
      ASSIGN_OR_RETURN(out->pending_match, ReadString(f, fpath));
      if (!promql::Regex::Compile(out->pending_match, promql::Regex::Dialect::kSearch).ok()) {
        return NodeError(f, fpath, Quote(out->pending_match) + " is not a regular expression",
                         "a regex (Go's syntax) matching one line per pending migration");
      }
      out->pending_rule = PendingRule::kMatch;
    } else if (f.key == "dir") {
      ASSIGN_OR_RETURN(out->dir, ReadString(f, fpath));
    } else if (f.key == "timeout") {
      ASSIGN_OR_RETURN(out->timeout, ReadDuration(f, fpath));
      if (out->timeout <= Duration(0)) return NodeError(f, fpath, "must be positive", "e.g. 10m");
    } else {
      return UnknownKey(f, fpath, kToolKeys);
    }
  }
  if (out->up.empty()) {
    std::string tools;
    for (const std::string& t : MigrationToolPresets()) {
      if (!tools.empty()) tools.append(", ");
      tools.append(t);
    }
    return NodeError(n, JoinPath(path, "up"), "is missing",
                     "a tool (" + tools + ") or an `up` command");
  }
  if (out->pending.empty()) {
    return NodeError(n, JoinPath(path, "pending"), "is missing",
                     "a command printing the pending migrations, one a line");
  }
  return Status::OK();
}

}  // namespace

std::string_view MigrationToolName(MigrationTool t) { return kMigrationToolNames.Name(t); }

std::vector<std::string> MigrationToolPresets() {
  std::vector<std::string> out;
  for (const auto& e : kMigrationToolNames.entries) {
    if (e.value != MigrationTool::kNone && e.value != MigrationTool::kCommands) {
      out.emplace_back(e.name);
    }
  }
  return out;
}

MigrationToolSettings MigrationPreset(MigrationTool tool) {
  MigrationToolSettings s;
  s.tool = tool;
  switch (tool) {
    case MigrationTool::kNone:
    case MigrationTool::kCommands:
      break;
    case MigrationTool::kAlembic:
      // Pending when `alembic current` (the database's revisions) differs from `alembic heads`.
      s.up = "alembic upgrade head";
      s.down = "alembic downgrade -1";
      s.status = "alembic current";
      s.pending = "alembic heads";
      s.pending_rule = PendingRule::kCurrentVsHeads;
      break;
    case MigrationTool::kDjango:
      // Django rolls back by naming an app's earlier migration: no generic `down`.
      s.up = "python manage.py migrate --noinput";
      s.status = "python manage.py showmigrations --plan";
      s.pending = s.status;
      s.pending_rule = PendingRule::kMatch;
      s.pending_match = R"(^\s*\[ \]\s+(\S+))";
      break;
    case MigrationTool::kPrisma:
      // Prisma Migrate has no down migrations.
      s.up = "npx prisma migrate deploy";
      s.status = "npx prisma migrate status";
      s.pending = s.status;
      s.pending_rule = PendingRule::kMatch;
      s.pending_match = "have not yet been applied";
      break;
    case MigrationTool::kRails:
      s.up = "bin/rails db:migrate";
      s.down = "bin/rails db:rollback STEP=1";
      s.status = "bin/rails db:migrate:status";
      s.pending = s.status;
      s.pending_rule = PendingRule::kMatch;
      s.pending_match = R"(^\s*down\s+(\S+))";
      break;
    case MigrationTool::kKnex:
      s.up = "npx knex migrate:latest";
      s.down = "npx knex migrate:down";
      s.status = "npx knex migrate:list";
      s.pending = s.status;
      s.pending_rule = PendingRule::kMatch;
      s.pending_match = R"(^Found \d+ Pending Migration)";
      break;
  }
  return s;
}

DatabaseOwner OwnerOf(const Project& p, const DatabaseSettings& db) {
  const std::string& url = db.url;
  if (!db.service.empty()) {  // named in the compose file: its variable holding the url, if any
    DatabaseOwner named{db.service, ""};
    if (auto s = p.services.find(db.service); s != p.services.end()) {
      for (const auto& [k, v] : s->second.environment) {
        if (v == url) named.url_env = k;
      }
    }
    return named;
  }
  std::set<std::string> one_shot;
  for (const auto& [_, s] : p.services) {
    for (const Dependency& d : s.depends_on) {
      if (d.condition == DependsCondition::kCompletedSuccessfully) one_shot.insert(d.service);
    }
  }
  DatabaseOwner best;
  bool best_one_shot = true;
  for (const auto& [name, s] : p.services) {  // sorted by name
    for (const auto& [k, v] : s.environment) {
      if (v != url || url.empty()) continue;
      bool os = one_shot.count(name) > 0;
      if (best.service.empty() || (best_one_shot && !os)) {
        best = {name, k};
        best_one_shot = os;
      }
      break;
    }
  }
  return best;
}

Status ParseDatabasesSettings(const Node& n, const std::string& path,
                              std::map<std::string, DatabaseSettings>* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping of database names to {url, migrations, ...}"));
  for (const Node& db : n.children) {
    const std::string dpath = JoinPath(path, db.key);
    if (db.key.empty() || db.key.find_first_of("/ \t") != std::string::npos) {
      return NodeError(db, dpath, Quote(db.key) + " is not a valid database name",
                       "letters, digits, '-', '_'");
    }
    DatabaseSettings s;
    s.name = db.key;
    s.where = db.ErrorLoc().ToString();
    if (db.IsScalar()) {  // shorthand: `main: ${DATABASE_URL}`
      ASSIGN_OR_RETURN(s.url, ReadString(db, dpath));
    } else {
      RETURN_IF_ERROR(ExpectMap(db, dpath, "a mapping with url, migrations, format, check"));
      for (const Node& f : db.children) {
        const std::string fpath = JoinPath(dpath, f.key);
        if (f.key == "url") {
          ASSIGN_OR_RETURN(s.url, ReadString(f, fpath));
        } else if (f.key == "migrations") {
          if (f.IsMap()) {
            RETURN_IF_ERROR(ParseMigrationTool(f, fpath, &s.tool));
          } else if (f.IsScalar()) {
            ASSIGN_OR_RETURN(s.migrations, ReadString(f, fpath));
          } else {
            return NodeError(f, fpath, "must be a folder or a mapping",
                             "a folder of SQL files, or {tool: alembic|django|prisma|rails|knex} "
                             "or {up: ..., down: ..., pending: ...}");
          }
        } else if (f.key == "format") {
          ASSIGN_OR_RETURN(s.format, ReadEnum(f, fpath, kMigrationFormatNames));
        } else if (f.key == "check") {
          ASSIGN_OR_RETURN(s.check, ReadString(f, fpath));
        } else if (f.key == "lock-timeout") {
          ASSIGN_OR_RETURN(s.lock_timeout, ReadDuration(f, fpath));
        } else if (f.key == "service") {
          ASSIGN_OR_RETURN(s.service, ReadString(f, fpath));
        } else {
          return UnknownKey(f, fpath, "url, migrations, format, check, lock-timeout, service");
        }
      }
    }
    if (s.url.empty()) {
      return NodeError(db, JoinPath(dpath, "url"),
                       "is missing or empty (is the variable it comes from set?)",
                       "postgres://user@host/db or sqlite:path");
    }
    if (!ValidUrl(s.url)) {
      // Never echo the URL: it may carry a password.
      const Node* u = db.IsMap() ? db.Find("url") : nullptr;
      return NodeError(u != nullptr ? *u : db, JoinPath(dpath, "url"),
                       "unsupported database URL scheme", "postgres://user@host/db or sqlite:path");
    }
    (*out)[s.name] = std::move(s);
  }
  return Status::OK();
}

Status ParseBackupsSettings(const Node& n, const std::string& path, BackupsSettings* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with dir, schedule, databases, retention"));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "dir") {
      ASSIGN_OR_RETURN(out->dir, ReadString(f, fpath));
    } else if (f.key == "schedule") {
      ASSIGN_OR_RETURN(out->schedule, ReadString(f, fpath));
      if (!PlausibleCron(out->schedule)) {
        return NodeError(f, fpath, Quote(out->schedule) + " is not a cron expression",
                         "5 fields (minute hour day-of-month month day-of-week) or @daily etc.");
      }
    } else if (f.key == "databases") {
      ASSIGN_OR_RETURN(out->databases, ReadStringList(f, fpath));
    } else if (f.key == "catch-up") {
      ASSIGN_OR_RETURN(out->catch_up, ReadBool(f, fpath));
    } else if (f.key == "retention") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, "a mapping of keep-last/hourly/daily/... counts"));
      for (const Node& r : f.children) {
        const std::string rpath = JoinPath(fpath, r.key);
        int* target = nullptr;
        if (r.key == "keep-last") target = &out->retention.keep_last;
        if (r.key == "hourly") target = &out->retention.hourly;
        if (r.key == "daily") target = &out->retention.daily;
        if (r.key == "weekly") target = &out->retention.weekly;
        if (r.key == "monthly") target = &out->retention.monthly;
        if (r.key == "yearly") target = &out->retention.yearly;
        if (target == nullptr) {
          return UnknownKey(r, rpath, "keep-last, hourly, daily, weekly, monthly, yearly");
        }
        ASSIGN_OR_RETURN(*target, ReadInt(r, rpath));
        if (*target < -1) return NodeError(r, rpath, "must be >= 0 (or -1 for unlimited)");
      }
    } else {
      return UnknownKey(f, fpath, "dir, schedule, databases, catch-up, retention");
    }
  }
  return Status::OK();
}

}  // namespace slipway::config
