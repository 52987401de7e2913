// The small files the daemon keeps in `.slipway` beside the state database: the admin token,
// the API's address (kept so a bookmarked address stays valid across restarts), the pid. Each
// is written whole to a temporary file and renamed, so a reader never sees half of one.
//
// Plain functions; the daemon's control thread calls them (the files are the daemon's).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>

#include "base/status.h"
#include "daemon/daemon.h"
#include "daemon/keeper_link.h"
#include "net/socket.h"

namespace slipway::daemon {

// The file's text without trailing newlines and spaces; NotFound when it cannot be read.
Result<std::string> ReadSmallFile(const std::filesystem::path& p);
// Writes `content` and a newline to `p` (mode `mode` when created) through a rename.
Status WriteSmallFile(const std::filesystem::path& p, const std::string& content, mode_t mode);

// The admin token: kept across restarts so scripts and dashboards keep working; a missing or
// short one (under 32 characters) is replaced by 48 random hex digits (mode 0600).
Result<std::string> LoadOrCreateToken(const std::filesystem::path& p);

// Binds the API's TCP listener through the keeper and sets `addr` to where it listens. With
// port 0, the port of the previous run (api.addr) is tried first.
Result<net::UniqueFd> ListenApi(const StatePaths& paths, const std::string& listen,
                                KeeperLink* keeper, std::string* addr);

}  // namespace slipway::daemon
