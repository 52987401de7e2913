// The project lifecycle commands: up, down, ps, logs, start, stop, restart, events, config.
// Registered once on the root CLI11 app; callbacks run on the main thread and store the
// exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddProjectCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
