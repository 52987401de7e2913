// FakeHost: the engine's Host (engine/host.h) for tests. Nothing runs: a spawned process is a
// record (its spec, the signals it got) that runs until the test ends it with Exit(), and a
// probe answers what `probe` says (success by default). A stop signal ends the process on the
// loop's next turn, killed by that signal; with exit_on_stop false it ignores the signal and
// is SIGKILLed after the grace period on the loop's clock (a FakeClock in tests). A process's
// age (what an adopting engine reads from /proc) is what `ages` says. Pids start
// at 5,000,000, above any kernel's pid_max, so no fake pid names a real process.
//
// Header only: it is a test double, not part of the engine library. Threads: the loop's.
#pragma once

#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/host.h"
#include "runtime/process.h"

namespace slipway::engine {

class FakeHost final : public Host {
 public:
  struct Proc {
    pid_t pid = 0;
    runtime::ProcessSpec spec;
    bool running = true;
    bool adopted = false;
    std::vector<int> signals;  // every signal it got, in order (SIGKILL too)
    net::EventLoop* loop = nullptr;
    OutputFn on_output;
    ExitFn on_exit;
    std::string service() const {
      auto it = spec.env.find("SLIPWAY_SERVICE");
      return it == spec.env.end() ? "" : it->second;
    }
  };

  // A spawn whose answer is not OK fails with it (the instance becomes failed).
  std::function<Status(const runtime::ProcessSpec&)> spawn_result;
  // The answer of a probe (ok by default).
  std::function<health::ProbeResult(const health::ProbeTarget&)> probe;
  bool exit_on_stop = true;
  // Told of each spawn (after it is recorded): a test may schedule its exit.
  std::function<void(const Proc&)> on_spawn;
  // Age() of a start time (a running fake process's is its pid plus one); absent: 0.
  std::map<uint64_t, Duration> ages;

  // --- the test's side ---
  // Ends a running process with `st` (on_exit runs now). False when it does not run.
  bool Exit(pid_t pid, runtime::ExitStatus st) {
    auto it = procs_.find(pid);
    if (it == procs_.end() || !it->second->running) return false;
    std::shared_ptr<Proc> p = it->second;
    p->running = false;
    ExitFn fn = std::move(p->on_exit);
    p->on_output = nullptr;
    if (fn) fn(st);  // may destroy the handle
    return true;
  }
  bool Crash(pid_t pid, int code = 1) {
    runtime::ExitStatus st;
    st.code = code;
    return Exit(pid, st);
  }
  // One output line from a running process.
  void Print(pid_t pid, std::string_view line, bool is_stderr = false) {
    auto it = procs_.find(pid);
    if (it != procs_.end() && it->second->running && it->second->on_output) {
      it->second->on_output(is_stderr, line);
    }
  }
  const Proc* Find(pid_t pid) const {
    auto it = procs_.find(pid);
    return it == procs_.end() ? nullptr : it->second.get();
  }
  // Pids of `service`'s processes still running, oldest first.
  std::vector<pid_t> Running(const std::string& service) const {
    std::vector<pid_t> out;
    for (const auto& [pid, p] : procs_) {
      if (p->running && p->service() == service) out.push_back(pid);
    }
    return out;
  }
  int spawns() const { return spawns_; }
  int probes() const { return probes_; }

