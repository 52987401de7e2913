#include "config/secrets_of.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string_view>
#include <vector>

namespace slipway::config {
namespace {

// Values are gathered first and handed to the Redactor at once: it builds its matcher once,
// not once per value (a project with 20k secret-named variables took minutes).
struct Collector {
  void AddValue(std::string_view v) { values.emplace_back(v); }
  std::vector<std::string> values;
};

void AddUrlPasswords(Collector* r, std::string_view text) {
  for (const std::string& p : UrlPasswords(text)) r->AddValue(p);
}

void AddWords(Collector* r, const std::vector<std::string>& words) {
  for (const std::string& w : words) AddUrlPasswords(r, w);
}

// The first kMaxSecretFileBytes of a regular file; nullopt for anything else (a missing
// file, a folder, a FIFO that would block).
std::optional<std::string> ReadSmallFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0 && errno == ELOOP) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  while (out.size() < kMaxSecretFileBytes) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, kMaxSecretFileBytes - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void AddText(Collector* r, std::string_view text) {
  r->AddValue(text);
  // Each line too: a multi-line secret (a key, a list of credentials) may be echoed by line.
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    r->AddValue(text.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

Redactor SecretsOf(const Project& project, const std::map<std::string, std::string>& environ) {
  Collector r;
  for (const auto& [name, s] : project.services) {
    for (const auto& [k, v] : s.environment) {
      if (IsSecretName(k) || s.secret_env.count(k)) r.AddValue(v);
      AddUrlPasswords(&r, v);
    }
    if (s.command) AddWords(&r, *s.command);
    if (s.entrypoint) AddWords(&r, *s.entrypoint);
    if (s.host_command) AddWords(&r, *s.host_command);
    AddWords(&r, s.healthcheck.test);
  }
  for (const auto& [name, secret] : project.secrets) {
    if (!secret.file.empty()) {
      if (auto text = ReadSmallFile(secret.file)) AddText(&r, *text);
    }
    if (!secret.environment.empty()) {
      if (auto it = environ.find(secret.environment); it != environ.end()) {
        AddText(&r, it->second);
      }
      for (const auto& [sname, s] : project.services) {
        if (auto it = s.environment.find(secret.environment); it != s.environment.end()) {
          r.AddValue(it->second);
        }
      }
    }
  }
  for (const auto& [name, db] : project.databases) AddUrlPasswords(&r, db.url);
  for (const ReceiverSpec& rcv : project.notifications.receivers) {
    AddUrlPasswords(&r, rcv.url);
    if (rcv.kind == ReceiverSpec::Kind::kSlack) r.AddValue(rcv.url);
  }
  for (const FlagsReadToken& t : project.flags.tokens) r.AddValue(t.token);
  for (const auto& [k, v] : environ) {
    if (IsSecretName(k)) r.AddValue(v);
  }
  Redactor out;
  out.AddValues(r.values);
  return out;
}

}  // namespace slipway::config
