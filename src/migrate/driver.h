// Driver: the small interface the migration runner and backups need from a
// database, with one implementation over libpq and one over the SQLite C API.
//
// A Driver owns one connection. It is not thread-safe: one thread uses it at a
// time (two concurrent `migrate up` runs use two drivers, usually in two
// processes). SQL parameters are written `$1`, `$2`, ... for both databases
// (SQLite accepts `$1` as a named parameter), and values travel as text.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "migrate/target.h"

namespace slipway::migrate {

// Why a script failed, in terms a person can act on.
struct ScriptError {
  std::string message;          // the database's message, e.g. `column "x" does not exist`
  std::string sqlstate;         // PostgreSQL SQLSTATE ("" for SQLite)
  std::string detail;           // PostgreSQL DETAIL/HINT, joined ("" when none)
  std::string statement;        // the failing statement's text
  size_t statement_offset = 0;  // byte offset of the statement in the script
  // Byte offset of the error in the script (PostgreSQL's position / SQLite's
  // error offset); npos when the database did not say.
  size_t error_offset = std::string::npos;
};

using Row = std::vector<std::optional<std::string>>;

class Driver {
 public:
  virtual ~Driver() = default;

  // Opens a connection. `application` names it to the server (PostgreSQL's
  // application_name) so a lock holder can be identified.
  static Result<std::unique_ptr<Driver>> Open(const Target& target,
                                              const std::string& application = "slipway");

  virtual const Target& target() const = 0;

  // Runs a script of one or more statements, statement by statement, in the
  // current transaction state (no implicit BEGIN). On failure, fills `err`
  // (when non-null) and returns the error.
  virtual Status ExecScript(std::string_view sql, ScriptError* err) = 0;

  // One statement with text parameters; returns every row as text (NULL -> nullopt).
  virtual Result<std::vector<Row>> Query(std::string_view sql,
                                         const std::vector<std::string>& params = {}) = 0;

  Status Exec(std::string_view sql, const std::vector<std::string>& params = {}) {
    return Query(sql, params).status();
  }

  // The migration lock: tries once, without waiting (the caller polls).
  virtual Result<bool> TryLock() = 0;
  virtual Status Unlock() = 0;
  // Who holds the lock, for the timeout message ("" when unknown/free).
  virtual std::string LockHolder() = 0;

  // A stable text rendering of the user schema (tables, columns, indexes,
  // constraints, views), excluding `exclude_table`; equal renderings mean
  // equal schemas for `migrate verify`.
  virtual Result<std::string> SchemaFingerprint(const std::string& exclude_table) = 0;

  // Whether a table of that name exists (in the search path / main schema).
  virtual Result<bool> TableExists(const std::string& name) = 0;

  // Number of user tables; 0 means "empty" for restore's overwrite guard.
  virtual Result<int64_t> CountUserTables() = 0;

  // A new empty database on the same server (PostgreSQL) or a new file beside
  // the target (SQLite), and its removal. Used by verify for both migrations
  // and backups.
  virtual Result<Target> CreateScratchDatabase(const std::string& hint) = 0;
  virtual Status DropDatabase(const Target& scratch) = 0;
};

// Drops the scratch database on destruction (best effort).
class ScratchDatabase {
 public:
  static Result<std::unique_ptr<ScratchDatabase>> Create(const Target& like,
                                                         const std::string& hint);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const Target& target() const { return scratch_; }

 private:
  ScratchDatabase(std::unique_ptr<Driver> admin, Target scratch)
      : admin_(std::move(admin)), scratch_(std::move(scratch)) {}
  std::unique_ptr<Driver> admin_;
  Target scratch_;
};

// Formats a ScriptError as one line: "file:line:col: message (SQLSTATE x) in: stmt".
std::string FormatScriptError(const ScriptError& e, const std::string& file, int first_line,
                              std::string_view script);

}  // namespace slipway::migrate
