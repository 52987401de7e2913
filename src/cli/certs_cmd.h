// `slipway certs issue NAME...` (one ACME issuance by hand, the result in the certificate
// store) and `slipway certs status NAME...` (what is stored and when it renews).
// Registered once on the root CLI11 app; callbacks run on the main thread and store the exit
// code in *rc. Neither needs a project or a daemon.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddCertsCommands(CLI::App& app, int* rc);

}  // namespace slipway::cli
