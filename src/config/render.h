// Rendering of a Project: its compose model for `slipway config` (RenderCompose*), or its
// typed, resolved form (Render*); YAML or JSON, with the same content.
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

// The resolved model, typed: every field Slipway acts on, defaults included. For comparing
// service definitions (engine/spec_hash.h, deploy) and for a Project built by hand.
std::string RenderYaml(const Project& p, const RenderOptions& options = {});
nlohmann::json RenderJson(const Project& p, const RenderOptions& options = {});

// `slipway config`: the compose model the project was built from (Project::model), as
// `docker compose config` prints one: the files merged, interpolated, extended and normalized
// (relative paths made absolute, environment/labels/depends_on lists as mappings), `name:`
// first, every key as written and no other (no defaults), top-level and service `x-*` blocks
// kept, a literal `$` written `$$`, secrets masked as above. Services left out by the profiles
// are kept (with their `profiles:`), so what refers to them still loads. Loaded again with the
// same options and environment, it gives the same project (config/render_test.cc checks that
// over examples/ and the test data). Falls back to RenderYaml/RenderJson when p.model is null.
std::string RenderComposeYaml(const Project& p, const RenderOptions& options = {});
nlohmann::ordered_json RenderComposeJson(const Project& p, const RenderOptions& options = {});

}  // namespace slipway::config
