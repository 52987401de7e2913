// `slipway ingress`: runs the host's front proxy (src/ingress) in the foreground, under a
// keeper of its own (src/keeper, state in the ingress's folder: keeper.lock, keeper.pid) that
// holds :80/:443 and starts the ingress again when it dies, so connections queue instead of
// being refused (`--no-keeper`: bind here, as before). Hidden from --help: project daemons
// start it on demand (detached), or a systemd unit runs it.
// Registered once on the root CLI11 app; the callback runs on the main thread and stores the
// exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

namespace slipway::cli {

void AddIngressCommands(CLI::App& app, int* rc, int argc, char** argv);

}  // namespace slipway::cli
