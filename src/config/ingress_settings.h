// `x-slipway.ingress: true`: the project's routes that name a `host` are served through the
// host's shared front proxy (src/ingress), which owns :80/:443 for every project that opts in;
// such routes need no `listen`. The loader checks the value (a boolean) when it loads; this
// reads it back from the project's compose model, so nothing else of the Project changes.
//
// Pure function; any thread.
#pragma once

namespace slipway::config {

struct Project;

// True when the project says `x-slipway.ingress: true` (false for a Project built by hand).
bool IngressEnabled(const Project& project);

}  // namespace slipway::config
