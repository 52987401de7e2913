#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/log.h"
#include "cli/alerts_cmd.h"
#include "cli/backup_cmd.h"
#include "cli/container_cmd.h"
#include "cli/context.h"
#include "cli/deploy_cmd.h"
#include "cli/export_cmd.h"
#include "cli/flags_cmd.h"
#include "cli/migrate_cmd.h"
#include "cli/project_cmd.h"
#include "daemon/daemon.h"
#include "keeper/keeper.h"

namespace slipway::cli {

namespace {
constexpr const char* kVersion = "0.1.0";
}

int Main(int argc, char** argv) {
  CLI::App app{"Slipway runs and deploys a Compose project: one program, no glue.", "slipway"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags are accepted after the command too

  CliContext ctx;
  app.add_option("-f,--file", ctx.files, "Compose file (repeatable; later files override)");
  app.add_option("-p,--project-name", ctx.project_name, "Project name");
  app.add_option("--env-file", ctx.env_files, "Environment file (repeatable; later wins)");
  app.add_option("--profile", ctx.profiles, "Enable a profile (repeatable)");
  app.add_option("--project-directory", ctx.project_directory,
                 "Folder to look for the compose file in (default: the current one)");
  // `slipway up --log-format json` starts the daemon with JSON logs.
  app.add_option("--log-format", ctx.log_format,
                 "Log format of a daemon this command starts: text or json "
                 "(default: $SLIPWAY_LOG_FORMAT, else text)")
      ->check(CLI::IsMember({"text", "json"}));

  int rc = 0;
  AddProjectCommands(app, ctx, &rc);
  AddDeployCommands(app, ctx, &rc);
  AddContainerCommands(app, ctx, &rc);
  AddExportCommands(app, ctx, &rc);
  AddMigrateCommands(app, ctx, &rc);
  AddBackupCommands(app, ctx, &rc);
  AddAlertsCommands(app, ctx, &rc);
  AddFlagsCommands(app, ctx, &rc);

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("slipway %s\n", kVersion); });

  // The daemon is started by `up`; it is not meant to be run by hand.
  std::string state_dir;
  auto* daemon_cmd = app.add_subcommand("daemon", "Run the project daemon (started by up)");
  daemon_cmd->group("");  // hidden from --help
  daemon_cmd->add_option("--state-dir", state_dir)->required();
  daemon_cmd->callback([&] {
    daemon::DaemonOptions o;
    o.state_dir = state_dir;
    o.load = ctx.LoadOptions();
    rc = daemon::RunDaemon(o);
  });

  // The keeper is started by `up` and starts the daemon (src/keeper). It reads nothing of the
  // project: the daemon's arguments are this command line with "keeper" turned into "daemon".
  auto* keeper_cmd =
      app.add_subcommand("keeper", "Keep the project daemon running (started by up)");
  keeper_cmd->group("");  // hidden from --help
  keeper_cmd->add_option("--state-dir", state_dir)->required();
  keeper_cmd->callback([&] {
    // Its lines share daemon.log with the daemon's: the same format.
    if (const char* f = std::getenv("SLIPWAY_LOG_FORMAT")) {
      if (auto parsed = logging::ParseLogFormat(f); parsed.ok()) logging::SetLogFormat(*parsed);
    }
    keeper::KeeperOptions o;
    o.state_dir = state_dir;
    o.daemon_argv.assign(argv, argv + argc);
    bool renamed = false;
    for (size_t i = 1; i < o.daemon_argv.size() && !renamed; ++i) {
      if (o.daemon_argv[i] == "keeper") {
        o.daemon_argv[i] = "daemon";
        renamed = true;
      }
    }
    // argv[0] may be a bare name found in PATH: the daemon is exec'd from this very file.
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec && std::filesystem::exists(self, ec)) o.daemon_argv[0] = self.string();
    rc = keeper::RunKeeper(std::move(o));
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}

}  // namespace slipway::cli
