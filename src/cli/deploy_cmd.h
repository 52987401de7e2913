// The deploy commands: deploy, rollback, releases. Registered once on the root CLI11 app;
// callbacks run on the main thread and store the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

// `argc`/`argv` (the process's, outliving the app): where `--` stood, which CLI11 does not
// keep (cli/deploy_words.h).
void AddDeployCommands(CLI::App& app, CliContext& ctx, int* rc, int argc, const char* const* argv);

}  // namespace slipway::cli
