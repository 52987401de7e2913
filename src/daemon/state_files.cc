#include "daemon/state_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace slipway::daemon {

Result<std::string> ReadSmallFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return NotFound(p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status WriteSmallFile(const std::filesystem::path& p, const std::string& content, mode_t mode) {
  std::string tmp = p.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("write " + tmp, errno);
  std::string data = content + "\n";
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0) return ErrnoError("write " + p.string(), errno);
  return Status::OK();
}

// The admin token: kept across restarts so scripts and dashboards keep working.
Result<std::string> LoadOrCreateToken(const std::filesystem::path& p) {
  if (auto t = ReadSmallFile(p); t.ok() && t->size() >= 32) return *t;
  unsigned char raw[24];
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::read(fd, raw, sizeof raw) != static_cast<ssize_t>(sizeof raw)) {
    if (fd >= 0) ::close(fd);
    return IoError("reading /dev/urandom failed");
  }
  ::close(fd);
  std::string token;
  for (unsigned char c : raw) token += fmt::format("{:02x}", c);
  RETURN_IF_ERROR(WriteSmallFile(p, token, 0600));
  return token;
}

// Splits "host:port" (port may be 0).
Result<std::pair<std::string, int>> SplitHostPort(const std::string& s) {
  const Status bad = InvalidInput("x-slipway.api.listen: \"" + s + "\" is not host:port");
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return bad;
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  // Digits only (strtol would take "", "+80" or " 80"), at most 5 of them.
  const std::string digits = s.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return bad;
  int port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad;
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return bad;
  return std::make_pair(host, port);
}

// Binds the API's TCP listener. With port 0, the port of the previous run is tried first so
// the address a user bookmarked stays valid.
Result<net::UniqueFd> ListenApi(const StatePaths& paths, const std::string& listen,
                                KeeperLink* keeper, std::string* addr) {
  ASSIGN_OR_RETURN(auto hp, SplitHostPort(listen));
  auto [host, port] = hp;
  if (port == 0) {
    if (auto prev = ReadSmallFile(paths.addr_file()); prev.ok()) {
      if (auto php = SplitHostPort(*prev); php.ok() && php->first == host) {
        if (auto fd = keeper->ListenTcp(host, php->second); fd.ok()) {
          *addr = *prev;
          return std::move(fd).value();
        }
      }
    }
  }
  ASSIGN_OR_RETURN(net::UniqueFd fd, keeper->ListenTcp(host, port));
  ASSIGN_OR_RETURN(int bound, net::LocalPort(fd.get()));
  *addr =
      fmt::format("{}:{}", host.find(':') != std::string::npos ? "[" + host + "]" : host, bound);
  return fd;
}

}  // namespace slipway::daemon
