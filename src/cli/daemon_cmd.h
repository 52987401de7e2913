// The daemon's own commands: the hidden `daemon` and `keeper` runners that `up` starts, and
// `slipway daemon restart`, the zero-downtime handover to a successor daemon (the binary now
// on disk). Callbacks run on the main thread and store the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>

#include "api/routes.h"
#include "base/clock.h"
#include "base/status.h"
#include "cli/context.h"

namespace slipway::cli {

void AddDaemonCommands(CLI::App& app, CliContext& ctx, int* rc, int argc, char** argv);

// Asks the running daemon to hand over to a successor and waits (up to `timeout`) until the
// successor answers on the project's socket. Prints one line saying who replaced whom.
Status RestartDaemon(CliContext& ctx, Duration drain_timeout, Duration timeout);

// GET /api/v1/daemon, read into its type (a malformed answer is an error, never a throw).
// `timeout` 0 = none.
Result<api::DaemonInfo> FetchDaemonInfo(CliContext& ctx, Duration timeout = Duration(0));

// Whether the binary the running daemon was started from has been replaced on disk since
// (another inode or mtime at the same path): `up` then hands over to it. False when it cannot
// tell.
bool DaemonBinaryReplaced(const api::DaemonInfo& info);

// A systemd unit that brings the project back at boot: ExecStart is `up -d --wait` with the
// same compose files, env files, profiles and project name (absolute paths), ExecStop `down`;
// the keeper is the unit's main process (PIDFile), restarted by systemd if it dies. `binary`
// is the absolute path of slipway. No environment value is copied into the unit: variables
// the files need come from the project's .env or --env-file (a unit file is world-readable).
std::string SystemdUnit(const config::Project& project, const config::LoadOptions& load,
                        const std::filesystem::path& binary);

}  // namespace slipway::cli
