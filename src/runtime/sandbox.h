// Sandbox: service names for host processes, through a private /etc/hosts.
//
// Host processes share the host's resolver, so `db` would not resolve. Each service process
// started with ProcessSpec::hosts_file set gets its own mount namespace between fork and exec
// (unshare(CLONE_NEWNS), "/" made recursively private so nothing propagates back to the host,
// then the file bind-mounted over /etc/hosts); the rest of the file system is the host's. That
// needs root (CAP_SYS_ADMIN): without it ServiceNamesFor() logs one warning per service and the
// process runs with the host's /etc/hosts (no service names; addresses still work). Containers
// get the same names through --add-host instead (runtime/container.h).
//
// The file is .slipway/hosts: the host's /etc/hosts followed by the project's names
// (config::HostsFileText), replaced atomically (write + rename) when it changes; a running
// process keeps the copy it was started with.
//
// The same namespace carries the service's volumes, tmpfs, secrets and configs
// (runtime/host_mounts.h prepares them; EnterPrivateNamespace() mounts them).
//
// ServiceNamesFor() and HostEntries() run on the control thread; EnterPrivateHosts() and
// EnterPrivateNamespace() run in a forked child and use async-signal-safe calls only.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "config/project.h"
#include "runtime/process.h"

namespace slipway::runtime {

// The hosts file a host process of `service` should see, written (if needed) under
// project.dir/.slipway; empty when private /etc/hosts files are not possible here (a warning
// naming the service was logged, once per service) or the names could not be written.
std::filesystem::path ServiceNamesFor(const config::Project& project, const std::string& service);

// (name, address) for every service name of the project, for `--add-host name:address`.
std::vector<std::pair<std::string, std::string>> HostEntries(const config::Project& project);

// True when this process may give children a private /etc/hosts (effective uid 0).
bool PrivateHostsSupported();

// Writes `text` to `path` through a temporary file and rename(2), mode 0644.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& text);

// In the child between fork and exec: a new mount namespace with `hosts_file` over
// /etc/hosts. On failure writes one line to fd 2 (the service's log) and returns false; the
// child then runs with the host's /etc/hosts.
bool EnterPrivateHosts(const char* hosts_file);

// In the child between fork and exec: a new mount namespace ("/" recursively private), then
// `hosts_file` (optional, nullptr: none) over /etc/hosts as EnterPrivateHosts does (a failure
// there is one line on fd 2, and the child goes on), then `mounts` in order
// (runtime/host_mounts.h). Returns -1 when every mount is in place, else the index of the one
// that failed (errno says why), or `count` when the namespace itself could not be made.
// Async-signal-safe calls only.
int EnterPrivateNamespace(const char* hosts_file, const NamespaceMount* mounts, size_t count);

}  // namespace slipway::runtime
