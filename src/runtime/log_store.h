// LogStore: the captured output of every service instance.
//
// Each line goes to a per-service file `<dir>/<service>.log` (rotated by size: when a write
// would pass `max_bytes`, `.log` becomes `.log.1`, `.1` becomes `.2`, ... and the oldest beyond
// `keep` is deleted) and to an in-memory ring of the last `ring_lines` lines per service, which
// serves `slipway logs` (Tail) and `logs -f` (Subscribe).
//
// File line format: `2026-11-21T22:40:01.123Z api.1 | text`; stderr lines use `!|` instead
// of `|` (`2026-11-21T22:40:01.123Z api.1 !| text`).
//
// File errors (full disk, removed folder) never reach the caller: the line still goes to the
// ring and subscribers, and the last error is kept for status displays (last_error()).
//
// Threads: not thread-safe; the daemon's control loop owns it and calls every method.
// Subscribers run inside Append(); they may Unsubscribe (themselves or others) from there.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::runtime {

struct LogLine {
  int64_t wall_ms = 0;  // Unix epoch milliseconds
  std::string service;
  int instance = 1;
  bool is_stderr = false;
  std::string text;
  uint64_t seq = 0;  // store-wide append order; breaks ties of equal wall_ms
};

// "2026-11-21T22:40:01.123Z api.1 | text" (without a newline).
std::string FormatLogLine(const LogLine& line);
// "2026-11-21T22:40:01.123Z" (UTC).
std::string FormatWallMillis(int64_t wall_ms);

class LogStore {
 public:
  using SubscriberId = uint64_t;

  // `dir` is created on the first write when missing. `clock` must outlive the store.
  LogStore(std::filesystem::path dir, Clock* clock, size_t max_bytes = 10 << 20, int keep = 3,
           size_t ring_lines = 2000);
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  void Append(const std::string& service, int instance, bool is_stderr, std::string_view text);

  // The last `tail` lines (0 = all kept) of each instance of `services` (empty = all), with
  // wall_ms >= since_ms, merged in time order (append order within the same millisecond).
  std::vector<LogLine> Tail(const std::vector<std::string>& services, size_t tail,
                            int64_t since_ms) const;

  SubscriberId Subscribe(std::function<void(const LogLine&)> fn);
  void Unsubscribe(SubscriberId id);

  // The current file of a service (whether or not it exists yet).
  std::filesystem::path FilePath(const std::string& service) const;
  const std::filesystem::path& dir() const { return dir_; }
  // OK, or the last file error seen by Append().
  const Status& last_error() const { return last_error_; }

 private:
  struct ServiceLog {
    int fd = -1;
    size_t size = 0;
    std::deque<LogLine> ring;
  };
  void WriteToFile(const std::string& service, ServiceLog& log, const std::string& formatted);
  Status OpenFile(const std::string& service, ServiceLog& log);
  void Rotate(const std::string& service, ServiceLog& log);

  std::filesystem::path dir_;
  Clock* clock_;
  size_t max_bytes_;
  int keep_;
  size_t ring_lines_;
  uint64_t next_seq_ = 1;
  std::map<std::string, ServiceLog> services_;
  std::map<SubscriberId, std::function<void(const LogLine&)>> subscribers_;
  SubscriberId next_subscriber_ = 1;
  Status last_error_;
};

}  // namespace slipway::runtime
