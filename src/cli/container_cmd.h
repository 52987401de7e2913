// Commands for images and one-off commands: `slipway build [SERVICE...]`,
// `slipway exec [--index N] SERVICE CMD...` and `slipway run SERVICE CMD...`, and the builds
// `up` does first (BuildImages). Registered once on the root CLI11 app; callbacks run on the
// main thread and store the exit code in *rc.
//
//  - build: `podman build` of each service with a `build:` (all that run in a container, or
//    the ones named), tagged `image:` or "<project>-<service>"; one line per image, and on
//    failure one line (the build's last) and exit 1, with nothing started.
//  - exec: in a running instance. A container service: `podman exec [-i] [-t] <container>
//    CMD...` (the container found by its slipway.project/slipway.service labels and instance
//    index). A host service: CMD runs as a new process with the service's environment (plus
//    its instance's PORT) in its working folder — a host process has no namespace to enter.
//    The CLI execs the command itself, so its exit code is slipway's.
//  - run: a one-off that needs no running instance: a new container of the service's image
//    with its environment, mounts and secrets (`--rm`), or on the host as exec does.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/context.h"

namespace slipway::cli {

void AddContainerCommands(CLI::App& app, CliContext& ctx, int* rc);

// Builds the images `up` needs: of the container services among `services` (all when empty)
// and their dependencies that have a `build:` — every one when `force` (up --build), else
// only those whose image does not exist yet. Prints one line per image built.
Status BuildImages(CliContext& ctx, const config::Project& project,
                   const std::vector<std::string>& services, bool force);

}  // namespace slipway::cli
