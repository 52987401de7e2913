// The slipway command line: parses argv, runs one command, returns the exit code
// (0 success, 1 failed operation, 2 bad input). Main is called once, from main().
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/context.h"

namespace slipway::cli {

int Main(int argc, char** argv);

// Every command and option of the command line, with their value checks (cli/checks.h) and
// callbacks; a callback reads `ctx` and stores its exit code in *rc. Main parses argv with it;
// tests walk it (every option that takes a value has a row in the hostile-values table).
// `ctx`, `rc` and `argv` must outlive the app.
std::unique_ptr<CLI::App> BuildApp(CliContext& ctx, int* rc, int argc, char** argv);

}  // namespace slipway::cli
