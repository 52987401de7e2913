#include "runtime/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "base/log.h"
#include "config/service_addresses.h"

namespace slipway::runtime {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > (1 << 20)) s.resize(1 << 20);  // a sane /etc/hosts is small
  return s;
}

void WriteErr(const char* a, const char* b) {
  ssize_t n = write(2, a, strlen(a));
  n = write(2, b, strlen(b));
  n = write(2, "\n", 1);
  (void)n;
}

}  // namespace

bool PrivateHostsSupported() { return geteuid() == 0; }

Status WriteFileAtomically(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::string tmp = path.string() + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("write " + tmp, errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoError("write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  // Whatever the umask: every service's user reads it.
  int rc = fchmod(fd, 0644);
  int err = errno;
  if (close(fd) != 0 && rc == 0) {
    rc = -1;
    err = errno;
  }
  if (rc != 0) {
    unlink(tmp.c_str());
    return ErrnoError("write " + tmp, err);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return ErrnoError("rename " + tmp, err);
  }
  return Status::OK();
}

std::filesystem::path ServiceNamesFor(const config::Project& project, const std::string& service) {
  static std::mutex mu;
  static std::set<std::string> warned;  // "project/service"
  std::lock_guard<std::mutex> lock(mu);
  auto warn_once = [&](const std::string& why) {
    if (!warned.insert(project.name + "/" + service).second) return;
    logging::Warn("runtime",
                  "service " + service + ": other services' names do not resolve in it (" + why +
                      "); use their addresses or run slipway as root",
                  {{"service", service}});
  };
  if (project.dir.empty()) return {};
  if (!PrivateHostsSupported()) {
    warn_once("a private /etc/hosts needs root");
    return {};
  }
  Result<std::vector<config::ServiceAddress>> addrs = config::ServiceAddresses(project);
  if (!addrs.ok()) {
    warn_once(addrs.status().message());
    return {};
  }
  std::filesystem::path path = project.dir / ".slipway" / "hosts";
  std::string text = config::HostsFileText(ReadSmallFile("/etc/hosts"), *addrs);
  if (ReadSmallFile(path.c_str()) != text) {
    if (Status st = WriteFileAtomically(path, text); !st.ok()) {
      warn_once(st.message());
      return {};
    }
  }
  return path;
}

std::vector<std::pair<std::string, std::string>> HostEntries(const config::Project& project) {
  std::vector<std::pair<std::string, std::string>> out;
  Result<std::vector<config::ServiceAddress>> addrs = config::ServiceAddresses(project);
  if (!addrs.ok()) return out;
  for (const config::ServiceAddress& a : *addrs) {
    for (const std::string& n : a.names) out.emplace_back(n, a.ip);
  }
  return out;
}

bool EnterPrivateHosts(const char* hosts_file) {
  if (unshare(CLONE_NEWNS) != 0) {
    WriteErr("slipway: service names unavailable: unshare(CLONE_NEWNS): ", strerror(errno));
    return false;
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    WriteErr("slipway: service names unavailable: mount --make-rprivate /: ", strerror(errno));
    return false;
  }
  if (mount(hosts_file, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
    WriteErr("slipway: service names unavailable: bind mount over /etc/hosts: ", strerror(errno));
    return false;
  }
  return true;
}

int EnterPrivateNamespace(const char* hosts_file, const NamespaceMount* mounts, size_t count) {
  const int whole = static_cast<int>(count);
  if (unshare(CLONE_NEWNS) != 0) return whole;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return whole;
  if (hosts_file != nullptr && mount(hosts_file, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
    WriteErr("slipway: service names unavailable: bind mount over /etc/hosts: ", strerror(errno));
  }
  for (size_t i = 0; i < count; ++i) {
    const NamespaceMount& m = mounts[i];
    const int index = static_cast<int>(i);
    for (const std::string& dir : m.make_parents) {
      if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return index;
    }
    if (m.make_target == NamespaceMount::MakeTarget::kFolder) {
      if (mkdir(m.target.c_str(), 0755) != 0 && errno != EEXIST) return index;
    } else if (m.make_target == NamespaceMount::MakeTarget::kFile) {
      int fd = open(m.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
      if (fd < 0) return index;
      close(fd);
    }
    switch (m.kind) {
      case NamespaceMount::Kind::kBind:
        if (mount(m.source.c_str(), m.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
          return index;
        }
        // A bind takes its flags from a remount (the kernel ignores MS_RDONLY on the first).
        if (m.read_only &&
            mount(nullptr, m.target.c_str(), nullptr,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
          return index;
        }
        break;
      case NamespaceMount::Kind::kTmpfs:
        if (mount("tmpfs", m.target.c_str(), "tmpfs",
                  MS_NOSUID | MS_NODEV | (m.read_only ? MS_RDONLY : 0),
                  m.options.empty() ? nullptr : m.options.c_str()) != 0) {
          return index;
        }
        break;
      case NamespaceMount::Kind::kRemountReadOnly:
        if (mount(nullptr, m.target.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  m.options.empty() ? nullptr : m.options.c_str()) != 0) {
          return index;
        }
        break;
    }
  }
  return -1;
}

}  // namespace slipway::runtime
