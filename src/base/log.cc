#include "base/log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>

namespace slipway::logging {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points past U+10FFFF are invalid, as RFC 3629 says).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

// Appends `s` with control characters escaped (JSON style) and invalid UTF-8 replaced; in
// JSON mode '"' and '\\' are escaped as well. Text mode escapes them only inside quotes,
// which is where the caller puts anything that needs it.
void AppendEscaped(std::string& out, std::string_view s, bool escape_quotes) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += kReplacement;
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
      case '\\':
        if (escape_quotes) out += '\\';
        out += static_cast<char>(c);
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

bool Reserved(std::string_view key) {
  return key == "ts" || key == "level" || key == "component" || key == "msg";
}

// The fields that make it into the line: not reserved, first of each key.
template <typename Fn>
void ForEachKeptField(std::span<const Field> fields, Fn fn) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& key = fields[i].key();
    if (Reserved(key)) continue;
    bool repeated = false;
    for (size_t j = 0; j < i && !repeated; ++j) repeated = fields[j].key() == key;
    if (!repeated) fn(fields[i]);
  }
}

std::string FormatDouble(double d) {
  if (!std::isfinite(d)) return "null";
  return fmt::format("{}", d);  // shortest text that reads back as the same double
}

// A text-mode word needs quotes when it is empty or holds a blank, quote, '=' or anything
// that is not printable ASCII (so a line splits on blanks unambiguously).
bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

void AppendTextWord(std::string& out, std::string_view s) {
  if (!NeedsQuotes(s)) {
    out.append(s);
    return;
  }
  out += '"';
  AppendEscaped(out, s, /*escape_quotes=*/true);
  out += '"';
}

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view s) {
  if (s.empty() || s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return InvalidInput("log format " + JsonQuote(s.substr(0, 64)) + ": expected text or json");
}

Result<Level> ParseLevel(std::string_view s) {
  if (s == "debug") return Level::kDebug;
  if (s == "info") return Level::kInfo;
  if (s == "warn" || s == "warning") return Level::kWarn;
  if (s == "error") return Level::kError;
  return InvalidInput("log level " + JsonQuote(s.substr(0, 64)) +
                      ": expected debug, info, warn or error");
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Rfc3339Millis(int64_t wall_ms) {
  if (wall_ms < 0) wall_ms = 0;
  std::time_t secs = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, wall_ms % 1000);
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  AppendEscaped(out, s, /*escape_quotes=*/true);
  out += '"';
  return out;
}

std::string FormatJsonLine(int64_t wall_ms, Level level, std::string_view component,
                           std::string_view msg, std::span<const Field> fields) {
  std::string out = "{\"ts\":\"" + Rfc3339Millis(wall_ms) + "\",\"level\":\"";
  out += LevelName(level);
  out += '"';
  if (!component.empty()) out += ",\"component\":" + JsonQuote(component);
  out += ",\"msg\":" + JsonQuote(msg);
  ForEachKeptField(fields, [&](const Field& f) {
    out += ',';
    out += JsonQuote(f.key());
    out += ':';
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            out += JsonQuote(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            out += FormatDouble(v);
          } else {
            out += fmt::format("{}", v);
          }
        },
        f.value());
  });
  out += '}';
  return out;
}

std::string FormatTextLine(int64_t wall_ms, Level level, std::string_view component,
                           std::string_view msg, std::span<const Field> fields) {
  std::string out = Rfc3339Millis(wall_ms);
  out += ' ';
  out += LevelName(level);
  out += ' ';
  if (!component.empty()) {
    AppendEscaped(out, component, /*escape_quotes=*/false);
    out += ": ";
  }
  AppendEscaped(out, msg, /*escape_quotes=*/false);  // one line: newlines become \n
  ForEachKeptField(fields, [&](const Field& f) {
    out += ' ';
    AppendTextWord(out, f.key());
    out += '=';
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            AppendTextWord(out, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            out += FormatDouble(v);
          } else {
            out += fmt::format("{}", v);
          }
        },
        f.value());
  });
  return out;
}

void FdSink::Write(std::string_view line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report it: the log itself is what failed
    off += static_cast<size_t>(n);
  }
}

std::shared_ptr<Sink> Logger::SetSink(std::shared_ptr<Sink> sink) {
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(sink_, sink);
  return sink;
}

void Logger::Log(Level level, std::string_view component, std::string_view msg,
                 std::span<const Field> fields) {
  if (!Enabled(level)) return;
  const int64_t now = clock_->WallMillis();
  std::string line = format() == LogFormat::kJson
                         ? FormatJsonLine(now, level, component, msg, fields)
                         : FormatTextLine(now, level, component, msg, fields);
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  if (sink_) sink_->Write(line);
}

Logger& Default() {
  // Leaked on purpose: threads and static destructors may still log during exit.
  static Logger* logger = new Logger(std::make_shared<FdSink>(2));
  return *logger;
}

}  // namespace slipway::logging
