#include "daemon/json_log.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "base/clock.h"

namespace slipway::daemon {

using nlohmann::json;

std::vector<logging::Field> LogFields(const json& fields) {
  std::vector<logging::Field> typed;
  if (!fields.is_object()) return typed;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const json& v = it.value();
    if (v.is_string()) {
      typed.emplace_back(it.key(), v.get_ref<const std::string&>());
    } else if (v.is_boolean()) {
      typed.emplace_back(it.key(), v.get<bool>());
    } else if (v.is_number_unsigned()) {
      typed.emplace_back(it.key(), v.get<uint64_t>());
    } else if (v.is_number_integer()) {
      typed.emplace_back(it.key(), v.get<int64_t>());
    } else if (v.is_number_float()) {
      typed.emplace_back(it.key(), v.get<double>());
    } else {
      typed.emplace_back(it.key(), v.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  return typed;
}

std::string JsonLogLine(int64_t wall_ms, std::string_view level, std::string_view msg,
                        const json& fields) {
  std::vector<logging::Field> typed = LogFields(fields);
  auto parsed = logging::ParseLevel(level);
  return logging::FormatJsonLine(wall_ms, parsed.ok() ? *parsed : logging::Level::kInfo, "", msg,
                                 typed);
}

std::string WrapStderrLine(int64_t wall_ms, std::string_view line) {
  if (!line.empty() && line.front() == '{') {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) return std::string(line);
  }
  const logging::Field source("source", "stderr");
  return logging::FormatJsonLine(wall_ms, logging::Level::kInfo, "", line, {&source, 1});
}

Result<std::unique_ptr<StderrJsonFilter>> StderrJsonFilter::Install() {
  // The modules' own lines: JSON objects from the start (see the header).
  logging::SetLogFormat(logging::LogFormat::kJson);
  std::unique_ptr<StderrJsonFilter> f(new StderrJsonFilter());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  f->saved_stderr_ = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (f->saved_stderr_ < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return ErrnoError("dup stderr", e);
  }
  std::fflush(stderr);
  if (::dup2(fds[1], 2) < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return ErrnoError("dup2 stderr", e);
  }
  ::close(fds[1]);
  f->read_fd_ = fds[0];
  StderrJsonFilter* self = f.get();
  f->thread_ = std::thread([self] { self->Run(); });
  return f;
}

StderrJsonFilter::~StderrJsonFilter() { Stop(); }

void StderrJsonFilter::Stop() {
  if (!thread_.joinable()) return;
  std::fflush(stderr);
  ::dup2(saved_stderr_, 2);  // drops our write end of the pipe
  stopping_ = true;
  thread_.join();
  ::close(read_fd_);
  ::close(saved_stderr_);
  read_fd_ = saved_stderr_ = -1;
}

void StderrJsonFilter::Run() {
  std::string pending;
  auto emit = [this](std::string_view line) {
    if (line.empty()) return;
    std::string out = WrapStderrLine(Clock::Real()->WallMillis(), line) + "\n";
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(saved_stderr_, out.data() + off, out.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  };
  char buf[8192];
  while (true) {
    pollfd p{read_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      // Nothing to read: after Stop() a child may still hold the pipe open; don't wait for it.
      if (stopping_) break;
      continue;
    }
    ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // every writer is gone
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      emit(std::string_view(pending).substr(start, nl - start));
    }
    pending.erase(0, start);
    if (pending.size() > 64 * 1024) {  // a runaway line without newline: cut it
      emit(pending);
      pending.clear();
    }
  }
  emit(pending);
}

}  // namespace slipway::daemon
