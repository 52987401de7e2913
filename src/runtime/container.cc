#include "runtime/container.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "config/shell_words.h"
#include "net/socket.h"
#include "runtime/container_assets.h"

namespace slipway::runtime {

namespace {

constexpr size_t kMaxSyncOutput = 64 * 1024;

// The last non-empty line of a command's output, for one-line error messages.
std::string LastLine(const std::string& output) {
  size_t end = output.find_last_not_of("\r\n \t");
  if (end == std::string::npos) return "";
  size_t start = output.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return output.substr(start, end - start + 1);
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

ContainerEngine::ContainerEngine(std::string binary, std::vector<std::string> global_flags)
    : binary_(std::move(binary)), global_flags_(std::move(global_flags)) {}

bool ContainerEngine::is_podman() const {
  std::string base = binary_.substr(binary_.find_last_of('/') + 1);
  return base.rfind("podman", 0) == 0;
}

Result<ContainerEngine> ContainerEngine::Detect(Duration timeout) {
  const char* flags = std::getenv(kFlagsEnv);
  ASSIGN_OR_RETURN(std::vector<std::string> global_flags, SplitFlags(flags ? flags : ""));
  return Detect({"podman", "docker"}, std::move(global_flags), timeout);
}

Result<std::vector<std::string>> ContainerEngine::SplitFlags(std::string_view value) {
  std::optional<std::vector<std::string>> words = config::SplitShellWords(value);
  if (!words) {
    return InvalidInput(fmt::format(
        "{}: a quote is not closed or the value ends in a lone backslash; expected shell words, "
        "e.g. --root \"/srv/my root\" --runroot /run/x",
        kFlagsEnv));
  }
  return std::move(*words);
}

Result<ContainerEngine> ContainerEngine::Detect(const std::vector<std::string>& candidates,
                                                std::vector<std::string> global_flags,
                                                Duration timeout) {
  std::vector<std::string> reasons;
  auto env = CurrentEnvironment();
  for (const std::string& bin : candidates) {
    auto exe = ResolveExecutable(bin, env);
    if (!exe.ok()) {
      reasons.push_back(bin + ": not installed");
      continue;
    }
    ProcessSpec spec;
    spec.argv = {*exe};
    spec.argv.insert(spec.argv.end(), global_flags.begin(), global_flags.end());
    spec.argv.push_back("info");
    spec.env = env;
    std::string output;
    auto st = RunSync(spec, timeout, &output);
    if (!st.ok()) {
      reasons.push_back(bin + ": " + st.status().message());
      continue;
    }
    if (!st->success()) {
      std::string why = LastLine(output);
      reasons.push_back(bin + ": `" + bin + " info` " + st->ToString() +
                        (why.empty() ? "" : ": " + why));
      continue;
    }
    return ContainerEngine(*exe, global_flags);
  }
  return NotFound("no container engine answers (" + Join(reasons, "; ") + ")");
}

std::string ContainerEngine::ContainerName(const std::string& project, const std::string& service,
                                           int index, const std::string& set) {
  std::string name = "slipway-";
  name += project;
  name += '-';
  name += service;
  name += '-';
  if (!set.empty()) {
    name += set;
    name += '-';
  }
  name += std::to_string(index);
  // Container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; compose names are mostly that already.
  for (char& c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) c = '_';
  }
  return name;
}

ProcessSpec ContainerEngine::BuildRunSpec(
    const std::string& project, const config::Service& service, int index,
    const std::map<std::string, std::string>& env, const std::string& set,
    const std::vector<std::pair<std::string, std::string>>& hosts) const {
  ProcessSpec spec;
  spec.env = CurrentEnvironment();
  const std::string name = ContainerName(project, service.name, index, set);
  std::vector<std::string>& a = spec.argv;
  a.push_back(binary_);
  a.insert(a.end(), global_flags_.begin(), global_flags_.end());
  // --init: a server as PID 1 ignores SIGTERM (see the header).
  a.insert(a.end(), {"run", "--rm", "--init", "--name", name, "--network=host"});
  if (is_podman()) {
    // --replace: a container of this name can only be one a previous daemon of this project
    // left running when it was killed (one daemon per project holds the state lock); without
    // it the name clashes and the service cannot start again.
    a.push_back("--replace");
    // Recipe for these machines: crun fails under hybrid cgroups, and root lacks
    // CAP_SYS_RESOURCE for the default limits.
    a.insert(a.end(),
             {"--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"});
  }
  for (const auto& [host, addr] : hosts) a.insert(a.end(), {"--add-host", host + ":" + addr});
  if (!service.user.empty()) a.insert(a.end(), {"--user", service.user});
  // deploy.resources.limits (config/resources_settings.h); reservations are not enforced.
  const config::ResourceSettings& res = service.resources;
  if (res.cpus) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *res.cpus);
    a.insert(a.end(), {"--cpus", buf});
  }
  if (res.memory_bytes) a.insert(a.end(), {"--memory", std::to_string(*res.memory_bytes)});
  if (res.pids) a.insert(a.end(), {"--pids-limit", std::to_string(*res.pids)});
  for (const auto& [k, v] : service.labels) a.insert(a.end(), {"--label", k + "=" + v});
  a.insert(a.end(), {"--label", "slipway.project=" + project});
  a.insert(a.end(), {"--label", "slipway.service=" + service.name});
  for (const auto& [k, v] : env) a.insert(a.end(), {"-e", k + "=" + v});
  // Volumes, binds, tmpfs, secrets and configs (runtime/container_assets.h).
  std::vector<std::string> mounts = MountFlags(service);
  a.insert(a.end(), mounts.begin(), mounts.end());
  // --entrypoint takes one word: the rest of a list entrypoint goes before the command.
  std::vector<std::string> args;
  if (service.entrypoint) {
    if (service.entrypoint->empty()) {
      a.insert(a.end(), {"--entrypoint", ""});
    } else {
      a.insert(a.end(), {"--entrypoint", service.entrypoint->front()});
      args.assign(service.entrypoint->begin() + 1, service.entrypoint->end());
    }
  }
  if (service.command) args.insert(args.end(), service.command->begin(), service.command->end());
  a.push_back(service.ImageName(project));  // a build's image when it has no `image:`
  a.insert(a.end(), args.begin(), args.end());
  if (!is_podman()) {
    // Docker has no --replace: remove a leftover of this name first. exec makes the shell the
    // client, so the supervised PID and the stop signal are the client's as with podman.
    a = {"/bin/sh", "-c",
         config::ShellJoin(BuildRemoveSpec(name).argv) + " >/dev/null 2>&1; exec " +
             config::ShellJoin(a)};
  }
  return spec;
}

