// Tests only: a Node script as a test server (an independent implementation of the protocol
// under test), started with its arguments, whose first stdout line is "PORT <n>" once it
// listens on 127.0.0.1. Killed (SIGKILL, by its pid) and reaped by Stop() or the destructor.
// One thread: the test's.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace slipway::net::testing {

class NodeServer {
 public:
  explicit NodeServer(std::string script) : script_(std::move(script)) {}
  ~NodeServer() { Stop(); }
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // False when node did not start or print its port within 10 s.
  bool Start(const std::vector<std::string>& args) {
    Stop();
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return false;
    std::vector<std::string> argv_s = {"node", script_};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      std::vector<char*> argv;
      for (std::string& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("node", argv.data());
      _exit(127);
    }
    close(out[1]);
    if (pid_ < 0) {
      close(out[0]);
      return false;
    }
    std::string line;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    if (line.rfind("PORT ", 0) != 0) return false;
    port_ = std::atoi(line.c_str() + 5);
    return port_ > 0;
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }

 private:
  std::string script_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace slipway::net::testing
