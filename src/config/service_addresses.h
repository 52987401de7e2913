// Service addresses: one loopback address per service, and the names that resolve to it.
//
// Every service of a project gets an address in a /24 of 127.0.0.0/8 chosen from the
// project's name: 127.A.B.0/24 with A = 1 + h % 254 and B = (h >> 8) % 256, h the 64-bit
// FNV-1a hash of the name (so never 127.0.x.x, where localhost and Debian's 127.0.1.1 live).
// Services are numbered in sorted name order from .1, so an address stays the same across
// restarts as long as the set of services does (a project has at most 254 services). Linux
// routes all of 127.0.0.0/8 to the loopback device: the addresses need no configuration.
//
// The proxy listens on address:target for every target port of the service (`ports` targets
// and `expose`), so `db:5432` reaches the service's ready instances whatever port each one was
// given. The names of a service are its own name, its `hostname`, its `container_name`, its
// `networks.<n>.aliases`, and every `links` alias of any service that points at it (compose
// scopes a link alias to the linking service; here every service sees it). A name already
// taken by an earlier service (in sorted order), or any service's own name, is not given again.
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Project;

struct ServiceAddress {
  std::string service;
  std::string ip;                  // "127.A.B.N"
  std::vector<std::string> names;  // the service's name first
};

// "127.A.B" for the project name (see above).
std::string AddressBlock(const std::string& project_name);

// One entry per service of the project, in sorted service order. InvalidInput when the
// project has more than 254 services.
Result<std::vector<ServiceAddress>> ServiceAddresses(const Project& project);

// The text of an /etc/hosts for services: `base` (the host's own file, kept so localhost
// and the machine's name still resolve) followed by one "ip name..." line per service.
std::string HostsFileText(const std::string& base, const std::vector<ServiceAddress>& addresses);

// True for a name that may go into /etc/hosts and --add-host: 1..253 characters of letters,
// digits, '-', '.', '_', not starting with '-' or '.'.
bool IsValidHostName(const std::string& name);

}  // namespace slipway::config
