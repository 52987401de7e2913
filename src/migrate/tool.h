// The migration runner of a database whose migrations belong to a team's own tool
// (`x-slipway.databases.<db>.migrations: {tool: alembic}` or explicit commands; see
// config/databases_settings.h for the presets and how "pending" is read).
//
// Each command is a shell line (`/bin/sh -c`) run as a one-off of the database's owning
// service (runtime/one_off.h: the service's environment, working folder, or its image for a
// container service), plus SLIPWAY_DATABASE_URL. Only stdout is read for pending detection,
// so a tool's log lines on stderr do not count as pending migrations.
//
// Up and Down take the same migration lock as the built-in runner (PostgreSQL advisory
// lock, SQLite flock beside the file), so a tool and `slipway migrate` never run at once.
// Every Up/Down is recorded in the state store's `migration_tool_runs` (who, when, how long,
// the state before and after, the output's tail), successful or not.
//
// A ToolRunner is used by one thread at a time; every call blocks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/name_table.h"
#include "config/project.h"
#include "migrate/runner.h"
#include "migrate/target.h"
#include "store/schema.h"
#include "store/store.h"

namespace slipway::migrate {

// The migration tool runs table's schema steps (store/schema.h); recording and listing runs
// apply them.
const store::ModuleSchema& ToolRunsSchema();

struct ToolContext {
  std::string database;  // x-slipway.databases key, for messages and the history
  Target target;         // for the migration lock
  std::string url;       // as configured; the tool sees it as SLIPWAY_DATABASE_URL
  config::MigrationToolSettings settings;
  // The owner's one-offs run the commands; without an owner (`project` null or `service`
  // empty) they run with slipway's own environment in `dir`, else the project folder.
  const config::Project* project = nullptr;  // outlives the runner
  std::string service;
  std::filesystem::path project_dir;
  Duration lock_timeout{60'000};
  Duration lock_poll{100};
  std::string who;                              // applied_by in the history ("" = user@host)
  store::Store* history = nullptr;              // null: runs are not recorded
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

// Which way a run moved the database; stored and shown by kToolDirectionNames.
enum class ToolDirection { kUp, kDown };
inline constexpr auto kToolDirectionNames = config::MakeNameTable<ToolDirection>({
    {ToolDirection::kUp, "up"},
    {ToolDirection::kDown, "down"},
});

// One row of `migration_tool_runs`. `tool` and `direction` are stored as their table names
// (config::kMigrationToolNames, kToolDirectionNames); a row naming neither is refused on read.
struct ToolRun {
  int64_t id = 0;
  std::string database;
  config::MigrationTool tool = config::MigrationTool::kCommands;
  ToolDirection direction = ToolDirection::kUp;
  std::string command;
  int64_t started_ms = 0;
  int64_t duration_ms = 0;
  bool ok = false;
  std::string before;  // the state before (alembic: the current revision; else N pending)
  std::string after;
  std::string output;  // the tail of stdout+stderr
  std::string applied_by;
};

// What a command printed and how it ended.
struct ToolOutput {
  std::string out;
  std::string err;
};

class ToolRunner : public MigrationRunner {
 public:
  explicit ToolRunner(ToolContext ctx) : ctx_(std::move(ctx)) {}
  ~ToolRunner() override;

  std::string_view Kind() const override { return config::MigrationToolName(ctx_.settings.tool); }
  Result<PendingReport> Pending() override;
  Result<std::string> Up() override;
  Result<std::string> Down(int steps) override;

  // Runs `line` as the tool would; an error (one line) when it cannot start, is not
  // installed (exit 127), times out or exits non-zero.
  Result<ToolOutput> Run(const std::string& line);

 private:
  Status Lock();
  void Unlock();
  std::string StateText(const PendingReport& r) const;
  Status Record(ToolRun run);
  void Log(const std::string& line) const {
    if (ctx_.log) ctx_.log(line);
  }

  ToolContext ctx_;
  std::unique_ptr<Driver> lock_driver_;
  bool locked_ = false;
  bool answered_ = false;  // a Pending() has succeeded: the tool runs and the database answers
};

// The newest `limit` runs of `database` ("" = every database), oldest first.
Result<std::vector<ToolRun>> ToolHistory(store::Store* store, const std::string& database,
                                         size_t limit = 100);

// Revisions as alembic prints them (`alembic current`, `alembic heads`): the first word of
// every non-empty line, in order ("a1b2 (head)" -> "a1b2").
std::vector<std::string> AlembicRevisions(const std::string& out);

}  // namespace slipway::migrate
