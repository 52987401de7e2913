#include "net/port_owner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

namespace slipway::net {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kListenState = "0A";  // TCP_LISTEN in /proc/net/tcp

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Inodes of LISTEN sockets on `port` from a /proc/net/tcp{,6} table. Lines:
//   sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
// with local_address "<hex ip>:<hex port>".
void ListenInodes(const std::string& table, int port, std::set<std::string>* inodes) {
  std::istringstream lines(table);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state, txrx, timer, retr, uid, timeout, inode;
    if (!(f >> sl >> local >> remote >> state >> txrx >> timer >> retr >> uid >> timeout >>
          inode)) {
      continue;
    }
    if (state != kListenState) continue;
    size_t colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    unsigned value = 0;
    const char* begin = local.data() + colon + 1;
    const char* end = local.data() + local.size();
    auto [ptr, ec] = std::from_chars(begin, end, value, 16);
    if (ec != std::errc() || ptr != end) continue;
    if (static_cast<int>(value) == port && inode != "0") inodes->insert(inode);
  }
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string CommandOf(const fs::path& proc_pid) {
  std::string cmd = ReadFile(proc_pid / "cmdline");
  while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
  for (char& c : cmd) {
    if (c == '\0') c = ' ';
  }
  if (cmd.empty()) {
    cmd = ReadFile(proc_pid / "comm");
    while (!cmd.empty() && cmd.back() == '\n') cmd.pop_back();
  }
  return cmd;
}

// True when one of the process's fds is one of the socket inodes.
bool HoldsSocket(const fs::path& proc_pid, const std::set<std::string>& inodes) {
  std::error_code ec;
  fs::directory_iterator it(proc_pid / "fd", ec);
  if (ec) return false;  // gone, or not ours to look at
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return false;
    fs::path target = fs::read_symlink(it->path(), ec);
    if (ec) continue;
    const std::string t = target.string();
    // "socket:[12345]"
    if (t.size() > 9 && t.compare(0, 8, "socket:[") == 0 && t.back() == ']' &&
        inodes.count(t.substr(8, t.size() - 9)) != 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<PortOwner> FindPortOwnerInForTest(const fs::path& proc_root, int port) {
  if (port <= 0 || port > 65535) return std::nullopt;
  std::set<std::string> inodes;
  ListenInodes(ReadFile(proc_root / "net" / "tcp"), port, &inodes);
  ListenInodes(ReadFile(proc_root / "net" / "tcp6"), port, &inodes);
  if (inodes.empty()) return std::nullopt;

  std::optional<PortOwner> best;
  std::error_code ec;
  fs::directory_iterator it(proc_root, ec);
  if (ec) return std::nullopt;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!AllDigits(name)) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10));
    if (best && best->pid < pid) continue;
    if (!HoldsSocket(it->path(), inodes)) continue;
    best = PortOwner{pid, CommandOf(it->path())};
  }
  return best;
}

std::optional<PortOwner> FindPortOwner(int port) { return FindPortOwnerInForTest("/proc", port); }

bool PortInUse(const std::string& host, int port) {
  if (port <= 0 || port > 65535) return false;
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  if (host.empty() || host == "0.0.0.0" || host == "*") {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*a);
  } else {
    std::string h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, h.c_str(), &a4->sin_addr) == 1) {
      a4->sin_family = AF_INET;
      a4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) == 1) {
      family = AF_INET6;
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof(*a6);
    } else {
      return false;
    }
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  bool in_use = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno == EADDRINUSE;
  ::close(fd);
  return in_use;
}

}  // namespace slipway::net
