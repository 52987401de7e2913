// UpPlan: what `up` does to a running project, so that it never reverts a deploy.
//
// Desired state is the compose file plus the deploy history. A service whose running release
// was made by `deploy` or `rollback` (not by `up`) keeps that release as long as the file still
// says what it said when the release was made (the release's base_hash): `up` then leaves it
// alone, even though its running spec differs from the file (a deploy's --env, a new image
// label). When the file changed since, the change goes out through the service's deploy
// strategy (Deployer::Deploy), never kill-and-start. Services `up` started are recreated when
// their spec changes, as docker compose does (Engine::Up).
//
// A pure function of its inputs: no engine, no store (the API route gathers them).
// Threads: any.
#pragma once

#include <string>
#include <vector>

#include "config/project.h"

namespace slipway::deploy {

// A running service whose primary release came from a deploy or a rollback.
struct DeployedService {
  std::string name;
  config::Service running;  // the spec its primary group runs
  std::string base_hash;    // the release's base_hash ("" = unknown: treated as changed)
};

struct UpPlan {
  // The project to install in the engine: the file's, with each kept or to-be-deployed
  // service's spec replaced by what runs, so Engine::Up leaves those services as they are.
  config::Project project;
  std::vector<std::string> keep;    // deployed, file unchanged since: left running as is
  std::vector<std::string> deploy;  // deployed, file changed since: ship with its strategy
};

// `file`: the project just loaded. `deployed`: as above (services not in `file` are ignored:
// they stop through `down`/`stop`, not through `up`). `requested`: the services named on the
// command line (empty = all); only those are deployed, the others kept as they run.
UpPlan PlanUp(config::Project file, const std::vector<DeployedService>& deployed,
              const std::vector<std::string>& requested);

}  // namespace slipway::deploy
