#include "config/volumes_settings.h"

#include <fmt/format.h>

#include <cctype>

#include "config/compose_names.h"
#include "config/values.h"

namespace slipway::config {
namespace {

namespace fs = std::filesystem;

bool IsExtension(const std::string& key) { return key.rfind("x-", 0) == 0; }

// Podman and docker read --mount as comma-separated key=value pairs: a comma in a path
// cannot be passed through.
Status CheckMountPath(const Node& n, const std::string& path, const std::string& p) {
  if (p.find(',') != std::string::npos) {
    return NodeError(n, path,
                     Quote(p) +
                         " has a comma, which the container engine's --mount "
                         "cannot carry",
                     "a path without ','");
  }
  if (p.size() > 4096) return NodeError(n, path, "is longer than 4096 bytes", "a shorter path");
  return Status::OK();
}

Status CheckTarget(const Node& n, const std::string& path, const std::string& t) {
  if (t.empty() || t[0] != '/') {
    return NodeError(n, path, Quote(t) + " is not an absolute path in the container",
                     "a path starting with '/', e.g. /var/lib/data");
  }
  return CheckMountPath(n, path, t);
}

// "~/x" and "./x" and "/x" are host paths; the rest name volumes (as compose decides).
bool IsHostPath(const std::string& s) {
  return !s.empty() && (s[0] == '.' || s[0] == '/' || s[0] == '~');
}

std::string ResolveHostPath(const std::string& s, const fs::path& project_dir, const Lookup& env) {
  if (s == "~" || s.rfind("~/", 0) == 0) {
    std::optional<std::string> home = env ? env("HOME") : std::nullopt;
    if (!home) {
      const char* h = std::getenv("HOME");
      if (h != nullptr) home = h;
    }
    if (home) return (fs::path(*home) / s.substr(s.size() > 1 ? 2 : 1)).lexically_normal().string();
  }
  fs::path p(s);
  if (p.is_relative()) p = project_dir / p;
  std::string out = p.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// "64m", "1g", "1024" (bytes), as compose's tmpfs size.
std::optional<long long> ParseByteSize(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  long long n = std::stoll(s.substr(0, digits));
  std::string unit = s.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  long long mul = unit.empty() || unit == "b" ? 1
                  : unit == "k"               ? 1LL << 10
                  : unit == "m"               ? 1LL << 20
                  : unit == "g"               ? 1LL << 30
                                              : 0;
  if (mul == 0) return std::nullopt;
  return n * mul;
}

Status ResolveVolumeName(const Node& n, const std::string& path, const std::string& name,
                         const std::map<std::string, NamedVolume>& named, Mount* m) {
  auto it = named.find(name);
  if (it == named.end()) {
    std::string list;
    for (const auto& [k, _] : named) list += (list.empty() ? "" : ", ") + k;
    return NodeError(n, path, "volume " + Quote(name) + " is not declared",
                     list.empty() ? "a top-level volumes: entry, or a path starting with ./ or /"
                                  : "one of the top-level volumes: " + list +
                                        ", or a path starting with ./ or /");
  }
  m->volume = name;
  m->source = it->second.engine_name;
  return Status::OK();
}

bool IsMode(const std::string& opt) {
  static const char* const kModes[] = {"ro",      "rw",        "z",          "Z",       "nocopy",
                                       "cached",  "delegated", "consistent", "shared",  "slave",
                                       "private", "rshared",   "rslave",     "rprivate"};
  for (const char* m : kModes) {
    if (opt == m) return true;
  }
  return false;
}

// "ro", "rw,nocopy": only mode words.
bool IsModeList(const std::string& s) {
  size_t start = 0;
  while (true) {
    size_t c = s.find(',', start);
    if (!IsMode(s.substr(start, c == std::string::npos ? c : c - start))) return false;
    if (c == std::string::npos) return true;
    start = c + 1;
  }
}

Status ParseShortVolume(const Node& n, const std::string& path, const fs::path& project_dir,
                        const std::map<std::string, NamedVolume>& named, const Lookup& env,
                        Mount* m) {
  // [SOURCE:]TARGET[:MODE]
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t c = n.scalar.find(':', start);
    parts.push_back(n.scalar.substr(start, c == std::string::npos ? c : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  const char* expected =
      "[SOURCE:]TARGET[:MODE], e.g. \"db-data:/var/lib/data\" or \"./conf:/etc/app:ro\"";
  if (parts.size() > 3 || parts.front().empty()) {
    return NodeError(n, path, Quote(n.scalar) + " is not a volume", expected);
  }
  std::string source, target, mode;
  if (parts.size() == 1) {
    target = parts[0];
  } else if (parts.size() == 2 && IsModeList(parts[1])) {
    target = parts[0];  // anonymous volume with a mode: "/data:ro"
    mode = parts[1];
  } else if (parts.size() == 2) {
    source = parts[0];
    target = parts[1];
  } else {
    source = parts[0];
    target = parts[1];
    mode = parts[2];
  }
  RETURN_IF_ERROR(CheckTarget(n, path, target));
  m->target = target;
  size_t mstart = 0;
  while (mstart <= mode.size() && !mode.empty()) {
    size_t c = mode.find(',', mstart);
    std::string opt = mode.substr(mstart, c == std::string::npos ? c : c - mstart);
    if (opt == "ro") {
      m->read_only = true;
    } else if (opt == "rw") {
      m->read_only = false;
    } else if (!IsMode(opt)) {
      return NodeError(n, path, "mode " + Quote(opt) + " is not a volume mode",
                       "ro or rw (and z, Z, nocopy, propagation)");
    }
    if (c == std::string::npos) break;
    mstart = c + 1;
  }
  if (source.empty()) {
    m->type = Mount::Type::kVolume;  // anonymous: the engine names it
    return Status::OK();
  }
  if (IsHostPath(source)) {
    m->type = Mount::Type::kBind;
    m->source = ResolveHostPath(source, project_dir, env);
    m->create_host_path = true;  // as compose: the short syntax creates a missing folder
    return CheckMountPath(n, path, m->source);
  }
  m->type = Mount::Type::kVolume;
  return ResolveVolumeName(n, path, source, named, m);
}

Status ParseLongVolume(const Node& n, const std::string& path, const fs::path& project_dir,
                       const std::map<std::string, NamedVolume>& named, const Lookup& env,
                       const IgnoredFn& ignored, Mount* m) {
  const Node* type_node = n.Find("type");
  if (type_node == nullptr) {
    return NodeError(n, path, "has no type", "type: " + kMountTypeNames.List());
  }
  ASSIGN_OR_RETURN(m->type, ReadEnum(*type_node, JoinPath(path, "type"), kMountTypeNames));
  std::string source;
  const Node* source_node = nullptr;
  bool has_target = false;
  std::optional<bool> create_host_path;
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "type") continue;
    if (f.key == "source") {
      ASSIGN_OR_RETURN(source, ReadString(f, fpath));
      source_node = &f;
    } else if (f.key == "target") {
      ASSIGN_OR_RETURN(m->target, ReadString(f, fpath));
      RETURN_IF_ERROR(CheckTarget(f, fpath, m->target));
      has_target = true;
    } else if (f.key == "read_only") {
      ASSIGN_OR_RETURN(m->read_only, ReadBool(f, fpath));
    } else if (f.key == "bind") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, "a mapping with create_host_path, propagation"));
      for (const Node& g : f.children) {
        const std::string gpath = JoinPath(fpath, g.key);
        if (g.key == "create_host_path") {
          ASSIGN_OR_RETURN(bool c, ReadBool(g, gpath));
          create_host_path = c;
        } else if (!IsExtension(g.key)) {
          ignored(gpath);
        }
      }
    } else if (f.key == "tmpfs") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, "a mapping with size"));
      for (const Node& g : f.children) {
        const std::string gpath = JoinPath(fpath, g.key);
        if (g.key == "size") {
          ASSIGN_OR_RETURN(std::string size, ReadString(g, gpath));
          std::optional<long long> bytes = ParseByteSize(size);
          if (!bytes) {
            return NodeError(g, gpath, Quote(size) + " is not a size", "bytes, or e.g. 64m, 1g");
          }
          m->tmpfs_size = *bytes;
        } else if (!IsExtension(g.key)) {
          ignored(gpath);
        }
      }
    } else if (!IsExtension(f.key)) {
      ignored(fpath);
    }
  }
  if (!has_target) return NodeError(n, path, "has no target", "target: /path/in/container");
  switch (m->type) {
    case Mount::Type::kTmpfs:
      if (source_node != nullptr && !source.empty()) {
        return NodeError(*source_node, JoinPath(path, "source"), "a tmpfs has no source",
                         "no source for type: tmpfs");
      }
      return Status::OK();
    case Mount::Type::kVolume:
      if (source.empty()) return Status::OK();  // anonymous
      return ResolveVolumeName(*source_node, JoinPath(path, "source"), source, named, m);
    case Mount::Type::kBind:
      break;
  }
  if (source.empty()) {
    return NodeError(source_node ? *source_node : n, JoinPath(path, "source"),
                     "a bind mount needs a host path", "source: ./path or /path");
  }
  m->source = ResolveHostPath(source, project_dir, env);
  RETURN_IF_ERROR(CheckMountPath(*source_node, JoinPath(path, "source"), m->source));
  m->create_host_path = create_host_path.value_or(true);
  std::error_code ec;
  if (!m->create_host_path && !fs::exists(m->source, ec)) {
    return NodeError(*source_node, JoinPath(path, "source"),
                     "host path " + Quote(source) + " does not exist",
                     "an existing path, or bind.create_host_path: true");
  }
  return Status::OK();
}

}  // namespace

