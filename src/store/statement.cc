#include "store/statement.h"

#include <cctype>
#include <string>

namespace slipway::store {
namespace {

// COMMIT/END (and RELEASE of a savepoint) are where a transaction's writes reach the file,
// but SQLite calls transaction control statements read-only.
bool StartsWithCommit(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  auto word = [&](std::string_view w) {
    if (sql.size() - i < w.size()) return false;
    for (size_t k = 0; k < w.size(); ++k) {
      if (std::toupper(static_cast<unsigned char>(sql[i + k])) != w[k]) return false;
    }
    return true;
  };
  return word("COMMIT") || word("END") || word("RELEASE");
}

}  // namespace

Status SqliteError(sqlite3* db, int rc, std::string_view purpose) {
  std::string msg = "store: ";
  msg.append(purpose);
  msg += ": ";
  // sqlite3_errmsg describes the connection's last error, which may be more
  // specific than the result code's generic text ("no such table: x").
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Unavailable(std::move(msg));
  }
  return IoError(std::move(msg));
}

Status Exec(sqlite3* db, std::string_view sql, std::string_view purpose) {
  std::string text(sql);
  char* err = nullptr;
  WriteHealth* health = WriteHealthOf(db);
  const int64_t changes_before = health ? sqlite3_total_changes64(db) : 0;
  int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) {
    if (health && (sqlite3_total_changes64(db) != changes_before ||
                   (StartsWithCommit(sql) && sqlite3_get_autocommit(db) != 0))) {
      health->RecordSuccess();
    }
    return Status::OK();
  }
  std::string msg = "store: ";
  msg.append(purpose);
  msg += ": ";
  msg += err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (health && IsStorageFault(rc)) health->RecordFailure(msg);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Unavailable(std::move(msg));
  return IoError(std::move(msg));
}

Status InTransaction(sqlite3* db, std::string_view purpose, const std::function<Status()>& body) {
  RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", purpose));
  Status s = body();
  if (s.ok()) s = Exec(db, "COMMIT", purpose);
  // SQLite ends the transaction itself after some errors; then there is nothing to roll back.
  if (s.ok() || sqlite3_get_autocommit(db) != 0) return s;
  if (Status rb = Exec(db, "ROLLBACK", purpose); !rb.ok()) {
    return Status(s.code(), s.message() + "; rolling back: " + rb.message());
  }
  return s;
}

Result<std::unique_ptr<Statement>> Statement::Prepare(sqlite3* db, std::string_view sql,
                                                      std::string purpose) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, purpose);
  }
  // Only writes report to the connection's WriteHealth (a failed read loses nothing).
  WriteHealth* health = nullptr;
  if (stmt != nullptr && (sqlite3_stmt_readonly(stmt) == 0 || StartsWithCommit(sql))) {
    health = WriteHealthOf(db);
  }
  return std::unique_ptr<Statement>(new Statement(db, stmt, std::move(purpose), health));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Status Statement::BindInt64(int index, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, index, v);
  return rc == SQLITE_OK ? Status::OK() : SqliteError(db_, rc, purpose_);
}

Status Statement::BindDouble(int index, double v) {
  int rc = sqlite3_bind_double(stmt_, index, v);
  return rc == SQLITE_OK ? Status::OK() : SqliteError(db_, rc, purpose_);
}

Status Statement::BindText(int index, std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::OK() : SqliteError(db_, rc, purpose_);
}

Status Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return rc == SQLITE_OK ? Status::OK() : SqliteError(db_, rc, purpose_);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    if (health_) health_->RecordSuccess();
    return false;
  }
  Status s = SqliteError(db_, rc, purpose_);
  sqlite3_reset(stmt_);
  if (health_ && IsStorageFault(rc)) health_->RecordFailure(s.message());
  return s;
}

Status Statement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  // A write statement that yields rows (e.g. RETURNING) is still run to completion.
  while (row) {
    ASSIGN_OR_RETURN(row, Step());
  }
  return Status::OK();
}

int64_t Statement::ColumnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::ColumnText(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

bool Statement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

}  // namespace slipway::store
