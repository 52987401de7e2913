// One-off processes of a service: what `slipway run SERVICE CMD...` starts, and what runs a
// database's migration tool (migrate/tool.h) before a deploy. One place decides what such a
// process sees, so a migration runs exactly as a person's `slipway run` would.
//
//  - a host service: CMD as a new process with slipway's environment, then the service's
//    `environment`, then SLIPWAY_PROJECT/SERVICE/INSTANCE (and PORT when given), in the
//    service's working folder;
//  - a container service: a new `--rm` container of its image (mounts, secrets, environment,
//    --network=host) whose command is CMD (the service's own when CMD is empty). The image must
//    exist (`slipway build`) and the service's assets are prepared here
//    (runtime/container_assets.h).
//
// Plain functions; any thread. The container form runs the engine's checks (blocking).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/project.h"
#include "runtime/process.h"

namespace slipway::runtime {

// The environment of a host one-off of `s` (instance `index`; PORT only when port > 0).
std::map<std::string, std::string> OneOffEnvironment(const config::Project& p,
                                                     const config::Service& s, int index, int port);

// The process a one-off of `s` running `cmd` is (see above). `name` tells apart concurrent
// one-offs' containers (slipway-<project>-<service>-<name>-0). `extra_env` is added last
// (e.g. SLIPWAY_DATABASE_URL for migration tools).
Result<ProcessSpec> OneOffSpec(const config::Project& p, const config::Service& s,
                               const std::vector<std::string>& cmd, const std::string& name,
                               const std::map<std::string, std::string>& extra_env = {});

// Runs `spec` to the end, stdout and stderr kept apart (each capped at 64 KiB, line by line);
// killed (DeadlineExceeded) after `timeout`. Blocks the calling thread.
Result<ExitStatus> RunCapture(const ProcessSpec& spec, Duration timeout, std::string* out,
                              std::string* err);

}  // namespace slipway::runtime
