// The daemon's own log format: text (the default) or JSON, one object per line:
//   {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"...", <fields>}
//
// JsonLogLine() formats one entry. StderrJsonFilter keeps every line the daemon's process
// writes to stderr JSON as well, including lines printed by modules that know nothing of the
// format (the deployer's progress, the proxy's warnings): it puts a pipe in front of fd 2 and
// a thread that passes JSON object lines through and wraps any other line as
// {"ts","level":"info","msg":<line>,"source":"stderr"}.
//
// Ownership: RunDaemon owns the filter for the daemon's lifetime; Stop() (or the destructor)
// restores fd 2, drains what is left (bounded wait: a child process may still hold the pipe)
// and joins the thread. Threads: construct and stop from one thread; writers may be any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"

namespace slipway::daemon {

enum class LogFormat { kText, kJson };

// "json" -> kJson; "text" or "" -> kText; anything else is InvalidInput.
Result<LogFormat> ParseLogFormat(std::string_view s);

// One JSON log line (no newline). `fields` must be an object or null.
std::string JsonLogLine(int64_t wall_ms, std::string_view level, std::string_view msg,
                        const nlohmann::json& fields = nullptr);

// What the filter writes for one line read from stderr (no newline).
std::string WrapStderrLine(int64_t wall_ms, std::string_view line);

class StderrJsonFilter {
 public:
  static Result<std::unique_ptr<StderrJsonFilter>> Install();
  ~StderrJsonFilter();
  StderrJsonFilter(const StderrJsonFilter&) = delete;
  StderrJsonFilter& operator=(const StderrJsonFilter&) = delete;

  void Stop();

 private:
  StderrJsonFilter() = default;
  void Run();

  int saved_stderr_ = -1;  // where the lines end up (the daemon's log file)
  int read_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace slipway::daemon
