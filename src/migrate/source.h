// Migration sources: reads a migrations folder in one of the layouts teams
// already use, into an ordered list of migrations with checksums.
//
//   slipway        NNNN_name.up.sql + optional NNNN_name.down.sql
//   golang-migrate <version>_<name>.up.sql / .down.sql (same shape as slipway's)
//   dbmate         <version>_<name>.sql with `-- migrate:up` / `-- migrate:down`
//                  sections; `transaction:false` after a marker runs it outside one
//   flyway         V<ver>__<desc>.sql (+ undo U<ver>__<desc>.sql); `V1_2` is 1.2;
//                  a `V1__x.sql.conf` with executeInTransaction=false is honoured
//
// Any format also honours a `-- slipway:no-transaction` line. Versions compare
// numerically by their dot/underscore-separated parts, so 0002 == 2 < 10.
// The checksum is SHA-256 over the up script (for dbmate the whole file).
//
// Pure functions over the file system; any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/databases_settings.h"

namespace slipway::migrate {

// The names are config::kMigrationFormatNames (x-slipway.databases.<db>.format).
using Format = config::MigrationFormat;

std::string_view FormatName(Format f);
// "slipway", "golang-migrate", "dbmate", "flyway", "auto"; InvalidInput otherwise.
Result<Format> ParseFormat(std::string_view s);

// Numeric version order; "0002" == "2", "1.10" > "1.9".
int CompareVersions(std::string_view a, std::string_view b);

struct Script {
  std::filesystem::path file;  // where it came from (for messages)
  std::string sql;
  int first_line = 1;  // line of `sql`'s first byte in `file`
  bool transactional = true;
};

struct Migration {
  std::string version;  // as written in the file name (flyway: '_' shown as '.')
  std::string name;     // description part of the file name
  Script up;
  bool has_down = false;
  Script down;
  std::string checksum;  // hex SHA-256
};

struct Source {
  Format format = Format::kSlipway;   // the detected/declared layout
  std::vector<Migration> migrations;  // ascending version
  std::vector<std::string> warnings;  // e.g. ignored repeatable flyway scripts
};

// Reads `dir`. A missing folder is InvalidInput; an empty folder is no migrations.
// Files that look like another layout's, duplicate versions and down files
// without an up file are InvalidInput naming the file.
Result<Source> LoadSource(const std::filesystem::path& dir, Format format);

// `migrate new NAME`: writes the empty file(s) for the next version in the
// folder's format (kAuto: the detected one, slipway for an empty folder) and
// returns their paths. Sequential formats take max+1; dbmate uses a UTC
// timestamp from `clock`.
Result<std::vector<std::filesystem::path>> CreateMigrationFiles(const std::filesystem::path& dir,
                                                                Format format,
                                                                const std::string& name,
                                                                Clock* clock);

}  // namespace slipway::migrate
