#include "api/views.h"

#include <fmt/format.h>

#include <map>
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

namespace {

nlohmann::json SetNumbersJson(const deploy::LiveSetNumbers& n) {
  nlohmann::json j = {{"requests", n.requests}, {"errors_5xx", n.errors_5xx}, {"p95_ms", n.p95_ms}};
  if (n.error_rate) j["error_rate"] = *n.error_rate;
  return j;
}

}  // namespace

nlohmann::json LiveNumbersJson(const deploy::LiveNumbers& n) {
  return {{"t", n.at_ms},
          {"window_s", n.window_s},
          {"new", SetNumbersJson(n.new_set)},
          {"old", SetNumbersJson(n.old_set)}};
}

nlohmann::json DeployLiveJson(deploy::Deployer& deployer) {
  const std::map<std::string, deploy::LiveNumbers> numbers = deployer.SampleLive();
  nlohmann::json out = deployer.Live();
  for (nlohmann::json& job : out["jobs"]) {
    // Checked, not get<>(): a job without a service name gets no numbers instead of a throw.
    const auto service = job.find("service");
    if (service == job.end() || !service->is_string()) continue;
    auto it = numbers.find(service->get_ref<const std::string&>());
    if (it != numbers.end()) job["live"] = LiveNumbersJson(it->second);
  }
  return out;
}

}  // namespace slipway::api