Result<std::map<std::string, NamedVolume>> ParseNamedVolumes(const Node& n,
                                                             const std::string& project,
                                                             const IgnoredFn& ignored) {
  std::map<std::string, NamedVolume> out;
  RETURN_IF_ERROR(ExpectMap(n, "volumes", "a mapping of volume names to settings"));
  for (const Node& v : n.children) {
    const std::string path = JoinPath("volumes", v.key);
    NamedVolume vol;
    vol.name = v.key;
    vol.loc = v.ErrorLoc();
    vol.engine_name = project + "_" + v.key;
    bool ok = !v.key.empty() && std::isalnum(static_cast<unsigned char>(v.key[0]));
    for (char c : v.key) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
    }
    if (!ok) {
      return NodeError(v, path, Quote(v.key) + " is not a valid volume name",
                       "letters, digits, '_', '.', '-', starting with a letter or digit");
    }
    if (!v.IsNull()) {
      RETURN_IF_ERROR(ExpectMap(v, path, "a mapping with name, external, labels, or nothing"));
      for (const Node& f : v.children) {
        const std::string fpath = JoinPath(path, f.key);
        if (f.key == "name") {
          ASSIGN_OR_RETURN(vol.engine_name, ReadString(f, fpath));
          if (vol.engine_name.empty()) return NodeError(f, fpath, "is empty", "a volume name");
        } else if (f.key == "external") {
          ASSIGN_OR_RETURN(vol.external, ReadBool(f, fpath));
        } else if (f.key == "labels") {
          if (f.IsMap()) {
            for (const Node& l : f.children) {
              ASSIGN_OR_RETURN(vol.labels[l.key], ReadString(l, JoinPath(fpath, l.key)));
            }
          } else if (!f.IsNull()) {
            return NodeError(f, fpath, "is " + f.Describe(), "a mapping of labels");
          }
        } else if (!IsExtension(f.key)) {
          ignored(fpath);  // driver, driver_opts: the engine's defaults
        }
      }
      // An external volume without `name:` is the key itself.
      if (vol.external && v.Find("name") == nullptr) vol.engine_name = v.key;
    }
    out[v.key] = std::move(vol);
  }
  return out;
}

