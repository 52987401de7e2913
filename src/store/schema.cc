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
};

}  // namespace

std::span<const MigrationStep> Migrations() { return kSteps; }

}  // namespace slipway::store
