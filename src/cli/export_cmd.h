// `slipway export kubernetes`: renders the project as Kubernetes manifests (export/kubernetes.h),
// as one YAML stream on stdout or, with -o DIR, as a folder with a kustomization.yaml.
// What could not be mapped goes to stderr (and into the output's header comment).
// Registered once on the root CLI11 app; the callback runs on the main thread and stores
// the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace slipway::cli {

void AddExportCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
