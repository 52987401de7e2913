// `slipway tokens create NAME --role viewer|deployer|admin` (prints the new token once),
// `slipway tokens list`, `slipway tokens revoke NAME` and `slipway audit` (who changed what
// through the API): all through the daemon's API (/api/v1/tokens, /api/v1/audit), so a remote
// caller needs an admin's token for the first three. Registered once on the root CLI11 app;
// callbacks run on the main thread and store the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddAccessCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
