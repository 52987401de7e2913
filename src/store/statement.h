// Statement: a prepared SQLite statement with Status-returning steps.
//
// A thin RAII wrapper over sqlite3_stmt so every table owner (events, releases,
// flags, backups) writes the same few lines: prepare once, Reset(), bind, Step().
// Each statement carries a short "purpose" (e.g. "append event") that prefixes
// every error, so a failure reads "store: append event: database is locked".
//
// A failed or successful write reports to the connection's WriteHealth (write_health.h), if
// the connection has one, so storage faults are visible whoever owns the table.
//
// A Statement belongs to one connection and must be used on the thread that
// uses that connection; it must be destroyed before the connection is closed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/write_health.h"

namespace slipway::store {

// The Status for the last error on `db`: "store: <purpose>: <sqlite message>".
// SQLITE_BUSY/LOCKED map to kUnavailable, everything else to kIoError.
Status SqliteError(sqlite3* db, int rc, std::string_view purpose);

// Runs one or more SQL statements without results (DDL, BEGIN/COMMIT, PRAGMAs). A storage
// fault counts as a failed write; success counts as a write when it changed rows or
// committed.
Status Exec(sqlite3* db, std::string_view sql, std::string_view purpose);

// Runs `body` in an IMMEDIATE transaction: committed when it succeeds, rolled back when it or
// the COMMIT fails (a failed COMMIT, e.g. SQLITE_BUSY, leaves the transaction open). The cause
// is returned, with a failed rollback appended to its message; `purpose` names every statement.
Status InTransaction(sqlite3* db, std::string_view purpose, const std::function<Status()>& body);

class Statement {
 public:
  static Result<std::unique_ptr<Statement>> Prepare(sqlite3* db, std::string_view sql,
                                                    std::string purpose);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Resets the statement and clears its bindings, ready for a new execution.
  void Reset();

  // Parameters are 1-based, as in SQLite.
  Status BindInt64(int index, int64_t v);
  Status BindDouble(int index, double v);
  Status BindText(int index, std::string_view v);
  Status BindNull(int index);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows (INSERT/UPDATE/DELETE) to completion.
  Status Run();

  int64_t ColumnInt64(int col) const;
  std::string ColumnText(int col) const;  // "" for NULL
  bool ColumnIsNull(int col) const;

  sqlite3_stmt* raw() { return stmt_; }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string purpose, WriteHealth* health)
      : db_(db), stmt_(stmt), purpose_(std::move(purpose)), health_(health) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string purpose_;
  WriteHealth* health_;  // the connection's, looked up at Prepare; nullptr: not tracked or a read
};

}  // namespace slipway::store