Result<std::map<std::string, Secret>> ParseSecretSources(const Node& n, bool configs,
                                                         const Lookup& environment,
                                                         const IgnoredFn& ignored,
                                                         const fs::path& base) {
  const std::string top = configs ? "configs" : "secrets";
  const std::string sources = configs ? "file, environment, content or external: true"
                                      : "file, environment or external: true";
  std::map<std::string, Secret> out;
  RETURN_IF_ERROR(ExpectMap(n, top, "a mapping of " + top + " names to {file: path}"));
  for (const Node& s : n.children) {
    const std::string path = JoinPath(top, s.key);
    RETURN_IF_ERROR(ExpectMap(s, path, "a mapping with " + sources));
    Secret secret;
    secret.name = s.key;
    secret.loc = s.ErrorLoc();
    int count = 0;
    const Node* name_node = nullptr;
    for (const Node& f : s.children) {
      const std::string fpath = JoinPath(path, f.key);
      if (f.key == "file") {
        ASSIGN_OR_RETURN(std::string file, ReadString(f, fpath));
        if (file.empty()) return NodeError(f, fpath, "is empty", "a file path");
        secret.file = file;
        if (secret.file.is_relative() && !base.empty()) {
          secret.file = (base / secret.file).lexically_normal();
        }
        secret.file_loc = f.ErrorLoc();
        ++count;
      } else if (f.key == "environment") {
        ASSIGN_OR_RETURN(secret.environment, ReadString(f, fpath));
        if (secret.environment.empty()) {
          return NodeError(f, fpath, "is empty", "the name of an environment variable");
        }
        if (environment) secret.environment_value = environment(secret.environment);
        ++count;
      } else if (f.key == "content" && configs) {
        ASSIGN_OR_RETURN(std::string content, ReadString(f, fpath));
        secret.content = std::move(content);
        ++count;
      } else if (f.key == "external") {
        ASSIGN_OR_RETURN(secret.external, ReadBool(f, fpath));
        if (secret.external) ++count;
      } else if (f.key == "name") {
        ASSIGN_OR_RETURN(secret.external_name, ReadString(f, fpath));
        name_node = &f;
      } else if (!IsExtension(f.key)) {
        ignored(fpath);
      }
    }
    if (count == 0) return NodeError(s, path, "has no source", "one of " + sources);
    if (count > 1) return NodeError(s, path, "has more than one source", "one of " + sources);
    if (secret.external && configs) {
      return NodeError(s, path, "external configs are not supported by slipway",
                       "file, environment or content");
    }
    if (secret.external_name.empty()) secret.external_name = s.key;
    if (name_node != nullptr && !secret.external) ignored(JoinPath(path, "name"));
    out[s.key] = std::move(secret);
  }
  return out;
}

