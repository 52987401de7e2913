// `slipway query EXPR [--time T] [--range 1h --step 15s] [--format json]`: PromQL over the
// daemon's series store (GET /api/v1/query or /api/v1/query_range, api/query_routes.cc).
// Registered once on the root CLI11 app; the callback runs on the main thread and stores the
// exit code in *rc (2 for an expression or parameter the daemon calls bad_data).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/context.h"

namespace slipway::cli {

// What `slipway query` prints for the daemon's answer to /api/v1/query or /query_range.
struct QueryLines {
  std::vector<std::string> lines;
  bool no_data = false;  // an empty vector or matrix
};
// Reads the answer with checked accessors: one of another shape is InvalidInput naming the
// field (e.g. "data.result[0].value: expected [unix time, "value"], got a string").
Result<QueryLines> ReadQueryAnswer(const nlohmann::json& answer);

void AddQueryCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
