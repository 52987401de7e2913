#include "api/views.h"

#include <fmt/format.h>

#include <string>

#include "config/compose_names.h"
#include "runtime/log_store.h"

namespace slipway::api {

nlohmann::json PsRowJson(const engine::PsRow& row) {
  std::vector<std::string> ports;
  for (const config::PortMapping& p : row.published) {
    ports.push_back(fmt::format("{}:{}->{}/{}", p.host_ip.empty() ? "0.0.0.0" : p.host_ip,
                                p.published, p.target,
                                config::kTransportProtocolNames.Name(p.protocol)));
  }
  return {{"service", row.service},
          {"instance", row.instance},
          {"state", std::string(engine::PsStateName(row.state))},
          {"health", row.health ? std::string(health::HealthStateName(*row.health)) : ""},
          {"pid", row.pid},
          {"port", row.port},
          {"ports", ports},
          {"restarts", row.restarts},
          {"uptime_s", row.uptime_s},
          {"release", row.release},
          {"set", row.set},
          {"exit", row.exit}};
}

nlohmann::json PsJson(const std::vector<engine::PsRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const engine::PsRow& row : rows) out.push_back(PsRowJson(row));
  return out;
}

nlohmann::json EventJson(const store::Event& e) {
  return {{"id", e.id},           {"time", runtime::FormatWallMillis(e.wall_ms)},
          {"service", e.service}, {"instance", e.instance},
          {"kind", e.kind},       {"message", e.message}};
}

}  // namespace slipway::api
