// `slipway migrate ...`: schema migrations against a configured database
// (x-slipway.databases, picked with --db) or a URL (--url). Also the shared
// database resolution used by `slipway backup`.
//
// Registered once on the root CLI11 app; callbacks run on the main thread and
// store the exit code in *rc.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "cli/context.h"
#include "migrate/migrator.h"
#include "migrate/target.h"

namespace slipway::cli {

struct DatabaseChoice {
  std::string db;   // --db NAME
  std::string url;  // --url URL (wins over the compose file)
  std::string dir;  // --dir: migrations folder override
  std::string format;
};

struct ResolvedDatabase {
  std::string name;  // configured name, or the database's own name for --url
  migrate::Target target;
  std::filesystem::path migrations;
  migrate::Format format = migrate::Format::kAuto;
  std::string check;
  Duration lock_timeout{60'000};
  // kNone: SQL files in `migrations`; else the database's own tool runs up/down/status
  // (`new`, `plan`, `stamp` and `verify` refuse: the tool owns its files).
  config::MigrationTool tool = config::MigrationTool::kNone;
};

// --url, else --db NAME, else the only configured database. `name` may name a
// database instead of --db (backup create DB).
Result<ResolvedDatabase> ResolveDatabase(CliContext& ctx, const DatabaseChoice& choice,
                                         const std::string& name = "");

// --url's check at parse time: postgres://..., postgresql://..., postgres:CONNINFO or
// sqlite:PATH, at most 4 KiB.
CLI::Validator DatabaseUrl();

void AddMigrateCommands(CLI::App& app, CliContext& ctx, int* rc);

}  // namespace slipway::cli
