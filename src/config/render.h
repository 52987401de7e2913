// Rendering of a resolved Project for `slipway config`: YAML (default) or
// JSON, with the same content. Values of environment keys listed in a
// service's `secret_env` are masked as "********"; declared secrets are shown
// by file or variable name, never by value.
//
// Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/project.h"

namespace slipway::config {

inline constexpr const char* kSecretMask = "********";

std::string RenderYaml(const Project& p);
nlohmann::json RenderJson(const Project& p);

}  // namespace slipway::config
