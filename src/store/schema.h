// Schema: how the tables of `.slipway/state.db` are built and upgraded, module by module.
//
// A module that keeps tables in the state database owns their steps: a ModuleSchema (its name
// and its SchemaSteps, versions 1, 2, 3, ... consecutive) defined beside the code that uses
// the tables, and applied with ApplySchema() before that code's first statement (its
// Open/Create). Store::Open() applies the store's own (events, meta, the project load); the
// daemon, as the composition root, applies every module's at start (daemon/state_schemas.h).
// Each module's version is recorded in `schema_modules`, so modules never share a numbering
// and a binary that links only some modules (a test, a CLI command) upgrades only what it uses.
// Steps are append-only: never edit or reorder a released step; add one at the end of the
// module's list.
//
// Databases written before steps were per module recorded one global version (table
// `schema_version`, steps 1..kLastLegacyVersion in the order they were added). A step that was
// one of those names it in `legacy_version`: for a module with no row in `schema_modules`
// yet, its leading steps whose legacy version the database had reached count as applied (and
// are recorded so on first use). `schema_version` is read, never written any more.
//
// ApplySchema: the thread that owns the connection. The step lists are constant data.
#pragma once

#include <sqlite3.h>

#include <span>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::store {

struct SchemaStep {
  int version;             // 1, 2, 3, ... consecutive within the module
  const char* name;        // short description, stored with the applied version
  const char* sql;         // one or more statements; run inside the step's transaction
  int legacy_version = 0;  // its number in the global list before per-module steps (0: none)
};

struct ModuleSchema {
  const char* module;  // "store", "deploy", ...: the key in `schema_modules`
  std::span<const SchemaStep> steps;
};

// The last step of the global list older binaries applied (the project load): a database whose
// `schema_version` is beyond it was written by something newer than every binary that kept it.
inline constexpr int kLastLegacyVersion = 9;

// Applies the steps of `schema` that `db` has not applied yet, each in its own IMMEDIATE
// transaction (a second process applying the same steps at once waits, then finds them done).
// FailedPrecondition, naming the module and both versions, when the database has more steps of
// the module than this binary knows; a failing step rolls back and names itself:
//   schema step 2 of deploy (releases remember ...): no such table: releases
// Answers the module's version afterwards (the number of its steps).
Result<int> ApplySchema(sqlite3* db, const ModuleSchema& schema, Clock* clock);

// The version of `module` the database records (0: none of its steps applied); a database
// from before per-module steps answers from its global version, as ApplySchema would count it.
Result<int> ModuleVersion(sqlite3* db, const ModuleSchema& schema);

// The store's own tables: events, meta and the project load.
const ModuleSchema& StoreSchema();

}  // namespace slipway::store
