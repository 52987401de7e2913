// RunCommand: runs a hook or smoke command (argv, no shell) as a child process on the loop and
// reports its exit, with its last output lines, to `done`. A command still running after
// `timeout` is killed and fails.
//
// Threads: the loop's thread; `done` runs there exactly once.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "net/event_loop.h"

namespace slipway::deploy {

void RunCommand(net::EventLoop* loop, const std::vector<std::string>& argv,
                const std::map<std::string, std::string>& env, const std::string& cwd,
                Duration timeout, std::function<void(Status)> done);

}  // namespace slipway::deploy
