#include "keeper/keeper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "net/fd_passing.h"

extern char** environ;

namespace slipway::keeper {

namespace {

constexpr char kFdVariable[] = "SLIPWAY_KEEPER_FD";
constexpr size_t kMaxHeldListeners = 256;
constexpr size_t kMaxParkedKeys = 4096;

sigset_t KeeperSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  return set;
}

std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return abbrev ? std::string("killed by SIG") + abbrev
                  : "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

Duration DaemonBackoff::Next(Duration uptime) {
  if (uptime >= reset_) attempt_ = 0;
  Duration d = initial_;
  for (int i = 0; i < attempt_ && d < max_; ++i) d *= 2;
  ++attempt_;
  return std::min(d, max_);
}

Keeper::Keeper(KeeperOptions options)
    : options_(std::move(options)),
      backoff_(options_.backoff_initial, options_.backoff_max, options_.backoff_reset) {}

Result<std::unique_ptr<Keeper>> Keeper::Create(KeeperOptions options) {
  if (options.daemon_argv.empty()) return InvalidInput("keeper: no daemon command");
  if (!options.clock) options.clock = Clock::Real();
  std::unique_ptr<Keeper> k(new Keeper(std::move(options)));
  const std::filesystem::path& dir = k->options_.state_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("create " + dir.string() + ": " + ec.message());
  std::string lock = (dir / "keeper.lock").string();
  k->lock_fd_.Reset(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!k->lock_fd_) return ErrnoError("open " + lock, errno);
  if (::flock(k->lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    return FailedPrecondition("another slipway keeper already keeps " + dir.string());
  }
  if (k->options_.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return ErrnoError("prctl(PR_SET_CHILD_SUBREAPER)", errno);
  }
  ASSIGN_OR_RETURN(k->loop_, net::EventLoop::Create(k->options_.clock));
  sigset_t set = KeeperSignals();
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return Internal("pthread_sigmask failed");
  ::signal(SIGPIPE, SIG_IGN);
  k->signal_fd_.Reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!k->signal_fd_) return ErrnoError("signalfd", errno);
  Keeper* self = k.get();
  RETURN_IF_ERROR(
      k->loop_->Add(k->signal_fd_.get(), EPOLLIN, [self](uint32_t) { self->OnSignal(); }));
  std::string pid_path = (dir / "keeper.pid").string();
  FILE* f = std::fopen(pid_path.c_str(), "we");
  if (f == nullptr) return ErrnoError("write " + pid_path, errno);
  std::fprintf(f, "%d\n", static_cast<int>(getpid()));
  std::fclose(f);
  k->wrote_pid_ = true;
  return k;
}

Keeper::~Keeper() {
  if (restart_timer_) loop_->Cancel(restart_timer_);
  CloseControl();
  if (signal_fd_) loop_->Remove(signal_fd_.get());
  if (wrote_pid_) {
    std::error_code ec;
    std::filesystem::remove(options_.state_dir / "keeper.pid", ec);
  }
}

void Keeper::Log(const std::string& msg) { logging::Info("slipway-keeper", msg); }

Status Keeper::Start() { return SpawnDaemon(); }

int Keeper::Run() {
  if (Status st = Start(); !st.ok()) {
    Log("cannot start the daemon: " + st.message());
    return st.ExitCode();
  }
  while (!done_) loop_->RunOnce(Duration(1'000));
  return exit_code_;
}

void Keeper::RunOnce(Duration max_wait) { loop_->RunOnce(max_wait); }

Status Keeper::SpawnDaemon() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoError("socketpair", errno);
  }
  net::UniqueFd ours(sv[0]), theirs(sv[1]);
  // Everything the child touches is built before fork.
  std::vector<std::string> env;
  const std::string prefix = std::string(kFdVariable) + "=";
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::string_view(*e).rfind(prefix, 0) != 0) env.emplace_back(*e);
  }
  env.push_back(prefix + std::to_string(theirs.get()));
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options_.daemon_argv;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::fcntl(theirs.get(), F_SETFD, 0);  // the one fd the daemon inherits on purpose
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  theirs.Reset();
  RETURN_IF_ERROR(net::SetNonBlocking(ours.get()));
  control_ = std::move(ours);
  RETURN_IF_ERROR(loop_->Add(control_.get(), EPOLLIN, [this](uint32_t) { OnControl(); }));
  daemon_pid_ = pid;
  daemon_started_at_ = loop_->Now();
  said_stopping_ = false;
  ++starts_;
  cause_ = starts_ == 1 ? StartCause::kFirst : next_cause_;
  next_cause_ = StartCause::kCrash;
  Log("started the daemon (pid " + std::to_string(pid) + ", start " + std::to_string(starts_) +
      (starts_ > 1 ? ", after a " + std::string(StartCauseName(cause_)) : std::string()) + ")");
  return Status::OK();
}

