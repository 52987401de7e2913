// ProcessKeeper: what outlives the daemon for the service processes it spawns — their output
// pipes and their exit statuses — so that a daemon that dies can be replaced by one that adopts
// the processes instead of restarting them (see docs/architecture.md, "Keeper").
//
// The daemon implements it over its keeper's control channel (daemon/keeper_link.h): Park()
// leaves a dup of a process's stdout/stderr read ends with the keeper, so the pipes keep a
// reader (a service never meets EPIPE/SIGPIPE) and what it writes while no daemon runs stays
// buffered in them; Take() gets them back in the next daemon; ExitOf() answers the wait status
// of a process the keeper reaped (an adopted process is no longer the daemon's child). Without
// a keeper every call fails or answers nothing, and processes are not adopted.
//
// Threads: the control loop's thread only.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/socket.h"

namespace slipway::runtime {

class ProcessKeeper {
 public:
  virtual ~ProcessKeeper() = default;
  // Leaves dups of `fds` under `key` (a key used again replaces what it held).
  virtual Status Park(const std::string& key, const std::vector<int>& fds) = 0;
  // The fds parked under `key` (the keeper keeps its copies until Drop).
  virtual Result<std::vector<net::UniqueFd>> Take(const std::string& key) = 0;
  virtual void Drop(const std::string& key) = 0;
  // The wait status (as waitpid gives it) of `pid` if the keeper reaped it; nullopt when not
  // (yet). Each status is answered once.
  virtual std::optional<int> ExitOf(pid_t pid) = 0;
};

}  // namespace slipway::runtime
