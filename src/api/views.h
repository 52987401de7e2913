// How engine and store rows look on the wire: the one JSON shape of each, used by the routes,
// and by the CLI where it reads the same rows from state.db while no daemon runs.
//
// `ps`: engine::PsRow rows as GET /api/v1/ps answers (the CLI, the alerting service's service
// gauges and the tests read them):
//   [{"service", "instance", "state", "health", "pid", "port", "ports", "restarts",
//     "uptime_s", "release", "set", "exit"}, ...]
// "state" is engine::PsStateName, "health" health::HealthStateName or "" when not probed,
// "ports" the published ports as "host:published->target/protocol".
//
// Events: store::Event as GET /api/v1/events answers and `slipway events --format json` prints:
//   {"id", "time" (RFC 3339 UTC with milliseconds), "service", "instance", "kind", "message"}
//
// The running deploys (GET /api/v1/deploy/live, the event stream's `deploy` event):
// deploy::Deployer::Live(), each job with its sets' numbers over the last second or so beside
// its analysis window:
//   "live": {"t" (wall ms), "window_s", "new": {"requests", "errors_5xx", "p95_ms",
//            "error_rate" (absent without responses)}, "old": {...}}
// (absent until the job's sets were read twice).
//
// Pure functions; any thread; DeployLiveJson: the control loop (it reads the deployer).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "deploy/deployer.h"
#include "deploy/live_sets.h"
#include "engine/engine.h"
#include "store/store.h"

namespace slipway::api {

nlohmann::json PsRowJson(const engine::PsRow& row);
nlohmann::json PsJson(const std::vector<engine::PsRow>& rows);
nlohmann::json EventJson(const store::Event& e);
nlohmann::json LiveNumbersJson(const deploy::LiveNumbers& n);
nlohmann::json DeployLiveJson(deploy::Deployer& deployer);

}  // namespace slipway::api
