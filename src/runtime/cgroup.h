// CgroupHost: cgroup v2 groups for host processes, so deploy.resources.limits hold for them.
//
// Probe() finds the cgroup v2 mount and the daemon's own group (/proc/self/cgroup's "0::"
// line) and checks that the group is delegated to the daemon: cpu, memory and pids are in its
// cgroup.controllers, and they are (or can be) enabled in its cgroup.subtree_control. cgroup v2
// lets a non-root group enable controllers for its children only while it holds no process
// itself ("no internal processes"); when the daemon is the only process of its group, Probe()
// moves it into a leaf `slipway-daemon` first (as a systemd unit with Delegate=yes does).
// When anything is missing, usable() is false and why_not() says what, in one line, for the
// one warning `up` gives per service with limits.
//
// Create() makes <group>/<name> with cpu.max ("<quota> 100000"), memory.max and pids.max from
// the limits; the spawned process joins it (ProcessSpec::cgroup). Remove() deletes it once its
// processes are gone.
//
// Reads and writes go under a root folder ("/" on the machine, a temp tree in tests). Plain
// value; blocking file I/O of a few small files: the control loop calls it.
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"
#include "config/resources_settings.h"

namespace slipway::runtime {

class CgroupHost {
 public:
  static CgroupHost Probe(const std::filesystem::path& root = "/");

  bool usable() const { return usable_; }
  const std::string& why_not() const { return why_not_; }
  // The daemon's delegated group (machine path), when usable.
  const std::string& group() const { return group_; }

  // `name` must be one path component ([A-Za-z0-9._-]). Returns the group's machine path.
  Result<std::filesystem::path> Create(const std::string& name,
                                       const config::ResourceSettings& limits) const;
  // Removes a group made by Create() (a missing one is fine).
  Status Remove(const std::filesystem::path& group) const;

  // The cpu.max text of a cpus limit: "50000 100000" for 0.5.
  static std::string CpuMax(double cpus);

 private:
  std::filesystem::path root_;
  bool usable_ = false;
  std::string why_not_;
  std::string group_;
};

}  // namespace slipway::runtime
