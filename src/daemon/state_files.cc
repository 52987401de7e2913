#include "daemon/state_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/hex.h"
#include "net/host_port.h"

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
  std::string token = HexEncode(raw, sizeof raw);
  RETURN_IF_ERROR(WriteSmallFile(p, token, 0600));
  return token;
}

// Binds the API's TCP listener. With port 0, the port of the previous run is tried first so
// the address a user bookmarked stays valid.
Result<net::UniqueFd> ListenApi(const StatePaths& paths, const std::string& listen,
                                KeeperLink* keeper, std::string* addr) {
  // The loader checked the address; this guards a model built some other way.
  std::optional<net::HostPort> hp = net::SplitHostPort(listen);
  if (!hp) return InvalidInput("x-slipway.api.listen: \"" + listen + "\" is not host:port");
  const auto& [host, port] = *hp;
  if (port == 0) {
    if (auto prev = ReadSmallFile(paths.addr_file()); prev.ok()) {
      if (auto php = net::SplitHostPort(*prev); php && php->host == host) {
        if (auto fd = keeper->ListenTcp(host, php->port); fd.ok()) {
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
