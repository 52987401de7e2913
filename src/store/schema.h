// Schema: the ordered list of migration steps that build `.slipway/state.db`.
//
// Step N takes the database from version N-1 to N. Store::Open() applies every
// step newer than the database's recorded version, each in its own transaction,
// and records it in `schema_version`. Steps are append-only: never edit or
// reorder a released step; add a new one at the end of the list in schema.cc
// (one line: version, name, SQL).
//
// Plain constant data; any thread may read it.
#pragma once

#include <span>

namespace slipway::store {

struct MigrationStep {
  int version;       // 1, 2, 3, ... consecutive
  const char* name;  // short description, stored with the applied version
  const char* sql;   // one or more statements; run inside the step's transaction
};

// The steps this binary knows, in version order.
std::span<const MigrationStep> Migrations();

}  // namespace slipway::store
