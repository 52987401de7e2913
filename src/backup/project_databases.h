// The databases a project declares (`x-slipway.databases`) and the unattended work the daemon
// does on them: scheduled backups and the built-in `backup` / `migrate` deploy hook steps.
//
// A deploy's migration runs behind a verified backup: when migrations are pending, the
// database is backed up, the backup is restored into a scratch database and checked, and
// only then are the migrations applied. A database whose migrations belong to a team's own
// tool (alembic, ...) goes through the same steps via migrate::MigrationRunner. A failed migration
// leaves the schema as its transaction found it and the deploy aborts with the old release still
// serving.
//
// Every function blocks (pg_dump, restores, migrations): call them on a worker thread with
// a Catalog over the worker's own store connection, never from an event loop thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backup/backup.h"
#include "backup/catalog.h"
#include "base/status.h"
#include "config/project.h"
#include "migrate/migrator.h"
#include "migrate/runner.h"

namespace slipway::backup {

struct ProjectDatabase {
  std::string name;  // x-slipway.databases key
  migrate::Target target;
  migrate::Options migrate;  // folder, format, lock timeout resolved against the project
  std::string check;         // verify's check query ("" = some user table must exist)
  // The migration tool (tool.tool == kNone: the SQL folder in `migrate`), the configured url
  // and the owning service whose one-offs run the tool; `project` outlives this value.
  config::MigrationToolSettings tool;
  std::string url;
  std::string owner;
  const config::Project* project = nullptr;
};

// The runner of `db`'s migrations: the built-in one, or its tool's (runs recorded in
// `history` when not null).
std::unique_ptr<migrate::MigrationRunner> RunnerFor(
    const ProjectDatabase& db, store::Store* history,
    std::function<void(const std::string&)> log = {});

// `name` "" = every configured database, in name order. InvalidInput for an unknown name or
// a project without databases.
Result<std::vector<ProjectDatabase>> ResolveDatabases(const config::Project& project,
                                                      const std::string& name);

// x-slipway.backups' folder (absolute) and retention for this project.
BackupOptions BackupOptionsFor(const config::Project& project);
RetentionPolicy RetentionFor(const config::Project& project);

// Backs up `db` and verifies the copy by restoring it. A backup that fails verification is
// an error (the file stays in the catalog, marked failed). Returns a one-line summary.
Result<std::string> BackupAndVerify(const ProjectDatabase& db, Catalog* catalog,
                                    const BackupOptions& options);

// Applies pending migrations of `db`; with `backup_if_pending`, BackupAndVerify first (and
// only when something is pending). Returns a one-line summary.
Result<std::string> MigrateUp(const ProjectDatabase& db, bool backup_if_pending, Catalog* catalog,
                              const BackupOptions& options);

}  // namespace slipway::backup
