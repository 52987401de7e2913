#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace slipway::cli {

int Main(int argc, char** argv) {
  CLI::App app{"slipway: run and deploy a Compose project", "slipway"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("slipway 0.1.0\n"); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace slipway::cli
