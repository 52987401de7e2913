#include "config/service_addresses.h"

#include <cctype>
#include <cstdint>
#include <set>

#include "base/fnv.h"
#include "config/project.h"

namespace slipway::config {

std::string AddressBlock(const std::string& project_name) {
  uint64_t h = Fnv1a64Of(project_name);
  return "127." + std::to_string(1 + h % 254) + "." + std::to_string((h >> 8) % 256);
}

bool IsValidHostName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name[0] == '-' || name[0] == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

Result<std::vector<ServiceAddress>> ServiceAddresses(const Project& project) {
  if (project.services.size() > 254) {
    return InvalidInput("project " + project.name + " has " +
                        std::to_string(project.services.size()) +
                        " services; slipway gives service names addresses for 254 at most");
  }
  const std::string block = AddressBlock(project.name);
  std::vector<ServiceAddress> out;
  std::set<std::string> taken;
  for (const auto& [name, svc] : project.services) taken.insert(name);
  int n = 0;
  for (const auto& [name, svc] : project.services) {
    ServiceAddress a;
    a.service = name;
    a.ip = block + "." + std::to_string(++n);
    a.names.push_back(name);
    auto add = [&](const std::string& alias) {
      if (alias.empty() || !IsValidHostName(alias) || !taken.insert(alias).second) return;
      a.names.push_back(alias);
    };
    add(svc.hostname);
    add(svc.container_name);
    for (const std::string& alias : svc.network_aliases) add(alias);
    for (const auto& [other, other_svc] : project.services) {
      for (const auto& [target, alias] : other_svc.links) {
        if (target == name) add(alias);
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::string HostsFileText(const std::string& base, const std::vector<ServiceAddress>& addresses) {
  std::string out = base;
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += "# services of this project (slipway)\n";
  for (const ServiceAddress& a : addresses) {
    out += a.ip;
    for (const std::string& n : a.names) out += " " + n;
    out += '\n';
  }
  return out;
}

}  // namespace slipway::config
