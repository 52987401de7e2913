// Per-instance resource usage read from /proc and cgroup v2: CPU seconds, resident memory and
// open file descriptors of an instance's process tree.
//
// ProcReader is the OS seam: every read goes through it, under a root folder ("/" on the
// machine, a fake /proc and /sys/fs/cgroup tree in a temp folder for tests).
//
// ProcTable::Scan() reads /proc/<pid>/stat of every process once (pid, parent, name, user and
// system ticks); an instance's tree is its root process and every descendant, so a shell
// wrapper's children and a container's processes count. The root of a container is the child
// of the conmon that runs it (podman's monitor, found by the container's name in its command
// line: `-n <name>`), not the `podman run` client the daemon supervises.
//
// Usage(): when the root process sits in a cgroup v2 group of its own (its "0::" line differs
// from the daemon's own), the group's cpu.stat usage_usec and memory.current are used (they
// include exited children and the page cache the group is charged for); otherwise the tree's
// utime+stime from /proc/<pid>/stat and VmRSS from /proc/<pid>/status are summed. Open fds
// are always the entries of /proc/<pid>/fd over the tree (a process whose fd folder cannot be
// read, another user's, counts 0).
//
// Plain values; a ProcReader and a ProcTable may be used from any one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::runtime {

class ProcReader {
 public:
  explicit ProcReader(std::filesystem::path root = "/");
  // The file's text (at most 1 MiB), nullopt when it cannot be read. `path` is absolute on
  // the machine ("/proc/1/stat"); it is read under the root.
  std::optional<std::string> Read(std::string_view path) const;
  // Names of a folder's entries (no "." or ".."); empty when it cannot be read.
  std::vector<std::string> List(std::string_view path) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

struct ProcEntry {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string comm;
  uint64_t ticks = 0;  // utime + stime
};

// The cgroup v2 mount point ("/sys/fs/cgroup", or "/sys/fs/cgroup/unified" on a hybrid
// machine) from /proc/self/mountinfo; "" when there is none.
std::string CgroupV2Mount(const ProcReader& r);
// The "0::" path of /proc/<pid>/cgroup ("/system.slice/x.service"); "" when there is none.
std::string CgroupV2Path(const ProcReader& r, std::string_view pid);

class ProcTable {
 public:
  // Every process under /proc (entries that vanish while reading are skipped).
  static ProcTable Scan(const ProcReader& r);

  const ProcEntry* Find(pid_t pid) const;
  // `root` and its descendants (just `root` when it has none; empty when it is gone).
  std::vector<pid_t> Tree(pid_t root) const;
  // The container process of podman's conmon for container `name` (0 when none runs).
  pid_t ContainerRoot(const ProcReader& r, std::string_view name) const;
  size_t size() const { return procs_.size(); }

 private:
  std::map<pid_t, ProcEntry> procs_;
  std::multimap<pid_t, pid_t> children_;  // ppid -> pid
};

struct ResourceUsage {
  double cpu_seconds = 0;
  int64_t memory_bytes = 0;  // RSS, or the cgroup's memory.current
  int64_t open_fds = 0;
  int processes = 0;
  bool from_cgroup = false;  // cpu and memory came from the instance's own cgroup
};

// Clock ticks per second and the page size, as the kernel reports them in /proc.
struct ProcUnits {
  long ticks_per_second = 100;
  static ProcUnits Machine();
};

// The usage of the tree rooted at `root`; nullopt when the root process is gone.
// `cgroup_mount` is CgroupV2Mount() ("" when there is none), `own_cgroup` the daemon's own
// CgroupV2Path() (a root in the same group has no group of its own).
std::optional<ResourceUsage> Usage(const ProcReader& r, const ProcTable& table, pid_t root,
                                   const std::string& cgroup_mount, const std::string& own_cgroup,
                                   const ProcUnits& units);

}  // namespace slipway::runtime
