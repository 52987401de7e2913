#include "runtime/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

#include "runtime/sandbox.h"

extern char** environ;

namespace slipway::runtime {

namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

// What the child failed at, sent with errno over the exec-error pipe.
enum ChildStage : int {
  kStageChdir = 1,
  kStageGroups,
  kStageGid,
  kStageUid,
  kStageExec,
  kStageMount,
  kStageCgroup
};

struct ChildError {
  int stage;
  int err;
  int index;  // kStageMount: the mount that failed (spec.mounts.size(): the namespace itself)
};

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

bool ParseInt(std::string_view s, long& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

struct Credentials {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

// Resolves "name", "uid", "name:group" or "uid:gid" in the parent: the lookups are not
// async-signal-safe, so the child only applies the numbers.
Result<Credentials> ResolveUser(const std::string& user) {
  std::string u = user, g;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    u = user.substr(0, colon);
    g = user.substr(colon + 1);
  }
  Credentials c{};
  long num;
  std::string name_for_groups;
  if (ParseInt(u, num)) {
    c.uid = static_cast<uid_t>(num);
    passwd* pw = getpwuid(c.uid);
    c.gid = pw ? pw->pw_gid : static_cast<gid_t>(num);
    if (pw) name_for_groups = pw->pw_name;
  } else {
    passwd* pw = getpwnam(u.c_str());
    if (!pw) return InvalidInput("unknown user " + Quoted(u));
    c.uid = pw->pw_uid;
    c.gid = pw->pw_gid;
    name_for_groups = pw->pw_name;
  }
  if (!g.empty()) {
    if (ParseInt(g, num)) {
      c.gid = static_cast<gid_t>(num);
    } else {
      group* gr = getgrnam(g.c_str());
      if (!gr) return InvalidInput("unknown group " + Quoted(g));
      c.gid = gr->gr_gid;
    }
    c.groups = {c.gid};
  } else if (!name_for_groups.empty()) {
    int n = 64;
    c.groups.resize(n);
    if (getgrouplist(name_for_groups.c_str(), c.gid, c.groups.data(), &n) < 0) {
      c.groups.resize(n);
      getgrouplist(name_for_groups.c_str(), c.gid, c.groups.data(), &n);
    }
    c.groups.resize(n);
  } else {
    c.groups = {c.gid};
  }
  return c;
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (!known) return "exited (status not known)";
  if (!signaled) return "exited with code " + std::to_string(code);
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev) return std::string("killed by SIG") + abbrev;
  return "killed by signal " + std::to_string(signal);
}

ExitStatus ExitStatusFromWait(int wait_status) {
  ExitStatus st;
  if (WIFSIGNALED(wait_status)) {
    st.signaled = true;
    st.signal = WTERMSIG(wait_status);
  } else if (WIFEXITED(wait_status)) {
    st.code = WEXITSTATUS(wait_status);
  }
  return st;
}

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

Result<std::string> ResolveExecutable(const std::string& name,
                                      const std::map<std::string, std::string>& env) {
  if (name.empty()) return InvalidInput("cannot run an empty command");
  if (name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  std::string_view path = it != env.end() ? std::string_view(it->second) : kDefaultPath;
  bool found_but_denied = false;
  while (true) {
    auto colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    std::string candidate = dir.empty() ? name : std::string(dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) {
      struct stat st;
      if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return candidate;
    } else if (errno == EACCES) {
      found_but_denied = true;
    }
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return NotFound("cannot run " + Quoted(name) + ": " +
                  std::strerror(found_but_denied ? EACCES : ENOENT));
}

struct Process::Stream {
  bool is_stderr = false;
  int fd = -1;
  std::string buf;  // bytes after the last complete line
};

Result<std::unique_ptr<Process>> Process::Spawn(net::EventLoop* loop, const ProcessSpec& spec,
                                                OutputFn on_output, ExitFn on_exit) {
  if (spec.argv.empty()) return InvalidInput("cannot run an empty command");
  const std::string& name = spec.argv[0];
  ASSIGN_OR_RETURN(std::string exe, ResolveExecutable(name, spec.env));
  std::optional<Credentials> creds;
  if (!spec.user.empty()) {
    auto c = ResolveUser(spec.user);
    if (!c.ok()) return c.status().WithContext("cannot run " + Quoted(name));
    creds = std::move(c).value();
  }

  // Everything the child touches is prepared here: after fork only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  env_strings.reserve(spec.env.size());
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string cwd = spec.cwd.string();
  std::string hosts_file = spec.hosts_file.string();
  std::string cgroup_procs = spec.cgroup.empty() ? "" : (spec.cgroup / "cgroup.procs").string();

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, exec_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {out_pipe, err_pipe, exec_pipe}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(exec_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    close_all();
    return ErrnoError("cannot run " + Quoted(name) + ": pipe", err);
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close_all();
    CloseFd(devnull);
    return ErrnoError("cannot run " + Quoted(name) + ": fork", err);
  }
  if (pid == 0) {
    // Child.
    setpgid(0, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    auto fail = [&](int stage, int index = 0) {
      ChildError ce{stage, errno, index};
      ssize_t n = write(exec_pipe[1], &ce, sizeof ce);
      (void)n;
      _exit(127);
    };
    if (!cgroup_procs.empty()) {
      int fd = open(cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) fail(kStageCgroup);
      close(fd);
    }
    if (!spec.mounts.empty()) {
      // Names, volumes and secrets, before setuid: a mount that fails stops the start.
      int failed = EnterPrivateNamespace(hosts_file.empty() ? nullptr : hosts_file.c_str(),
                                         spec.mounts.data(), spec.mounts.size());
      if (failed >= 0) fail(kStageMount, failed);
    } else if (!hosts_file.empty()) {
      EnterPrivateHosts(hosts_file.c_str());  // names, before setuid
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) fail(kStageChdir);
    if (creds) {
      if (setgroups(creds->groups.size(), creds->groups.data()) != 0) fail(kStageGroups);
      if (setgid(creds->gid) != 0) fail(kStageGid);
      if (setuid(creds->uid) != 0) fail(kStageUid);
    }
    execve(exe.c_str(), argv.data(), envp.data());
    fail(kStageExec);
  }

  // Parent. Both sides set the group so no signal can race the child's own setpgid().
  setpgid(pid, pid);
  CloseFd(out_pipe[1]);
  CloseFd(err_pipe[1]);
  CloseFd(exec_pipe[1]);
  CloseFd(devnull);
  int pidfd = PidfdOpen(pid);  // before reaping on error, while the pid is ours for sure

  ChildError ce{};
  ssize_t n;
  do {
    n = read(exec_pipe[0], &ce, sizeof ce);  // EOF at exec: a blocking wait of a few ms
  } while (n < 0 && errno == EINTR);
  CloseFd(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof ce)) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CloseFd(pidfd);
    CloseFd(out_pipe[0]);
    CloseFd(err_pipe[0]);
    std::string prefix = "cannot run " + Quoted(name) + ": ";
    switch (ce.stage) {
      case kStageChdir:
        return Status(
            ce.err == ENOENT || ce.err == ENOTDIR ? StatusCode::kNotFound : StatusCode::kIoError,
            prefix + "chdir " + cwd + ": " + std::strerror(ce.err));
      case kStageMount: {
        if (ce.index < 0 || static_cast<size_t>(ce.index) >= spec.mounts.size()) {
          return Status(StatusCode::kFailedPrecondition,
                        prefix + "private mount namespace: " + std::strerror(ce.err));
        }
        const NamespaceMount& m = spec.mounts[static_cast<size_t>(ce.index)];
        return Status(StatusCode::kFailedPrecondition,
                      prefix + "mount " + (m.what.empty() ? m.target : m.what) + " at " + m.target +
                          ": " + std::strerror(ce.err));
      }
      case kStageCgroup:
        return Status(
            StatusCode::kFailedPrecondition,
            prefix + "join cgroup " + spec.cgroup.string() + ": " + std::strerror(ce.err));
      case kStageGroups:
      case kStageGid:
      case kStageUid:
        return Status(
            StatusCode::kFailedPrecondition,
            prefix + "switch to user " + Quoted(spec.user) + ": " + std::strerror(ce.err));
      default:
        return Status(ce.err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                      prefix + std::strerror(ce.err));
    }
  }
  if (pidfd < 0) {
    int err = errno;
    kill(-pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CloseFd(out_pipe[0]);
    CloseFd(err_pipe[0]);
    return ErrnoError("cannot run " + Quoted(name) + ": pidfd_open", err);
  }
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  // Room for what the service writes while no daemon reads (best effort; see the header).
  fcntl(out_pipe[0], F_SETPIPE_SZ, kStdoutPipeBytes);
  fcntl(err_pipe[0], F_SETPIPE_SZ, kStderrPipeBytes);
  std::unique_ptr<Process> p(new Process(loop, pid, pidfd, out_pipe[0], err_pipe[0],
                                         std::move(on_output), std::move(on_exit)));
  if (Status st = p->Watch(); !st.ok()) return st.WithContext("cannot run " + Quoted(name));
  return p;
}

Result<std::unique_ptr<Process>> Process::Adopt(net::EventLoop* loop, pid_t pid,
                                                uint64_t start_time, net::UniqueFd out,
                                                net::UniqueFd err, OutputFn on_output,
                                                ExitFn on_exit, ExitOfFn exit_of) {
  if (pid <= 1 || start_time == 0 || !exit_of) return InvalidInput("adopt: no process named");
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) return NotFound("adopt: pid " + std::to_string(pid) + " is gone");
  // The pidfd now pins the process it names: if that is the one that started at start_time,
  // it is ours; else the pid was reused.
  if (ProcessStartTime(pid) != start_time) {
    close(pidfd);
    return NotFound("adopt: pid " + std::to_string(pid) + " is another process now");
  }
  int out_fd = out.Release(), err_fd = err.Release();
  for (int fd : {out_fd, err_fd}) {
    if (fd < 0) continue;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  std::unique_ptr<Process> p(
      new Process(loop, pid, pidfd, out_fd, err_fd, std::move(on_output), std::move(on_exit)));
  p->exit_of_ = std::move(exit_of);
  if (Status st = p->Watch(); !st.ok()) {
    p->running_ = false;  // not ours to kill: the caller decides
    return st.WithContext("adopt pid " + std::to_string(pid));
  }
  return p;
}

int Process::stdout_fd() const { return out_->fd; }
int Process::stderr_fd() const { return err_->fd; }

Process::Process(net::EventLoop* loop, pid_t pid, int pidfd, int out_fd, int err_fd,
                 OutputFn on_output, ExitFn on_exit)
    : loop_(loop),
      pid_(pid),
      pidfd_(pidfd),
      out_(std::make_unique<Stream>()),
      err_(std::make_unique<Stream>()),
      on_output_(std::make_shared<OutputFn>(std::move(on_output))),
      on_exit_(std::move(on_exit)),
      alive_(std::make_shared<bool>(true)) {
  out_->fd = out_fd;
  err_->fd = err_fd;
  err_->is_stderr = true;
}

Status Process::Watch() {
  for (Stream* s : {out_.get(), err_.get()}) {
    if (s->fd < 0) continue;  // an adopted process whose pipe was not parked
    RETURN_IF_ERROR(loop_->Add(s->fd, EPOLLIN, [this, s](uint32_t) { OnReadable(*s); }));
  }
  return loop_->Add(pidfd_, EPOLLIN, [this](uint32_t) { OnPidfd(); });
}

Process::~Process() {
  *alive_ = false;
  if (kill_timer_) loop_->Cancel(kill_timer_);
  if (exit_timer_) loop_->Cancel(exit_timer_);
  if (pidfd_ >= 0) loop_->Remove(pidfd_);
  if (running_) {
    kill(-pid_, SIGKILL);  // the leader is unreaped, so the group id cannot be reused yet
    int status;
    while (!exit_of_ && waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  CloseFd(pidfd_);
  CloseStream(*out_);
  CloseStream(*err_);
}

void Process::CloseStream(Stream& s) {
  if (s.fd < 0) return;
  loop_->Remove(s.fd);
  CloseFd(s.fd);
}

void Process::Signal(int sig) {
  if (running_) kill(-pid_, sig);
}

void Process::Stop(int sig, Duration grace) {
  if (!running_) return;
  kill(-pid_, sig);
  if (kill_timer_ == 0 && sig != SIGKILL) {
    kill_timer_ = loop_->RunAfter(grace, [this] {
      kill_timer_ = 0;
      if (running_) kill(-pid_, SIGKILL);
    });
  }
}

void Process::Emit(bool is_stderr, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto fn = on_output_;  // survives the callback destroying `this`
  if (*fn) (*fn)(is_stderr, line);
}

// Reads what the pipe holds now and emits complete lines. `final_flush` (at exit) also
// emits the partial last line. Returns early if a callback destroyed `this`.
void Process::DrainStream(Stream& s, bool final_flush) {
  std::weak_ptr<bool> alive = alive_;
  char chunk[65536];
  bool eof = false;
  // Bounded per call so one chatty child cannot starve the loop; level-triggered epoll
  // brings us back for the rest.
  for (int i = 0; i < (final_flush ? 64 : 8) && s.fd >= 0; ++i) {
    ssize_t n = read(s.fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = n == 0;
      break;
    }
    s.buf.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    while (true) {
      size_t nl = s.buf.find('\n', start);
      size_t avail = (nl == std::string::npos ? s.buf.size() : nl) - start;
      if (nl == std::string::npos && avail < kMaxLineBytes) break;
      std::string line;
      if (nl == std::string::npos || avail > kMaxLineBytes) {  // overlong: split
        line = s.buf.substr(start, kMaxLineBytes);
        start += kMaxLineBytes;
      } else {
        line = s.buf.substr(start, avail);
        start = nl + 1;
      }
      Emit(s.is_stderr, line);
      if (alive.expired()) return;
    }
    s.buf.erase(0, start);
  }
  if (eof) CloseStream(s);
  if ((eof || final_flush) && !s.buf.empty()) {
    std::string rest = std::move(s.buf);
    s.buf.clear();
    Emit(s.is_stderr, rest);
  }
}

void Process::OnReadable(Stream& s) { DrainStream(s, false); }

void Process::OnPidfd() {
  if (!running_) return;
  // The leader is a zombie now (or, adopted, reaped by the keeper while its group still holds
  // the id): kill what is left of its group.
  kill(-pid_, SIGKILL);
  if (exit_of_) {
    running_ = false;
    loop_->Remove(pidfd_);
    CloseFd(pidfd_);
    AskExit(0);
    return;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return;  // spurious
  running_ = false;
  Finish(r > 0 ? ExitStatusFromWait(status) : ExitStatus{});
}

// An adopted process ended: the keeper reaps it a moment after the pidfd said so.
void Process::AskExit(int attempt) {
  exit_timer_ = 0;
  std::optional<int> status = exit_of_(pid_);
  if (!status && attempt < 200) {
    exit_timer_ = loop_->RunAfter(Duration(10), [this, attempt] { AskExit(attempt + 1); });
    return;
  }
  ExitStatus st;
  if (status) {
    st = ExitStatusFromWait(*status);
  } else {
    st.known = false;
  }
  Finish(st);
}

void Process::Finish(ExitStatus st) {
  running_ = false;
  exit_ = st;
  if (kill_timer_) {
    loop_->Cancel(kill_timer_);
    kill_timer_ = 0;
  }
  if (pidfd_ >= 0) {
    loop_->Remove(pidfd_);
    CloseFd(pidfd_);
  }
  // Everything the leader wrote is in the pipes by now; grandchildren killed above cannot
  // add more. Drain both, flush partial lines, then report the exit.
  std::weak_ptr<bool> alive = alive_;
  for (Stream* s : {out_.get(), err_.get()}) {
    DrainStream(*s, true);
    if (alive.expired()) return;
    CloseStream(*s);
  }
  ExitFn fn = std::move(on_exit_);  // survives the callback destroying `this`
  on_exit_ = nullptr;
  if (fn) fn(st);
}

}  // namespace slipway::runtime

namespace slipway::runtime {

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  int fd = open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  std::string_view s(buf, static_cast<size_t>(n));
  // "pid (comm) state ppid ...": comm may hold blanks and parentheses; it ends at the last ')'.
  size_t close_paren = s.rfind(')');
  if (close_paren == std::string_view::npos || close_paren + 2 >= s.size()) return 0;
  s.remove_prefix(close_paren + 2);  // now at field 3 (state)
  if (s[0] == 'Z' || s[0] == 'X') return 0;
  for (int field = 3; field < 22; ++field) {
    size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return 0;
    s.remove_prefix(sp + 1);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() ? v : 0;
}

Duration ProcessAge(uint64_t start_time) {
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);  // /proc's start times count from boot, suspend included
  long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) ticks = 100;
  int64_t now_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
  int64_t start_ms = static_cast<int64_t>(start_time * 1000 / static_cast<uint64_t>(ticks));
  return Duration(std::max<int64_t>(0, now_ms - start_ms));
}

std::map<std::string, std::string> ProcessEnvironment(pid_t pid) {
  std::map<std::string, std::string> env;
  if (pid <= 0) return env;
  int fd = open(("/proc/" + std::to_string(pid) + "/environ").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return env;
  std::string data;
  char buf[8192];
  ssize_t n;
  while (data.size() < (4u << 20) && (n = read(fd, buf, sizeof buf)) > 0) {
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\0', start);
    if (end == std::string::npos) end = data.size();
    std::string_view kv(data.data() + start, end - start);
    if (auto eq = kv.find('='); eq != std::string_view::npos && eq > 0) {
      env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    start = end + 1;
  }
  return env;
}

namespace {

struct LeftoverStop {
  net::EventLoop* loop;
  std::vector<LeftoverProcess> procs;
  MonoTime kill_at;
  MonoTime give_up_at;
  bool killed = false;
  int stopped = 0;
  std::function<void(int)> done;
};

void PollLeftovers(std::shared_ptr<LeftoverStop> s) {
  std::erase_if(s->procs,
                [](const LeftoverProcess& p) { return ProcessStartTime(p.pid) != p.start_time; });
  MonoTime now = s->loop->Now();
  if (s->procs.empty() || now >= s->give_up_at) {
    auto done = std::move(s->done);
    if (done) done(s->stopped);
    return;
  }
  if (!s->killed && now >= s->kill_at) {
    s->killed = true;
    for (const auto& p : s->procs) kill(-p.pid, SIGKILL);
  }
  s->loop->RunAfter(Duration(20), [s] { PollLeftovers(s); });
}

}  // namespace

void StopLeftovers(net::EventLoop* loop, std::vector<LeftoverProcess> procs, Duration grace,
                   std::function<void(int stopped)> done) {
  auto s = std::make_shared<LeftoverStop>();
  s->loop = loop;
  for (const auto& p : procs) {
    if (p.pid > 1 && p.start_time != 0 && ProcessStartTime(p.pid) == p.start_time) {
      s->procs.push_back(p);
      kill(-p.pid, SIGTERM);  // services lead their own process group (Process::Spawn)
    }
  }
  s->stopped = static_cast<int>(s->procs.size());
  s->kill_at = loop->Now() + grace;
  s->give_up_at = s->kill_at + Duration(2'000);
  s->done = std::move(done);
  PollLeftovers(s);
}

namespace {

// The machine's processes: runtime::Process.
class RealProcessHost final : public ProcessHost {
 public:
  Result<std::unique_ptr<ProcessHandle>> Spawn(net::EventLoop* loop, const ProcessSpec& spec,
                                               OutputFn on_output, ExitFn on_exit) override {
    ASSIGN_OR_RETURN(std::unique_ptr<Process> p,
                     Process::Spawn(loop, spec, std::move(on_output), std::move(on_exit)));
    return std::unique_ptr<ProcessHandle>(std::move(p));
  }
  Result<std::unique_ptr<ProcessHandle>> Adopt(net::EventLoop* loop, pid_t pid, uint64_t start_time,
                                               net::UniqueFd out, net::UniqueFd err,
                                               OutputFn on_output, ExitFn on_exit,
                                               ExitOfFn exit_of) override {
    ASSIGN_OR_RETURN(std::unique_ptr<Process> p,
                     Process::Adopt(loop, pid, start_time, std::move(out), std::move(err),
                                    std::move(on_output), std::move(on_exit), std::move(exit_of)));
    return std::unique_ptr<ProcessHandle>(std::move(p));
  }
};

}  // namespace

ProcessHost* ProcessHost::Real() {
  static RealProcessHost* host = new RealProcessHost();
  return host;
}

}  // namespace slipway::runtime