Status ParseServiceVolumes(const Node& n, const std::string& path, const fs::path& project_dir,
                           const std::map<std::string, NamedVolume>& named, const Lookup& env,
                           const IgnoredFn& ignored, std::vector<Mount>* out) {
  if (n.IsNull()) return Status::OK();
  if (!n.IsSeq()) {
    return NodeError(n, path, "is " + n.Describe(),
                     "a list of volumes, e.g. [\"db-data:/var/lib/data\"]");
  }
  for (size_t i = 0; i < n.children.size(); ++i) {
    const Node& item = n.children[i];
    const std::string ipath = IndexPath(path, i);
    Mount m;
    m.key_path = ipath;
    m.loc = item.loc;
    if (item.IsScalar()) {
      RETURN_IF_ERROR(ParseShortVolume(item, ipath, project_dir, named, env, &m));
    } else if (item.IsMap()) {
      RETURN_IF_ERROR(ParseLongVolume(item, ipath, project_dir, named, env, ignored, &m));
    } else {
      return NodeError(item, ipath, "is " + item.Describe(),
                       "\"SOURCE:TARGET[:ro]\" or a mapping with type, source, target");
    }
    for (const Mount& other : *out) {
      if (other.target == m.target) {
        return NodeError(item, ipath, "target " + Quote(m.target) + " is mounted twice",
                         "one mount per container path");
      }
    }
    out->push_back(std::move(m));
  }
  return Status::OK();
}

