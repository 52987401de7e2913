// Volumes, secrets and configs of container services: the compose keys parsed into the
// typed `Mount`, `NamedVolume`, `Secret` and `EngineSecret` of config/project.h.
//
//  - top-level `volumes:` (named volumes, "<project>_<key>" as compose names them, or `name:`;
//    `external: true` ones are never created nor removed by slipway);
//  - top-level `secrets:` / `configs:` (sources `file`, `environment`, `content` (configs),
//    `external: true`);
//  - a service's `volumes:` in the short syntax `[SOURCE:]TARGET[:MODE]` and the long one
//    (type volume|bind|tmpfs, source, target, read_only, bind.create_host_path, tmpfs.size),
//    and its `tmpfs:`. A SOURCE starting with '.', '/' or '~' is a host path (relative ones
//    resolved against the project folder), anything else a named volume that must be declared.
//    A missing host path is created at `up` (compose does so for the short syntax; slipway
//    also for the long one unless `bind.create_host_path: false`, where it is an error here);
//  - a service's secrets and configs become read-only binds: files as they are, `environment`
//    and `content` sources from files slipway writes under .slipway/secrets (SecretFilePath);
//    external secrets become EngineSecrets (podman --secret).
//
// Every error is the loader's one line: file:line:col: key: what (expected ...).
// Pure functions over the parsed tree (plus stat() of bind sources); single-threaded use.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/interpolate.h"
#include "config/node.h"
#include "config/project.h"

namespace slipway::config {

using IgnoredFn = std::function<void(const std::string& path)>;

// Top-level `volumes:`; `project` is the project's name.
Result<std::map<std::string, NamedVolume>> ParseNamedVolumes(const Node& n,
                                                             const std::string& project,
                                                             const IgnoredFn& ignored);

// Top-level `secrets:` (configs = false) or `configs:` (configs = true). `environment` gives
// the values of `environment:` sources (kept in Secret::environment_value when set); a
// relative `file:` is resolved against `base` (the loader resolves secrets' files itself).
Result<std::map<std::string, Secret>> ParseSecretSources(const Node& n, bool configs,
                                                         const Lookup& environment,
                                                         const IgnoredFn& ignored,
                                                         const std::filesystem::path& base = {});

// A service's `volumes:` (path "services.<name>.volumes") appended to `out`.
Status ParseServiceVolumes(const Node& n, const std::string& path,
                           const std::filesystem::path& project_dir,
                           const std::map<std::string, NamedVolume>& named, const Lookup& env,
                           const IgnoredFn& ignored, std::vector<Mount>* out);

// A service's `tmpfs:` (a path or a list of paths) appended to `out`.
Status ParseServiceTmpfs(const Node& n, const std::string& path, std::vector<Mount>* out);

// `up --containers`: `services` (every service when empty) run as containers for this load,
// over x-slipway.runtime of the service and of the project (their dependencies keep theirs).
// InvalidInput (file:line:col, one line) naming the first of them with no image and no build;
// nothing is changed then.
Status RunAsContainers(Project* project, const std::vector<std::string>& services);

// `x-slipway.runtime`: host or container.
Result<RuntimeChoice> ReadRuntimeChoice(const Node& n, const std::string& path);

// The service's secrets (configs = false) or configs as mounts (files) or engine secrets.
void AddSecretMounts(const std::vector<SecretRef>& refs, const std::map<std::string, Secret>& decl,
                     bool configs, const std::filesystem::path& project_dir, Service* s);

// Where the `environment`/`content` source of a secret or config is written for the engine to
// bind: <project>/.slipway/secrets/{secret,config}.<name> (0600 in a 0700 folder).
std::filesystem::path SecretFilePath(const std::filesystem::path& project_dir, bool config,
                                     const std::string& name);

}  // namespace slipway::config
