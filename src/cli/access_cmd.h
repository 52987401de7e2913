// `slipway tokens create NAME --role viewer|deployer|admin` (prints the new token once),
// `slipway tokens list`, `slipway tokens revoke NAME` and `slipway audit` (who changed what
// through the API): all through the daemon's API (/api/v1/tokens, /api/v1/audit), so a remote
// caller needs an admin's token for the first three. Registered once on the root CLI11 app;
// callbacks run on the main thread and store the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/context.h"

namespace slipway::cli {

// `slipway audit`'s table rows (TIME, WHO, ACTION, TARGET, STATUS, RESULT) from the daemon's
// answer to GET /api/v1/audit, read with checked accessors (cli/output.h AnswerRows).
Result<std::vector<std::vector<std::string>>> AuditRows(const nlohmann::json& answer);

void AddAccessCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