Status ParseServiceTmpfs(const Node& n, const std::string& path, std::vector<Mount>* out) {
  std::vector<const Node*> items;
  if (n.IsScalar()) {
    items.push_back(&n);
  } else if (n.IsSeq()) {
    for (const Node& c : n.children) items.push_back(&c);
  } else if (!n.IsNull()) {
    return NodeError(n, path, "is " + n.Describe(), "a path or a list of paths");
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string ipath = n.IsSeq() ? IndexPath(path, i) : path;
    ASSIGN_OR_RETURN(std::string target, ReadString(*items[i], ipath));
    // "/run:size=64m" style options are the engine's; slipway takes the path.
    target = target.substr(0, target.find(':'));
    RETURN_IF_ERROR(CheckTarget(*items[i], ipath, target));
    Mount m;
    m.type = Mount::Type::kTmpfs;
    m.target = target;
    m.key_path = ipath;
    m.loc = items[i]->loc;
    out->push_back(std::move(m));
  }
  return Status::OK();
}

Status RunAsContainers(Project* project, const std::vector<std::string>& services) {
  std::vector<std::string> wanted = services;
  if (wanted.empty()) {
    for (const auto& [name, _] : project->services) wanted.push_back(name);
  }
  for (const std::string& name : wanted) {
    auto it = project->services.find(name);
    if (it == project->services.end()) continue;  // `up` names unknown services itself
    const Service& s = it->second;
    if (s.image.empty() && !s.build) {
      return InvalidInput(fmt::format(
          "{}: services.{}: up --containers: {} has no image and no build to run as a "
          "container (expected image: or build:, or {})",
          s.loc.ToString(), name, name,
          services.empty() ? "name the services to run as containers" : "up without --containers"));
    }
  }
  for (const std::string& name : wanted) {
    auto it = project->services.find(name);
    if (it != project->services.end()) it->second.runtime = RuntimeChoice::kContainer;
  }
  return Status::OK();
}

Result<RuntimeChoice> ReadRuntimeChoice(const Node& n, const std::string& path) {
  return ReadEnum(n, path, kRuntimeChoiceNames);
}

fs::path SecretFilePath(const fs::path& project_dir, bool config, const std::string& name) {
  return project_dir / ".slipway" / "secrets" / ((config ? "config." : "secret.") + name);
}

void AddSecretMounts(const std::vector<SecretRef>& refs, const std::map<std::string, Secret>& decl,
                     bool configs, const fs::path& project_dir, Service* s) {
  for (const SecretRef& ref : refs) {
    auto it = decl.find(ref.source);
    if (it == decl.end()) continue;  // the parser refused undeclared ones
    const Secret& sec = it->second;
    const std::string where = (configs ? "configs." : "secrets.") + ref.source;
    if (sec.external) {
      s->engine_secrets.push_back({sec.external_name, ref.target, where, sec.loc});
      continue;
    }
    Mount m;
    m.type = Mount::Type::kBind;
    m.read_only = true;
    m.secret = where;
    m.key_path = where + (sec.file.empty() ? "" : ".file");
    m.loc = sec.file.empty() ? sec.loc : sec.file_loc;
    m.source = sec.file.empty() ? SecretFilePath(project_dir, configs, sec.name).string()
                                : sec.file.string();
    if (!ref.target.empty() && ref.target[0] == '/') {
      m.target = ref.target;
    } else {
      m.target = (configs ? "/" : "/run/secrets/") + ref.target;
    }
    s->mounts.push_back(std::move(m));
  }
}

}  // namespace slipway::config
