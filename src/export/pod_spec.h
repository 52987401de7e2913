// Pod spec of one service for `slipway export kubernetes`: the container (image,
// command/args, environment from a ConfigMap and a Secret, ports, probes, user,
// secrets as files under /run/secrets) and the pod settings around it.
//
// Internal to the export module (kubernetes.cc assembles the objects). Each function
// appends what it could not map to `notes` ("services.api.user: ..."). Stateless; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/project.h"
#include "export/extensions.h"

namespace slipway::exporter {

using Notes = std::vector<std::string>;

// A port's protocol as Kubernetes writes it: "TCP", "UDP", "SCTP".
std::string KubernetesProtocol(config::TransportProtocol p);

// Whole seconds, rounded up; at least `min`.
int Seconds(Duration d, int min = 0);

// The port the app listens on in the cluster (PORT): the first port's target, else
// the health check's port, else 8080 when a http/tcp check needs one (noted); 0 = none.
int ContainerPort(const config::Service& s, Notes* notes);

// readinessProbe (and startupProbe when start_period > 0) for the health check;
// null when the service has none. `port` is the container port.
nlohmann::json ReadinessProbe(const config::Healthcheck& h, int port);
nlohmann::json StartupProbe(const config::Healthcheck& h, int port);

// securityContext for compose `user` ("uid" or "uid:gid"); null when empty or not numeric.
nlohmann::json SecurityContext(const config::Service& s, Notes* notes);

// Names of the per-service configuration objects.
std::string ConfigMapName(const ObjectMeta& m);
std::string EnvSecretName(const ObjectMeta& m);
// The Secret that holds one compose secret (shared by every service that uses it).
std::string FileSecretName(const std::string& project, const std::string& secret);
// A ConfigMap/Secret key for a compose name ([-._a-zA-Z0-9]).
std::string DataKey(const std::string& name);
// True when `k` can be a ConfigMap/Secret data key: 1 to 253 of [-._a-zA-Z0-9]. Variables
// with other names go inline into the container.
bool IsConfigMapKey(const std::string& k);

struct PodInput {
  const config::Service* service = nullptr;
  ObjectMeta meta;
  std::string image;
  int port = 0;             // ContainerPort()
  bool has_config = false;  // a ConfigMap with the plain environment exists
  bool has_env_secret = false;
  // Variables that carry secrets, every one a declared secret feeds included: only in the
  // Secret, never inline in the pod spec.
  std::set<std::string> secret_keys;
  nlohmann::json resources;  // container resources (ContainerResources), null = none
  bool probes = true;        // false for Jobs
};

// The pod template spec (containers, volumes, terminationGracePeriodSeconds, ...).
nlohmann::json PodSpec(const PodInput& in, Notes* notes);

// True when `key` is a valid annotation/label key (optional DNS prefix + '/' + name).
bool IsQualifiedName(const std::string& key);

}  // namespace slipway::exporter
