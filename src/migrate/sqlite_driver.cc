// Driver over the SQLite C API. See driver.h.
//
// SQLite has no advisory locks; the migration lock is an flock(2) on
// `<database>.migrate-lock` beside the file. Like PostgreSQL's session lock it
// is released when the holder exits or crashes, and the file names the holder.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>

#include "migrate/driver.h"
#include "migrate/pg_driver.h"

namespace slipway::migrate {
namespace fs = std::filesystem;
namespace {

std::string HostName() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

class SqliteDriver final : public Driver {
 public:
  SqliteDriver(sqlite3* db, Target target, std::string application)
      : db_(db), target_(std::move(target)), application_(std::move(application)) {}
  ~SqliteDriver() override {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    sqlite3_close_v2(db_);
  }

  const Target& target() const override { return target_; }

  Status ExecScript(std::string_view sql, ScriptError* err) override {
    const char* begin = sql.data();
    const char* end = sql.data() + sql.size();
    const char* p = begin;
    while (p < end) {
      sqlite3_stmt* stmt = nullptr;
      const char* tail = nullptr;
      int rc = sqlite3_prepare_v2(db_, p, static_cast<int>(end - p), &stmt, &tail);
      if (rc == SQLITE_OK && stmt == nullptr) break;  // only comments/whitespace left
      if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        }
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
      }
      if (rc != SQLITE_OK) {
        ScriptError e;
        e.message = sqlite3_errmsg(db_);
        // Skip leading whitespace/newlines so the offset points at the statement.
        const char* s = p;
        while (s < end && std::isspace(static_cast<unsigned char>(*s))) ++s;
        e.statement_offset = static_cast<size_t>(s - begin);
        const char* stop = tail != nullptr && tail > p ? tail : end;
        e.statement.assign(s, stop > s ? stop : s);
        int off = sqlite3_error_offset(db_);
        if (off >= 0) e.error_offset = static_cast<size_t>(p - begin) + static_cast<size_t>(off);
        sqlite3_finalize(stmt);
        if (err) *err = e;
        return Internal(e.message);
      }
      sqlite3_finalize(stmt);
      p = tail;
    }
    return Status::OK();
  }

  Result<std::vector<Row>> Query(std::string_view sql,
                                 const std::vector<std::string>& params) override {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = sqlite3_errmsg(db_);
      sqlite3_finalize(stmt);
      return Internal("sqlite: " + msg);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      std::string name(1, '$');
      name += std::to_string(i + 1);
      int idx = sqlite3_bind_parameter_index(stmt, name.c_str());
      if (idx > 0) sqlite3_bind_text(stmt, idx, params[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    std::vector<Row> rows;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      int n = sqlite3_column_count(stmt);
      for (int j = 0; j < n; ++j) {
        if (sqlite3_column_type(stmt, j) == SQLITE_NULL) {
          row.push_back(std::nullopt);
        } else {
          const unsigned char* t = sqlite3_column_text(stmt, j);
          row.push_back(std::string(reinterpret_cast<const char*>(t),
                                    static_cast<size_t>(sqlite3_column_bytes(stmt, j))));
        }
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      std::string msg = sqlite3_errmsg(db_);
      sqlite3_finalize(stmt);
      if ((rc & 0xff) == SQLITE_BUSY) return Unavailable("sqlite: " + msg);
      return Internal("sqlite: " + msg);
    }
    sqlite3_finalize(stmt);
    return rows;
  }

  Result<bool> TryLock() override {
    if (lock_fd_ < 0) {
      lock_fd_ = ::open(LockPath().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (lock_fd_ < 0) return ErrnoError("open " + LockPath(), errno);
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return false;
      return ErrnoError("flock " + LockPath(), errno);
    }
    std::time_t now = std::time(nullptr);
    char when[32];
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    std::string holder = "pid " + std::to_string(::getpid()) + " (application \"" + application_ +
                         "\" on " + HostName() + ", since " + when + ")";
    if (::ftruncate(lock_fd_, 0) == 0) {
      ssize_t ignored = ::pwrite(lock_fd_, holder.data(), holder.size(), 0);
      (void)ignored;
    }
    return true;
  }

  Status Unlock() override {
    if (lock_fd_ < 0) return Status::OK();
    ::flock(lock_fd_, LOCK_UN);
    ::close(lock_fd_);
    lock_fd_ = -1;
    return Status::OK();
  }

  std::string LockHolder() override {
    std::ifstream in(LockPath());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  Result<std::string> SchemaFingerprint(const std::string& exclude) override {
    ASSIGN_OR_RETURN(auto rows,
                     Query("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
                           "WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> $1 ORDER BY 1, 2",
                           {exclude}));
    std::string out;
    for (const Row& r : rows) {
      for (const auto& v : r) out += v.value_or("NULL") + "|";
      out += "\n";
    }
    return out;
  }

  Result<bool> TableExists(const std::string& name) override {
    ASSIGN_OR_RETURN(
        auto rows, Query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {name}));
    return !rows.empty();
  }

  Result<int64_t> CountUserTables() override {
    ASSIGN_OR_RETURN(auto rows, Query("SELECT count(*) FROM sqlite_master WHERE type IN "
                                      "('table', 'view') AND name NOT LIKE 'sqlite_%'",
                                      {}));
    return std::stoll(rows.at(0).at(0).value_or("0"));
  }

  Result<Target> CreateScratchDatabase(const std::string& hint) override {
    static std::atomic<int> counter{0};
    Target t = target_;
    t.sqlite_path =
        fs::temp_directory_path() / ("slipway-scratch-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(counter.fetch_add(1)) + ".db");
    std::error_code ec;
    fs::remove(t.sqlite_path, ec);
    return t;
  }

  Status DropDatabase(const Target& scratch) override {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal", ".migrate-lock"}) {
      fs::remove(scratch.sqlite_path.string() + suffix, ec);
    }
    return Status::OK();
  }

 private:
  std::string LockPath() const { return target_.sqlite_path.string() + ".migrate-lock"; }

  sqlite3* db_;
  Target target_;
  std::string application_;
  int lock_fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<Driver>> OpenSqlite(const Target& target, const std::string& application) {
  std::error_code ec;
  if (target.sqlite_path.has_parent_path())
    fs::create_directories(target.sqlite_path.parent_path(), ec);
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(target.sqlite_path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Unavailable("cannot open " + target.Display() + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 0);
  return std::unique_ptr<Driver>(new SqliteDriver(db, target, application));
}

}  // namespace slipway::migrate
