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
// Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "engine/engine.h"
#include "store/store.h"

namespace slipway::api {

nlohmann::json PsRowJson(const engine::PsRow& row);
nlohmann::json PsJson(const std::vector<engine::PsRow>& rows);
nlohmann::json EventJson(const store::Event& e);

}  // namespace slipway::api