  // --- Host ---
  Result<std::unique_ptr<runtime::ProcessHandle>> Spawn(net::EventLoop* loop,
                                                        const runtime::ProcessSpec& spec,
                                                        OutputFn on_output,
                                                        ExitFn on_exit) override {
    if (spawn_result) RETURN_IF_ERROR(spawn_result(spec));
    ++spawns_;
    return Make(loop, spec, std::move(on_output), std::move(on_exit), false);
  }
  Result<std::unique_ptr<runtime::ProcessHandle>> Adopt(net::EventLoop* loop, pid_t pid, uint64_t,
                                                        net::UniqueFd, net::UniqueFd,
                                                        OutputFn on_output, ExitFn on_exit,
                                                        ExitOfFn) override {
    auto it = procs_.find(pid);
    if (it == procs_.end() || !it->second->running) return NotFound("no such process");
    it->second->adopted = true;
    it->second->loop = loop;
    it->second->on_output = std::move(on_output);
    it->second->on_exit = std::move(on_exit);
    return std::unique_ptr<runtime::ProcessHandle>(new Handle(this, it->second));
  }
  // A running fake process's start time is its pid plus one (never 0); any other pid: 0.
  uint64_t StartTime(pid_t pid) override {
    const Proc* p = Find(pid);
    return p != nullptr && p->running ? static_cast<uint64_t>(pid) + 1 : 0;
  }
  Duration Age(uint64_t start_time) override {
    auto it = ages.find(start_time);
    return it == ages.end() ? Duration(0) : it->second;
  }
  std::map<std::string, std::string> Environment(pid_t pid) override {
    const Proc* p = Find(pid);
    return p != nullptr ? p->spec.env : std::map<std::string, std::string>{};
  }
  void Probe(net::EventLoop* loop, const config::Healthcheck&, const health::ProbeTarget& target,
             std::function<void(health::ProbeResult)> done) override {
    ++probes_;
    health::ProbeResult r;
    r.ok = true;
    if (probe) r = probe(target);
    loop->Post([r, done = std::move(done)] { done(r); });
  }

 private:
  class Handle final : public runtime::ProcessHandle {
   public:
    Handle(FakeHost* host, std::shared_ptr<Proc> p) : host_(host), p_(std::move(p)) {}
    ~Handle() override {
      if (p_->running) {  // as Process: a running one is killed, silently
        p_->signals.push_back(SIGKILL);
        p_->running = false;
        p_->on_exit = nullptr;
        p_->on_output = nullptr;
      }
    }
    pid_t pid() const override { return p_->pid; }
    bool adopted() const override { return p_->adopted; }
    int stdout_fd() const override { return -1; }
    int stderr_fd() const override { return -1; }
    void Signal(int sig) override {
      if (p_->running) p_->signals.push_back(sig);
    }
    void Stop(int sig, Duration grace) override {
      if (!p_->running) return;
      p_->signals.push_back(sig);
      std::weak_ptr<Proc> weak = p_;
      FakeHost* host = host_;
      auto end = [host, weak](int by) {
        auto p = weak.lock();
        if (!p || !p->running) return;
        if (by == SIGKILL) p->signals.push_back(SIGKILL);
        runtime::ExitStatus st;
        st.signaled = true;
        st.signal = by;
        host->Exit(p->pid, st);
      };
      if (host_->exit_on_stop || sig == SIGKILL) {
        p_->loop->Post([end, sig] { end(sig); });
      } else {
        p_->loop->RunAfter(grace, [end] { end(SIGKILL); });
      }
    }

   private:
    FakeHost* host_;
    std::shared_ptr<Proc> p_;
  };

  std::unique_ptr<runtime::ProcessHandle> Make(net::EventLoop* loop,
                                               const runtime::ProcessSpec& spec, OutputFn on_output,
                                               ExitFn on_exit, bool adopted) {
    auto p = std::make_shared<Proc>();
    p->pid = next_pid_++;
    p->spec = spec;
    p->adopted = adopted;
    p->loop = loop;
    p->on_output = std::move(on_output);
    p->on_exit = std::move(on_exit);
    procs_[p->pid] = p;
    if (on_spawn) on_spawn(*p);
    return std::make_unique<Handle>(this, p);
  }

  std::map<pid_t, std::shared_ptr<Proc>> procs_;
  pid_t next_pid_ = 5'000'000;
  int spawns_ = 0;
  int probes_ = 0;
};

}  // namespace slipway::engine
