// `slipway alerts [--format json]`, `alerts test EXPR`, `alerts export`, the silences
// (`alerts silence MATCHER... --for 2h --comment TEXT`, `alerts silences`, `alerts expire ID`)
// and `slipway status`.
// Registered once on the root CLI11 app; callbacks run on the main thread and store the exit
// code in *rc.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/context.h"

namespace slipway::cli {

// The daemon's /health/detailed answer as `slipway status` shows it.
struct StatusAnswer {
  std::string overall;  // "ok", "degraded" or "down"
  int64_t alerts_firing = 0;
  std::vector<std::vector<std::string>> services;    // NAME, STATUS, RESTARTS, ""
  std::vector<std::vector<std::string>> components;  // proxy, store, each database
};
// Reads the answer with checked accessors: one of another shape is InvalidInput naming the
// field (e.g. "services.web.restarts: expected a count of restarts, got a string").
Result<StatusAnswer> ReadStatusAnswer(const nlohmann::json& answer);

void AddAlertsCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
