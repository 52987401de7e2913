// `slipway backup ...`: create, list, verify, restore and prune database
// backups; the catalog lives in the project's state store.
//
// Registered once on the root CLI11 app; callbacks run on the main thread and
// store the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddBackupCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
