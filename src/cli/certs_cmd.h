// `slipway certs issue NAME...` (one ACME issuance by hand, the result in the certificate
// store) and `slipway certs status` (the project's certificates as its daemon manages them,
// GET /api/v1/certs; with NAME..., what the store holds and when it renews, no daemon needed).
// Registered once on the root CLI11 app; callbacks run on the main thread and store the exit
// code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddCertsCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
