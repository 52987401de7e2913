#include "runtime/cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <system_error>
#include <vector>

#include "runtime/proc_stats.h"

namespace slipway::runtime {

namespace {

constexpr const char* kControllers[] = {"cpu", "memory", "pids"};

std::filesystem::path Under(const std::filesystem::path& root, const std::string& path) {
  std::string rel = path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  return root / rel;
}

std::set<std::string> Words(const std::string& s) {
  std::set<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

// Writes `text` to an existing control file; the errno text on failure.
Status WriteControl(const std::filesystem::path& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + file.string() + ": " + std::strerror(errno));
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return IoError("cannot write \"" + text + "\" to " + file.string() + ": " +
                   std::strerror(n < 0 ? err : EIO));
  }
  return Status::OK();
}

}  // namespace

std::string CgroupHost::CpuMax(double cpus) {
  constexpr long kPeriod = 100000;
  long quota = std::lround(cpus * kPeriod);
  if (quota < 1000) quota = 1000;  // the kernel's minimum quota is 1 ms
  return std::to_string(quota) + " " + std::to_string(kPeriod);
}

CgroupHost CgroupHost::Probe(const std::filesystem::path& root) {
  CgroupHost h;
  h.root_ = root;
  ProcReader r(root);
  const std::string mount = CgroupV2Mount(r);
  if (mount.empty()) {
    h.why_not_ = "this machine has no cgroup v2 hierarchy mounted";
    return h;
  }
  const std::string own = CgroupV2Path(r, "self");
  std::string group = mount + (own == "/" ? "" : own);
  const std::set<std::string> available = Words(r.Read(group + "/cgroup.controllers").value_or(""));
  std::string missing;
  for (const char* c : kControllers) {
    if (!available.count(c)) missing += std::string(missing.empty() ? "" : ", ") + c;
  }
  if (!missing.empty()) {
    std::string listed;
    for (const std::string& c : available) listed += (listed.empty() ? "" : " ") + c;
    h.why_not_ = "the daemon's cgroup " + group + " has no " + missing +
                 " controller (cgroup.controllers: \"" + listed +
                 "\"; on a cgroup v1 or hybrid machine they are bound to v1)";
    return h;
  }
  const std::filesystem::path subtree = Under(root, group + "/cgroup.subtree_control");
  if (::access(subtree.c_str(), W_OK) != 0) {
    h.why_not_ =
        "the daemon's cgroup " + group +
        " is not delegated to it (cgroup.subtree_control is not writable: " + std::strerror(errno) +
        ")";
    return h;
  }
  std::set<std::string> enabled = Words(r.Read(group + "/cgroup.subtree_control").value_or(""));
  std::string want;
  for (const char* c : kControllers) {
    if (!enabled.count(c)) want += std::string(want.empty() ? "" : " ") + "+" + c;
  }
  if (!want.empty()) {
    Status st = WriteControl(subtree, want);
    if (!st.ok() && own != "/") {
      // Processes in the group itself block enabling controllers for its children. When the
      // daemon is alone there, it moves into a leaf of its own and tries again.
      std::set<std::string> procs = Words(r.Read(group + "/cgroup.procs").value_or(""));
      if (procs.size() == 1 && *procs.begin() == std::to_string(::getpid())) {
        std::error_code ec;
        const std::filesystem::path leaf = Under(root, group + "/slipway-daemon");
        std::filesystem::create_directory(leaf, ec);
        if (!ec && WriteControl(leaf / "cgroup.procs", "0").ok()) st = WriteControl(subtree, want);
      }
    }
    if (!st.ok()) {
      h.why_not_ =
          "cannot enable " + want + " for the groups under " + group + " (" + st.message() + ")";
      return h;
    }
  }
  h.group_ = group;
  h.usable_ = true;
  return h;
}

Result<std::filesystem::path> CgroupHost::Create(const std::string& name,
                                                 const config::ResourceSettings& limits) const {
  if (!usable_) return FailedPrecondition("no cgroup: " + why_not_);
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
          std::string::npos) {
    return InvalidInput("cgroup name \"" + name + "\" is not one path component");
  }
  const std::string machine = group_ + "/" + name;
  const std::filesystem::path dir = Under(root_, machine);
  std::error_code ec;
  std::filesystem::create_directory(dir, ec);
  if (ec) return IoError("cannot create cgroup " + machine + ": " + ec.message());
  if (limits.cpus) RETURN_IF_ERROR(WriteControl(dir / "cpu.max", CpuMax(*limits.cpus)));
  if (limits.memory_bytes) {
    RETURN_IF_ERROR(WriteControl(dir / "memory.max", std::to_string(*limits.memory_bytes)));
  }
  if (limits.pids) RETURN_IF_ERROR(WriteControl(dir / "pids.max", std::to_string(*limits.pids)));
  return dir;
}

Status CgroupHost::Remove(const std::filesystem::path& group) const {
  if (::rmdir(group.c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove cgroup " + group.string() + ": " + std::strerror(errno));
  }
  return Status::OK();
}

}  // namespace slipway::runtime
