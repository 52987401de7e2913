// Backups of a PostgreSQL or SQLite database: create, verify, restore, prune.
//
// create: PostgreSQL with `pg_dump -Fc` (already compressed, restorable with
// pg_restore); SQLite with the online backup API, `PRAGMA integrity_check` on
// the copy, then zstd. Either way the file is written under a temporary name,
// fsynced, hashed (SHA-256), renamed into place, the folder fsynced, and only
// then recorded in the catalog: a listed backup is always complete.
// verify: checksum, then a restore into a scratch database (a new database on
// the same PostgreSQL server, or a temp SQLite file) and a check query.
// restore: refuses a non-empty target unless forced; PostgreSQL through
// `pg_restore --single-transaction --exit-on-error` (with --clean when forced).
//
// Functions block (they run pg_dump etc.); call them from the CLI or from a
// worker thread, never from an event loop thread. The Catalog argument is
// used on the calling thread.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/retention.h"
#include "base/clock.h"
#include "base/status.h"
#include "migrate/target.h"

namespace slipway::backup {

struct BackupOptions {
  std::filesystem::path dir;  // backups root; files go to <dir>/<database>/
  Clock* clock = Clock::Real();
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

// Takes a backup of `target`, recorded under `database` (a configured name).
Result<BackupRecord> Create(const migrate::Target& target, const std::string& database,
                            Catalog* catalog, const BackupOptions& options);

struct VerifyResult {
  bool ok = false;
  std::string message;       // "ok" details or what failed
  std::string check_result;  // first column of the check query's first row
};

// Checks the checksum, restores into a scratch database next to `like` (the
// database the backup came from, for its server), runs `check_query` (default:
// count of user tables, which must be > 0) and records the outcome.
Result<VerifyResult> Verify(const BackupRecord& backup, const migrate::Target& like,
                            const std::string& check_query, Catalog* catalog,
                            const BackupOptions& options);

// Restores `backup` into `target`. A non-empty target is refused
// (FailedPrecondition) unless `force`.
Status Restore(const BackupRecord& backup, const migrate::Target& target, bool force,
               const BackupOptions& options);

// Applies `policy` per database; deletes (unless `dry_run`) the files and rows
// of backups not kept. Returns every decision, newest first per database.
Result<std::vector<RetentionDecision>> Prune(Catalog* catalog, const RetentionPolicy& policy,
                                             const std::string& database, bool dry_run);

}  // namespace slipway::backup
