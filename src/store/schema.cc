#include "store/schema.h"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "store/statement.h"

namespace slipway::store {
namespace {

// Append new steps at the end; the version must be the previous one plus one.
constexpr SchemaStep kStoreSteps[] = {
    {1, "events and meta",
     "CREATE TABLE events(id INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL, "
     "service TEXT NOT NULL, instance INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL, "
     "message TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
     1},
    {2, "events time index", "CREATE INDEX events_wall_ms ON events(wall_ms);", 2},
    {3, "the files, env files, profiles and environment the project runs with",
     "CREATE TABLE project_load(id INTEGER PRIMARY KEY CHECK (id = 1), "
     "working_dir TEXT NOT NULL, files TEXT NOT NULL, env_files TEXT NOT NULL, "
     "profiles TEXT NOT NULL, env TEXT NOT NULL DEFAULT '', "
     "project_name TEXT NOT NULL DEFAULT '', loaded_files TEXT NOT NULL, "
     "loaded_env_files TEXT NOT NULL, updated_ms INTEGER NOT NULL);",
     9},
};

constexpr ModuleSchema kStoreSchema{"store", kStoreSteps};

// Steps must be 1, 2, 3, ...: a gap or a repeat is a bug in the module's list.
void CheckSteps(const ModuleSchema& schema) {
  for (size_t i = 0; i < schema.steps.size(); ++i) {
    SLIPWAY_CHECK(schema.steps[i].version == static_cast<int>(i) + 1);
  }
}

Status CreateBookkeeping(sqlite3* db) {
  return Exec(db,
              "CREATE TABLE IF NOT EXISTS schema_modules(module TEXT PRIMARY KEY, "
              "version INTEGER NOT NULL, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
              "create schema_modules");
}

// The highest global step a database from before per-module steps applied (0: none, or a
// database that never had the global list).
Result<int> LegacyVersion(sqlite3* db) {
  ASSIGN_OR_RETURN(auto has, Statement::Prepare(db,
                                                "SELECT COUNT(*) FROM sqlite_master WHERE "
                                                "type = 'table' AND name = 'schema_version'",
                                                "read schema_version"));
  ASSIGN_OR_RETURN(bool row, has->Step());
  if (!row || has->ColumnInt64(0) == 0) return 0;
  ASSIGN_OR_RETURN(auto max, Statement::Prepare(db, "SELECT MAX(version) FROM schema_version",
                                                "read schema_version"));
  ASSIGN_OR_RETURN(row, max->Step());
  return row ? static_cast<int>(max->ColumnInt64(0)) : 0;
}

// The module's row in schema_modules, if any.
Result<std::optional<int>> RecordedVersion(sqlite3* db, const char* module) {
  ASSIGN_OR_RETURN(auto st,
                   Statement::Prepare(db, "SELECT version FROM schema_modules WHERE module = ?1",
                                      "read schema_modules"));
  RETURN_IF_ERROR(st->BindText(1, module));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<int>();
  return std::optional<int>(static_cast<int>(st->ColumnInt64(0)));
}

// How many of the module's leading steps a database at global version `legacy` had applied.
int LegacySteps(const ModuleSchema& schema, int legacy) {
  int n = 0;
  for (const SchemaStep& step : schema.steps) {
    if (step.legacy_version == 0 || step.legacy_version > legacy) break;
    ++n;
  }
  return n;
}

Result<int> CurrentVersion(sqlite3* db, const ModuleSchema& schema) {
  ASSIGN_OR_RETURN(std::optional<int> recorded, RecordedVersion(db, schema.module));
  if (recorded) return *recorded;
  ASSIGN_OR_RETURN(int legacy, LegacyVersion(db));
  return LegacySteps(schema, legacy);
}

Status Record(sqlite3* db, const ModuleSchema& schema, int version, Clock* clock,
              const std::string& purpose) {
  ASSIGN_OR_RETURN(auto ins, Statement::Prepare(db,
                                                "INSERT INTO schema_modules(module, version, name, "
                                                "applied_ms) VALUES (?1, ?2, ?3, ?4) "
                                                "ON CONFLICT(module) DO UPDATE SET version = ?2, "
                                                "name = ?3, applied_ms = ?4",
                                                purpose));
  RETURN_IF_ERROR(ins->BindText(1, schema.module));
  RETURN_IF_ERROR(ins->BindInt64(2, version));
  RETURN_IF_ERROR(ins->BindText(3, version > 0 ? schema.steps[version - 1].name : ""));
  RETURN_IF_ERROR(ins->BindInt64(4, clock->WallMillis()));
  return ins->Run();
}

}  // namespace

const ModuleSchema& StoreSchema() { return kStoreSchema; }

Result<int> ModuleVersion(sqlite3* db, const ModuleSchema& schema) {
  RETURN_IF_ERROR(CreateBookkeeping(db));
  return CurrentVersion(db, schema);
}

Result<int> ApplySchema(sqlite3* db, const ModuleSchema& schema, Clock* clock) {
  CheckSteps(schema);
  RETURN_IF_ERROR(CreateBookkeeping(db));
  ASSIGN_OR_RETURN(int legacy, LegacyVersion(db));
  if (legacy > kLastLegacyVersion) {
    return FailedPrecondition(fmt::format(
        "state database has schema version {}, newer than this slipway supports ({}); use the "
        "newer slipway that wrote it",
        legacy, kLastLegacyVersion));
  }
  const int known = static_cast<int>(schema.steps.size());
  ASSIGN_OR_RETURN(std::optional<int> recorded, RecordedVersion(db, schema.module));
  const int current = recorded ? *recorded : LegacySteps(schema, legacy);
  if (current > known) {
    return FailedPrecondition(fmt::format(
        "state database has schema version {} of its {} tables, newer than this slipway "
        "supports ({}); use the newer slipway that wrote it",
        current, schema.module, known));
  }
  // A database from before per-module steps: what it had is recorded as this module's.
  if (!recorded && current > 0) {
    const std::string purpose = fmt::format("recording the {} tables' version", schema.module);
    RETURN_IF_ERROR(InTransaction(db, purpose, [&]() -> Status {
      ASSIGN_OR_RETURN(std::optional<int> now, RecordedVersion(db, schema.module));
      if (now) return Status::OK();  // another process recorded it
      return Record(db, schema, current, clock, purpose);
    }));
  }
  for (const SchemaStep& step : schema.steps) {
    if (step.version <= current) continue;
    const std::string purpose =
        fmt::format("schema step {} of {} ({})", step.version, schema.module, step.name);
    RETURN_IF_ERROR(InTransaction(db, purpose, [&]() -> Status {
      ASSIGN_OR_RETURN(int now, CurrentVersion(db, schema));
      if (now >= step.version) return Status::OK();  // another process applied it
      RETURN_IF_ERROR(Exec(db, step.sql, purpose));
      return Record(db, schema, step.version, clock, purpose);
    }));
  }
  return known;  // every step is applied now
}

}  // namespace slipway::store
