#include "engine/host.h"

#include "runtime/process.h"

namespace slipway::engine {
namespace {

// Processes through runtime::Process (via the runtime's own real host), probes through
// health::RunProbe.
class RealHost final : public Host {
 public:
  Result<std::unique_ptr<runtime::ProcessHandle>> Spawn(net::EventLoop* loop,
                                                        const runtime::ProcessSpec& spec,
                                                        OutputFn on_output,
                                                        ExitFn on_exit) override {
    return runtime::ProcessHost::Real()->Spawn(loop, spec, std::move(on_output),
                                               std::move(on_exit));
  }
  Result<std::unique_ptr<runtime::ProcessHandle>> Adopt(net::EventLoop* loop, pid_t pid,
                                                        uint64_t start_time, net::UniqueFd out,
                                                        net::UniqueFd err, OutputFn on_output,
                                                        ExitFn on_exit, ExitOfFn exit_of) override {
    return runtime::ProcessHost::Real()->Adopt(loop, pid, start_time, std::move(out),
                                               std::move(err), std::move(on_output),
                                               std::move(on_exit), std::move(exit_of));
  }
  uint64_t StartTime(pid_t pid) override { return runtime::ProcessStartTime(pid); }
  Duration Age(uint64_t start_time) override { return runtime::ProcessAge(start_time); }
  std::map<std::string, std::string> Environment(pid_t pid) override {
    return runtime::ProcessEnvironment(pid);
  }
  void Probe(net::EventLoop* loop, const config::Healthcheck& hc, const health::ProbeTarget& target,
             std::function<void(health::ProbeResult)> done) override {
    health::RunProbe(loop, hc, target, std::move(done));
  }
};

}  // namespace

Host* Host::Real() {
  static RealHost* host = new RealHost();
  return host;
}

}  // namespace slipway::engine
