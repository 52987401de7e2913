#include "runtime/container_assets.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>

#include "config/volumes_settings.h"

namespace slipway::runtime {
namespace {

namespace fs = std::filesystem;

constexpr Duration kEngineTimeout{60'000};

ProcessSpec EngineSpec(const ContainerEngine& engine, std::vector<std::string> args) {
  ProcessSpec spec;
  spec.env = CurrentEnvironment();
  spec.argv.push_back(engine.binary());
  spec.argv.insert(spec.argv.end(), engine.global_flags().begin(), engine.global_flags().end());
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  return spec;
}

std::string LastLine(const std::string& output) {
  size_t end = output.find_last_not_of("\r\n \t");
  if (end == std::string::npos) return "";
  size_t start = output.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return output.substr(start, end - start + 1);
}

// Runs `<bin> args...`; the exit status, or the error of running it at all.
Result<ExitStatus> RunEngine(const ContainerEngine& engine, std::vector<std::string> args,
                             std::string* output, Duration timeout = kEngineTimeout) {
  return RunSync(EngineSpec(engine, std::move(args)), timeout, output);
}

Status Failed(const std::string& what, const ExitStatus& st, const std::string& output) {
  std::string why = LastLine(output);
  return Unavailable(what + ": " + st.ToString() + (why.empty() ? "" : ": " + why));
}

// "./secrets/x.txt" for a path under the project folder, else the absolute path.
std::string Shown(const config::Project& project, const std::string& path) {
  fs::path rel = fs::path(path).lexically_relative(project.dir);
  if (!rel.empty() && rel.begin()->string() != "..") return "./" + rel.string();
  return path;
}

// mkdir 0700 (and chmod when it exists: whoever created it, whatever the umask).
Status PrivateDir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("create " + dir.string(), errno);
  }
  if (::chmod(dir.c_str(), 0700) != 0) return ErrnoError("chmod " + dir.string(), errno);
  return Status::OK();
}

// Writes `value` to `path` as 0600 through a temporary file and a rename, so a reader never
// sees half a secret and a symlink planted at `path` is replaced, not followed.
Status WritePrivateFile(const fs::path& path, const std::string& value) {
  const fs::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError("create " + tmp.string(), errno);
  ::fchmod(fd, 0600);
  size_t done = 0;
  while (done < value.size()) {
    ssize_t n = ::write(fd, value.data() + done, value.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrnoError("write " + tmp.string(), err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return ErrnoError("close " + tmp.string(), errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + tmp.string(), errno);
  return Status::OK();
}

// The `environment`/`content` sources of the secrets and configs `service` uses, written.
Status WriteSecretFiles(const config::Project& project, const config::Service& service) {
  bool dirs_made = false;
  for (bool configs : {false, true}) {
    const auto& refs = configs ? service.configs : service.secrets;
    const auto& decl = configs ? project.configs : project.secrets;
    for (const config::SecretRef& ref : refs) {
      auto it = decl.find(ref.source);
      if (it == decl.end()) continue;
      const config::Secret& sec = it->second;
      if (sec.external || !sec.file.empty()) continue;
      std::string value;
      if (sec.content) {
        value = *sec.content;
      } else if (sec.environment_value) {
        value = *sec.environment_value;
      } else {
        return InvalidInput(fmt::format(
            "{}: {}.{}.environment: variable {} is not set (expected it in the environment "
            "or the .env of the command that starts the project)",
            sec.loc.ToString(), configs ? "configs" : "secrets", sec.name, sec.environment));
      }
      if (!dirs_made) {
        RETURN_IF_ERROR(PrivateDir(project.dir / ".slipway"));
        RETURN_IF_ERROR(PrivateDir(project.dir / ".slipway" / "secrets"));
        dirs_made = true;
      }
      RETURN_IF_ERROR(
          WritePrivateFile(config::SecretFilePath(project.dir, configs, sec.name), value));
    }
  }
  return Status::OK();
}

Status CheckBindSources(const config::Project& project, const config::Service& service) {
  for (const config::Mount& m : service.mounts) {
    if (m.type != config::Mount::Type::kBind) continue;
    std::error_code ec;
    if (!m.secret.empty()) {
      // Secrets and configs are files: a missing one is the user's to provide.
      if (!fs::is_regular_file(m.source, ec)) {
        return InvalidInput(
            fmt::format("{}: {}: file \"{}\" not found (expected an existing "
                        "file; nothing was started)",
                        m.loc.ToString(), m.key_path, Shown(project, m.source)));
      }
      if (m.source.find(',') != std::string::npos) {
        return InvalidInput(
            fmt::format("{}: {}: \"{}\" has a comma, which the container "
                        "engine's --mount cannot carry (expected a path "
                        "without ',')",
                        m.loc.ToString(), m.key_path, m.source));
      }
      continue;
    }
    if (fs::exists(m.source, ec)) continue;
    if (!m.create_host_path) {
      return InvalidInput(
          fmt::format("{}: {}: host path \"{}\" does not exist (expected an "
                      "existing path, or bind.create_host_path: true)",
                      m.loc.ToString(), m.key_path, Shown(project, m.source)));
    }
    // As docker compose does: a missing bind source becomes an empty folder.
    fs::create_directories(m.source, ec);
    if (ec) {
      return IoError(fmt::format("{}: {}: create host folder {}: {}", m.loc.ToString(), m.key_path,
                                 m.source, ec.message()));
    }
  }
  return Status::OK();
}

Status EnsureVolumes(const ContainerEngine& engine, const config::Project& project,
                     const config::Service& service) {
  std::set<std::string> done;
  for (const config::Mount& m : service.mounts) {
    if (m.type != config::Mount::Type::kVolume || m.volume.empty()) continue;
    if (!done.insert(m.volume).second) continue;
    const config::NamedVolume& vol = project.volumes.at(m.volume);
    std::string output;
    ASSIGN_OR_RETURN(ExitStatus st,
                     RunEngine(engine, {"volume", "inspect", vol.engine_name}, &output));
    if (st.success()) continue;
    if (vol.external) {
      return InvalidInput(fmt::format(
          "{}: volumes.{}: external volume \"{}\" does not exist (expected it created first, "
          "e.g. `{} volume create {}`; nothing was started)",
          vol.loc.ToString(), vol.name, vol.engine_name,
          fs::path(engine.binary()).filename().string(), vol.engine_name));
    }
    std::vector<std::string> args = {"volume",  "create",
                                     "--label", "slipway.project=" + project.name,
                                     "--label", "slipway.volume=" + vol.name};
    for (const auto& [k, v] : vol.labels) args.insert(args.end(), {"--label", k + "=" + v});
    args.push_back(vol.engine_name);
    output.clear();
    ASSIGN_OR_RETURN(st, RunEngine(engine, args, &output));
    if (!st.success()) return Failed("create volume " + vol.engine_name, st, output);
  }
  return Status::OK();
}

Status CheckEngineSecrets(const ContainerEngine& engine, const config::Service& service) {
  for (const config::EngineSecret& s : service.engine_secrets) {
    std::string output;
    ASSIGN_OR_RETURN(ExitStatus st, RunEngine(engine, {"secret", "inspect", s.name}, &output));
    if (st.success()) continue;
    const std::string bin = fs::path(engine.binary()).filename().string();
    return InvalidInput(fmt::format(
        "{}: {}: external secret \"{}\" is not in {} (expected it created first: `{} secret "
        "create {} FILE`; nothing was started)",
        s.loc.ToString(), s.ref, s.name, bin, bin, s.name));
  }
  return Status::OK();
}

}  // namespace

std::vector<std::string> MountFlags(const config::Service& service) {
  std::vector<std::string> a;
  for (const config::Mount& m : service.mounts) {
    std::string spec;
    switch (m.type) {
      case config::Mount::Type::kBind:
        spec = "type=bind,source=" + m.source;
        break;
      case config::Mount::Type::kVolume:
        spec = "type=volume";
        if (!m.source.empty()) spec += ",source=" + m.source;
        break;
      case config::Mount::Type::kTmpfs:
        spec = "type=tmpfs";
        if (m.tmpfs_size > 0) spec += ",tmpfs-size=" + std::to_string(m.tmpfs_size);
        break;
    }
    spec += ",destination=" + m.target;
    if (m.read_only) spec += ",ro=true";
    a.insert(a.end(), {"--mount", spec});
  }
  for (const config::EngineSecret& s : service.engine_secrets) {
    a.insert(a.end(), {"--secret", s.name + ",type=mount,target=" + s.target});
  }
  return a;
}

Status PrepareMountSources(const config::Project& project, const config::Service& service) {
  RETURN_IF_ERROR(WriteSecretFiles(project, service));
  return CheckBindSources(project, service);
}

Status PrepareContainerService(const ContainerEngine& engine, const config::Project& project,
                               const config::Service& service) {
  RETURN_IF_ERROR(PrepareMountSources(project, service));
  RETURN_IF_ERROR(CheckEngineSecrets(engine, service));
  return EnsureVolumes(engine, project, service);
}

Result<bool> ImageExists(const ContainerEngine& engine, const std::string& image) {
  std::string output;
  ASSIGN_OR_RETURN(ExitStatus st,
                   RunEngine(engine, {"image", "inspect", "--format", "{{.Id}}", image}, &output));
  return st.success();
}

Result<ProcessSpec> BuildImageSpec(const ContainerEngine& engine, const config::Project& project,
                                   const config::Service& service) {
  if (!service.build) {
    return InvalidInput(fmt::format("build: service {} has no build: section", service.name));
  }
  const config::BuildSpec& b = *service.build;
  std::vector<std::string> args = {"build", "-t", service.ImageName(project.name)};
  if (!b.dockerfile.empty()) {
    fs::path df(b.dockerfile);
    args.insert(args.end(), {"-f", (df.is_absolute() ? df : b.context / df).string()});
  }
  if (!b.target.empty()) args.insert(args.end(), {"--target", b.target});
  for (const auto& [k, v] : b.args) args.insert(args.end(), {"--build-arg", k + "=" + v});
  args.insert(args.end(), {"--label", "slipway.project=" + project.name, "--label",
                           "slipway.service=" + service.name});
  if (engine.is_podman()) {
    // The recipe flags podman needs on these machines apply to the build's RUN steps too.
    args.insert(args.end(), {"--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit",
                             "nproc=1024:1024"});
  }
  args.push_back(b.context.string());
  ProcessSpec spec = EngineSpec(engine, std::move(args));
  spec.cwd = b.context;
  return spec;
}

Status BuildImage(const ContainerEngine& engine, const config::Project& project,
                  const config::Service& service, Duration timeout, std::string* output) {
  ASSIGN_OR_RETURN(ProcessSpec spec, BuildImageSpec(engine, project, service));
  std::error_code ec;
  if (!fs::is_directory(service.build->context, ec)) {
    return InvalidInput(fmt::format(
        "{}: services.{}.build.context: folder \"{}\" not found "
        "(expected an existing folder)",
        service.loc.ToString(), service.name, Shown(project, service.build->context.string())));
  }
  std::string local;
  std::string* out = output ? output : &local;
  ASSIGN_OR_RETURN(ExitStatus st, RunSync(spec, timeout, out));
  if (!st.success()) {
    return Failed(fmt::format("build {}: {} build", service.name,
                              fs::path(engine.binary()).filename().string()),
                  st, *out);
  }
  return Status::OK();
}

Status RemoveProjectVolumes(const ContainerEngine& engine, const config::Project& project,
                            std::vector<std::string>* removed) {
  for (const auto& [name, vol] : project.volumes) {
    if (vol.external) continue;
    std::string output;
    ASSIGN_OR_RETURN(ExitStatus st,
                     RunEngine(engine, {"volume", "inspect", vol.engine_name}, &output));
    if (!st.success()) continue;  // never created, or already gone
    output.clear();
    // -f: a container of this project that is still being removed does not hold it.
    ASSIGN_OR_RETURN(st, RunEngine(engine, {"volume", "rm", "-f", vol.engine_name}, &output));
    if (!st.success()) return Failed("remove volume " + vol.engine_name, st, output);
    if (removed) removed->push_back(vol.engine_name);
  }
  return Status::OK();
}

}  // namespace slipway::runtime
