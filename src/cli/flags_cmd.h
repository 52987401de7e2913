// `slipway flags ...`: feature flags of the running project through the daemon's admin API
// (/api/v1/flags, see api/flags_routes.cc).
//
//   flags list | get KEY | set KEY (--file F | --json '{..}') | enable KEY | disable KEY |
//         rollout KEY PERCENT | target KEY --add attr=value [--variant V] | history KEY |
//         import FILE [--replace] | export [-o FILE] | stale [--days N]
//   every one with --env E (default: the project's default environment), --comment C and
//   --format table|json.
//
// Input is checked here before anything is sent (a missing file, invalid JSON, a percent
// outside 0..100, a target without '=' exit 2 with one line and change nothing); the daemon
// validates the definitions themselves and refuses an invalid change the same way. Changes are
// recorded with the caller's user name as the actor.
//
// Registered once on the root CLI11 app; callbacks run on the main thread and store the exit
// code in *rc.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "cli/context.h"

namespace slipway::cli {

// What `slipway flags get KEY` prints for the daemon's answer (GET /api/v1/flags/KEY), read
// with checked accessors: an answer of another shape is InvalidInput naming the field.
Result<std::string> FlagGetText(const nlohmann::json& answer);

void AddFlagsCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
