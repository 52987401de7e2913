// Database routes: the backups catalog and the migrations of the project's databases, as
// `slipway backup list` and `slipway migrate status` show them.
//   GET  /api/v1/backups[?database=NAME&limit=N]  {"databases": [{name, backups,
//        last_backup_ms, last_verified_ms, last_verify_status}], "backups": [...]}, newest first
//   POST /api/v1/backups            {"database": "main"}  a verified backup now (admin)
//   POST /api/v1/backups/{id}/verify                       restores backup {id} and checks it
//   GET  /api/v1/migrations[?database=NAME&limit=N]  {"databases": [{name, runner, folder,
//        status}], "runs": [...]}: each database's status as `slipway migrate status` reads
//        it (asked off the loop; {"error": ...} when the database cannot be reached) and the
//        runs of a team's own tool recorded in the state store
// The backup and verify run off the control loop (the daemon's database jobs, queued behind
// deploy steps) and answer when done; without databases they answer 409 saying so. Answers
// never carry a database URL; a tool's command is scrubbed of the project's secrets.
#include <map>

#include "api/routes.h"
#include "backup/catalog.h"
#include "base/redact.h"
#include "config/project.h"
#include "migrate/tool.h"

namespace slipway::api {

using nlohmann::json;

namespace {

constexpr size_t kMaxDatabaseName = 128;

// ?database=NAME&limit=N
struct DatabaseQuery {
  std::string database;  // "" = every database
  size_t limit = 100;
  static Result<DatabaseQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    DatabaseQuery r;
    r.database = q.String("database");
    r.limit = static_cast<size_t>(q.Int("limit", 100, 1, 10'000));
    RETURN_IF_ERROR(q.status());
    if (r.database.size() > kMaxDatabaseName) {
      return InvalidInput("database: longer than " + std::to_string(kMaxDatabaseName) + " bytes");
    }
    return r;
  }
};

// POST /api/v1/backups {"database": "main"}; "" or absent = the only database.
struct BackupBody {
  std::string database;
  static Result<BackupBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    BackupBody b;
    b.database = f.String("database", "a database name (a key of x-slipway.databases)");
    RETURN_IF_ERROR(f.Finish());
    if (b.database.size() > kMaxDatabaseName) {
      return InvalidInput("database: longer than " + std::to_string(kMaxDatabaseName) + " bytes");
    }
    return b;
  }
};

struct BackupId {
  int64_t id = 0;
  static Result<BackupId> Parse(const RouteCall& call) {
    const std::string_view s = call.Param("id");
    BackupId b;
    bool ok = !s.empty() && s.size() <= 18 && s.front() != '0';
    for (char c : s) ok = ok && c >= '0' && c <= '9';
    if (!ok) return InvalidInput("id: expected a backup number (slipway backup list)");
    b.id = std::stoll(std::string(s));
    // A verify takes no fields: a body, if any, is {}.
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    RETURN_IF_ERROR(f.Finish());
    return b;
  }
};

json BackupJson(const backup::BackupRecord& r) {
  const size_t slash = r.path.rfind('/');
  return {{"id", r.id},
          {"database", r.database},
          {"created_ms", r.created_ms},
          {"size", r.size},
          {"sha256", r.sha256},
          {"kind", r.kind},
          {"file", slash == std::string::npos ? r.path : r.path.substr(slash + 1)},
          {"verified_ms", r.verified_ms},
          {"verify_status", r.verify_status}};
}

std::string Scrubbed(const Redactor* redactor, const std::string& text) {
  return redactor ? redactor->Scrub(text) : RedactUrlPasswords(text);
}

Status NoDatabases() {
  return FailedPrecondition(
      "the project has no databases (x-slipway.databases): there is nothing to back up");
}

}  // namespace

void RegisterDatabasesRoutes(Router& r, const RouteDeps& d) {
  store::Store* store = d.store;
  auto project = d.project;
  r.Add<DatabaseQuery>(
      {Method::kGet, "/api/v1/backups", Access::kRead},
      [store, project](DatabaseQuery q, Reply reply) {
        if (!store) return reply.Error(Unavailable("this daemon keeps no backup catalog"));
        backup::Catalog catalog(store);
        auto rows = catalog.List(q.database);
        if (!rows.ok()) return reply.Error(rows.status());
        // Every configured database, with or without backups; then any catalogued one that
        // is no longer configured.
        std::map<std::string, json> dbs;
        const config::Project* p = project ? project() : nullptr;
        if (p) {
          for (const auto& [name, _] : p->databases) {
            if (q.database.empty() || q.database == name) {
              dbs[name] = {{"name", name}, {"configured", true}};
            }
          }
        }
        json list = json::array();
        for (const backup::BackupRecord& rec : *rows) {
          json& db = dbs[rec.database];
          if (!db.contains("name")) db = {{"name", rec.database}, {"configured", false}};
          db["backups"] = db.value("backups", 0) + 1;
          if (rec.created_ms > db.value("last_backup_ms", int64_t{0})) {
            db["last_backup_ms"] = rec.created_ms;
          }
          if (rec.Verified() && rec.verified_ms > db.value("last_verified_ms", int64_t{0})) {
            db["last_verified_ms"] = rec.verified_ms;
            db["last_verified_id"] = rec.id;
          }
          if (list.size() < q.limit) list.push_back(BackupJson(rec));
        }
        json out_dbs = json::array();
        for (auto& entry : dbs) {
          json& db = entry.second;
          for (const char* k : {"backups", "last_backup_ms", "last_verified_ms"}) {
            if (!db.contains(k)) db[k] = 0;
          }
          out_dbs.push_back(std::move(db));
        }
        reply.Json(200, {{"databases", out_dbs}, {"backups", list}});
      });
  r.Add<BackupBody>(
      {Method::kPost, "/api/v1/backups", Access::kAdmin, kSmallBody},
      [project, run = d.backup_now](BackupBody b, Reply reply) {
        const config::Project* p = project ? project() : nullptr;
        if (!p || p->databases.empty()) return reply.Error(NoDatabases());
        if (!b.database.empty() && !p->databases.count(b.database)) {
          return reply.Error(NotFound("no database \"" + b.database + "\" in x-slipway.databases"));
        }
        if (b.database.empty() && p->databases.size() > 1) {
          return reply.Error(
              InvalidInput("database: is missing (the project has several databases)"));
        }
        if (!run) return reply.Error(Unavailable("this daemon runs no backups"));
        const std::string name = b.database.empty() ? p->databases.begin()->first : b.database;
        run(name, [reply, name](const Status& st, const std::string& summary) {
          if (!st.ok()) return reply.Error(st);
          reply.Json(200, {{"database", name}, {"summary", summary}});
        });
      });
  r.Add<BackupId>({Method::kPost, "/api/v1/backups/{id}/verify", Access::kAdmin, kSmallBody},
                  [store, project, run = d.verify_backup](BackupId b, Reply reply) {
                    if (!store) return reply.Error(Unavailable("this daemon keeps no catalog"));
                    const config::Project* p = project ? project() : nullptr;
                    if (!p || p->databases.empty()) return reply.Error(NoDatabases());
                    backup::Catalog catalog(store);
                    auto rec = catalog.Get(b.id);
                    if (!rec.ok()) return reply.Error(rec.status());
                    if (!p->databases.count(rec->database)) {
                      return reply.Error(FailedPrecondition(
                          "backup " + std::to_string(b.id) + " is of database \"" + rec->database +
                          "\", which x-slipway.databases no longer names"));
                    }
                    if (!run) return reply.Error(Unavailable("this daemon runs no verifies"));
                    run(b.id, [reply, id = b.id](const Status& st, const std::string& summary) {
                      if (!st.ok()) return reply.Error(st);
                      reply.Json(200, {{"id", id}, {"summary", summary}});
                    });
                  });
  r.Add<DatabaseQuery>(
      {Method::kGet, "/api/v1/migrations", Access::kRead},
      [store, project, redactor = d.redactor, status = d.migration_status](DatabaseQuery q,
                                                                           Reply reply) {
        json dbs = json::array();
        const config::Project* p = project ? project() : nullptr;
        if (p) {
          for (const auto& [name, db] : p->databases) {
            if (!q.database.empty() && q.database != name) continue;
            const bool tool = db.tool.tool != config::MigrationTool::kNone;
            dbs.push_back({{"name", name},
                           {"runner", tool ? std::string(config::MigrationToolName(db.tool.tool))
                                           : std::string("sql")},
                           {"folder", tool ? "" : db.migrations}});
          }
        }
        json runs = json::array();
        if (store) {
          auto h = migrate::ToolHistory(store, q.database, q.limit);
          if (!h.ok()) return reply.Error(h.status());
          for (const migrate::ToolRun& run : *h) {
            runs.push_back(
                {{"id", run.id},
                 {"database", run.database},
                 {"tool", std::string(config::MigrationToolName(run.tool))},
                 {"direction", std::string(migrate::kToolDirectionNames.Name(run.direction))},
                 {"command", Scrubbed(redactor, run.command)},
                 {"started_ms", run.started_ms},
                 {"duration_ms", run.duration_ms},
                 {"ok", run.ok},
                 {"before", Scrubbed(redactor, run.before)},
                 {"after", Scrubbed(redactor, run.after)},
                 {"applied_by", run.applied_by}});
          }
        }
        if (!status || dbs.empty()) return reply.Json(200, {{"databases", dbs}, {"runs", runs}});
        // Each database's status is asked off the loop (it connects; a tool runs).
        status([reply, redactor, dbs, runs](json rows) mutable {
          for (json& db : dbs) {
            for (json& row : rows) {
              if (!row.is_object() || !row.contains("name") || row["name"] != db["name"]) {
                continue;
              }
              if (row.contains("error") && row["error"].is_string()) {
                row["error"] = Scrubbed(redactor, row["error"].get<std::string>());
              }
              row.erase("name");
              db["status"] = std::move(row);
              break;
            }
          }
          reply.Json(200, {{"databases", dbs}, {"runs", runs}});
        });
      });
}

}  // namespace slipway::api
