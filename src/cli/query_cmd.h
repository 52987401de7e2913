// `slipway query EXPR [--time T] [--range 1h --step 15s] [--format json]`: PromQL over the
// daemon's series store (GET /api/v1/query or /api/v1/query_range, api/query_routes.cc).
// Registered once on the root CLI11 app; the callback runs on the main thread and stores the
// exit code in *rc (2 for an expression or parameter the daemon calls bad_data).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddQueryCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
