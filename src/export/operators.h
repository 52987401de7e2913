// Export of the parts of a project that map to operators' custom resources and to the
// container's resources, for `slipway export kubernetes`:
//  - x-slipway.flags → per flag environment an OpenFeature Operator `FeatureFlag`
//    (core.openfeature.dev/v1beta1, spec.flagSpec.flags), the `FeatureFlagSource` that
//    reads it and a `Flagd` (a flagd Deployment + Service the operator runs, serving OFREP
//    as Slipway's daemon does);
//  - x-slipway.alerts rules → one prometheus-operator `PrometheusRule`
//    (monitoring.coreos.com/v1);
//  - compose deploy.resources → the container's resources.limits / requests.
// Everything these cannot express is appended to `notes` (the not-mapped list).
//
// Stateless functions over plain data; any thread. Flag files are read through `read_file`.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/project.h"

namespace slipway::exporter {

using ReadFileFn = std::function<Result<std::string>(const std::filesystem::path&)>;

// The port flagd serves OFREP on (the operator's Flagd Service exposes it).
inline constexpr int kFlagdOfrepPort = 8016;

// FeatureFlag, FeatureFlagSource and Flagd objects per environment of x-slipway.flags (none
// when flags are not configured). A flag document that is not JSON (or YAML for .yaml
// files), or has no `flags` mapping, is an InvalidInput naming the environment and file; a
// flag the CRD cannot hold (state not ENABLED/DISABLED, defaultVariant not a string, ...) is
// left out and noted.
Result<std::vector<nlohmann::json>> RenderFlags(const config::Project& p,
                                                const std::string& namespace_name,
                                                const ReadFileFn& read_file,
                                                std::vector<std::string>* notes);

// One PrometheusRule holding x-slipway.alerts.rules in one group (null when there are no
// rules). Notes rules over slipway_* metrics, the built-in rules and the receivers.
nlohmann::json RenderPrometheusRule(const config::Project& p, const std::string& namespace_name,
                                    std::vector<std::string>* notes);

// The container's `resources` from the service's deploy.resources as the loader read them
// (config::ResourceSettings, the values `up` applies): limits → limits, reservations →
// requests; null when none. cpus 0.5 → "500m", memory bytes → exact Ki/Mi/Gi. A pids limit
// has no per-container equivalent and is noted. The loader has already refused bad values
// and a reservation above its limit, so nothing here can fail.
nlohmann::json ContainerResources(const config::Service& s, std::vector<std::string>* notes);

// CPUs (0.5, 2) as a Kubernetes quantity ("500m", "2"): whole milli-CPUs, a finer value
// rounded up (Kubernetes' unit).
std::string CpuQuantity(double cpus);
// Bytes as the exact Kubernetes quantity with the largest binary unit that divides them
// ("512Mi", "1536Mi", "2Gi", "1000").
std::string MemoryQuantity(long long bytes);

}  // namespace slipway::exporter
