#include "store/schema.h"

namespace slipway::store {
namespace {

// Append new steps at the end; the version must be the previous one plus one.
constexpr MigrationStep kSteps[] = {
    {1, "events and meta",
     "CREATE TABLE events(id INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL, "
     "service TEXT NOT NULL, instance INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL, "
     "message TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
    {2, "events time index", "CREATE INDEX events_wall_ms ON events(wall_ms);"},
    {3, "backups catalog",
     "CREATE TABLE backups(id INTEGER PRIMARY KEY, database TEXT NOT NULL, "
     "created_ms INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, "
     "kind TEXT NOT NULL, path TEXT NOT NULL, verified_ms INTEGER NOT NULL DEFAULT 0, "
     "verify_status TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX backups_database ON backups(database, created_ms);"},
    {4, "feature flags",
     "CREATE TABLE flag_sets(env TEXT PRIMARY KEY, evaluators TEXT NOT NULL DEFAULT '{}', "
     "metadata TEXT NOT NULL DEFAULT '{}');"
     "CREATE TABLE flags(env TEXT NOT NULL, key TEXT NOT NULL, definition TEXT NOT NULL, "
     "file_definition TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL, "
     "updated_ms INTEGER NOT NULL, evaluated_ms INTEGER NOT NULL DEFAULT 0, "
     "PRIMARY KEY(env, key));"
     "CREATE TABLE flag_audit(id INTEGER PRIMARY KEY, env TEXT NOT NULL, key TEXT NOT NULL, "
     "wall_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
     "before TEXT NOT NULL DEFAULT '', after TEXT NOT NULL DEFAULT '', "
     "comment TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX flag_audit_key ON flag_audit(env, key, id);"},
    {5, "releases",
     "CREATE TABLE releases(id INTEGER PRIMARY KEY, service TEXT NOT NULL, "
     "number INTEGER NOT NULL, version TEXT NOT NULL DEFAULT '', spec_hash TEXT NOT NULL, "
     "spec TEXT NOT NULL, strategy TEXT NOT NULL, created_ms INTEGER NOT NULL, "
     "finished_ms INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, "
     "reason TEXT NOT NULL DEFAULT '', numbers TEXT NOT NULL DEFAULT '{}', "
     "UNIQUE(service, number));"},
    {6, "alert state and history",
     "CREATE TABLE alert_state(rule TEXT NOT NULL, fingerprint TEXT NOT NULL, "
     "labels TEXT NOT NULL, annotations TEXT NOT NULL, state TEXT NOT NULL, "
     "active_ms INTEGER NOT NULL, fired_ms INTEGER NOT NULL DEFAULT 0, "
     "resolved_ms INTEGER NOT NULL DEFAULT 0, value REAL NOT NULL DEFAULT 0, "
     "PRIMARY KEY(rule, fingerprint));"
     "CREATE TABLE alert_history(id INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL, "
     "rule TEXT NOT NULL, fingerprint TEXT NOT NULL, labels TEXT NOT NULL, "
     "state TEXT NOT NULL, value REAL NOT NULL DEFAULT 0);"
     "CREATE INDEX alert_history_wall ON alert_history(wall_ms);"},
    {7, "releases remember the compose file's spec they came from",
     "ALTER TABLE releases ADD COLUMN base_hash TEXT NOT NULL DEFAULT '';"},
    {8, "runs of a database's own migration tool (alembic, django, ...)",
     "CREATE TABLE migration_tool_runs(id INTEGER PRIMARY KEY, database TEXT NOT NULL, "
     "tool TEXT NOT NULL, direction TEXT NOT NULL, command TEXT NOT NULL, "
     "started_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL, ok INTEGER NOT NULL, "
     "before TEXT NOT NULL DEFAULT '', after TEXT NOT NULL DEFAULT '', "
     "output TEXT NOT NULL DEFAULT '', applied_by TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX migration_tool_runs_database ON migration_tool_runs(database, id);"},
    {9, "the files, env files, profiles and environment the project runs with",
     "CREATE TABLE project_load(id INTEGER PRIMARY KEY CHECK (id = 1), "
     "working_dir TEXT NOT NULL, files TEXT NOT NULL, env_files TEXT NOT NULL, "
     "profiles TEXT NOT NULL, env TEXT NOT NULL DEFAULT '', "
     "project_name TEXT NOT NULL DEFAULT '', loaded_files TEXT NOT NULL, "
     "loaded_env_files TEXT NOT NULL, updated_ms INTEGER NOT NULL);"},
};

}  // namespace

std::span<const MigrationStep> Migrations() { return kSteps; }

}  // namespace slipway::store
