// The state database's modules, listed by the composition root: every module that keeps tables
// in `.slipway/state.db` with its schema steps (store/schema.h), in the order the daemon applies
// them at start, so a fresh database has every table before anything serves. Each module also
// applies its own steps when it first uses its tables (a CLI command, a test), so this list is
// where the daemon looks, not what makes a module work.
//
// Constant data; any thread.
#pragma once

#include <vector>

#include "base/status.h"
#include "store/schema.h"
#include "store/store.h"

namespace slipway::daemon {

// store, backup, flags, deploy, alerts, migrate, access: the order their steps were first added in.
std::vector<store::ModuleSchema> StateSchemas();

// Applies every module's pending steps (the store's own are applied by Store::Open).
Status ApplyStateSchemas(store::Store* store);

}  // namespace slipway::daemon
