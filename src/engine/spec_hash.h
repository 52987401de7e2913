// SpecHash: a fingerprint of a service's resolved definition, to tell whether a running
// service must be recreated after the project was loaded again. Pure; any thread.
#pragma once

#include <string>

#include "config/project.h"

namespace slipway::engine {

// 16 hex digits; equal definitions give equal hashes.
std::string SpecHash(const config::Service& service);

}  // namespace slipway::engine
