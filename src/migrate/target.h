// Target: which database a migration or backup talks to, parsed from a URL.
//
// Accepted forms: `postgres://...` / `postgresql://...` (anything libpq takes,
// including a keyword/value conninfo prefixed `postgres:`), and `sqlite:path`,
// `sqlite://path`, `sqlite:///abs/path` (relative paths resolve against a base
// folder, the project's). PostgreSQL parameters are kept as libpq keywords so
// a copy can point at another database on the same server (scratch databases
// for verify) without string surgery on the URL.
//
// Plain data; any thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::migrate {

struct Target {
  enum class Kind { kPostgres, kSqlite };
  Kind kind = Kind::kSqlite;
  std::map<std::string, std::string> pg_params;  // libpq keyword -> value (kPostgres)
  std::filesystem::path sqlite_path;             // absolute (kSqlite)

  bool IsPostgres() const { return kind == Kind::kPostgres; }
  // The database's name: PostgreSQL dbname (default: the user) or the file's stem.
  std::string DatabaseName() const;
  // A libpq keyword/value conninfo ("host='h' port='5432' ...") with every parameter,
  // the password included: for libpq in this process only.
  std::string ConnInfo() const;
  // The same without the password: the --dbname of pg_dump/pg_restore. A child's argv is
  // readable by every local user (/proc/<pid>/cmdline, ps); the password goes through
  // the child's environment instead (PGPASSWORD), readable only by its owner.
  std::string ConnInfoWithoutPassword() const;
  // libpq's `password` parameter, "" when none was given.
  std::string Password() const;
  // The same server, another database (PostgreSQL), or another file (SQLite).
  Target WithDatabase(const std::string& dbname) const;
  // For messages: the URL with any password masked.
  std::string Display() const;
};

// Parses `url`; `base_dir` anchors relative SQLite paths. InvalidInput on a
// malformed or unsupported URL.
Result<Target> ParseTarget(std::string_view url, const std::filesystem::path& base_dir);

}  // namespace slipway::migrate
