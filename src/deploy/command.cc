#include "deploy/command.h"

#include <fmt/format.h>
#include <signal.h>

#include <deque>
#include <memory>

#include "runtime/process.h"

namespace slipway::deploy {

void RunCommand(net::EventLoop* loop, const std::vector<std::string>& argv,
                const std::map<std::string, std::string>& env, const std::string& cwd,
                Duration timeout, std::function<void(Status)> done) {
  struct State {
    std::unique_ptr<runtime::Process> proc;
    std::deque<std::string> tail;  // last lines, for the error message
    std::function<void(Status)> done;
    net::EventLoop::TimerId timer = 0;
    bool finished = false;
  };
  auto st = std::make_shared<State>();
  st->done = std::move(done);
  runtime::ProcessSpec spec;
  spec.argv = argv;
  spec.env = env;
  spec.cwd = cwd;
  std::string name = argv.empty() ? "" : argv[0];
  auto finish = [loop, st](Status s) {
    if (st->finished) return;
    st->finished = true;
    loop->Cancel(st->timer);
    // The process object may be the caller of on_exit: release it from the loop.
    loop->Post([st, s] {
      st->proc.reset();
      st->done(s);
    });
  };
  auto proc = runtime::Process::Spawn(
      loop, spec,
      [st](bool, std::string_view line) {
        st->tail.emplace_back(line);
        if (st->tail.size() > 3) st->tail.pop_front();
      },
      [st, finish, name](runtime::ExitStatus e) {
        if (e.success()) {
          finish(Status::OK());
          return;
        }
        std::string out;
        for (const auto& l : st->tail) out += (out.empty() ? "" : " | ") + l;
        finish(Aborted(fmt::format("{} {}{}", name, e.ToString(), out.empty() ? "" : ": " + out)));
      });
  if (!proc.ok()) {
    finish(proc.status());
    return;
  }
  st->proc = std::move(proc).value();
  st->timer = loop->RunAfter(timeout, [st, finish, name, timeout] {
    if (st->proc) st->proc->Stop(SIGKILL, Duration(0));
    finish(DeadlineExceeded(fmt::format("{} still running after {} ms", name, timeout.count())));
  });
}

}  // namespace slipway::deploy
