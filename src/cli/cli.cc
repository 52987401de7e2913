#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "cli/access_cmd.h"
#include "cli/alerts_cmd.h"
#include "cli/backup_cmd.h"
#include "cli/certs_cmd.h"
#include "cli/container_cmd.h"
#include "cli/context.h"
#include "cli/daemon_cmd.h"
#include "cli/deploy_cmd.h"
#include "cli/export_cmd.h"
#include "cli/flags_cmd.h"
#include "cli/ingress_cmd.h"
#include "cli/migrate_cmd.h"
#include "cli/project_cmd.h"
#include "cli/query_cmd.h"

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
  app.add_option("--env", ctx.env_name,
                 "Environment: also read .env.NAME and the compose.NAME.yaml overlay when "
                 "present (default: $SLIPWAY_ENV)");
  app.add_option("--project-directory", ctx.project_directory,
                 "Folder to look for the compose file in (default: the current one)");
  // `slipway up --log-format json` starts the daemon with JSON logs.
  app.add_option("--log-format", ctx.log_format,
                 "Log format of a daemon this command starts: text or json "
                 "(default: $SLIPWAY_LOG_FORMAT, else text)")
      ->check(CLI::IsMember({"text", "json"}));

  app.add_option("--api", ctx.api_url,
                 "A remote daemon's API (https://HOST:PORT) instead of the project's socket; "
                 "for commands that only talk to the daemon (ps, logs, flags, ...)");
  app.add_option("--cacert", ctx.cacert,
                 "PEM CA file the --api server's certificate must chain to (default: the "
                 "system store)");
  app.add_option("--token-file", ctx.token_file,
                 "File holding the --api bearer token (default: $SLIPWAY_API_TOKEN)");

  int rc = 0;
  AddProjectCommands(app, ctx, &rc);
  AddDeployCommands(app, ctx, &rc, argc, argv);
  AddContainerCommands(app, ctx, &rc);
  AddExportCommands(app, ctx, &rc);
  AddMigrateCommands(app, ctx, &rc);
  AddBackupCommands(app, ctx, &rc);
  AddAlertsCommands(app, ctx, &rc);
  AddQueryCommands(app, ctx, &rc);
  AddFlagsCommands(app, ctx, &rc);
  AddCertsCommands(app, ctx, &rc);
  AddAccessCommands(app, ctx, &rc);
  AddIngressCommands(app, &rc, argc, argv);

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("slipway %s\n", kVersion); });

  AddDaemonCommands(app, ctx, &rc, argc, argv);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, like every other error (CLI11 would add a second one).
    std::fprintf(stderr, "slipway: %s (see slipway --help)\n", e.what());
    return 2;
  } catch (const nlohmann::json::exception& e) {
    // Commands read the daemon's answers with checked accessors (cli/output.h AnswerRows);
    // any read left unchecked still fails the command with one line, as a malformed input
    // (exit 2), instead of aborting it.
    std::fprintf(stderr, "slipway: unexpected answer from the daemon: %s\n", e.what());
    return 2;
  }
  return rc;
}

}  // namespace slipway::cli
