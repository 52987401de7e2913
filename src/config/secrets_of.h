// SecretsOf: every secret value a loaded project knows, as a Redactor (base/redact.h), so
// answers, logs, events and errors can mask them wherever they appear.
//
// Collected from:
//  - each service's environment: values of variables with a secret name (IsSecretName) or
//    fed by a declared secret (Service::secret_env), and the passwords of URLs / conninfo
//    in any value, command, entrypoint, x-slipway.command or healthcheck test;
//  - declared `secrets:`: a file's contents (a regular file, first kMaxSecretFileBytes
//    bytes: the whole text and each line), an environment secret's value from `environ`;
//  - x-slipway.databases: the password of each url;
//  - x-slipway.notifications: receiver URLs' passwords, and a Slack receiver's whole URL
//    (its path is the credential);
//  - x-slipway.flags: the read tokens;
//  - `environ` (the environment the project was loaded with, e.g. LoadOptions::environ):
//    values of its secret-named variables.
//
// Reads secret files (blocking, small): call it when a project is loaded, not per request.
// Any thread; the result is plain data to share read-only.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "base/redact.h"
#include "config/project.h"

namespace slipway::config {

inline constexpr size_t kMaxSecretFileBytes = 64 * 1024;

Redactor SecretsOf(const Project& project, const std::map<std::string, std::string>& environ = {});

}  // namespace slipway::config
