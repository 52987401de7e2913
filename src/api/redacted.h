// Redacted(): a JSON answer with the project's secrets taken out, for routes whose answers
// carry specs, environments or free text written from them (releases, deploy outcomes).
// Object members are judged by name and value (Redactor::Value: DB_PASSWORD → "***"), array
// strings of the form NAME=value the same way, any other string is scrubbed of known secret
// values and URL passwords. Pure; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "base/redact.h"

namespace slipway::api {

nlohmann::json Redacted(const nlohmann::json& j, const Redactor* redactor);

}  // namespace slipway::api
