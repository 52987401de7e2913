#include "cli/ingress_cmd.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "base/log.h"
#include "cli/checks.h"
#include "cli/context.h"
#include "config/duration.h"
#include "ingress/ingress.h"
#include "keeper/keeper.h"

namespace slipway::cli {

namespace {

// What ingress::ParseListenAddress takes; its own refusal, without the flag it names first.
CLI::Validator ListenAddress(const std::string& flag) {
  return CLI::Validator(
      [flag](std::string& v) -> std::string {
        if (v.size() > 300) return Shown(v) + " is not an address (expected HOST:PORT)";
        auto a = ingress::ParseListenAddress(v, flag);
        if (a.ok()) return "";
        std::string why = a.status().message();
        if (why.rfind(flag + ": ", 0) == 0) why = why.substr(flag.size() + 2);
        return why;
      },
      "HOST:PORT");
}

}  // namespace

void AddIngressCommands(CLI::App& app, int* rc, int argc, char** argv) {
  struct Flags {
    std::string http, https, state_dir, drain_timeout;
    int workers = 0;
    bool no_keeper = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "ingress", "Run the host's front proxy on :80/:443 that projects register with");
  cmd->group("");  // hidden from --help
  cmd->add_option("--http", flags->http,
                  "plain HTTP address (default $SLIPWAY_INGRESS_HTTP, else 0.0.0.0:80)")
      ->check(ListenAddress("--http"));
  cmd->add_option("--https", flags->https,
                  "HTTPS address (default $SLIPWAY_INGRESS_HTTPS, else 0.0.0.0:443)")
      ->check(ListenAddress("--https"));
  cmd->add_option(
         "--state-dir", flags->state_dir,
         "state folder (default $SLIPWAY_STATE_DIR/ingress, else /var/lib/slipway/ingress)")
      ->check(Path());
  cmd->add_option("--workers", flags->workers, "proxy worker threads (0 = one per core)")
      ->check(Whole(0, 256, "a number of threads"));
  cmd->add_option("--drain-timeout", flags->drain_timeout,
                  "on SIGTERM, how long requests in flight may finish (default 10s)")
      ->check(DurationIn(Duration(0), Duration(3'600'000)));
  cmd->add_flag("--no-keeper", flags->no_keeper,
                "bind :80/:443 here instead of under a keeper (they refuse while it restarts)");
  cmd->callback([flags, rc, argc, argv] {
    if (const char* f = std::getenv("SLIPWAY_LOG_FORMAT")) {
      if (auto parsed = logging::ParseLogFormat(f); parsed.ok()) logging::SetLogFormat(*parsed);
    }
    auto fail = [rc](const Status& st) {
      std::fprintf(stderr, "%s\n", CliContext::ErrorLine(st.message(), "ingress").c_str());
      *rc = st.ExitCode();
    };
    Result<ingress::IngressOptions> o = ingress::OptionsFromEnvironment();
    if (!o.ok()) return fail(o.status());
    if (!flags->http.empty()) {
      auto a = ingress::ParseListenAddress(flags->http, "--http");
      if (!a.ok()) return fail(a.status());
      o->http = *a;
    }
    if (!flags->https.empty()) {
      auto a = ingress::ParseListenAddress(flags->https, "--https");
      if (!a.ok()) return fail(a.status());
      o->https = *a;
    }
    if (!flags->state_dir.empty()) o->state_dir = flags->state_dir;
    o->workers = flags->workers;
    if (!flags->drain_timeout.empty()) {
      auto d = config::ParseDuration(flags->drain_timeout);
      if (!d || d->count() > 3'600'000) {
        return fail(InvalidInput("--drain-timeout: \"" + flags->drain_timeout +
                                 "\" is not a duration up to 1h (e.g. 10s)"));
      }
      o->drain_timeout = *d;
    }
    if (!flags->no_keeper && std::getenv("SLIPWAY_KEEPER_FD") == nullptr) {
      // The keeper holds :80/:443 and starts the ingress again when it dies (kill -9, a crash),
      // so connections queue meanwhile; the ingress is this same command under it.
      std::error_code ec;
      std::filesystem::create_directories(o->state_dir, ec);
      if (ec) return fail(IoError("create " + o->state_dir.string() + ": " + ec.message()));
      ::chmod(o->state_dir.c_str(), 0700);
      keeper::KeeperOptions k;
      k.state_dir = o->state_dir;
      k.daemon_argv.assign(argv, argv + argc);
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (!ec && std::filesystem::exists(self, ec)) k.daemon_argv[0] = self.string();
      auto keeper = keeper::Keeper::Create(std::move(k));
      if (!keeper.ok()) {
        if (keeper.status().code() == StatusCode::kFailedPrecondition) {
          // Another ingress (its keeper) serves this folder: the caller's goal holds.
          logging::Info("slipway-ingress", "an ingress already serves " + o->state_dir.string() +
                                               " (" + keeper.status().message() + ")");
          *rc = 0;
          return;
        }
        return fail(keeper.status());
      }
      *rc = (*keeper)->Run();
      return;
    }
    *rc = ingress::RunIngress(std::move(o).value());
  });
}

}  // namespace slipway::cli
