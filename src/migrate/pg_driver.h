// Internal: the driver factories behind Driver::Open (driver.h). Not for other
// modules; use Driver::Open.
#pragma once

#include <memory>
#include <string>

#include "migrate/driver.h"

namespace slipway::migrate {

Result<std::unique_ptr<Driver>> OpenPostgres(const Target& target, const std::string& application);
Result<std::unique_ptr<Driver>> OpenSqlite(const Target& target, const std::string& application);

}  // namespace slipway::migrate
