// Dependency graph of a project's services (compose `depends_on`).
//
// Pure functions over an immutable config::Project: any thread may call them.
// Orders are deterministic: among services whose order the dependencies leave
// open, names sort ascending, so `up` starts services in the same order every
// time and tests can assert exact sequences.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "config/project.h"

namespace slipway::engine {

// OK when every one of `services` is in the project; else InvalidInput naming the first that
// is not (`no such service: "nope"`).
Status CheckServiceNames(const config::Project& p, const std::vector<std::string>& services);

// Services needed to run `targets` (empty = all), dependencies first.
// Dependencies with `required: false` that are not in the project are skipped.
// Errors (InvalidInput): a target that is not a service; a required dependency
// on an unknown service ("<loc>: services.api.depends_on: unknown service
// \"dbb\""); a cycle ("<loc>: services.a.depends_on: dependency cycle:
// a -> b -> c -> a", starting at the cycle's first name).
Result<std::vector<std::string>> StartOrder(const config::Project& p,
                                            const std::vector<std::string>& targets);

// `services` (e.g. the running set) ordered dependents first: the reverse of
// their start order. Dependencies through services outside the set still
// count (a -> b -> c with {a, c} stops a before c). Names not in the project
// come first (nothing in the project can depend on them). Never fails: a
// cycle is broken at the first name so everything is still stopped.
std::vector<std::string> StopOrder(const config::Project& p,
                                   const std::vector<std::string>& services);

// Services that depend directly on `service`, sorted by name.
std::vector<std::string> Dependents(const config::Project& p, const std::string& service);

}  // namespace slipway::engine
