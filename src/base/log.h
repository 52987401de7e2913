// The process's one logger: leveled, structured, one line per event, text or JSON.
//
//   text: 2026-12-02T15:04:05.123Z warn proxy: accept failed error="Too many open files"
//   json: {"ts":"2026-12-02T15:04:05.123Z","level":"warn","component":"proxy",
//          "msg":"accept failed","error":"Too many open files"}        (on one line)
//
// How to log (component = the module's short name: "engine", "proxy", "deploy", ...):
//   logging::Info("engine", "service started", {{"service", name}, {"pid", pid}});
//   logging::Warn("store", st.message());
//   LOG_INFO("engine", "started {} (pid {})", name, pid);   // fmt, formatted only if enabled
// Fields are a small typed list (string, integer, double, bool); a field named ts, level,
// component or msg, or repeating an earlier key, is dropped, so the line stays parseable.
//
// The format and the minimum level are chosen once at start by the program's main path
// (SetLogFormat(ParseLogFormat(--log-format or $SLIPWAY_LOG_FORMAT)), SetMinLevel); the
// default is text, info and up, to fd 2.
//
// Why hand-written and not spdlog (which is linked): what this needs is the line format
// itself — JSON escaping of every value (control characters, invalid UTF-8 replaced by
// U+FFFD), typed fields, the two layouts — and spdlog's pattern formatter provides none of
// it, so it would contribute only a mutex and a sink. Its stdio-based sinks also give no
// promise of one write(2) per line on an fd the daemon shares with child processes; here
// each line is built in memory and handed to the sink whole.
//
// Threads: every function may be called from any thread (the proxy workers log too). A
// line is written with a single write(2) under a mutex, so lines never interleave, and
// O_APPEND files and pipes (lines under PIPE_BUF) keep them whole against other writers.
// Ownership: the default Logger lives for the whole process; SetSink() swaps its sink.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// "json" -> kJson; "text" or "" -> kText; anything else is InvalidInput.
Result<LogFormat> ParseLogFormat(std::string_view s);
// debug|info|warn|error ("warning" too); anything else is InvalidInput.
Result<Level> ParseLevel(std::string_view s);
std::string_view LevelName(Level level);

// One structured value. Strings are copied, so a Field may outlive what it was made from.
class Field {
 public:
  using Value = std::variant<std::string, int64_t, uint64_t, double, bool>;

  Field(std::string_view key, std::string_view v) : key_(key), value_(std::string(v)) {}
  Field(std::string_view key, const std::string& v) : key_(key), value_(v) {}
  Field(std::string_view key, const char* v) : key_(key), value_(std::string(v ? v : "")) {}
  Field(std::string_view key, bool v) : key_(key), value_(v) {}
  Field(std::string_view key, double v) : key_(key), value_(v) {}
  Field(std::string_view key, float v) : key_(key), value_(static_cast<double>(v)) {}
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Field(std::string_view key, T v)
      : key_(key), value_(Int(v)) {}

  const std::string& key() const { return key_; }
  const Value& value() const { return value_; }

 private:
  template <typename T>
  static Value Int(T v) {
    if constexpr (std::is_signed_v<T>)
      return static_cast<int64_t>(v);
    else
      return static_cast<uint64_t>(v);
  }
  std::string key_;
  Value value_;
};

using Fields = std::initializer_list<Field>;

// One line, without the newline. Pure: the building blocks the Logger and the tests use.
std::string FormatJsonLine(int64_t wall_ms, Level level, std::string_view component,
                           std::string_view msg, std::span<const Field> fields);
std::string FormatTextLine(int64_t wall_ms, Level level, std::string_view component,
                           std::string_view msg, std::span<const Field> fields);
// "2026-01-02T03:04:05.678Z".
std::string Rfc3339Millis(int64_t wall_ms);
// `s` as a JSON string literal, quotes included (invalid UTF-8 becomes U+FFFD).
std::string JsonQuote(std::string_view s);

// Where finished lines go (each with its trailing newline). Called under the logger's
// mutex, one call per line, so an implementation needs no locking of its own.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Write(std::string_view line) = 0;
};

// Writes each line to `fd` with one write(2) (retried only on EINTR or a short write).
class FdSink final : public Sink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  void Write(std::string_view line) override;

 private:
  int fd_;  // not owned
};

// Keeps every line in memory: the seam for tests.
class StringSink final : public Sink {
 public:
  void Write(std::string_view line) override { text_.append(line); }
  // Read after the logging stopped (or under the caller's own ordering).
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class Logger {
 public:
  explicit Logger(std::shared_ptr<Sink> sink, Clock* clock = Clock::Real())
      : sink_(std::move(sink)), clock_(clock) {}

  void SetFormat(LogFormat f) { format_.store(f, std::memory_order_relaxed); }
  LogFormat format() const { return format_.load(std::memory_order_relaxed); }
  void SetMinLevel(Level l) { min_level_.store(l, std::memory_order_relaxed); }
  bool Enabled(Level l) const { return l >= min_level_.load(std::memory_order_relaxed); }
  // Replaces the sink; returns the previous one (so a test can put it back).
  std::shared_ptr<Sink> SetSink(std::shared_ptr<Sink> sink);

  void Log(Level level, std::string_view component, std::string_view msg,
           std::span<const Field> fields = {});

 private:
  std::mutex mu_;
  std::shared_ptr<Sink> sink_;  // guarded by mu_
  Clock* clock_;
  std::atomic<LogFormat> format_{LogFormat::kText};
  std::atomic<Level> min_level_{Level::kInfo};
};

// The process-wide logger (fd 2, real clock). Never null, never destroyed.
Logger& Default();

inline void SetLogFormat(LogFormat f) { Default().SetFormat(f); }
inline void SetMinLevel(Level l) { Default().SetMinLevel(l); }
inline bool Enabled(Level l) { return Default().Enabled(l); }

inline void Log(Level level, std::string_view component, std::string_view msg, Fields fields = {}) {
  Default().Log(level, component, msg, std::span<const Field>(fields.begin(), fields.size()));
}
inline void Debug(std::string_view component, std::string_view msg, Fields fields = {}) {
  Log(Level::kDebug, component, msg, fields);
}
inline void Info(std::string_view component, std::string_view msg, Fields fields = {}) {
  Log(Level::kInfo, component, msg, fields);
}
inline void Warn(std::string_view component, std::string_view msg, Fields fields = {}) {
  Log(Level::kWarn, component, msg, fields);
}
inline void Error(std::string_view component, std::string_view msg, Fields fields = {}) {
  Log(Level::kError, component, msg, fields);
}

}  // namespace slipway::logging

// fmt-formatted messages without fields; the arguments are formatted only when the level is on.
#define SLIPWAY_LOG_FMT(level, component, ...)                               \
  do {                                                                       \
    if (::slipway::logging::Enabled(level)) {                                \
      ::slipway::logging::Log(level, component, ::fmt::format(__VA_ARGS__)); \
    }                                                                        \
  } while (0)
#define LOG_DEBUG(component, ...) \
  SLIPWAY_LOG_FMT(::slipway::logging::Level::kDebug, component, __VA_ARGS__)
#define LOG_INFO(component, ...) \
  SLIPWAY_LOG_FMT(::slipway::logging::Level::kInfo, component, __VA_ARGS__)
#define LOG_WARN(component, ...) \
  SLIPWAY_LOG_FMT(::slipway::logging::Level::kWarn, component, __VA_ARGS__)
#define LOG_ERROR(component, ...) \
  SLIPWAY_LOG_FMT(::slipway::logging::Level::kError, component, __VA_ARGS__)
