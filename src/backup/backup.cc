#include "backup/backup.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <thread>

#include "backup/files.h"
#include "migrate/checksum.h"
#include "migrate/driver.h"

namespace slipway::backup {
namespace fs = std::filesystem;
namespace {

void Log(const BackupOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::string Stamp(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "db" : out;
}

// Removes a file on scope exit unless released.
class TempFile {
 public:
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  explicit TempFile(fs::path p) : path_(std::move(p)) {}
  ~TempFile() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

Status SqliteOk(sqlite3* db, int rc, const std::string& what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE) return Status::OK();
  return IoError("sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;

Result<SqliteDb> OpenSqlite(const fs::path& p, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(p.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) return SqliteOk(raw, rc, "open " + p.string());
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

// Copies a live SQLite database page by page with the online backup API.
Status SqliteOnlineCopy(const fs::path& src_path, const fs::path& dst_path) {
  if (!fs::exists(src_path)) return NotFound("sqlite database " + src_path.string() + " not found");
  ASSIGN_OR_RETURN(SqliteDb src, OpenSqlite(src_path, SQLITE_OPEN_READONLY));
  ASSIGN_OR_RETURN(SqliteDb dst, OpenSqlite(dst_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (b == nullptr) return SqliteOk(dst.get(), sqlite3_errcode(dst.get()), "backup init");
  int rc;
  // Chunks let writers in between; BUSY/LOCKED are retried.
  for (int tries = 0;; ++tries) {
    rc = sqlite3_backup_step(b, 4096);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK) continue;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 2000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    break;
  }
  sqlite3_backup_finish(b);
  return SqliteOk(dst.get(), rc, "online backup of " + src_path.string());
}

Result<std::string> SqliteScalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    return SqliteOk(db, rc, sql);
  }
  rc = sqlite3_step(st);
  std::string out;
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out = t ? reinterpret_cast<const char*>(t) : "NULL";
  } else if (rc != SQLITE_DONE) {
    Status s = SqliteOk(db, rc, sql);
    sqlite3_finalize(st);
    return s;
  }
  sqlite3_finalize(st);
  return out;
}

Status IntegrityCheck(const fs::path& p) {
  ASSIGN_OR_RETURN(SqliteDb db, OpenSqlite(p, SQLITE_OPEN_READONLY));
  ASSIGN_OR_RETURN(std::string r, SqliteScalar(db.get(), "PRAGMA integrity_check"));
  if (r != "ok") return Internal("integrity_check of " + p.filename().string() + ": " + r);
  return Status::OK();
}

Status CheckSum(const BackupRecord& b) {
  if (!fs::exists(b.path))
    return NotFound("backup " + std::to_string(b.id) + ": file " + b.path + " is missing");
  ASSIGN_OR_RETURN(std::string sum, migrate::Sha256File(b.path));
  if (sum != b.sha256) {
    return Internal("backup " + std::to_string(b.id) + ": checksum mismatch (catalog " +
                    b.sha256.substr(0, 12) + ", file " + sum.substr(0, 12) +
                    "): the file is corrupt");
  }
  return Status::OK();
}

fs::path ScratchFile(const std::string& what) {
  static std::atomic<int> n{0};
  return fs::temp_directory_path() /
         ("slipway-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
}

}  // namespace

Result<BackupRecord> Create(const migrate::Target& target, const std::string& database,
                            Catalog* catalog, const BackupOptions& options) {
  const int64_t now = options.clock->WallMillis();
  fs::path folder = options.dir / SafeName(database);
  std::error_code ec;
  // A backup holds the whole database: new folders 0700, the database's own folder 0700
  // even if an older version made it 0755, every file 0600.
  RETURN_IF_ERROR(CreatePrivateDirs(folder));
  if (::chmod(folder.c_str(), 0700) != 0) return ErrnoError("chmod " + folder.string(), errno);
  BackupRecord r;
  r.database = database;
  r.created_ms = now;
  std::string base = SafeName(database) + "-" + Stamp(now);
  fs::path final_path;
  TempFile tmp(folder / (".tmp-" + base + "-" + std::to_string(::getpid())));
  if (target.IsPostgres()) {
    r.kind = "pg_dump-custom";
    final_path = folder / (base + ".pgdump");
    Log(options, "pg_dump -Fc " + target.Display());
    // pg_dump -f keeps the mode of the file it truncates.
    RETURN_IF_ERROR(CreateFileWithMode(tmp.path(), 0600));
    RETURN_IF_ERROR(
        RunTool(PgTool("pg_dump", {"-Fc", "--no-password", "-f", tmp.path().string()}, target)));
    if (::chmod(tmp.path().c_str(), 0600) != 0) {
      return ErrnoError("chmod " + tmp.path().string(), errno);
    }
    RETURN_IF_ERROR(FsyncPath(tmp.path()));
  } else {
    r.kind = "sqlite-zstd";
    final_path = folder / (base + ".sqlite.zst");
    TempFile raw(folder / (".tmp-" + base + "-" + std::to_string(::getpid()) + ".db"));
    Log(options, "online backup of " + target.sqlite_path.string());
    RETURN_IF_ERROR(CreateFileWithMode(raw.path(), 0600));  // SQLite keeps an existing file's mode
    RETURN_IF_ERROR(SqliteOnlineCopy(target.sqlite_path, raw.path()));
    RETURN_IF_ERROR(IntegrityCheck(raw.path()));
    RETURN_IF_ERROR(ZstdCompressFile(raw.path(), tmp.path()));  // fsyncs
  }
  ASSIGN_OR_RETURN(r.sha256, migrate::Sha256File(tmp.path()));
  r.size = static_cast<int64_t>(fs::file_size(tmp.path(), ec));
  if (fs::exists(final_path)) return AlreadyExists(final_path.string() + " already exists");
  RETURN_IF_ERROR(DurableRename(tmp.path(), final_path));
  tmp.Release();
  r.path = fs::absolute(final_path).string();
  auto added = catalog->Add(r);
  if (!added.ok()) {
    fs::remove(final_path, ec);  // not recorded: not a backup
    return added.status();
  }
  Log(options, "backup " + std::to_string(added->id) + " of " + database + ": " + r.path + " (" +
                   std::to_string(r.size) + " bytes)");
  return added;
}

Result<VerifyResult> Verify(const BackupRecord& b, const migrate::Target& like,
                            const std::string& check_query, Catalog* catalog,
                            const BackupOptions& options) {
  VerifyResult res;
  auto record = [&](const std::string& status) -> Status {
    return catalog->SetVerified(b.id, options.clock->WallMillis(), status);
  };
  if (Status s = CheckSum(b); !s.ok()) {
    res.message = s.message();
    RETURN_IF_ERROR(record("failed: " + s.message()));
    return res;
  }
  Status st = [&]() -> Status {
    std::unique_ptr<migrate::ScratchDatabase> scratch;
    migrate::Target restored = like;
    std::optional<TempFile> file;
    if (b.kind == "pg_dump-custom") {
      if (!like.IsPostgres()) return InvalidInput("a pg_dump backup needs a PostgreSQL server");
      ASSIGN_OR_RETURN(scratch, migrate::ScratchDatabase::Create(like, "verify"));
      restored = scratch->target();
      Log(options, "pg_restore into scratch database " + restored.DatabaseName());
      RETURN_IF_ERROR(RunTool(PgTool(
          "pg_restore", {"--exit-on-error", "--no-owner", "--no-password", b.path}, restored)));
    } else {
      file.emplace(ScratchFile("verify"));
      restored.kind = migrate::Target::Kind::kSqlite;
      restored.sqlite_path = file->path();
      RETURN_IF_ERROR(ZstdDecompressFile(b.path, file->path()));
      RETURN_IF_ERROR(IntegrityCheck(file->path()));
    }
    ASSIGN_OR_RETURN(auto d, migrate::Driver::Open(restored, "slipway backup verify"));
    if (check_query.empty()) {
      ASSIGN_OR_RETURN(int64_t n, d->CountUserTables());
      res.check_result = std::to_string(n);
      if (n == 0) return Internal("the restored database has no tables");
    } else {
      ASSIGN_OR_RETURN(auto rows, d->Query(check_query, {}));
      if (rows.empty() || rows[0].empty()) return Internal("check query returned no rows");
      res.check_result = rows[0][0].value_or("NULL");
    }
    return Status::OK();
  }();
  res.ok = st.ok();
  res.message =
      st.ok() ? "checksum ok, restored, check query returned " + res.check_result : st.message();
  RETURN_IF_ERROR(record(st.ok() ? "ok" : "failed: " + st.message()));
  return res;
}

Status Restore(const BackupRecord& b, const migrate::Target& target, bool force,
               const BackupOptions& options) {
  RETURN_IF_ERROR(CheckSum(b));
  if (b.kind == "pg_dump-custom") {
    if (!target.IsPostgres()) return InvalidInput("a pg_dump backup restores only into PostgreSQL");
    ASSIGN_OR_RETURN(auto d, migrate::Driver::Open(target, "slipway backup restore"));
    ASSIGN_OR_RETURN(int64_t n, d->CountUserTables());
    d.reset();
    if (n > 0 && !force) {
      return FailedPrecondition("database " + target.Display() + " is not empty (" +
                                std::to_string(n) +
                                " tables); pass --force to replace its contents");
    }
    std::vector<std::string> args = {"--single-transaction", "--exit-on-error", "--no-owner",
                                     "--no-password"};
    if (n > 0) {
      args.push_back("--clean");
      args.push_back("--if-exists");
    }
    args.push_back(b.path);
    Log(options, "pg_restore into " + target.Display());
    return RunTool(PgTool("pg_restore", std::move(args), target));
  }
  if (target.IsPostgres()) return InvalidInput("a SQLite backup restores only into SQLite");
  std::error_code ec;
  if (fs::exists(target.sqlite_path) && fs::file_size(target.sqlite_path, ec) > 0) {
    ASSIGN_OR_RETURN(auto d, migrate::Driver::Open(target, "slipway backup restore"));
    ASSIGN_OR_RETURN(int64_t n, d->CountUserTables());
    if (n > 0 && !force) {
      return FailedPrecondition("database " + target.Display() + " is not empty (" +
                                std::to_string(n) +
                                " tables); pass --force to replace its contents");
    }
  }
  fs::create_directories(target.sqlite_path.parent_path(), ec);
  TempFile tmp(target.sqlite_path.string() + ".restore-tmp");
  // The restored database keeps the mode of the one it replaces (another user or group
  // may read it); a new one is private.
  mode_t mode = 0600;
  if (struct stat st{}; ::stat(target.sqlite_path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  RETURN_IF_ERROR(ZstdDecompressFile(b.path, tmp.path(), mode));
  RETURN_IF_ERROR(IntegrityCheck(tmp.path()));
  RETURN_IF_ERROR(FsyncPath(tmp.path()));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    fs::remove(target.sqlite_path.string() + suffix, ec);
  }
  RETURN_IF_ERROR(DurableRename(tmp.path(), target.sqlite_path));
  tmp.Release();
  Log(options, "restored backup " + std::to_string(b.id) + " into " + target.Display());
  return Status::OK();
}

Result<std::vector<RetentionDecision>> Prune(Catalog* catalog, const RetentionPolicy& policy,
                                             const std::string& database, bool dry_run) {
  ASSIGN_OR_RETURN(auto all, catalog->List(database));
  std::map<std::string, std::vector<BackupRecord>> by_db;
  for (auto& b : all) by_db[b.database].push_back(std::move(b));
  std::vector<RetentionDecision> out;
  for (auto& [db, list] : by_db) {
    for (RetentionDecision& d : ApplyRetention(std::move(list), policy)) {
      if (!d.keep && !dry_run) {
        std::error_code ec;
        fs::remove(d.backup.path, ec);
        if (ec) return IoError("cannot delete " + d.backup.path + ": " + ec.message());
        RETURN_IF_ERROR(catalog->Remove(d.backup.id));
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace slipway::backup
