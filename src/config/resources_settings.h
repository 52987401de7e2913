// Resource settings: compose's `deploy.resources` of a service, typed.
//
//   services:
//     api:
//       deploy:
//         resources:
//           limits:        {cpus: "0.5", memory: 512m, pids: 200}   # applied
//           reservations:  {cpus: "0.25", memory: 128m}              # reported, not enforced
//
// Limits are applied: a container gets podman's --cpus, --memory and --pids-limit; a host
// process runs in a cgroup v2 group of its own with cpu.max, memory.max and pids.max when the
// daemon's cgroup is delegated to it (runtime/cgroup.h), else `up` warns once and the limits
// are only reported. Reservations are reported (ps, metrics docs), never enforced: a single
// host has no scheduler to place by them.
//
// `cpus` is a decimal number of CPUs ("0.5", 2); `memory` a size as compose reads it (go-units'
// RAMInBytes: a number with an optional b/k/m/g/t/p unit, binary multiples, optionally followed
// by "b" or "ib"; a bare number is bytes); `pids` a positive integer.
//
// Plain data owned by config::Service; any thread may read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Node;

struct ResourceSettings {
  std::optional<double> cpus;           // limits.cpus
  std::optional<int64_t> memory_bytes;  // limits.memory
  std::optional<int64_t> pids;          // limits.pids
  std::optional<double> reserved_cpus;  // reservations.cpus
  std::optional<int64_t> reserved_memory_bytes;

  bool HasLimits() const { return cpus || memory_bytes || pids; }
  // "cpus 0.5, memory 512MiB, pids 200" ("" when there are none), for messages.
  std::string LimitsText() const;
  bool operator==(const ResourceSettings&) const = default;
};

// A number of CPUs: digits with at most one '.', positive ("1.5.3", "-1", "2x" are errors).
Result<double> ParseCpus(std::string_view text);
// A memory size as compose reads it; at least one byte, below 8 EiB.
Result<int64_t> ParseMemorySize(std::string_view text);
// 536870912 -> "512MiB", 1000 -> "1000B".
std::string FormatBytes(int64_t bytes);

// Parses `resources` (the node of deploy.resources) at `path`. Keys slipway does not use
// (devices, generic_resources) go to `ignored`.
Status ParseResources(const Node& n, const std::string& path, ResourceSettings* out,
                      std::vector<std::string>* ignored);

}  // namespace slipway::config
