#include "runtime/proc_stats.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

namespace slipway::runtime {

namespace {

std::filesystem::path Under(const std::filesystem::path& root, std::string_view path) {
  std::string_view rel = path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return root / std::string(rel);
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Whitespace-separated fields.
std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// /proc/<pid>/stat: "pid (comm) state ppid ... utime(14) stime(15) ..."; the name may hold
// spaces and parentheses, so the fields after it start at the last ')'.
std::optional<ProcEntry> ParseStat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcEntry e;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!ParseNumber(pid_text, &e.pid)) return std::nullopt;
  e.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<std::string_view> f = Fields(text.substr(close + 1));
  // f[0] is field 3 (state); field n is f[n - 3].
  if (f.size() < 13) return std::nullopt;
  uint64_t utime = 0, stime = 0;
  if (!ParseNumber(f[1], &e.ppid) || !ParseNumber(f[11], &utime) || !ParseNumber(f[12], &stime)) {
    return std::nullopt;
  }
  e.ticks = utime + stime;
  return e;
}

// A "Key: value" line's value from /proc/<pid>/status or a cgroup's flat-keyed file.
std::optional<int64_t> KeyedNumber(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, key.size()) != key) continue;
    std::string_view rest = line.substr(key.size());
    if (rest.empty() || (rest.front() != ':' && rest.front() != ' ' && rest.front() != '\t')) {
      continue;  // a longer key with this prefix
    }
    if (rest.front() == ':') rest.remove_prefix(1);
    std::vector<std::string_view> f = Fields(rest);
    int64_t v = 0;
    if (f.empty() || !ParseNumber(f[0], &v)) return std::nullopt;
    if (f.size() > 1 && f[1] == "kB") v *= 1024;
    return v;
  }
  return std::nullopt;
}

}  // namespace

ProcReader::ProcReader(std::filesystem::path root) : root_(std::move(root)) {}

std::optional<std::string> ProcReader::Read(std::string_view path) const {
  std::ifstream f(Under(root_, path), std::ios::binary);
  if (!f) return std::nullopt;
  std::string out;
  char buf[4096];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    out.append(buf, static_cast<size_t>(f.gcount()));
    if (out.size() > (1u << 20)) break;
  }
  return out;
}

std::vector<std::string> ProcReader::List(std::string_view path) const {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(Under(root_, path), ec), end;
  for (; !ec && it != end; it.increment(ec)) out.push_back(it->path().filename().string());
  return out;
}

std::string CgroupV2Mount(const ProcReader& r) {
  std::optional<std::string> text = r.Read("/proc/self/mountinfo");
  if (!text) return "";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    // "id parent major:minor root mountpoint options [optional...] - fstype source super"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string_view> after = Fields(std::string_view(line).substr(dash + 3));
    if (after.empty() || after[0] != "cgroup2") continue;
    std::vector<std::string_view> before = Fields(std::string_view(line).substr(0, dash));
    if (before.size() >= 5) return std::string(before[4]);
  }
  return "";
}

std::string CgroupV2Path(const ProcReader& r, std::string_view pid) {
  std::optional<std::string> text = r.Read("/proc/" + std::string(pid) + "/cgroup");
  if (!text) return "";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

ProcTable ProcTable::Scan(const ProcReader& r) {
  ProcTable t;
  for (const std::string& name : r.List("/proc")) {
    pid_t pid = 0;
    if (!ParseNumber(std::string_view(name), &pid) || pid <= 0) continue;
    std::optional<std::string> stat = r.Read("/proc/" + name + "/stat");
    if (!stat) continue;  // gone meanwhile
    std::optional<ProcEntry> e = ParseStat(*stat);
    if (!e || e->pid != pid) continue;
    t.children_.emplace(e->ppid, e->pid);
    t.procs_.emplace(pid, std::move(*e));
  }
  return t;
}

const ProcEntry* ProcTable::Find(pid_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : &it->second;
}

std::vector<pid_t> ProcTable::Tree(pid_t root) const {
  std::vector<pid_t> out;
  if (!Find(root)) return out;
  out.push_back(root);
  // Breadth-first; bounded by the table's size, so a cycle in a hostile tree cannot loop.
  for (size_t i = 0; i < out.size() && out.size() <= procs_.size(); ++i) {
    auto [b, e] = children_.equal_range(out[i]);
    for (auto it = b; it != e; ++it) {
      if (it->second != root) out.push_back(it->second);
    }
  }
  return out;
}

pid_t ProcTable::ContainerRoot(const ProcReader& r, std::string_view name) const {
  for (const auto& [pid, e] : procs_) {
    if (e.comm != "conmon") continue;
    std::optional<std::string> cmdline = r.Read("/proc/" + std::to_string(pid) + "/cmdline");
    if (!cmdline) continue;
    // NUL-separated arguments; the name follows -n or --name.
    std::vector<std::string_view> args;
    std::string_view rest = *cmdline;
    while (!rest.empty()) {
      size_t z = rest.find('\0');
      args.push_back(rest.substr(0, z));
      if (z == std::string_view::npos) break;
      rest.remove_prefix(z + 1);
    }
    bool match = false;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if ((args[i] == "-n" || args[i] == "--name") && args[i + 1] == name) match = true;
    }
    if (!match) continue;
    auto [b, end] = children_.equal_range(pid);
    if (b != end) return b->second;
  }
  return 0;
}

ProcUnits ProcUnits::Machine() {
  ProcUnits u;
  long t = sysconf(_SC_CLK_TCK);
  if (t > 0) u.ticks_per_second = t;
  return u;
}

std::optional<ResourceUsage> Usage(const ProcReader& r, const ProcTable& table, pid_t root,
                                   const std::string& cgroup_mount, const std::string& own_cgroup,
                                   const ProcUnits& units) {
  std::vector<pid_t> tree = table.Tree(root);
  if (tree.empty()) return std::nullopt;
  ResourceUsage u;
  u.processes = static_cast<int>(tree.size());
  uint64_t ticks = 0;
  for (pid_t pid : tree) {
    const std::string dir = "/proc/" + std::to_string(pid);
    ticks += table.Find(pid)->ticks;
    if (std::optional<std::string> status = r.Read(dir + "/status")) {
      u.memory_bytes += KeyedNumber(*status, "VmRSS").value_or(0);
    }
    u.open_fds += static_cast<int64_t>(r.List(dir + "/fd").size());
  }
  u.cpu_seconds = static_cast<double>(ticks) / static_cast<double>(units.ticks_per_second);
  if (cgroup_mount.empty()) return u;
  const std::string group = CgroupV2Path(r, std::to_string(root));
  if (group.empty() || group == own_cgroup || group == "/") return u;
  const std::string dir = cgroup_mount + (group.front() == '/' ? "" : "/") + group;
  std::optional<std::string> cpu = r.Read(dir + "/cpu.stat");
  std::optional<std::string> mem = r.Read(dir + "/memory.current");
  std::optional<int64_t> usec = cpu ? KeyedNumber(*cpu, "usage_usec") : std::nullopt;
  std::vector<std::string_view> mem_fields = mem ? Fields(*mem) : std::vector<std::string_view>{};
  int64_t current = 0;
  if (!usec || mem_fields.empty() || !ParseNumber(mem_fields[0], &current)) return u;
  u.cpu_seconds = static_cast<double>(*usec) / 1e6;
  u.memory_bytes = current;
  u.from_cgroup = true;
  return u;
}

}  // namespace slipway::runtime
