// Helpers shared by the runtime tests (header-only, test binaries only): run a loop until a
// condition holds, bounded in time, and check whether a pid is gone.
#pragma once

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>

#include "net/event_loop.h"

namespace slipway::runtime::testing {

// Runs `loop` until `cond` is true or `timeout` passes. Returns cond().
inline bool RunUntil(net::EventLoop* loop, const std::function<bool()>& cond,
                     Duration timeout = Duration(5'000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond() && std::chrono::steady_clock::now() < deadline) loop->RunOnce(Duration(10));
  return cond();
}

// True when process `pid` no longer runs: absent, or a zombie waiting for its reaper (a killed
// grandchild is reparented to init, which may reap it late).
inline bool PidGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return true;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

}  // namespace slipway::runtime::testing
