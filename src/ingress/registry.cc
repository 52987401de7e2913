#include "ingress/registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace slipway::ingress {

using nlohmann::json;

Result<Registry> Registry::Open(const std::filesystem::path& state_dir) {
  Registry reg;
  reg.file_ = state_dir / "routes.json";
  std::error_code ec;
  if (!std::filesystem::exists(reg.file_, ec)) return reg;
  if (!std::filesystem::is_regular_file(reg.file_, ec)) {
    return InvalidInput(reg.file_.string() + ": not a regular file");
  }
  if (std::filesystem::file_size(reg.file_, ec) > kMaxRegistrationBytes * 64) {
    return InvalidInput(reg.file_.string() + ": too large to be a route table");
  }
  std::ifstream in(reg.file_, std::ios::binary);
  if (!in) return IoError("read " + reg.file_.string() + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("projects") ||
      !doc["projects"].is_array()) {
    return InvalidInput(reg.file_.string() +
                        ": not a route table (expected {\"projects\": [...]})");
  }
  const json& list = doc["projects"];
  for (size_t i = 0; i < list.size(); ++i) {
    auto r = ParseRegistration(list[i].dump(-1, ' ', false, json::error_handler_t::replace));
    if (!r.ok()) {
      return InvalidInput(reg.file_.string() + ": projects[" + std::to_string(i) +
                          "]: " + r.status().message());
    }
    if (Status st = reg.CheckConflicts(*r); !st.ok()) {
      return InvalidInput(reg.file_.string() + ": projects[" + std::to_string(i) +
                          "]: " + st.message());
    }
    reg.projects_[r->project] = std::move(r).value();
  }
  return reg;
}

Status Registry::CheckConflicts(const Registration& r) const {
  if (auto it = projects_.find(r.project); it != projects_.end() && it->second.folder != r.folder) {
    return AlreadyExists("project \"" + r.project + "\" is registered from " + it->second.folder +
                         " (a project name is served from one folder; rename one with -p or "
                         "`name:`)");
  }
  for (const auto& [name, other] : projects_) {
    if (name == r.project) continue;
    for (const std::string& h : r.hosts) {
      for (const std::string& oh : other.hosts) {
        if (h == oh) {
          return AlreadyExists("host " + h + " is registered by project \"" + name + "\" (" +
                               other.folder + ")");
        }
      }
    }
  }
  return Status::OK();
}

Status Registry::Register(const Registration& r, bool* changed) {
  RETURN_IF_ERROR(CheckConflicts(r));
  auto it = projects_.find(r.project);
  bool differs = it == projects_.end() || !(it->second == r);
  if (changed) *changed = differs;
  if (!differs) return Status::OK();
  std::map<std::string, Registration> next = projects_;
  next[r.project] = r;
  RETURN_IF_ERROR(Save(next));
  projects_ = std::move(next);
  return Status::OK();
}

Status Registry::Deregister(const std::string& project, const std::string& folder) {
  auto it = projects_.find(project);
  if (it == projects_.end()) return NotFound("project \"" + project + "\" is not registered");
  if (!folder.empty() && it->second.folder != folder) {
    return FailedPrecondition("project \"" + project + "\" is registered from " +
                              it->second.folder + ", not " + folder);
  }
  std::map<std::string, Registration> next = projects_;
  next.erase(project);
  RETURN_IF_ERROR(Save(next));
  projects_ = std::move(next);
  return Status::OK();
}

Status Registry::Save(const std::map<std::string, Registration>& projects) const {
  json list = json::array();
  for (const auto& [_, r] : projects) list.push_back(json::parse(RegistrationJson(r)));
  std::string text = json{{"projects", list}}.dump(2) + "\n";
  std::string tmp = file_.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("open " + tmp, errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("fsync " + tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file_.c_str()) != 0) return ErrnoError("rename " + tmp, errno);
  return Status::OK();
}

}  // namespace slipway::ingress
