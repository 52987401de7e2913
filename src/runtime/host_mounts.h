// Host mounts: a host process's compose `volumes`, `tmpfs`, secrets and configs, mounted in
// the private mount namespace each host service process gets (runtime/sandbox.h).
//
//  - Bind mounts: the host path at the target, `:ro` read-only. A missing source folder is
//    created where compose creates it (runtime/container_assets.h, PrepareMountSources).
//  - Named volumes: a host folder per project volume, <project>/.slipway/volumes/<key>
//    (HostVolumePath; the container engine keeps its own volumes apart). Created once, at the
//    first start of a host service that mounts it, with the owner and mode of the target
//    folder (as an engine fills a new volume from the image's folder); kept by `down`, removed
//    by `down -v` (RemoveHostVolumes). `external: true` volumes are the engine's: not mounted.
//  - `tmpfs`: a tmpfs (mode 1777, `size` when given) at the target.
//  - Secrets at /run/secrets/<target> and configs at their targets, read-only, from the same
//    files a container binds (`file`, or `environment`/`content` sources written to
//    .slipway/secrets). /run/secrets is a tmpfs of the namespace, so its files and folders are
//    made there and never on the host; the host only gets the empty folder /run/secrets once,
//    as the mount point. The process finds the folder in SLIPWAY_SECRETS_DIR.
//  - Mount points: a host process sees the host's own folders, so slipway makes mount points
//    only where it owns the folder (under /run/secrets). Any other target must exist on the
//    host (a folder for volumes, tmpfs and folder binds; a file for file binds): else the start
//    is refused in one line naming file:line:col and the key; nothing is started.
//  - Without root (no mount namespace): one warning per service naming the mounts it runs
//    without; its secrets are still readable through SLIPWAY_SECRETS_DIR, a private folder
//    of links under .slipway/secrets/services/<service>. What cannot act for a host process
//    even as root (external volumes and secrets, anonymous volumes) is one warning too.
//
// Secret values never appear in a warning or error: only names, keys and paths.
// HostMountsFor() is pure (the instance's spec); PrepareHostService() touches the disk and
// runs on the control thread before a service starts (Engine::CheckStartable), like
// PrepareContainerService. RemoveHostVolumes() runs at `down -v`, after every process stopped.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/project.h"
#include "runtime/process.h"

namespace slipway::runtime {

// <project>/.slipway/volumes/<key>.
std::filesystem::path HostVolumePath(const config::Project& project, const std::string& key);

// What a host process of `service` gets: its namespace mounts (empty without root) and the
// environment it finds them by (SLIPWAY_SECRETS_DIR when it has secrets).
struct HostMounts {
  std::vector<NamespaceMount> mounts;
  std::map<std::string, std::string> env;
};
HostMounts HostMountsFor(const config::Project& project, const config::Service& service);

// The same with the root check given (tests).
HostMounts HostMountsFor(const config::Project& project, const config::Service& service,
                         bool namespaces);

// Before a host service starts: secret files written and checked, bind sources, named volume
// folders, mount points checked (InvalidInput in one line), and the warnings above.
Status PrepareHostService(const config::Project& project, const config::Service& service);

// `down -v`: the project's named volume folders (not external ones); `removed` gets their
// names as "<key> (<folder>)".
Status RemoveHostVolumes(const config::Project& project, std::vector<std::string>* removed);

}  // namespace slipway::runtime
