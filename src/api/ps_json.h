// The `ps` table on the wire: engine::PsRow rows as the JSON GET /api/v1/ps answers (and the
// CLI, the alerting service's service gauges and the tests read):
//   [{"service", "instance", "state", "health", "pid", "port", "ports", "restarts",
//     "uptime_s", "release", "set", "exit"}, ...]
// "state" is engine::PsStateName, "health" health::HealthStateName or "" when not probed,
// "ports" the published ports as "host:published->target/protocol".
//
// Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "engine/engine.h"

namespace slipway::api {

nlohmann::json PsRowJson(const engine::PsRow& row);
nlohmann::json PsJson(const std::vector<engine::PsRow>& rows);

}  // namespace slipway::api
