// Port owner lookup: which process listens on a TCP port, and is a port free.
//
// Used to turn "address already in use" into "port 8080 is used by pid 4242
// (nginx: master process)" and to tell the user which variable to change.
// Reads /proc (Linux only); processes of other users are invisible without
// privileges, in which case the owner is simply not found.
//
// Stateless free functions; any thread may call them. They read the file
// system and do a bind(): a few milliseconds, fine on the control loop for an
// error path, not for a hot path.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace slipway::net {

struct PortOwner {
  pid_t pid = 0;
  std::string command;  // /proc/<pid>/cmdline with NULs as spaces (comm if empty)
};

// The process holding a LISTEN socket on TCP `port` (IPv4 or IPv6, any local
// address). When several processes share the socket (forked servers), the
// lowest pid. nullopt when nobody listens or the owner is not visible.
std::optional<PortOwner> FindPortOwner(int port);

// Same over another /proc tree (tests build a fake one).
std::optional<PortOwner> FindPortOwnerInForTest(const std::filesystem::path& proc_root, int port);

// True when a TCP listener could not bind `host`:`port` because the address is
// in use (EADDRINUSE). SO_REUSEADDR is set as real servers do, so sockets in
// TIME_WAIT do not count. host "" or "0.0.0.0" = all IPv4 interfaces, "::" =
// all IPv6; other hosts must be numeric. Other failures (bad host, EACCES for
// a privileged port) return false: the port is not known to be taken.
bool PortInUse(const std::string& host, int port);

}  // namespace slipway::net
