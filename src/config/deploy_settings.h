// DeploySettings: a service's `x-slipway.deploy` section (strategy, canary steps, analysis
// thresholds, hooks, rollback window), parsed and validated at load time.
//
// Plain data owned by config::Service; any thread may read it. Durations are milliseconds.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/deploy_strategy.h"

namespace slipway::config {

struct Node;  // config/node.h (which includes project.h, which includes this)

// When the new set is judged bad (see deploy/analysis.h).
struct DeployAnalysis {
  double max_error_rate = 0.05;  // share of 5xx responses in the window
  Duration max_p95{1'000};       // p95 breaches above max(max_p95, p95_factor × old set's p95)
  double p95_factor = 2.0;
  int health_failures = 3;  // consecutive failed probes of any new instance
  int min_requests = 20;    // fewer requests in the window: no rate/latency verdict yet
  Duration window{10'000};  // sliding window the rates are taken over
  Duration interval{200};   // how often the proxy's counters are sampled
};

// One step of `hooks.pre`. Steps run in order before the new release starts; the first
// failure aborts the deploy with the old release still serving.
//
//   hooks:
//     pre: ./check.sh                # one command (string or argv list), as before
//     pre: [backup, migrate]         # built-in steps
//     pre:
//       - backup: main               # back up (and verify) one database; bare = every one
//       - migrate                    # migrate up; backs up first when migrations are pending
//       - run: alembic upgrade head  # a project's own command
//
// A list of plain words is one command unless one of them is `backup` or `migrate`; write a
// command that is literally called so as `{run: [backup]}`.
struct HookStep {
  enum class Kind { kRun, kBackup, kMigrate };
  Kind kind = Kind::kRun;
  std::vector<std::string> command;  // kRun: argv
  std::string database;              // kBackup / kMigrate: "" = every configured database
  std::string where;                 // "file:line:col", for messages
  std::string path;                  // "services.api.x-slipway.deploy.hooks.pre[1]"
  std::string Describe() const;      // "backup main", "migrate", "run ./x.sh"
};

struct DeploySettings {
  // Unset = blue-green for services the proxy serves, recreate otherwise (deploy/deployer.cc).
  std::optional<DeployStrategy> strategy;
  std::vector<int> steps = {5, 25, 50, 100};  // canary weights (percent of traffic)
  Duration step_duration{10'000};             // time at each canary step
  Duration monitor{10'000};                   // analysis after a blue-green switch
  Duration health_timeout{60'000};            // the new set must be ready within this
  Duration rollback_window{300'000};          // old set kept warm after a switch
  Duration drain{1'000};                      // out of rotation before being stopped
  std::string sticky_cookie;                  // canary: pin clients to a set by this cookie
  std::vector<std::string> smoke;             // command run against the new set before a switch
  std::vector<HookStep> pre_hook;             // hooks.pre, in order; a failure aborts
  std::vector<std::string> post_hook;         // after success
  DeployAnalysis analysis;
};

// The known keys, for messages.
const std::vector<std::string>& DeploySettingsKeys();

// Parses `x-slipway.deploy` (a mapping) at `path` into `out` (which holds the defaults).
Status ParseDeploySettings(const Node& n, const std::string& path, DeploySettings* out);

// The strategies `strategy` may name (kDeployStrategyNames in table order).
const std::vector<std::string>& DeployStrategies();

}  // namespace slipway::config
