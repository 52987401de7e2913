// Test harness for end-to-end tests of the `slipway` binary: a throwaway project folder,
// running the CLI (and shell scripts) with captured output, reading the state files (pid
// files, api.addr), free ports, polling with deadlines, and cleanup of
// the daemon (by the PID in .slipway/daemon.pid) and of anything it left behind.
//
// Header-only; used by the integration_tests binary only. Single-threaded.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"

namespace slipway::testing {

struct CmdResult {
  int rc = -1;
  std::string out;
  std::string err;
};

// Runs argv with cwd and extra environment, waits at most `timeout`, captures both streams.
inline CmdResult RunCmd(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                        const std::vector<std::string>& env = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("slipway-cmd-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  std::string out_path = (dir / "out").string(), err_path = (dir / "err").string();
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(126);
    int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    setenv("NO_COLOR", "1", 1);
    for (const auto& kv : env) putenv(strdup(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  CmdResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.err = "(timed out)";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status)) r.rc = WEXITSTATUS(status);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err += slurp(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

// `script` run by /bin/sh in `cwd` (with extra environment `env`), bounded by `timeout`.
inline CmdResult Sh(const std::string& script, const std::filesystem::path& cwd,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                    const std::vector<std::string>& env = {}) {
  return RunCmd({"/bin/sh", "-c", script}, cwd, env, timeout);
}

// The whole file as it is ("" when it cannot be read).
inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file without its trailing newlines and spaces: a token, an address.
inline std::string ReadTrimmed(const std::filesystem::path& p) {
  std::string s = ReadFile(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The file's last `max_bytes` (all of it when shorter; "" when it cannot be read): a log to
// show with a failed assertion.
inline std::string Tail(const std::filesystem::path& p, size_t max_bytes = 3000) {
  std::string all = ReadFile(p);
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

// The PID a pid file holds, 0 when there is none.
inline pid_t ReadPid(const std::filesystem::path& p) {
  std::ifstream in(p);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// A port that was free a moment ago on 127.0.0.1, below the kernel's ephemeral range (so no
// outgoing connection of a test running beside this one takes it meanwhile), and never handed
// out before in this process (a test that asks for several must not get one of them twice).
inline int FreePort() {
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  std::lock_guard<std::mutex> lock(mu);
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  const int low = std::max(1024, ephemeral_low - 12000);
  const int high = std::max(low + 1000, ephemeral_low) - 1;
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = pick(rng);
    if (handed_out.count(port)) continue;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (bound) {
      handed_out.insert(port);
      return port;
    }
  }
  return 0;
}

// Polls `cond` every 20 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

inline bool PidAlive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

// A helper process (a test CA, its DNS server) started with Start() and stopped by its PID on
// destruction (SIGTERM, SIGKILL after 5 s). Its stdout and stderr go to `log`; `env` entries
// ("NAME=value") are added to the test's environment.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  void Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::filesystem::path& log) {
    pid_ = fork();
    if (pid_ == 0) {
      for (const std::string& e : env) putenv(strdup(e.c_str()));
      FILE* f = freopen(log.c_str(), "w", stdout);
      if (f) dup2(fileno(stdout), 2);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  // Whether it still runs (reaps it once it exited).
  bool Running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  ~Child() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

// GET http://127.0.0.1:port/path (with a bearer token when given); status 0 when nothing
// answers.
inline int HttpGet(int port, const std::string& path, std::string* body = nullptr,
                   const std::string& token = "") {
  http::Endpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  http::Request req;
  req.target = path;
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  auto r = http::Fetch(ep, req, Duration(2000));
  if (!r.ok()) return 0;
  if (body) *body = r->body;
  return r->status;
}

// A project folder with a compose file; the daemon it starts is stopped on destruction.
class Project {
 public:
  explicit Project(const std::string& compose_yaml) {
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-it-" + std::to_string(getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Write("compose.yaml", compose_yaml);
  }
  ~Project() {
    pid_t pid = DaemonPid();
    if (PidAlive(pid)) {
      Slipway({"down"}, std::chrono::seconds(30));
      // The keeper first: it would start the daemon again.
      std::ifstream keeper_file(dir_ / ".slipway" / "keeper.pid");
      pid_t keeper = 0;
      keeper_file >> keeper;
      if (PidAlive(keeper)) kill(keeper, SIGKILL);
      if (PidAlive(pid)) kill(pid, SIGKILL);
    }
    // A keeper on its way out may remove its pid file while the folder is being removed.
    std::error_code ec;
    for (int i = 0; i < 10; ++i) {
      std::filesystem::remove_all(dir_, ec);
      if (!ec) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
  }
  const std::filesystem::path& dir() const { return dir_; }

  CmdResult Slipway(std::vector<std::string> args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60),
                    const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), SLIPWAY_BIN);
    return RunCmd(args, dir_, env, timeout);
  }

  pid_t DaemonPid() const { return ReadPid(dir_ / ".slipway" / "daemon.pid"); }

  // The admin API's TCP port (.slipway/api.addr is "127.0.0.1:PORT"); 0 when unknown.
  int ApiPort() const {
    std::ifstream in(dir_ / ".slipway" / "api.addr");
    std::string addr;
    in >> addr;
    auto colon = addr.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(addr.c_str() + colon + 1);
  }

  // The JSON a command prints (`--format json`); `require_ok` also expects exit status 0.
  nlohmann::json Json(const std::vector<std::string>& args, bool require_ok = false) {
    CmdResult r = Slipway(args);
    if (require_ok) {
      EXPECT_EQ(r.rc, 0) << (args.size() > 1 ? args[1] : "") << ": " << r.err;
    }
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
  }

  nlohmann::json Ps() { return Json({"ps", "--format", "json"}); }
  nlohmann::json Events() { return Json({"events", "--format", "json"}); }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path dir_;
};

// A bounded client loop against 127.0.0.1:port, and what it saw.
struct LoadResult {
  int ok = 0;
  int failed = 0;  // refused, reset, timed out or 5xx
  int http_5xx = 0;
  int cut = 0;  // accepted, then reset or closed before an answer: held by a killed process
  std::vector<std::string> failures;
  long max_ms = 0;
};

// `threads` clients, each a new connection per request (no keep-alive), for `duration`.
inline LoadResult RunLoad(int port, int threads, std::chrono::milliseconds duration) {
  LoadResult total;
  std::mutex mu;
  auto deadline = std::chrono::steady_clock::now() + duration;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      LoadResult mine;
      for (int i = 0; i < 100'000 && std::chrono::steady_clock::now() < deadline; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        http::Endpoint ep;
        ep.host = "127.0.0.1";
        ep.port = port;
        http::Request req;
        req.target = "/";
        auto r = http::Fetch(ep, req, Duration(10'000));
        long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        mine.max_ms = std::max(mine.max_ms, ms);
        if (r.ok() && r->status < 500) {
          ++mine.ok;
        } else {
          ++mine.failed;
          if (r.ok()) ++mine.http_5xx;
          // Reset or closed after the accept: the killed daemon held the connection.
          if (!r.ok() &&
              (r.status().message().find("closed before a response") != std::string::npos ||
               r.status().message().find("reset") != std::string::npos)) {
            ++mine.cut;
          }
          if (mine.failures.size() < 5) {
            mine.failures.push_back(r.ok() ? "HTTP " + std::to_string(r->status)
                                           : r.status().message());
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      total.ok += mine.ok;
      total.failed += mine.failed;
      total.http_5xx += mine.http_5xx;
      total.cut += mine.cut;
      total.max_ms = std::max(total.max_ms, mine.max_ms);
      for (auto& f : mine.failures) total.failures.push_back(f);
    });
  }
  for (auto& th : pool) th.join();
  return total;
}

// Index of the first event matching service/kind (instance 0 = any), or -1.
inline int EventIndex(const nlohmann::json& events, const std::string& service,
                      const std::string& kind) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].value("service", "") == service && events[i].value("kind", "") == kind) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace slipway::testing
