// SigpipeGuard: while it lives, a write on a socket whose peer has gone cannot kill the
// process with SIGPIPE on this thread; the write fails with EPIPE instead.
//
// Plain sockets avoid the signal with MSG_NOSIGNAL (net/plain_transport.h); OpenSSL writes
// with write(2), which has no such flag. Processes that ignore SIGPIPE (the daemon, testapp)
// do not need it, but the CLI and test binaries keep the default action, which is right for
// their stdout. The guard blocks SIGPIPE for the thread and, on destruction, consumes a
// SIGPIPE it caused before unblocking (as libcurl does). One thread: the caller's.
#pragma once

#include <signal.h>
#include <time.h>

namespace slipway::net {

class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    pending_before_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeGuard() {
    if (!pending_before_) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
  bool pending_before_ = false;
};

}  // namespace slipway::net
