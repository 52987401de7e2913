#include "backup/project_databases.h"

#include <fmt/format.h>

#include "migrate/source.h"

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
    ASSIGN_OR_RETURN(db.migrate.format, migrate::ParseFormat(s.format));
    db.migrate.lock_timeout = s.lock_timeout;
    db.migrate.who = "slipway deploy";
    db.check = s.check;
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
    return FailedPrecondition(fmt::format("{}: backup {} did not verify: {}", db.name, rec.id, v.message));
  }
  return fmt::format("{}: backup {} ({} bytes, restored and checked)", db.name, rec.id, rec.size);
}

Result<std::string> MigrateUp(const ProjectDatabase& db, bool backup_if_pending,
                              Catalog* catalog, const BackupOptions& options) {
  if (!fs::is_directory(db.migrate.dir)) {
    return InvalidInput(fmt::format("{}: migrations folder {} does not exist", db.name,
                                    db.migrate.dir.string()));
  }
  ASSIGN_OR_RETURN(bool pending, migrate::HasPending(db.target, db.migrate));
  if (!pending) return db.name + ": no pending migration";
  std::string backed_up;
  if (backup_if_pending) {
    ASSIGN_OR_RETURN(backed_up, BackupAndVerify(db, catalog, options));
    backed_up += "; ";
  }
  ASSIGN_OR_RETURN(std::vector<std::string> applied, migrate::Up(db.target, db.migrate));
  std::string list;
  for (const std::string& v : applied) list += (list.empty() ? "" : ", ") + v;
  return fmt::format("{}{}: applied {} migration{} ({})", backed_up, db.name, applied.size(),
                     applied.size() == 1 ? "" : "s", list);
}

}  // namespace slipway::backup
