// The daemon's JSON log mode, on top of base/log.h (which owns the format, ParseLogFormat and
// the line formatting; the names here are kept for daemon.cc until it logs through
// logging::Default() itself):
//   {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"...", <fields>}
//
// JsonLogLine() formats one entry from nlohmann fields. StderrJsonFilter keeps every line the
// daemon's process writes to fd 2 JSON as well: it puts a pipe in front of fd 2 and a thread
// that passes JSON object lines through and wraps any other line as
// {"ts","level":"info","msg":<line>,"source":"stderr"}. Install() also switches the process's
// logger (base/log.h) to JSON, so the modules' own lines arrive as JSON objects with their
// level, component and fields and pass through unchanged; what is left to wrap is what
// bypasses the logger (a failed SLIPWAY_CHECK before abort, a child writing to the fd 2 it
// inherited). Once daemon.cc calls logging::SetLogFormat itself the filter is only that
// safety net.
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
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace slipway::daemon {

using LogFormat = logging::LogFormat;
using logging::ParseLogFormat;

// A flat JSON object's members as typed log fields (strings, booleans, numbers; anything
// else as its JSON text).
std::vector<logging::Field> LogFields(const nlohmann::json& fields);

// One JSON log line (no newline): logging::FormatJsonLine with `level` by name (an unknown
// name is info) and `fields` an object or null; a field that is not a string, number or
// bool is written as its JSON text in a string.
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
