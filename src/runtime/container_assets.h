// Container assets: what a container service needs from the engine and the disk besides its
// `run` — its mounts (named volumes, binds, tmpfs, secrets and configs as read-only files),
// engine-held secrets, and its image when it has a `build:`.
//
//  - MountFlags(): the `--mount` / `--secret` flags ContainerEngine::BuildRunSpec adds, from the
//    Service's resolved `mounts` and `engine_secrets` (config/volumes_settings.h).
//  - PrepareContainerService(): before a service starts (the engine's start-up check), makes
//    the world match its mounts: writes `environment`/`content` secrets and configs to
//    .slipway/secrets (0600, folder 0700), creates a missing bind source folder where compose
//    would (short syntax; long syntax unless create_host_path: false), refuses a missing
//    secret file (InvalidInput naming file:line:col), creates named volumes once
//    (`volume create` with slipway.project / slipway.volume labels; external ones must exist),
//    and checks external secrets (`secret inspect`), saying how to create a missing one.
//  - Builds: BuildImageSpec() is `<bin> build -t <image> [-f ...] [--target] [--build-arg]
//    <context>`; BuildImage() runs it (the engine's layer cache makes a rebuild cheap).
//  - RemoveProjectVolumes(): `down -v`: the project's named volumes that are not external.
//
// The blocking functions run the engine's CLI and wait (bounded by timeouts): call them from
// the CLI or at start-up checks, never from a busy loop. Any thread; no shared state.
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/project.h"
#include "runtime/container.h"
#include "runtime/process.h"

namespace slipway::runtime {

// `--mount type=...` per mount and `--secret name,type=mount,target=...` per engine secret.
std::vector<std::string> MountFlags(const config::Service& service);

// The part of PrepareContainerService that host processes share (runtime/host_mounts.h):
// `environment`/`content` secrets and configs written, secret files checked, missing bind
// source folders created where compose would.
Status PrepareMountSources(const config::Project& project, const config::Service& service);

Status PrepareContainerService(const ContainerEngine& engine, const config::Project& project,
                               const config::Service& service);

// True when the engine holds `image` locally.
Result<bool> ImageExists(const ContainerEngine& engine, const std::string& image);

// The build of a service that has a `build:` (InvalidInput when it has none).
Result<ProcessSpec> BuildImageSpec(const ContainerEngine& engine, const config::Project& project,
                                   const config::Service& service);

// Runs the build; `output` (optional) gets the engine's output (up to 64 KiB). A failed build
// is Unavailable with the build's last line ("build api: podman build exited with code 1: ...").
Status BuildImage(const ContainerEngine& engine, const config::Project& project,
                  const config::Service& service, Duration timeout, std::string* output);

// Removes the project's named volumes (not external ones); a missing one is fine. `removed`
// (optional) gets the engine names removed.
Status RemoveProjectVolumes(const ContainerEngine& engine, const config::Project& project,
                            std::vector<std::string>* removed);

}  // namespace slipway::runtime
