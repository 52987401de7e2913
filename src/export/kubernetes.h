// ExportKubernetes: renders a resolved Compose project as Kubernetes manifests
// (`slipway export kubernetes`), for teams that move the same project to a cluster.
//
// Per long-running service a Deployment (or, with --rollouts argo, an Argo Rollouts
// `Rollout` for blue-green/canary services), a ConfigMap for its environment and a
// Secret for every variable that can carry a secret (declared secrets, secret names, URL
// passwords, values config::SecretsOf knows) and its secret files; per service that others
// wait on with service_completed_successfully a Job; per published port a ClusterIP
// Service; routes become an Ingress, migrations a Job and backup schedules CronJobs
// (extensions.h); flags OpenFeature Operator objects, alert rules a PrometheusRule and
// deploy.resources the container's resources (operators.h).
// Every setting that has no Kubernetes equivalent is listed in `Export::unmapped`,
// which goes to stderr and into the comment at the top of the output.
//
// Output is deterministic: objects in apply order (config, jobs, workloads, services,
// ingress, cron jobs), each kind sorted by name, keys of every mapping sorted.
// Stateless functions over plain data; any thread. File secrets are read (only with
// `secret_values`) through `ExportOptions::read_file`.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "config/project.h"

namespace slipway::exporter {

enum class Rollouts { kNone, kArgo };

struct ExportOptions {
  std::string namespace_name;                 // --namespace; "" = leave it to kubectl
  Rollouts rollouts = Rollouts::kNone;        // --rollouts argo
  std::map<std::string, std::string> images;  // --image SERVICE=REF, wins over the compose file
  // --secret-values: write secret values into the Secrets. Off by default so the
  // output can be shown or committed; the Secrets then hold "" and a note says so.
  bool secret_values = false;
  // Reads a secret file (default: the file on disk). Used only with secret_values.
  std::function<Result<std::string>(const std::filesystem::path&)> read_file;
};

// One Kubernetes object.
struct Manifest {
  std::string kind;  // "Deployment"
  std::string name;  // metadata.name
  nlohmann::json doc;
  // File name in folder output: "deployment-api.yaml".
  std::string FileName() const;
};

struct Export {
  std::string project;
  std::vector<Manifest> objects;      // apply order
  std::vector<std::string> unmapped;  // "services.api.restart: ... (what to do)", sorted
};

// Fails (InvalidInput) when a service has no image to run in the cluster, listing
// every such service and the fix, or when two services map to the same object name.
Result<Export> ExportKubernetes(const config::Project& project, const ExportOptions& options);

// The comment at the top of the output: what was rendered and what was not mapped.
std::string HeaderComment(const Export& e);

// One YAML stream: the header comment, then "---" and each object.
std::string RenderStream(const Export& e);

// Folder output: file name → content, every object in its own file plus a
// kustomization.yaml (namespace, resources in apply order, the header comment).
std::map<std::string, std::string> RenderFolder(const Export& e, const ExportOptions& options);

// Writes RenderFolder's files into `dir` (created when missing). Files of an earlier
// export that are no longer rendered are left alone; kustomization.yaml lists the current ones.
Status WriteFolder(const std::filesystem::path& dir,
                   const std::map<std::string, std::string>& files);

// "api=registry/app:1.2" → {"api", "registry/app:1.2"}; InvalidInput otherwise.
Result<std::pair<std::string, std::string>> ParseImageFlag(const std::string& flag);

// A name Kubernetes accepts for most objects (an RFC 1035 label: lower-case
// letters, digits and '-', starting with a letter, at most 63 characters).
std::string KubeName(const std::string& name);

}  // namespace slipway::exporter
