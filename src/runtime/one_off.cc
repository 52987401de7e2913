#include "runtime/one_off.h"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "config/loader.h"
#include "net/event_loop.h"
#include "runtime/container.h"
#include "runtime/container_assets.h"

namespace slipway::runtime {

std::map<std::string, std::string> OneOffEnvironment(const config::Project& p,
                                                     const config::Service& s, int index,
                                                     int port) {
  std::map<std::string, std::string> env = config::CurrentEnviron();
  for (const auto& [k, v] : s.environment) env[k] = v;
  env["SLIPWAY_PROJECT"] = p.name;
  env["SLIPWAY_SERVICE"] = s.name;
  env["SLIPWAY_INSTANCE"] = std::to_string(index);
  if (port > 0) env["PORT"] = std::to_string(port);
  return env;
}

Result<ProcessSpec> OneOffSpec(const config::Project& p, const config::Service& s,
                               const std::vector<std::string>& cmd, const std::string& name,
                               const std::map<std::string, std::string>& extra_env) {
  if (!s.RunsInContainer()) {
    if (cmd.empty())
      return InvalidInput(fmt::format("a one-off of service {} needs a command", s.name));
    ProcessSpec spec;
    spec.argv = cmd;
    spec.env = OneOffEnvironment(p, s, 0, 0);
    for (const auto& [k, v] : extra_env) spec.env[k] = v;
    spec.cwd = s.working_dir;
    return spec;
  }
  auto engine = ContainerEngine::Detect();
  if (!engine.ok()) {
    return FailedPrecondition(
        fmt::format("service {} runs in a container and no engine answers ({})", s.name,
                    engine.status().message()));
  }
  RETURN_IF_ERROR(PrepareContainerService(*engine, p, s));
  config::Service copy = s;
  if (!cmd.empty()) copy.command = cmd;  // as compose run: the command replaces the service's
  std::map<std::string, std::string> env = s.environment;
  env["SLIPWAY_PROJECT"] = p.name;
  env["SLIPWAY_SERVICE"] = s.name;
  env["SLIPWAY_INSTANCE"] = std::to_string(0);
  for (const auto& [k, v] : extra_env) env[k] = v;
  return engine->BuildRunSpec(p.name, copy, 0, env, name);
}

Result<ExitStatus> RunCapture(const ProcessSpec& spec, Duration timeout, std::string* out,
                              std::string* err) {
  constexpr size_t kCap = 64 * 1024;
  ASSIGN_OR_RETURN(auto loop, net::EventLoop::Create());
  std::optional<ExitStatus> exit;
  auto p = Process::Spawn(
      loop.get(), spec,
      [out, err](bool is_stderr, std::string_view line) {
        std::string* to = is_stderr ? err : out;
        if (to != nullptr && to->size() < kCap) {
          to->append(line);
          to->push_back('\n');
        }
      },
      [&exit](ExitStatus st) { exit = st; });
  if (!p.ok()) return p.status();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exit) {
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    if (left <= Duration(0)) {
      p.value().reset();  // SIGKILL to the group and reap
      return DeadlineExceeded(
          fmt::format("`{}` did not finish within {} s", spec.argv.back(), timeout.count() / 1000));
    }
    loop->RunOnce(std::min(left, Duration(100)));
  }
  return *exit;
}

}  // namespace slipway::runtime
