#include "backup/project_databases.h"

#include <fmt/format.h>

#include "migrate/source.h"
#include "migrate/tool.h"

namespace slipway::backup {

namespace fs = std::filesystem;

Result<std::vector<ProjectDatabase>> ResolveDatabases(const config::Project& project,
                                                      const std::string& name) {
  if (project.databases.empty()) {
    return InvalidInput("no databases configured (add x-slipway.databases.<name>.url)");
  }
  std::vector<ProjectDatabase> out;
  for (const auto& [key, s] : project.databases) {
    if (!name.empty() && key != name) continue;
    ProjectDatabase db;
    db.name = key;
    ASSIGN_OR_RETURN(db.target, migrate::ParseTarget(s.url, project.dir));
    fs::path dir(s.migrations);
    db.migrate.dir = (dir.is_relative() ? project.dir / dir : dir).lexically_normal();
    db.migrate.format = s.format;
    db.migrate.lock_timeout = s.lock_timeout;
    db.migrate.who = "slipway deploy";
    db.check = s.check;
    db.tool = s.tool;
    db.url = s.url;
    db.owner = config::OwnerOf(project, s).service;
    db.project = &project;
    out.push_back(std::move(db));
  }
  if (out.empty()) return InvalidInput("no database \"" + name + "\" in x-slipway.databases");
  return out;
}

BackupOptions BackupOptionsFor(const config::Project& project) {
  BackupOptions o;
  fs::path dir(project.backups.dir);
  o.dir = dir.is_relative() ? project.dir / dir : dir;
  return o;
}

RetentionPolicy RetentionFor(const config::Project& project) {
  const config::RetentionSettings& r = project.backups.retention;
  RetentionPolicy p;
  p.keep_last = r.keep_last;
  p.hourly = r.hourly;
  p.daily = r.daily;
  p.weekly = r.weekly;
  p.monthly = r.monthly;
  p.yearly = r.yearly;
  return p;
}

Result<std::string> BackupAndVerify(const ProjectDatabase& db, Catalog* catalog,
                                    const BackupOptions& options) {
  ASSIGN_OR_RETURN(BackupRecord rec, Create(db.target, db.name, catalog, options));
  ASSIGN_OR_RETURN(VerifyResult v, Verify(rec, db.target, db.check, catalog, options));
  if (!v.ok) {
    return FailedPrecondition(
        fmt::format("{}: backup {} did not verify: {}", db.name, rec.id, v.message));
  }
  return fmt::format("{}: backup {} ({} bytes, restored and checked)", db.name, rec.id, rec.size);
}

std::unique_ptr<migrate::MigrationRunner> RunnerFor(const ProjectDatabase& db,
                                                    store::Store* history,
                                                    std::function<void(const std::string&)> log) {
  if (db.tool.tool == config::MigrationTool::kNone) {
    migrate::Options o = db.migrate;
    if (log) o.log = log;
    return migrate::NewSqlRunner(db.target, o);
  }
  migrate::ToolContext ctx;
  ctx.database = db.name;
  ctx.target = db.target;
  ctx.url = db.url;
  ctx.settings = db.tool;
  ctx.project = db.project;
  ctx.service = db.owner;
  if (db.project != nullptr) ctx.project_dir = db.project->dir;
  ctx.lock_timeout = db.migrate.lock_timeout;
  ctx.who = db.migrate.who;
  ctx.history = history;
  ctx.log = std::move(log);
  return std::make_unique<migrate::ToolRunner>(std::move(ctx));
}

Result<std::string> MigrateUp(const ProjectDatabase& db, bool backup_if_pending, Catalog* catalog,
                              const BackupOptions& options) {
  if (db.tool.tool == config::MigrationTool::kNone && !fs::is_directory(db.migrate.dir)) {
    return InvalidInput(
        fmt::format("{}: migrations folder {} does not exist", db.name, db.migrate.dir.string()));
  }
  std::unique_ptr<migrate::MigrationRunner> runner = RunnerFor(db, catalog->store());
  ASSIGN_OR_RETURN(migrate::PendingReport pending, runner->Pending());
  if (!pending.pending) return db.name + ": no pending migration";
  std::string backed_up;
  if (backup_if_pending) {
    ASSIGN_OR_RETURN(backed_up, BackupAndVerify(db, catalog, options));
    backed_up += "; ";
  }
  ASSIGN_OR_RETURN(std::string applied, runner->Up());
  return fmt::format("{}{}: {}", backed_up, db.name, applied);
}

}  // namespace slipway::backup
