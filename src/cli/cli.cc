#include "cli/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/access_cmd.h"
#include "cli/alerts_cmd.h"
#include "cli/backup_cmd.h"
#include "cli/certs_cmd.h"
#include "cli/checks.h"
#include "cli/container_cmd.h"
#include "cli/context.h"
#include "cli/daemon_cmd.h"
#include "cli/deploy_cmd.h"
#include "cli/export_cmd.h"
#include "cli/flags_cmd.h"
#include "cli/ingress_cmd.h"
#include "cli/migrate_cmd.h"
#include "cli/output.h"
#include "cli/project_cmd.h"
#include "cli/query_cmd.h"
#include "config/environment.h"
#include "config/loader.h"
#include "net/host_port.h"

namespace slipway::cli {

namespace {
constexpr const char* kVersion = "0.1.0";

// http(s)://HOST:PORT[/]: the shape CliContext::RemoteApi reads (it also refuses clear http://
// beyond loopback, which needs no parse-time check to be one line).
bool ApiUrlShape(const std::string& v) {
  if (v.size() > 2048) return false;
  std::string rest;
  if (v.rfind("https://", 0) == 0) {
    rest = v.substr(8);
  } else if (v.rfind("http://", 0) == 0) {
    rest = v.substr(7);
  } else {
    return false;
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::optional<net::HostPort> hp = net::SplitHostPort(rest);
  return hp && !hp->host.empty() && hp->port >= 1 && hp->port <= 65535 &&
         rest.find('/') == std::string::npos;
}

}  // namespace

std::unique_ptr<CLI::App> BuildApp(CliContext& ctx, int* rc, int argc, char** argv) {
  auto owned = std::make_unique<CLI::App>(
      "Slipway runs and deploys a Compose project: one program, no glue.", "slipway");
  CLI::App& app = *owned;
  app.require_subcommand(1);
  app.fallthrough();  // global flags are accepted after the command too

  app.add_option("-f,--file", ctx.files, "Compose file (repeatable; later files override)")
      ->check(Path());
  app.add_option("-p,--project-name", ctx.project_name, "Project name")
      ->check(Check("NAME", [](const std::string& v) {
        return v.size() <= 255 && config::ValidProjectName(v)
                   ? std::string()
                   : "a project name (" + std::string(config::kProjectNameExpected) + ")";
      }));
  app.add_option("--env-file", ctx.env_files, "Environment file (repeatable; later wins)")
      ->check(Path());
  app.add_option("--profile", ctx.profiles, "Enable a profile (repeatable)")
      ->check(Name("a profile name"));
  app.add_option("--env", ctx.env_name,
                 "Environment: also read .env.NAME and the compose.NAME.yaml overlay when "
                 "present (default: $SLIPWAY_ENV)")
      ->check(Check("NAME", [](const std::string& v) {
        return config::IsValidEnvName(v)
                   ? std::string()
                   : std::string("an environment name ([a-z0-9][a-z0-9_-]{0,62})");
      }));
  app.add_option("--project-directory", ctx.project_directory,
                 "Folder to look for the compose file in (default: the current one)")
      ->check(ExistingFolder());
  // `slipway up --log-format json` starts the daemon with JSON logs.
  app.add_option("--log-format", ctx.log_format,
                 "Log format of a daemon this command starts: text or json "
                 "(default: $SLIPWAY_LOG_FORMAT, else text)")
      ->check(OneOf({"text", "json"}));

  app.add_option("--api", ctx.api_url,
                 "A remote daemon's API (https://HOST:PORT) instead of the project's socket; "
                 "for commands that only talk to the daemon (ps, logs, flags, ...)")
      ->check(Check("URL", [](const std::string& v) {
        return ApiUrlShape(v) ? std::string()
                              : std::string("an API URL (expected https://HOST:PORT)");
      }));
  app.add_option("--cacert", ctx.cacert,
                 "PEM CA file the --api server's certificate must chain to (default: the "
                 "system store)")
      ->check(ExistingFile());
  app.add_option("--token-file", ctx.token_file,
                 "File holding the --api bearer token (default: $SLIPWAY_API_TOKEN)")
      ->check(ExistingFile());

  AddProjectCommands(app, ctx, rc);
  AddDeployCommands(app, ctx, rc, argc, argv);
  AddContainerCommands(app, ctx, rc);
  AddExportCommands(app, ctx, rc);
  AddMigrateCommands(app, ctx, rc);
  AddBackupCommands(app, ctx, rc);
  AddAlertsCommands(app, ctx, rc);
  AddQueryCommands(app, ctx, rc);
  AddFlagsCommands(app, ctx, rc);
  AddCertsCommands(app, ctx, rc);
  AddAccessCommands(app, ctx, rc);
  AddIngressCommands(app, rc, argc, argv);

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("slipway %s\n", kVersion); });

