// `slipway ingress`: runs the host's front proxy (src/ingress) in the foreground. Hidden from
// --help: project daemons start it on demand (detached), or a systemd unit runs it.
// Registered once on the root CLI11 app; the callback runs on the main thread and stores the
// exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

namespace slipway::cli {

void AddIngressCommands(CLI::App& app, int* rc);

}  // namespace slipway::cli
