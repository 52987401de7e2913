#include "runtime/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <system_error>

namespace slipway::runtime {

std::string FormatWallMillis(int64_t wall_ms) {
  time_t secs = static_cast<time_t>(wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000);
  int ms = static_cast<int>(wall_ms - static_cast<int64_t>(secs) * 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms);
  return buf;
}

std::string FormatLogLine(const LogLine& line) {
  std::string out = FormatWallMillis(line.wall_ms);
  out += ' ';
  out += line.service;
  out += '.';
  out += std::to_string(line.instance);
  out += line.is_stderr ? " !| " : " | ";
  out += line.text;
  return out;
}

LogStore::LogStore(std::filesystem::path dir, Clock* clock, size_t max_bytes, int keep,
                   size_t ring_lines)
    : dir_(std::move(dir)),
      clock_(clock),
      max_bytes_(std::max<size_t>(max_bytes, 1)),
      keep_(std::max(keep, 0)),
      ring_lines_(std::max<size_t>(ring_lines, 1)) {}

LogStore::~LogStore() {
  for (auto& [name, log] : services_) {
    if (log.fd >= 0) close(log.fd);
  }
}

std::filesystem::path LogStore::FilePath(const std::string& service) const {
  return dir_ / (service + ".log");
}

Status LogStore::OpenFile(const std::string& service, ServiceLog& log) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return IoError("create " + dir_.string() + ": " + ec.message());
  std::string path = FilePath(service).string();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open " + path, errno);
  struct stat st;
  log.size = fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
  log.fd = fd;
  return Status::OK();
}

void LogStore::Rotate(const std::string& service, ServiceLog& log) {
  if (log.fd >= 0) close(log.fd);
  log.fd = -1;
  log.size = 0;
  std::string base = FilePath(service).string();
  std::error_code ec;
  if (keep_ == 0) {
    std::filesystem::remove(base, ec);
    return;
  }
  std::filesystem::remove(base + "." + std::to_string(keep_), ec);
  for (int i = keep_ - 1; i >= 1; --i) {
    std::filesystem::rename(base + "." + std::to_string(i), base + "." + std::to_string(i + 1),
                            ec);  // a missing older file is fine
  }
  std::filesystem::rename(base, base + ".1", ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    last_error_ = IoError("rotate " + base + ": " + ec.message());
  }
}

void LogStore::WriteToFile(const std::string& service, ServiceLog& log,
                           const std::string& formatted) {
  // Rotate before a write that would pass the limit (a single huge line still gets written,
  // alone in its file).
  if (log.fd >= 0 && log.size > 0 && log.size + formatted.size() > max_bytes_) {
    Rotate(service, log);
  }
  if (log.fd < 0) {
    if (Status st = OpenFile(service, log); !st.ok()) {
      last_error_ = st;
      return;
    }
    if (log.size > 0 && log.size + formatted.size() > max_bytes_) {
      Rotate(service, log);  // a file left by an earlier run is already full
      if (Status st = OpenFile(service, log); !st.ok()) {
        last_error_ = st;
        return;
      }
    }
  }
  size_t off = 0;
  while (off < formatted.size()) {
    ssize_t n = write(log.fd, formatted.data() + off, formatted.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      last_error_ = ErrnoError("write " + FilePath(service).string(), errno);
      // Reopen next time: the file may have been removed or the disk freed.
      close(log.fd);
      log.fd = -1;
      return;
    }
    off += static_cast<size_t>(n);
  }
  log.size += formatted.size();
}

void LogStore::Append(const std::string& service, int instance, bool is_stderr,
                      std::string_view text) {
  ServiceLog& log = services_[service];
  LogLine line{clock_->WallMillis(), service, instance, is_stderr, std::string(text), next_seq_++};
  std::string formatted = FormatLogLine(line);
  formatted += '\n';
  WriteToFile(service, log, formatted);
  log.ring.push_back(line);
  while (log.ring.size() > ring_lines_) log.ring.pop_front();
  // A subscriber may unsubscribe anyone: walk by id, re-finding after each call.
  SubscriberId id = 0;
  while (true) {
    auto it = subscribers_.upper_bound(id);
    if (it == subscribers_.end()) break;
    id = it->first;
    auto fn = it->second;  // a copy survives its own Unsubscribe()
    fn(line);
  }
}

std::vector<LogLine> LogStore::Tail(const std::vector<std::string>& services, size_t tail,
                                    int64_t since_ms) const {
  std::vector<LogLine> out;
  // `tail` counts per instance, as `docker compose logs --tail` counts per container.
  auto take = [&](const ServiceLog& log) {
    std::map<int, size_t> kept;
    size_t first = out.size();
    for (auto it = log.ring.rbegin(); it != log.ring.rend(); ++it) {
      if (it->wall_ms < since_ms) continue;
      if (tail > 0 && kept[it->instance]++ >= tail) continue;
      out.push_back(*it);
    }
    std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  };
  if (services.empty()) {
    for (const auto& [name, log] : services_) take(log);
  } else {
    for (const std::string& name : services) {
      auto it = services_.find(name);
      if (it != services_.end()) take(it->second);
    }
  }
  std::sort(out.begin(), out.end(), [](const LogLine& a, const LogLine& b) {
    return a.wall_ms != b.wall_ms ? a.wall_ms < b.wall_ms : a.seq < b.seq;
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const LogLine& a, const LogLine& b) { return a.seq == b.seq; }),
            out.end());  // a service named twice in `services`
  return out;
}

LogStore::SubscriberId LogStore::Subscribe(std::function<void(const LogLine&)> fn) {
  SubscriberId id = next_subscriber_++;
  subscribers_.emplace(id, std::move(fn));
  return id;
}

void LogStore::Unsubscribe(SubscriberId id) { subscribers_.erase(id); }

}  // namespace slipway::runtime
