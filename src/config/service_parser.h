// ServiceParser: turns one merged, normalized service mapping (after
// interpolation, merge and extends) into a typed `Service`, and the
// top-level `secrets` mapping into `Secret`s.
//
// It checks types and values of every key Slipway acts on, reads env_files,
// applies the compose engine's defaults, and reports keys Slipway does not act
// on as warnings ("services.api.networks: ignored by slipway"). Cross-service
// checks (depends_on targets, profiles, port clashes) belong to the loader.
//
// Single-threaded use; one instance per load.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/interpolate.h"
#include "config/node.h"
#include "config/project.h"

namespace slipway::config {

struct ParseContext {
  std::filesystem::path project_dir;
  Lookup environment;  // environ over .env: for `KEY` without a value
  // Turns an absolute path into the name shown in messages.
  std::function<std::string(const std::filesystem::path&)> display;
  std::vector<std::string>* warnings = nullptr;
  std::set<std::string>* warned = nullptr;  // paths already warned about
  // The project being built: its name, top-level volumes and configs, x-slipway.runtime and
  // x-slipway.tls are read while services are parsed (they are parsed first).
  const Project* project = nullptr;
};

// Keys accepted under a service's `x-slipway`.
const std::vector<std::string>& KnownServiceSlipwayKeys();

class ServiceParser {
 public:
  explicit ServiceParser(ParseContext ctx) : ctx_(std::move(ctx)) {}

  // Top-level `secrets`.
  Result<std::map<std::string, Secret>> ParseSecrets(const Node& secrets);

  // One service; `secrets` are the project's declared secrets.
  Result<Service> Parse(const std::string& name, const Node& node,
                        const std::map<std::string, Secret>& secrets);

  // Records "path: ignored by slipway" once.
  void Ignored(const std::string& path);

 private:
  Status ParseKey(const Node& v, const std::string& path, const std::string& key, Service* s,
                  const std::map<std::string, Secret>& secrets);
  Status ParsePorts(const Node& v, const std::string& path, Service* s);
  // One mapping per port: "9100-9101:9100-9101" gives two.
  Result<std::vector<PortMapping>> ParseShortPort(const Node& v, const std::string& path);
  Result<PortMapping> ParseLongPort(const Node& v, const std::string& path);
  Status ParseExpose(const Node& v, const std::string& path, Service* s);
  Status ParseNetworks(const Node& v, const std::string& path, Service* s);
  Status ParseLinks(const Node& v, const std::string& path, Service* s);
  Status ParseDependsOn(const Node& v, const std::string& path, Service* s);
  Status ParseHealthcheck(const Node& v, const std::string& path, Healthcheck* h);
  Status ParseRestart(const Node& v, const std::string& path, RestartPolicy* r);
  Status ParseDeploy(const Node& v, const std::string& path, Service* s);
  Status ParseUpdateConfig(const Node& v, const std::string& path, bool rollback, UpdateConfig* u);
  Status ParseEnvFiles(const Node& v, const std::string& path, Service* s, const Node* environment);
  Status ParseEnvironment(const Node& v, const std::string& path, Service* s);
  // A service's `secrets` (configs = false) or `configs`, appended to s->secrets/configs.
  Status ParseSecretRefs(const Node& v, const std::string& path, Service* s,
                         const std::map<std::string, Secret>& secrets, bool configs = false);
  // volumes, tmpfs, configs and the mounts of secrets (config/volumes_settings.h), and the
  // runtime choice; after secrets and x-slipway.
  Status ParseContainerKeys(const Node& node, const std::string& path, Service* s);
  Status ParseSlipway(const Node& v, const std::string& path, Service* s,
                      const Node* compose_healthcheck);

  ParseContext ctx_;
};

}  // namespace slipway::config
