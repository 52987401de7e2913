#include "runtime/host_mounts.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>

#include "base/log.h"
#include "runtime/container_assets.h"
#include "runtime/sandbox.h"

namespace slipway::runtime {
namespace {

namespace fs = std::filesystem;

constexpr char kRunSecrets[] = "/run/secrets";

bool UnderRunSecrets(const std::string& target) {
  return target.rfind(std::string(kRunSecrets) + "/", 0) == 0;
}

size_t Depth(const std::string& target) {
  size_t n = 0;
  for (const auto& part : fs::path(target).lexically_normal()) {
    if (!part.empty() && part != "/") ++n;
  }
  return n;
}

// A mount a host process can get: not anonymous, not an external (engine) volume.
bool Mountable(const config::Project& project, const config::Mount& m) {
  if (m.type != config::Mount::Type::kVolume) return true;
  if (m.volume.empty()) return false;
  auto it = project.volumes.find(m.volume);
  return it != project.volumes.end() && !it->second.external;
}

std::string SourceOf(const config::Project& project, const config::Mount& m) {
  return m.type == config::Mount::Type::kVolume ? HostVolumePath(project, m.volume).string()
                                                : m.source;
}

// The mount point a mount needs: a folder, except for a bind of a file (secrets and configs
// are files).
bool WantsFolder(const config::Project& project, const config::Mount& m) {
  if (m.type != config::Mount::Type::kBind) return true;
  if (!m.secret.empty()) return false;
  std::error_code ec;
  return fs::is_directory(SourceOf(project, m), ec);
}

// One warning per (project, service, what): a restart does not repeat it.
void WarnOnce(const config::Project& project, const config::Service& service,
              const std::string& kind, const std::string& msg) {
  static std::mutex mu;
  static std::set<std::string> warned;
  std::lock_guard<std::mutex> lock(mu);
  if (!warned.insert(project.name + "/" + service.name + "/" + kind).second) return;
  logging::Warn("runtime", msg, {{"service", service.name}});
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Status MakeDir(const fs::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoError("create " + dir.string(), errno);
  }
  return Status::OK();
}

fs::path FallbackSecretsDir(const config::Project& project, const config::Service& service) {
  return project.dir / ".slipway" / "secrets" / "services" / service.name;
}

// Without a mount namespace: links named as the secrets' targets, in a private folder.
Status WriteFallbackSecrets(const config::Project& project, const config::Service& service) {
  const fs::path root = FallbackSecretsDir(project, service);
  RETURN_IF_ERROR(MakeDir(project.dir / ".slipway", 0700));
  RETURN_IF_ERROR(MakeDir(project.dir / ".slipway" / "secrets", 0700));
  RETURN_IF_ERROR(MakeDir(root.parent_path(), 0700));
  RETURN_IF_ERROR(MakeDir(root, 0700));
  for (const config::Mount& m : service.mounts) {
    if (m.secret.empty() || !UnderRunSecrets(m.target)) continue;
    fs::path link = root / fs::path(m.target).lexically_relative(kRunSecrets);
    std::error_code ec;
    fs::create_directories(link.parent_path(), ec);
    ::unlink(link.c_str());
    if (::symlink(m.source.c_str(), link.c_str()) != 0) {
      return ErrnoError("link " + link.string(), errno);
    }
  }
  return Status::OK();
}

// A new named volume folder takes the owner and mode of the folder it is mounted over, so a
// service running as its own user (PostgreSQL as postgres) can write to it.
Status EnsureVolumeFolder(const config::Project& project, const config::Mount& m) {
  const fs::path dir = HostVolumePath(project, m.volume);
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::OK();
  RETURN_IF_ERROR(MakeDir(project.dir / ".slipway", 0755));
  RETURN_IF_ERROR(MakeDir(project.dir / ".slipway" / "volumes", 0755));
  RETURN_IF_ERROR(MakeDir(dir, 0755));
  struct stat st {};
  if (::stat(m.target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (::chown(dir.c_str(), st.st_uid, st.st_gid) != 0) {
      return ErrnoError("chown " + dir.string(), errno);
    }
    if (::chmod(dir.c_str(), st.st_mode & 07777) != 0) {
      return ErrnoError("chmod " + dir.string(), errno);
    }
  }
  return Status::OK();
}

}  // namespace

fs::path HostVolumePath(const config::Project& project, const std::string& key) {
  return project.dir / ".slipway" / "volumes" / key;
}

HostMounts HostMountsFor(const config::Project& project, const config::Service& service) {
  return HostMountsFor(project, service, PrivateHostsSupported());
}

HostMounts HostMountsFor(const config::Project& project, const config::Service& service,
                         bool namespaces) {
  HostMounts out;
  bool secrets = false;
  for (const config::Mount& m : service.mounts) {
    secrets = secrets || (!m.secret.empty() && UnderRunSecrets(m.target));
  }
  if (!namespaces) {
    if (secrets) out.env["SLIPWAY_SECRETS_DIR"] = FallbackSecretsDir(project, service).string();
    return out;
  }
  if (secrets) out.env["SLIPWAY_SECRETS_DIR"] = kRunSecrets;
  bool run_secrets = false;
  for (const config::Mount& m : service.mounts) {
    if (!Mountable(project, m)) continue;
    NamespaceMount nm;
    nm.target = m.target;
    nm.read_only = m.read_only;
    nm.what = m.key_path;
    if (m.type == config::Mount::Type::kTmpfs) {
      nm.kind = NamespaceMount::Kind::kTmpfs;
      nm.options = "mode=1777";
      if (m.tmpfs_size > 0) nm.options += ",size=" + std::to_string(m.tmpfs_size);
    } else {
      nm.kind = NamespaceMount::Kind::kBind;
      nm.source = SourceOf(project, m);
    }
    if (UnderRunSecrets(m.target)) {
      // The namespace's own tmpfs: the mount point and its folders are made there.
      run_secrets = true;
      nm.make_target = WantsFolder(project, m) ? NamespaceMount::MakeTarget::kFolder
                                               : NamespaceMount::MakeTarget::kFile;
      fs::path rel = fs::path(m.target).lexically_normal().lexically_relative(kRunSecrets);
      fs::path dir = kRunSecrets;
      for (auto it = rel.begin(); it != rel.end() && std::next(it) != rel.end(); ++it) {
        dir /= *it;
        nm.make_parents.push_back(dir.string());
      }
    }
    out.mounts.push_back(std::move(nm));
  }
  if (run_secrets) {
    NamespaceMount tmp;
    tmp.kind = NamespaceMount::Kind::kTmpfs;
    tmp.target = kRunSecrets;
    tmp.options = "mode=0755,size=1m";
    tmp.what = "/run/secrets";
    out.mounts.insert(out.mounts.begin(), std::move(tmp));
  }
  // Outer folders first, as the engines order a container's mounts.
  std::stable_sort(out.mounts.begin(), out.mounts.end(),
                   [](const NamespaceMount& a, const NamespaceMount& b) {
                     return Depth(a.target) < Depth(b.target);
                   });
  if (run_secrets) {
    NamespaceMount ro;
    ro.kind = NamespaceMount::Kind::kRemountReadOnly;
    ro.target = kRunSecrets;
    ro.options = "mode=0755,size=1m";
    ro.what = "/run/secrets";
    out.mounts.push_back(std::move(ro));
  }
  return out;
}

Status PrepareHostService(const config::Project& project, const config::Service& service) {
  if (service.mounts.empty() && service.engine_secrets.empty()) return Status::OK();
  RETURN_IF_ERROR(PrepareMountSources(project, service));
  std::vector<std::string> cannot;
  for (const config::EngineSecret& s : service.engine_secrets) {
    cannot.push_back(s.ref + " (external: held by the container engine)");
  }
  for (const config::Mount& m : service.mounts) {
    if (Mountable(project, m)) continue;
    cannot.push_back(m.volume.empty()
                         ? m.key_path + " (an anonymous volume)"
                         : m.key_path + " (external volume " + m.source + " is the engine's)");
  }
  if (!PrivateHostsSupported()) {
    std::vector<std::string> all;
    for (const config::Mount& m : service.mounts) all.push_back(m.key_path + " at " + m.target);
    WarnOnce(project, service, "root",
             "service " + service.name + " runs without " + Joined(all) +
                 " (mounts for a host process need root); its secrets are in "
                 "$SLIPWAY_SECRETS_DIR");
    return WriteFallbackSecrets(project, service);
  }
  if (!cannot.empty()) {
    WarnOnce(project, service, "cannot",
             "service " + service.name + ": not mounted for a host process: " + Joined(cannot) +
                 "; run it as a container (x-slipway.runtime: container) to have them");
  }
  bool run_secrets = false;
  for (const config::Mount& m : service.mounts) {
    if (!Mountable(project, m)) continue;
    if (m.type == config::Mount::Type::kVolume) RETURN_IF_ERROR(EnsureVolumeFolder(project, m));
    if (UnderRunSecrets(m.target)) {
      run_secrets = true;
      continue;
    }
    const bool folder = WantsFolder(project, m);
    struct stat st {};
    if (::stat(m.target.c_str(), &st) != 0) {
      return InvalidInput(fmt::format(
          "{}: {}: mount point \"{}\" does not exist on this host (a host process sees the "
          "host's folders, and slipway makes mount points only under /run/secrets; expected an "
          "existing {}, or x-slipway.runtime: container; nothing was started)",
          m.loc.ToString(), m.key_path, m.target, folder ? "folder" : "file"));
    }
    if (folder != S_ISDIR(st.st_mode)) {
      return InvalidInput(fmt::format(
          "{}: {}: mount point \"{}\" is a {} on this host (expected a {} to mount a {} over)",
          m.loc.ToString(), m.key_path, m.target, S_ISDIR(st.st_mode) ? "folder" : "file",
          folder ? "folder" : "file", folder ? "folder" : "file"));
    }
  }
  // The one thing made on the host: the empty mount point of the namespaces' /run/secrets.
  if (run_secrets) RETURN_IF_ERROR(MakeDir(kRunSecrets, 0755));
  return Status::OK();
}

Status RemoveHostVolumes(const config::Project& project, std::vector<std::string>* removed) {
  for (const auto& [key, vol] : project.volumes) {
    if (vol.external) continue;
    const fs::path dir = HostVolumePath(project, key);
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(dir, ec))) continue;
    fs::remove_all(dir, ec);
    if (ec) return IoError("remove volume folder " + dir.string() + ": " + ec.message());
    if (removed) removed->push_back(key + " (" + dir.string() + ")");
  }
  return Status::OK();
}

}  // namespace slipway::runtime