  AddDaemonCommands(app, ctx, rc, argc, argv);
  // Runs once argv is parsed, before the command's callback: the command every error line of
  // this invocation names (CliContext::ErrorLine).
  app.parse_complete_callback([&app] {
    std::string words;
    for (const CLI::App* a = &app; !a->get_subcommands().empty();) {
      a = a->get_subcommands().front();
      words += (words.empty() ? "" : " ") + a->get_name();
    }
    CliContext::SetCommand(words);
  });
  return owned;
}

namespace {

// A parse error is cut after this many bytes (a huge argument stays one short line).
constexpr size_t kMaxParseError = 300;

// A command that needs a subcommand met a word that names none: that word, and which command.
std::string UnknownCommand(const CLI::App& app) {
  const CLI::App* deepest = &app;
  while (!deepest->get_subcommands().empty()) deepest = deepest->get_subcommands().front();
  if (deepest->get_require_subcommand_min() == 0) return "";
  const std::vector<std::string> extra = app.remaining(true);
  if (extra.empty() || extra.front().rfind('-', 0) == 0) return "";
  std::vector<std::string> words;  // the command's words, innermost first
  for (const CLI::App* a = deepest; a != nullptr && a->get_parent() != nullptr;
       a = a->get_parent()) {
    words.push_back(a->get_name());
  }
  std::string path;
  for (auto w = words.rbegin(); w != words.rend(); ++w) {
    if (!path.empty()) path += ' ';
    path += *w;
  }
  return path.empty()
             ? fmt::format("slipway: unknown command {} (see slipway --help)", Shown(extra.front()))
             : fmt::format("slipway: {}: unknown command {} (see slipway {} --help)", path,
                           Shown(extra.front()), path);
}

}  // namespace

int Main(int argc, char** argv) {
  CliContext ctx;
  int rc = 0;
  std::unique_ptr<CLI::App> app = BuildApp(ctx, &rc, argc, argv);
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app->exit(e);  // --help, --version
    // One line, like every other error (CLI11 would add a second one). A value check's
    // refusal already says what is expected (cli/checks.h).
    if (std::string unknown = UnknownCommand(*app); !unknown.empty()) {
      std::fprintf(stderr, "%s\n", unknown.c_str());
    } else if (dynamic_cast<const CLI::ValidationError*>(&e) != nullptr) {
      std::fprintf(stderr, "slipway: %s\n", OneLine(e.what(), kMaxParseError).c_str());
    } else {
      std::fprintf(stderr, "slipway: %s (see slipway --help)\n",
                   OneLine(e.what(), kMaxParseError).c_str());
    }
    return 2;
  } catch (const nlohmann::json::exception& e) {
    // Commands read the daemon's answers with checked accessors (cli/output.h AnswerRows);
    // any read left unchecked still fails the command with one line, as a malformed input
    // (exit 2), instead of aborting it.
    const std::string why = std::string("unexpected answer from the daemon: ") + e.what();
    std::fprintf(stderr, "%s\n", CliContext::ErrorLine(why).c_str());
    return 2;
  }
  return rc;
}

}  // namespace slipway::cli
