#include "config/environment.h"

#include <algorithm>

namespace slipway::config {

namespace fs = std::filesystem;

bool IsValidEnvName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

Status CheckEnvName(std::string_view name, std::string_view origin) {
  if (name.empty() || IsValidEnvName(name)) return Status::OK();
  std::string shown(name.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return InvalidInput("slipway: " + std::string(origin) + " \"" + shown + "\"" +
                      (name.size() > 80 ? "..." : "") +
                      ": not an environment name (expected [a-z0-9][a-z0-9_-]{0,62}, "
                      "e.g. staging)");
}

fs::path EnvOverlayFor(const fs::path& base, const std::string& env) {
  const std::string name = base.filename().string();
  const size_t first = name.find('.');
  const size_t last = name.rfind('.');
  std::string overlay;
  if (first == std::string::npos || first == 0) {
    overlay = name + "." + env;  // no extension to keep
  } else {
    overlay = name.substr(0, first) + "." + env + name.substr(last);
  }
  return base.parent_path() / overlay;
}

Result<ProjectFiles> SelectProjectFiles(const LoadOptions& o, const fs::path& working_dir,
                                        const ExistsFn& exists) {
  RETURN_IF_ERROR(CheckEnvName(o.env_name));
  ProjectFiles out;
  auto absolute = [&](const fs::path& f) {
    return (f.is_absolute() ? f : working_dir / f).lexically_normal();
  };
  if (!o.files.empty()) {
    for (const fs::path& f : o.files) out.compose.push_back(absolute(f));
  } else {
    for (fs::path dir = working_dir;; dir = dir.parent_path()) {
      for (const std::string& name : ComposeFileNames()) {
        // Any file type counts: a FIFO or folder named compose.yaml is refused when read.
        if (!exists(dir / name)) continue;
        out.compose.push_back(dir / name);
        // The override that matches the name, else any override there.
        std::string stem = name.substr(0, name.find('.'));
        std::string ext = name.substr(name.find('.'));
        std::vector<std::string> candidates = {stem + ".override" + ext};
        for (const std::string& c : OverrideFileNames()) candidates.push_back(c);
        for (const std::string& c : candidates) {
          if (exists(dir / c)) {
            out.compose.push_back(dir / c);
            break;
          }
        }
        break;
      }
      if (!out.compose.empty() || dir == dir.parent_path() || dir.empty()) break;
    }
    if (out.compose.empty()) {
      std::string names;
      for (const std::string& n : ComposeFileNames()) names += (names.empty() ? "" : ", ") + n;
      return InvalidInput("no compose file found in " + working_dir.string() +
                          " or its parent folders (expected one of " + names + ", or -f FILE)");
    }
  }
  if (!o.env_name.empty()) {
    fs::path overlay = EnvOverlayFor(out.compose.front(), o.env_name);
    if (std::find(out.compose.begin(), out.compose.end(), overlay) == out.compose.end() &&
        exists(overlay)) {
      out.compose.push_back(overlay);
      out.overlay = overlay;
    }
  }
  const fs::path dir = out.dir();
  for (const fs::path& f : o.env_files) out.env_files.push_back(absolute(f));
  out.named_env_files = out.env_files.size();
  if (o.env_files.empty() && exists(dir / ".env")) out.env_files.push_back(dir / ".env");
  if (!o.env_name.empty()) {
    fs::path env_dotenv = dir / (".env." + o.env_name);
    if (std::find(out.env_files.begin(), out.env_files.end(), env_dotenv) == out.env_files.end() &&
        exists(env_dotenv)) {
      out.env_files.push_back(env_dotenv);
    }
  }
  return out;
}

Result<ProjectFiles> SelectProjectFiles(const LoadOptions& o) {
  std::error_code ec;
  fs::path wd = o.working_dir.empty() ? fs::current_path(ec) : o.working_dir;
  if (wd.is_relative()) wd = fs::current_path(ec) / wd;
  return SelectProjectFiles(o, wd.lexically_normal(), [](const fs::path& p) {
    std::error_code e;
    return fs::exists(p, e);
  });
}

}  // namespace slipway::config
