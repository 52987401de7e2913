// Environments and file selection: which compose files and .env files make a project.
//
// The pure part of loading (no parsing): the -f list or the discovered compose file and its
// override, then, for an environment name (`--env NAME` / SLIPWAY_ENV), the overlay named
// like the base file (`compose.yaml` -> `compose.NAME.yaml`, `docker-compose.yml` ->
// `docker-compose.NAME.yml`) after them; the --env-file list or the project's `.env`, then
// `.env.NAME` after them (later files win, as compose layers --env-file). The loader and the
// CLI (which must find a project's state folder without loading it) both call it, so the two
// cannot pick different files.
//
// Stateless; any thread may call it. Existence is asked through `exists` so tests need no
// files.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/loader.h"

namespace slipway::config {

// [a-z0-9][a-z0-9_-]{0,62}: the names a `.env.NAME` and `compose.NAME.yaml` can carry.
bool IsValidEnvName(std::string_view name);
// OK for "" (no environment) and valid names; else a one-line InvalidInput naming `origin`
// ("--env" or "SLIPWAY_ENV") and what is expected.
Status CheckEnvName(std::string_view name, std::string_view origin = "--env");

// The overlay of environment `env` for compose file `base`, beside it: the name's first
// dot-separated part, then `.env`, then its extension (`compose.prod.yml` -> `compose.NAME.yml`).
std::filesystem::path EnvOverlayFor(const std::filesystem::path& base, const std::string& env);

struct ProjectFiles {
  std::vector<std::filesystem::path> compose;    // absolute, in merge order, overlay last
  std::filesystem::path overlay;                 // the environment's overlay; empty when none
  std::vector<std::filesystem::path> env_files;  // absolute, in reading order
  size_t named_env_files = 0;                    // how many of env_files came from --env-file
  std::filesystem::path dir() const { return compose.front().parent_path(); }
};

using ExistsFn = std::function<bool(const std::filesystem::path&)>;

// `working_dir` is absolute (relative -f and --env-file entries are taken from it). An
// explicit -f list is used as given (a missing file is the loader's error); with an
// environment, its overlay (beside the first file) is added after the named files only when
// it exists and is not named already. A missing `.env.NAME` or overlay is no error: an
// environment may need only one of the two.
Result<ProjectFiles> SelectProjectFiles(const LoadOptions& o,
                                        const std::filesystem::path& working_dir,
                                        const ExistsFn& exists);

// The same on the real file system (working_dir: o.working_dir, else the current folder).
Result<ProjectFiles> SelectProjectFiles(const LoadOptions& o);

}  // namespace slipway::config
