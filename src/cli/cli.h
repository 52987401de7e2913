// The slipway command line: parses argv, runs one command, returns the exit code
// (0 success, 1 failed operation, 2 bad input). Called once, from main().
#pragma once

namespace slipway::cli {

int Main(int argc, char** argv);

}  // namespace slipway::cli
