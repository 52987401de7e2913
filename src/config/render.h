// Rendering of a resolved Project for `slipway config`: YAML (default) or
// JSON, with the same content.
//
// Secrets are masked as "***" (kRedacted) unless RenderOptions::show_secrets: the value of
// an environment variable listed in the service's `secret_env` or with a secret name
// (IsSecretName); in every other string (environment values, commands, healthchecks,
// labels) the values of RenderOptions::redactor (config::SecretsOf) and URL / conninfo
// passwords. Declared secrets are shown by file or variable name, never by value. "***"
// is a valid value, so a masked rendering still loads as a compose file.
//
// Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/redact.h"
#include "config/project.h"

namespace slipway::config {

struct RenderOptions {
  bool show_secrets = false;           // `slipway config --show-secrets`
  const Redactor* redactor = nullptr;  // known secret values; may be null
};

std::string RenderYaml(const Project& p, const RenderOptions& options = {});
nlohmann::json RenderJson(const Project& p, const RenderOptions& options = {});

}  // namespace slipway::config
