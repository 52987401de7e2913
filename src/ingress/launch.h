// Starting the host's ingress on demand (src/ingress/ingress.h): a project's daemon that needs
// it and finds no answer on the control socket runs `<binary> ingress` detached — forked
// twice, setsid() (no controlling terminal, its own process group), stdin from /dev/null,
// output appended to `<state>/ingress.log` — with its own environment (so
// `$SLIPWAY_INGRESS_HTTP`, `_HTTPS` and `$SLIPWAY_STATE_DIR` carry over). Two daemons starting
// it at once are fine: the ingress's lock file lets one run and the other exit 0.
//
// Any thread; blocks only for the short-lived intermediate child.
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"

namespace slipway::ingress {

// Starts `binary ingress` detached; returns once the intermediate child has exited (the
// ingress itself runs on). Errors: the fork or the wait failed.
Status SpawnIngress(const std::string& binary, const std::filesystem::path& state_dir);

// The JSON body of a deregistration.
std::string DeregistrationJson(const std::string& project, const std::string& folder);

}  // namespace slipway::ingress