void Keeper::OnSignal() {
  signalfd_siginfo info;
  bool child = false;
  while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
    if (info.ssi_signo == SIGCHLD) {
      child = true;
    } else if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
      if (stop_requested_) continue;
      stop_requested_ = true;
      // A daemon still draining after a handover goes too (it serves nothing new).
      for (pid_t old : retiring_) ::kill(old, SIGTERM);
      if (daemon_pid_ > 0) {
        Log("signal " + std::to_string(info.ssi_signo) + ": stopping the daemon");
        ::kill(daemon_pid_, SIGTERM);
      } else {
        Log("signal " + std::to_string(info.ssi_signo) + ": no daemon runs; exiting");
        Finish(0);
      }
    }
    // SIGHUP: the terminal that started `up` went away; nothing to do.
  }
  if (child) Reap();
}

void Keeper::Reap() {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == daemon_pid_) {
      OnDaemonExit(status);
      continue;
    }
    if (retiring_.erase(pid) > 0) {
      Log("the previous daemon (pid " + std::to_string(pid) + ") " + DescribeStatus(status) +
          " after handing over");
      continue;
    }
    exits_.emplace_back(pid, status);
    while (exits_.size() > options_.max_exits) exits_.pop_front();
  }
}

void Keeper::OnDaemonExit(int status) {
  pid_t pid = daemon_pid_;
  daemon_pid_ = 0;
  CloseControl();
  Duration uptime = std::chrono::duration_cast<Duration>(loop_->Now() - daemon_started_at_);
  std::string what = "the daemon (pid " + std::to_string(pid) + ") " + DescribeStatus(status);
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (stop_requested_ || retired_ || (clean && said_stopping_)) {
    Log(what + "; exiting with it");
    Finish(clean ? 0 : 1);
    return;
  }
  if (!ever_ready_) {
    Log(what + " before it served; exiting");
    Finish(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
    return;
  }
  last_backoff_ = backoff_.Next(uptime);
  Log(what + "; starting it again in " + std::to_string(last_backoff_.count()) + " ms");
  ScheduleRestart(last_backoff_);
}

void Keeper::ScheduleRestart(Duration delay) {
  restart_timer_ = loop_->RunAfter(delay, [this] {
    restart_timer_ = 0;
    if (done_ || stop_requested_) return;
    if (Status st = SpawnDaemon(); !st.ok()) {
      last_backoff_ = backoff_.Next(Duration(0));
      Log("cannot start the daemon: " + st.message() + "; retrying in " +
          std::to_string(last_backoff_.count()) + " ms");
      restart_timer_ = loop_->RunAfter(last_backoff_, [this] {
        restart_timer_ = 0;
        if (!done_ && !stop_requested_ && !SpawnDaemon().ok()) Finish(1);
      });
    }
  });
}

void Keeper::BeginHandover() {
  pid_t old = daemon_pid_;
  retiring_.insert(old);
  daemon_pid_ = 0;
  CloseControl();  // the old daemon asks nothing more; its successor gets a fresh channel
  next_cause_ = StartCause::kHandover;
  Log("the daemon (pid " + std::to_string(old) + ") hands over; starting its successor");
  if (Status st = SpawnDaemon(); !st.ok()) {
    next_cause_ = StartCause::kHandover;
    last_backoff_ = backoff_.Next(Duration(0));
    Log("cannot start the successor: " + st.message() + "; retrying in " +
        std::to_string(last_backoff_.count()) + " ms");
    ScheduleRestart(last_backoff_);
  }
}

void Keeper::Retire() {
  if (retired_) return;
  retired_ = true;
  said_stopping_ = true;
  // A successor binds the same ports with SO_REUSEPORT: a copy kept here would take a share of
  // its connections and never accept them.
  listeners_.clear();
  // The pid file goes while the lock still guards it, so it is never a successor's file.
  if (wrote_pid_) {
    std::error_code ec;
    std::filesystem::remove(options_.state_dir / "keeper.pid", ec);
    wrote_pid_ = false;
  }
  lock_fd_.Reset();
  Log("the daemon (pid " + std::to_string(daemon_pid_) +
      ") drains with no successor here: the folder is free for another keeper");
}

void Keeper::Finish(int code) {
  done_ = true;
  exit_code_ = code;
  loop_->Stop();
}

void Keeper::CloseControl() {
  if (!control_) return;
  loop_->Remove(control_.get());
  control_.Reset();
}

void Keeper::OnControl() {
  for (int i = 0; i < 64 && control_; ++i) {
    auto m = net::RecvMessage(control_.get(), kMaxRequestBytes);
    if (!m.ok()) {
      if (m.status().code() == StatusCode::kUnavailable) return;  // nothing more now
      // A malformed message (too long, too many fds): refused, its fds already closed.
      if (Status st = net::SendMessage(control_.get(), EncodeErr(m.status().message())); !st.ok()) {
        Log("cannot answer a malformed request: " + st.message());
      }
      continue;
    }
    if (m->eof) {  // the daemon closed its end; its exit comes through SIGCHLD
      CloseControl();
      return;
    }
    std::vector<int> out_fds;
    std::string answer;
    auto req = DecodeRequest(m->data);
    if (!req.ok()) {
      answer = EncodeErr(req.status().message());
    } else {
      answer = Handle(*req, m->fds, out_fds);
    }
    if (Status st = net::SendMessage(control_.get(), answer, out_fds); !st.ok()) {
      Log("control: " + st.message());
      CloseControl();
      return;
    }
    if (handover_asked_) {  // answered first, so the old daemon knows before it drains
      handover_asked_ = false;
      BeginHandover();
      return;
    }
  }
}

std::string Keeper::Handle(const Request& r, std::vector<net::UniqueFd>& fds,
                           std::vector<int>& out_fds) {
  if (r.command != Command::kHoldFds && !fds.empty()) return EncodeErr("unexpected fds");
  // A retired keeper holds no socket a successor's could share a port with, and starts nothing.
  if (retired_ && (r.command == Command::kListenTcp || r.command == Command::kListenUnix ||
                   r.command == Command::kHandover)) {
    return EncodeErr("the keeper has retired");
  }
  switch (r.command) {
    case Command::kHello:
      return EncodeOk(
          {std::to_string(starts_), std::to_string(getpid()), std::string(StartCauseName(cause_))});
    case Command::kListenTcp:
      return ListenTcp(r, out_fds);
    case Command::kListenUnix: {
      std::string key = std::string("unix", 4) + '\0' + r.path;
      auto it = listeners_.find(key);
      if (it == listeners_.end()) {
        if (listeners_.size() >= kMaxHeldListeners) return EncodeErr("too many listeners");
        auto fd = net::ListenUnix(r.path);
        if (!fd.ok()) return EncodeErr(fd.status().message());
        Held h;
        h.fds.push_back(std::move(fd).value());
        it = listeners_.emplace(key, std::move(h)).first;
      }
      out_fds.push_back(it->second.fds[0].get());
      return EncodeOk();
    }
    case Command::kReleaseTcp:
    case Command::kHoldsTcp: {
      std::string key = std::string("tcp", 3) + '\0' + r.host + '\0' + std::to_string(r.port);
      bool held = listeners_.count(key) > 0;
      if (r.command == Command::kHoldsTcp) return EncodeOk({held ? "1" : "0"});
      listeners_.erase(key);
      return EncodeOk();
    }
    case Command::kReady:
      if (!ever_ready_ || starts_ > 1) Log("the daemon serves");
      ever_ready_ = true;
      said_stopping_ = false;
      return EncodeOk();
    case Command::kStopping:
      said_stopping_ = true;
      return EncodeOk();
    case Command::kRetire:
      Retire();
      return EncodeOk();
    case Command::kHandover:
      if (!ever_ready_) return EncodeErr("handover: the daemon has not served yet");
      if (stop_requested_) return EncodeErr("handover: the keeper is stopping");
      handover_asked_ = true;
      return EncodeOk();
    case Command::kExits: {
      std::vector<std::string> out;
      for (size_t i = 0; i < kMaxExitsPerAnswer && !exits_.empty(); ++i) {
        out.push_back(std::to_string(exits_.front().first));
        out.push_back(std::to_string(exits_.front().second));
        exits_.pop_front();
      }
      return EncodeOk(out);
    }
    case Command::kHoldFds: {
      if (fds.empty() || fds.size() > kMaxFdsPerKey) {
        return EncodeErr("hold-fds: 1.." + std::to_string(kMaxFdsPerKey) + " fds expected");
      }
      if (!parked_.count(r.key) && parked_.size() >= kMaxParkedKeys) {
        return EncodeErr("hold-fds: too many keys");
      }
      parked_[r.key] = std::move(fds);
      return EncodeOk();
    }
    case Command::kTakeFds: {
      auto it = parked_.find(r.key);
      if (it == parked_.end()) return EncodeErr("take-fds: nothing held under that key");
      for (const auto& fd : it->second) out_fds.push_back(fd.get());
      return EncodeOk();
    }
    case Command::kDropFds:
      parked_.erase(r.key);
      return EncodeOk();
  }
  return EncodeErr("unknown command");
}

std::string Keeper::ListenTcp(const Request& r, std::vector<int>& out_fds) {
  std::string key = std::string("tcp", 3) + '\0' + r.host + '\0' + std::to_string(r.port);
  auto it = listeners_.find(key);
  if (it != listeners_.end() && (it->second.fds.size() != static_cast<size_t>(r.count) ||
                                 it->second.reuseport != r.reuseport)) {
    // A different shape (the proxy's worker count changed): bind the new set beside the old one
    // first when the old one allows it, so the port never refuses.
    Held fresh;
    fresh.reuseport = r.reuseport;
    int port = it->second.bound_port;
    for (int i = 0; i < r.count; ++i) {
      auto fd = net::ListenTcp(r.host, port, 1024, r.reuseport);
      if (!fd.ok()) {
        if (i == 0 && !it->second.fds.empty()) {
          // The old sockets block the port (no SO_REUSEPORT): close them, then bind.
          it->second.fds.clear();
          fd = net::ListenTcp(r.host, port, 1024, r.reuseport);
        }
        if (!fd.ok()) return EncodeErr(fd.status().message());
      }
      fresh.fds.push_back(std::move(fd).value());
    }
    fresh.bound_port = port;
    it->second = std::move(fresh);
  } else if (it == listeners_.end()) {
    if (listeners_.size() >= kMaxHeldListeners) return EncodeErr("too many listeners");
    Held h;
    h.reuseport = r.reuseport;
    int port = r.port;
    for (int i = 0; i < r.count; ++i) {
      auto fd = net::ListenTcp(r.host, port, 1024, r.reuseport);
      if (!fd.ok()) return EncodeErr(fd.status().message());
      if (port == 0) {
        auto bound = net::LocalPort(fd->get());
        if (!bound.ok()) return EncodeErr(bound.status().message());
        port = *bound;
      }
      h.fds.push_back(std::move(fd).value());
    }
    h.bound_port = port;
    it = listeners_.emplace(key, std::move(h)).first;
  }
  for (const auto& fd : it->second.fds) out_fds.push_back(fd.get());
  return EncodeOk({std::to_string(it->second.bound_port)});
}

int RunKeeper(KeeperOptions options) {
  auto k = Keeper::Create(std::move(options));
  if (!k.ok()) {
    logging::Error("slipway-keeper", k.status().message());
    return k.status().ExitCode();
  }
  return (*k)->Run();
}

}  // namespace slipway::keeper
