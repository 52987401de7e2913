// LoadProject: reads a Compose project into the resolved `Project` model.
//
// Steps, in the compose specification's order: find the files (discovery of
// compose.yaml & co. plus the matching override, or the -f list), read the
// .env / --env-file files, then per file parse, interpolate (values only;
// the process environment wins over .env), normalize, resolve `extends`; then
// merge the files in order, pick the project name, convert and validate
// every service, apply profiles and check cross-service references.
//
// Every user error is an InvalidInput whose message is one line:
// `file:line:col: key.path: what is wrong (what is expected)`.
// Stateless; any thread may call it (it reads files, nothing else).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/project.h"

namespace slipway::config {

// Bounds on `extends`, beside the per-file ones (config/input_file.h: 16 MiB per file;
// config/node.h: YAML nesting and aliases): a chain of services extending each other is at
// most kMaxExtendsChain long, and the copies of base services that extends makes hold at
// most kMaxExtendsNodes nodes and kMaxExtendsBytes of keys and scalars in all.
inline constexpr size_t kMaxExtendsChain = 64;
inline constexpr size_t kMaxExtendsNodes = 1'000'000;
inline constexpr size_t kMaxExtendsBytes = size_t{64} << 20;

struct LoadOptions {
  std::vector<std::filesystem::path> files;      // -f, repeatable; empty = discover
  std::filesystem::path working_dir;             // where discovery happens (cwd by default)
  std::vector<std::filesystem::path> env_files;  // --env-file, repeatable, later wins;
                                                 // empty = <project dir>/.env if present
  std::vector<std::string> profiles;             // --profile; plus COMPOSE_PROFILES from environ
  std::map<std::string, std::string> environ;    // the process environment (injected for tests)
  std::string project_name;                      // -p; overrides top-level name
  // --env / SLIPWAY_ENV: adds `.env.NAME` after the env files and the compose overlay
  // `<base>.NAME.<ext>` after the compose files, each when present (config/environment.h).
  std::string env_name;
};

Result<Project> LoadProject(const LoadOptions& options);

// The process environment (::environ) as a map.
std::map<std::string, std::string> CurrentEnviron();

// Compose file names looked for, in order of preference, and their overrides.
const std::vector<std::string>& ComposeFileNames();
const std::vector<std::string>& OverrideFileNames();

// A project name as -p, COMPOSE_PROJECT_NAME and `name:` take it (kProjectNameExpected).
bool ValidProjectName(const std::string& name);
inline constexpr std::string_view kProjectNameExpected =
    "lowercase letters, digits, '-' and '_', starting with a letter or digit";

// Lower-cases and drops characters compose does not allow in project names
// ([a-z0-9_-], starting with a letter or digit). "" when nothing is left.
std::string NormalizeProjectName(const std::string& raw);

}  // namespace slipway::config
