// Database and backup settings: `x-slipway.databases.<name>` and
// `x-slipway.backups`, parsed and validated at load time (values are already
// interpolated, so `url: ${DATABASE_URL}` from .env works).
//
//   x-slipway:
//     databases:
//       main:
//         url: ${DATABASE_URL}        # postgres://... | sqlite:path (required)
//         migrations: ./migrations    # folder, relative to the project (default "migrations")
//         # or the team's own tool, run as a one-off in the owning service's environment:
//         # migrations: {tool: alembic}   # alembic | django | prisma | rails | knex
//         # migrations: {up: "...", down: "...", pending: "...", status: "..."}
//         format: auto                # auto | slipway | golang-migrate | dbmate | flyway
//         check: SELECT count(*) FROM users   # backup verify's check query
//         lock-timeout: 60s
//         service: api                # whose image runs migrations and backups in a
//                                     # cluster (default: the service whose environment
//                                     # holds the url)
//     backups:
//       dir: .slipway/backups         # relative to the project
//       schedule: "0 3 * * *"         # cron (UTC); omitted = no scheduled backups
//       databases: [main]             # default: every database
//       catch-up: true                # run once at daemon start after missed runs
//       retention: {keep-last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 2}
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/name_table.h"

namespace slipway::config {

struct Node;  // config/node.h (which includes project.h, which includes this)
struct Project;

// Which migrator a database uses: the built-in SQL folder runner, or a team's own tool.
enum class MigrationTool { kNone, kCommands, kAlembic, kDjango, kPrisma, kRails, kKnex };
std::string_view MigrationToolName(MigrationTool t);

// How the files of a migrations folder are named (migrate/source.h reads each): `format`.
enum class MigrationFormat { kAuto, kSlipway, kGolangMigrate, kDbmate, kFlyway };
inline constexpr auto kMigrationFormatNames = MakeNameTable<MigrationFormat>({
    {MigrationFormat::kAuto, "auto"},
    {MigrationFormat::kSlipway, "slipway"},
    {MigrationFormat::kGolangMigrate, "golang-migrate"},
    {MigrationFormat::kDbmate, "dbmate"},
    {MigrationFormat::kFlyway, "flyway"},
});

// How "something is pending" is read from the `pending` command's output (stdout).
enum class PendingRule {
  kLines,           // every non-empty line is one pending migration (explicit commands)
  kCurrentVsHeads,  // alembic: the revisions `status` prints differ from those `pending` prints
  kMatch,           // every line matching `pending_match` is one pending migration
};

// `migrations: {tool: ..., up: ..., ...}`. Commands are shell lines (`sh -c`), run in the
// owning service's environment and working folder.
struct MigrationToolSettings {
  MigrationTool tool = MigrationTool::kNone;  // kNone: the SQL folder of DatabaseSettings
  std::string up;                             // apply everything pending
  std::string down;     // roll back one step ("" = the tool has none: `migrate down` refuses)
  std::string pending;  // prints what is pending (see PendingRule)
  std::string status;   // prints the current state (alembic: the current revision)
  PendingRule pending_rule = PendingRule::kLines;
  std::string pending_match;  // kMatch: a regex in Go's (RE2) syntax, searched in each line
  std::string dir;            // working folder as written ("" = the service's working_dir)
  Duration timeout{600'000};  // per command
};

// The preset of `tool` (kCommands/kNone: empty commands, kLines).
MigrationToolSettings MigrationPreset(MigrationTool tool);

struct DatabaseSettings {
  std::string name;
  std::string url;
  std::string migrations = "migrations";  // as written; resolve against Project::dir
  MigrationToolSettings tool;             // tool.tool != kNone: migrations run by this tool
  MigrationFormat format = MigrationFormat::kAuto;  // kAuto: told from the file names
  std::string check;                                // "" = count of user tables must be > 0
  Duration lock_timeout{60'000};
  std::string service;  // "" = the service whose environment holds the url
  std::string where;    // "file:line:col" of the entry, for later messages
};

struct RetentionSettings {
  int keep_last = 0;  // -1 = unlimited, for every count
  int hourly = 0;
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  int yearly = 0;
};

struct BackupsSettings {
  std::string dir = ".slipway/backups";
  std::string schedule;                // cron; "" = none
  std::vector<std::string> databases;  // empty = all
  bool catch_up = true;
  RetentionSettings retention;
};

// The service that owns a database: its `service`, else the service whose environment holds
// its url (long-running services before one-shot ones, then by name), and that variable's
// name ("" when none holds it). Migration tools run as its one-offs; exports run its image.
struct DatabaseOwner {
  std::string service;  // "" = none found
  std::string url_env;
};
DatabaseOwner OwnerOf(const Project& p, const DatabaseSettings& db);

Status ParseDatabasesSettings(const Node& n, const std::string& path,
                              std::map<std::string, DatabaseSettings>* out);
Status ParseBackupsSettings(const Node& n, const std::string& path, BackupsSettings* out);

}  // namespace slipway::config
