#include "cli/container_cmd.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <set>

#include "cli/checks.h"
#include "cli/output.h"
#include "config/loader.h"
#include "runtime/container.h"
#include "runtime/container_assets.h"
#include "runtime/one_off.h"

namespace slipway::cli {

using nlohmann::json;

namespace {

// A build may take long (a cold cache, a big context); bounded all the same.
constexpr Duration kBuildTimeout{3'600'000};
// The command line can wait longer for `podman info` than the daemon's loop can: on a busy
// host its first answer (storage set-up, a cold cache) took over 5 s, and a build or a pull
// that follows takes longer anyway.
constexpr Duration kDetectTimeout{20'000};

Result<runtime::ContainerEngine> DetectEngine() {
  auto engine = runtime::ContainerEngine::Detect(kDetectTimeout);
  if (!engine.ok() && engine.status().code() != StatusCode::kInvalidInput) {
    return FailedPrecondition("this needs podman or docker, and none answers (" +
                              engine.status().message() + ")");
  }
  return engine;
}

Result<const config::Service*> FindService(const config::Project& p, const std::string& verb,
                                           const std::string& name) {
  auto it = p.services.find(name);
  if (it == p.services.end()) {
    std::string names;
    for (const auto& [n, _] : p.services) names += (names.empty() ? "" : ", ") + n;
    return InvalidInput(
        fmt::format("{}: no such service: \"{}\" (expected one of {})", verb, name, names));
  }
  return &it->second;
}

Status BuildOne(const runtime::ContainerEngine& engine, const config::Project& p,
                const config::Service& s) {
  const std::string image = s.ImageName(p.name);
  std::fprintf(stderr, "slipway: building %s (image %s)\n", s.name.c_str(), image.c_str());
  auto t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(runtime::BuildImage(engine, p, s, kBuildTimeout, nullptr));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::fprintf(stderr, "slipway: built %s in %.1f s\n", image.c_str(), ms / 1000.0);
  return Status::OK();
}

// `names` and, transitively, what they depend on; every service when `names` is empty.
std::vector<std::string> WithDependencies(const config::Project& p,
                                          const std::vector<std::string>& names) {
  std::vector<std::string> out;
  if (names.empty()) {
    for (const auto& [n, _] : p.services) out.push_back(n);
    return out;
  }
  std::set<std::string> seen;
  std::deque<std::string> todo(names.begin(), names.end());
  while (!todo.empty()) {
    std::string n = todo.front();
    todo.pop_front();
    auto it = p.services.find(n);
    if (it == p.services.end() || !seen.insert(n).second) continue;
    out.push_back(n);
    for (const config::Dependency& d : it->second.depends_on) todo.push_back(d.service);
  }
  return out;
}

int RunBuild(CliContext& ctx, const std::vector<std::string>& names) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  const config::Project& p = **project;
  std::vector<const config::Service*> todo;
  for (const std::string& n : names) {
    auto s = FindService(p, "build", n);
    if (!s.ok()) return CliContext::Fail(s.status());
    if (!(*s)->build) {
      return CliContext::Fail(InvalidInput(
          fmt::format("{}: services.{}: has no build: section (expected a service with build:)",
                      (*s)->loc.ToString(), n)));
    }
    todo.push_back(*s);
  }
  if (names.empty()) {
    for (const auto& [n, s] : p.services) {
      if (s.build && s.RunsInContainer()) todo.push_back(&s);
    }
  }
  if (todo.empty()) {
    std::fprintf(stderr, "slipway: no service runs from a build: nothing to build\n");
    return 0;
  }
  auto engine = DetectEngine();
  if (!engine.ok()) return CliContext::Fail(engine.status(), "build");
  for (const config::Service* s : todo) {
    if (Status st = BuildOne(*engine, p, *s); !st.ok()) return CliContext::Fail(st, "build");
  }
  return 0;
}

// Replaces this process with `argv` (looked up in PATH) in `cwd` with `env`. Returns only on
// failure, with the exit code (127 as a shell says "not found", 126 "cannot run").
int ExecInto(const std::vector<std::string>& argv, const std::map<std::string, std::string>* env,
             const std::filesystem::path& cwd) {
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
    std::fprintf(stderr, "slipway: cannot enter %s: %s\n", cwd.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  if (env != nullptr) {
    // execvpe looks PATH up in the calling process's environment: set it first.
    if (auto it = env->find("PATH"); it != env->end()) ::setenv("PATH", it->second.c_str(), 1);
    std::vector<std::string> kv;
    kv.reserve(env->size());
    for (const auto& [k, v] : *env) kv.push_back(std::string(k).append("=").append(v));
    std::vector<char*> envp;
    envp.reserve(kv.size() + 1);
    for (std::string& e : kv) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execvpe(args[0], args.data(), envp.data());
  } else {
    ::execvp(args[0], args.data());
  }
  int err = errno;
  std::fprintf(stderr, "slipway: cannot run %s: %s\n", argv[0].c_str(), std::strerror(err));
  return err == ENOENT ? 127 : 126;
}

std::vector<std::string> TtyFlags() {
  std::vector<std::string> f = {"-i"};
  if (::isatty(0) && ::isatty(1)) f.push_back("-t");
  return f;
}

struct OneOffArgs {
  int index = 1;
  std::vector<std::string> words;  // SERVICE CMD...
};

int RunExec(CliContext& ctx, const OneOffArgs& a) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  const config::Project& p = **project;
  if (a.words.size() < 2) {
    return CliContext::Fail(InvalidInput("exec: expected SERVICE COMMAND [ARGS...]"));
  }
  auto svc = FindService(p, "exec", a.words[0]);
  if (!svc.ok()) return CliContext::Fail(svc.status());
  const config::Service& s = **svc;
  std::vector<std::string> cmd(a.words.begin() + 1, a.words.end());
  if (!ctx.DaemonRunning()) {
    return CliContext::Fail(
        FailedPrecondition(fmt::format(
            "service {} is not running (the project is down; `slipway up` starts it, `slipway run "
            "{} ...` runs a one-off)",
            s.name, s.name)),
        "exec");
  }
  auto ps = ctx.Call("GET", "/api/v1/ps");
  if (!ps.ok()) return CliContext::Fail(ps.status(), "exec");
  int port = 0;
  bool running = false;
  auto rows = AnswerRows(*ps, [&](api::BodyFields& r) -> std::vector<std::string> {
    const std::string service = r.String("service", "a service name");
    const int64_t instance = r.Int("instance", 0, 0, INT32_MAX, "an instance number");
    const std::string state = r.String("state", "a state");
    const int64_t row_port = r.Int("port", 0, 0, 65535, "a port");
    if (service == s.name && instance == a.index && state == "running") {
      running = true;
      port = static_cast<int>(row_port);
    }
    return {};
  });
  if (!rows.ok()) return FailAnswer(rows.status(), "exec");
  if (!running) {
    return CliContext::Fail(
        FailedPrecondition(fmt::format("service {} has no running instance {} (see `slipway ps`)",
                                       s.name, a.index)),
        "exec");
  }
  if (!s.RunsInContainer()) {
    // A host process has no namespace to enter: a new process with the same environment.
    auto env = runtime::OneOffEnvironment(p, s, a.index, port);
    return ExecInto(cmd, &env, s.working_dir);
  }
  auto engine = DetectEngine();
  if (!engine.ok()) return CliContext::Fail(engine.status(), "exec");
  // The container: by the labels every slipway container carries, and the instance index that
  // ends its name (slipway-<project>-<service>[-<set>]-<index>). Newest first.
  std::vector<std::string> list = {engine->binary()};
  list.insert(list.end(), engine->global_flags().begin(), engine->global_flags().end());
  list.insert(list.end(), {"ps", "--filter", "label=slipway.project=" + p.name, "--filter",
                           "label=slipway.service=" + s.name, "--format", "{{.Names}}"});
  runtime::ProcessSpec spec;
  spec.argv = list;
  spec.env = runtime::CurrentEnvironment();
  std::string out;
  auto st = runtime::RunSync(spec, Duration(30'000), &out);
  if (!st.ok()) return CliContext::Fail(st.status(), "exec");
  std::string name;
  const std::string suffix = "-" + std::to_string(a.index);
  for (size_t pos = 0; pos < out.size();) {
    size_t nl = out.find('\n', pos);
    std::string line = out.substr(pos, nl == std::string::npos ? nl : nl - pos);
    pos = nl == std::string::npos ? out.size() : nl + 1;
    if (line.size() > suffix.size() &&
        line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name = line;
      break;
    }
  }
  if (name.empty()) {
    return CliContext::Fail(
        FailedPrecondition(fmt::format(
            "no running container of service {} instance {} (see `slipway ps`)", s.name, a.index)),
        "exec");
  }
  std::vector<std::string> argv = engine->ExecArgv(name);
  std::vector<std::string> tty = TtyFlags();
  argv.insert(argv.end() - 1, tty.begin(), tty.end());  // options before the container name
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return ExecInto(argv, nullptr, {});
}

int RunOneOff(CliContext& ctx, const OneOffArgs& a) {
  auto project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status());
  const config::Project& p = **project;
  if (a.words.empty()) {
    return CliContext::Fail(InvalidInput("run: expected SERVICE [COMMAND [ARGS...]]"));
  }
  auto svc = FindService(p, "run", a.words[0]);
  if (!svc.ok()) return CliContext::Fail(svc.status());
  config::Service s = **svc;
  std::vector<std::string> cmd(a.words.begin() + 1, a.words.end());
  if (!s.RunsInContainer()) {
    if (cmd.empty()) {
      if (s.host_command) {
        cmd = *s.host_command;
      } else {
        if (s.entrypoint) cmd = *s.entrypoint;
        if (s.command) cmd.insert(cmd.end(), s.command->begin(), s.command->end());
      }
    }
    if (cmd.empty()) return CliContext::Fail(InvalidInput("run: expected a COMMAND"));
    auto spec = runtime::OneOffSpec(p, s, cmd, "");
    if (!spec.ok()) return CliContext::Fail(spec.status(), "run");
    return ExecInto(spec->argv, &spec->env, spec->cwd);
  }
  auto engine = DetectEngine();
  if (!engine.ok()) return CliContext::Fail(engine.status(), "run");
  if (Status st = BuildImages(ctx, p, {s.name}, false); !st.ok())
    return CliContext::Fail(st, "run");
  auto spec = runtime::OneOffSpec(p, s, cmd, fmt::format("run{}", getpid()));
  if (!spec.ok()) return CliContext::Fail(spec.status(), "run");
  std::vector<std::string> argv = spec->argv;
  if (engine->is_podman()) {
    auto run = std::find(argv.begin(), argv.end(), "run");
    std::vector<std::string> tty = TtyFlags();
    if (run != argv.end()) argv.insert(run + 1, tty.begin(), tty.end());
  }
  return ExecInto(argv, nullptr, {});
}

}  // namespace

Status BuildImages(CliContext& ctx, const config::Project& project,
                   const std::vector<std::string>& services, bool force) {
  std::vector<const config::Service*> wanted;
  for (const std::string& n : WithDependencies(project, services)) {
    const config::Service& s = project.services.at(n);
    if (s.build && s.RunsInContainer()) wanted.push_back(&s);
  }
  if (wanted.empty()) return Status::OK();
  ASSIGN_OR_RETURN(runtime::ContainerEngine engine, DetectEngine());
  for (const config::Service* s : wanted) {
    if (!force) {
      ASSIGN_OR_RETURN(bool exists, runtime::ImageExists(engine, s->ImageName(project.name)));
      if (exists) continue;
    }
    RETURN_IF_ERROR(BuildOne(engine, project, *s));
  }
  (void)ctx;
  return Status::OK();
}

void AddContainerCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cbuild = app.add_subcommand("build", "Build the images of services with a build:");
  cbuild->add_option("services", *names, "Services (default: all that run in a container)")
      ->check(Name("a service name"));
  cbuild->callback([&ctx, names, rc] { *rc = RunBuild(ctx, *names); });

  auto exec = std::make_shared<OneOffArgs>();
  auto* cexec = app.add_subcommand("exec", "Run a command in a running service instance");
  cexec->add_option("--index", exec->index, "Instance number (default 1)")
      ->check(Whole(1, 100'000, "an instance number"));
  // SERVICE CMD... as they are: CMD's own flags are not ours (and not the root's either: no
  // fallthrough of global flags after the command).
  cexec->prefix_command();
  cexec->fallthrough(false);
  cexec->callback([&ctx, exec, cexec, rc] {
    exec->words = cexec->remaining();
    *rc = RunExec(ctx, *exec);
  });

  auto run = std::make_shared<OneOffArgs>();
  auto* crun = app.add_subcommand(
      "run", "Run a one-off command with a service's environment, volumes and secrets");
  crun->prefix_command();
  crun->fallthrough(false);
  crun->callback([&ctx, run, crun, rc] {
    run->words = crun->remaining();
    *rc = RunOneOff(ctx, *run);
  });
}

}  // namespace slipway::cli