std::vector<std::string> ContainerEngine::ExecArgv(const std::string& container_name) const {
  std::vector<std::string> argv = {binary_};
  argv.insert(argv.end(), global_flags_.begin(), global_flags_.end());
  argv.insert(argv.end(), {"exec", container_name});
  return argv;
}

ProcessSpec ContainerEngine::BuildRemoveSpec(const std::string& container_name) const {
  ProcessSpec spec;
  spec.env = CurrentEnvironment();
  spec.argv.push_back(binary_);
  spec.argv.insert(spec.argv.end(), global_flags_.begin(), global_flags_.end());
  // -f: also a running one; podman's --ignore makes a missing one a success.
  spec.argv.insert(spec.argv.end(), {"rm", "-f"});
  if (is_podman()) spec.argv.push_back("--ignore");
  spec.argv.push_back(container_name);
  return spec;
}

namespace {
// docker rm -f of a missing container exits 1 with "No such container": that is success here.
Status RemoveOutcome(const std::string& name, const ExitStatus& st, const std::string& output) {
  if (st.success() || output.find("No such container") != std::string::npos ||
      output.find("no such container") != std::string::npos) {
    return Status::OK();
  }
  std::string why = LastLine(output);
  return Unavailable("remove container " + name + ": " + st.ToString() +
                     (why.empty() ? "" : ": " + why));
}
}  // namespace

Status ContainerEngine::RemoveSync(const std::string& container_name, Duration timeout) const {
  std::string output;
  ASSIGN_OR_RETURN(ExitStatus st, RunSync(BuildRemoveSpec(container_name), timeout, &output));
  return RemoveOutcome(container_name, st, output);
}

void ContainerEngine::RemoveAsync(net::EventLoop* loop, const std::string& container_name,
                                  std::function<void(Status)> done) const {
  struct State {
    std::unique_ptr<Process> proc;
    std::string output;
  };
  auto state = std::make_shared<State>();
  auto on_output = [state](bool, std::string_view line) {
    if (state->output.size() < kMaxSyncOutput) {
      state->output.append(line);
      state->output += '\n';
    }
  };
  auto on_exit = [state, container_name, done](ExitStatus st) {
    state->proc.reset();  // allowed from on_exit; the lambda's copy of `state` keeps it alive
    done(RemoveOutcome(container_name, st, state->output));
  };
  auto p = Process::Spawn(loop, BuildRemoveSpec(container_name), on_output, on_exit);
  if (!p.ok()) {
    Status st = p.status();
    loop->Post([done, st] { done(st); });
    return;
  }
  state->proc = std::move(p).value();
}

Result<ExitStatus> RunSync(const ProcessSpec& spec, Duration timeout, std::string* output) {
  ASSIGN_OR_RETURN(auto loop, net::EventLoop::Create());
  std::optional<ExitStatus> exit;
  auto p = Process::Spawn(
      loop.get(), spec,
      [output](bool, std::string_view line) {
        if (output && output->size() < kMaxSyncOutput) {
          output->append(line);
          output->push_back('\n');
        }
      },
      [&exit](ExitStatus st) { exit = st; });
  if (!p.ok()) return p.status();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exit) {
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    if (left <= Duration(0)) {
      p.value().reset();  // SIGKILL to the group and reap
      return DeadlineExceeded("`" + spec.argv[0] + "` did not finish within " +
                              std::to_string(timeout.count()) + "ms");
    }
    loop->RunOnce(std::min(left, Duration(100)));
  }
  return *exit;
}

Result<int> PickFreePort() {
  ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp("127.0.0.1", 0, 1));
  return net::LocalPort(fd.get());
}

}  // namespace slipway::runtime
