#include "cli/migrate_cmd.h"

#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "backup/files.h"
#include "backup/project_databases.h"
#include "cli/checks.h"
#include "cli/output.h"
#include "config/databases_settings.h"
#include "config/duration.h"
#include "migrate/tool.h"
#include "store/store.h"

namespace slipway::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct MigrateFlags {
  DatabaseChoice choice;
  std::string lock_timeout, output_format, up_to, down_to, stamp_version, new_name, plan_to;
  int down_steps = 1;
  int plan_steps = 1;
  bool plan_down = false;
};

void Progress(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

// A database whose migrations belong to its own tool (alembic, ...): the runner, and the
// state store its runs are recorded in.
struct ToolDatabase {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<migrate::MigrationRunner> runner;
  std::string name;
};

Result<std::unique_ptr<ToolDatabase>> OpenTool(CliContext& ctx, const ResolvedDatabase& db,
                                               Duration lock_timeout) {
  ASSIGN_OR_RETURN(const config::Project* p, ctx.Project());
  ASSIGN_OR_RETURN(auto dbs, backup::ResolveDatabases(*p, db.name));
  backup::ProjectDatabase pd = dbs.front();
  pd.migrate.lock_timeout = lock_timeout;
  pd.migrate.who = "";  // user@host: a person ran it
  auto out = std::make_unique<ToolDatabase>();
  out->name = pd.name;
  ASSIGN_OR_RETURN(daemon::StatePaths paths, ctx.Paths());
  RETURN_IF_ERROR(backup::CreatePrivateDirs(paths.dir));
  ::chmod(paths.dir.c_str(), 0700);
  ASSIGN_OR_RETURN(out->store, store::Store::Open(paths.db(), Clock::Real()));
  out->runner = backup::RunnerFor(pd, out->store.get(), &Progress);
  return out;
}

Status ToolOnly(const ResolvedDatabase& db) {
  if (db.tool == config::MigrationTool::kNone) return Status::OK();
  return FailedPrecondition("database " + db.name + " migrates with " +
                            std::string(config::MigrationToolName(db.tool)) +
                            ", which owns its migration files (run the tool itself, e.g. "
                            "`slipway run SERVICE ...`)");
}

}  // namespace

CLI::Validator DatabaseUrl() {
  // The scheme only (migrate::ParseTarget reads the rest, postgres:// with libpq, which is
  // loaded on first use and need not be there to parse a command line).
  return Check("URL", [](const std::string& v) {
    auto after = [&v](std::string_view scheme) {
      return v.rfind(scheme, 0) == 0 && v.size() > scheme.size();
    };
    const bool ok = v.size() <= 4096 && v.find_first_of("\r\n") == std::string::npos &&
                    (after("sqlite:") || after("postgres:") || after("postgresql://"));
    return ok ? std::string() : std::string("a database URL (postgres://... or sqlite:path)");
  });
}

Result<ResolvedDatabase> ResolveDatabase(CliContext& ctx, const DatabaseChoice& choice,
                                         const std::string& name_arg) {
  ResolvedDatabase r;
  std::string want = !name_arg.empty() ? name_arg : choice.db;
  fs::path base = fs::current_path();
  if (!choice.url.empty()) {
    ASSIGN_OR_RETURN(r.target, migrate::ParseTarget(choice.url, base));
    r.name = want.empty() ? r.target.DatabaseName() : want;
    r.migrations = choice.dir.empty() ? base / "migrations" : fs::absolute(choice.dir);
  } else {
    ASSIGN_OR_RETURN(const config::Project* p, ctx.Project());
    if (p->databases.empty()) {
      return InvalidInput(
          "no databases configured (add x-slipway.databases.<name>.url to the "
          "compose file, or pass --url)");
    }
    const config::DatabaseSettings* s = nullptr;
    if (want.empty()) {
      if (p->databases.size() > 1) {
        std::string names;
        for (const auto& [n, d] : p->databases) names += (names.empty() ? "" : ", ") + n;
        return InvalidInput("several databases are configured (" + names + "); pick one with --db");
      }
      s = &p->databases.begin()->second;
    } else {
      auto it = p->databases.find(want);
      if (it == p->databases.end()) {
        return InvalidInput("no database \"" + want + "\" in x-slipway.databases");
      }
      s = &it->second;
    }
    r.name = s->name;
    ASSIGN_OR_RETURN(r.target, migrate::ParseTarget(s->url, p->dir));
    r.migrations = choice.dir.empty() ? fs::path(s->migrations) : fs::path(choice.dir);
    if (r.migrations.is_relative())
      r.migrations = (choice.dir.empty() ? p->dir : base) / r.migrations;
    r.format = s->format;
    r.check = s->check;
    r.lock_timeout = s->lock_timeout;
    r.tool = s->tool.tool;
  }
  if (!choice.format.empty()) {
    ASSIGN_OR_RETURN(r.format, migrate::ParseFormat(choice.format));
  }
  r.migrations = r.migrations.lexically_normal();
  return r;
}

void AddMigrateCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* cmd = app.add_subcommand("migrate", "Database schema migrations");
  cmd->require_subcommand(1);
  // Flag values live as long as the lambdas that read them.
  auto f = std::make_shared<MigrateFlags>();
  // Owned by the lambdas below for the life of the process.
  cmd->add_option("--db", f->choice.db, "Database name from x-slipway.databases")
      ->check(Name("a database name", 128));
  cmd->add_option("--url", f->choice.url, "Database URL (postgres://... or sqlite:path)")
      ->check(DatabaseUrl());
  cmd->add_option("--dir", f->choice.dir, "Migrations folder")->check(Path());
  cmd->add_option("--migrations-format", f->choice.format,
                  "auto, slipway, golang-migrate, dbmate or flyway")
      ->check(Check("FORMAT", [](const std::string& v) {
        return migrate::ParseFormat(v).ok()
                   ? std::string()
                   : "a migrations format (" + config::kMigrationFormatNames.List() + ")";
      }));
  cmd->add_option("--lock-timeout", f->lock_timeout, "How long to wait for the migration lock")
      ->check(DurationIn(Duration(0), Duration(86'400'000)));

  auto lock_timeout = [f](const ResolvedDatabase& db) -> Result<Duration> {
    if (f->lock_timeout.empty()) return db.lock_timeout;
    auto d = config::ParseDuration(f->lock_timeout);
    if (!d) return InvalidInput("--lock-timeout: \"" + f->lock_timeout + "\" is not a duration");
    return *d;
  };
  // The tool's runner when the database has one, else null (the built-in commands run).
  auto tool = [&ctx, f, lock_timeout]() -> Result<std::unique_ptr<ToolDatabase>> {
    ASSIGN_OR_RETURN(ResolvedDatabase db, ResolveDatabase(ctx, f->choice));
    if (db.tool == config::MigrationTool::kNone || !f->choice.url.empty() ||
        !f->choice.dir.empty()) {
      return std::unique_ptr<ToolDatabase>();
    }
    ASSIGN_OR_RETURN(Duration lt, lock_timeout(db));
    return OpenTool(ctx, db, lt);
  };
  auto open = [&ctx, f](const char* verb) -> Result<std::unique_ptr<migrate::Migrator>> {
    ASSIGN_OR_RETURN(ResolvedDatabase db, ResolveDatabase(ctx, f->choice));
    if (f->choice.url.empty() && f->choice.dir.empty()) RETURN_IF_ERROR(ToolOnly(db));
    migrate::Options o;
    o.dir = db.migrations;
    o.format = db.format;
    o.lock_timeout = db.lock_timeout;
    if (!f->lock_timeout.empty()) {
      auto d = config::ParseDuration(f->lock_timeout);
      if (!d) return InvalidInput("--lock-timeout: \"" + f->lock_timeout + "\" is not a duration");
      o.lock_timeout = *d;
    }
    o.log = &Progress;
    return migrate::Migrator::Open(db.target, o);
  };
  auto run = [rc](const std::function<Status()>& body, const char* name) {
    Status st = body();
    *rc = st.ok() ? 0 : CliContext::Fail(st, std::string("migrate ") + name);
  };

  auto* up = cmd->add_subcommand("up", "Apply pending migrations");
  up->add_option("--to", f->up_to, "Stop after this version")->check(Name("a version", 64));
  up->callback([=] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto t, tool());
          if (t) {
            if (!f->up_to.empty())
              return InvalidInput("migrate up --to: not available with a tool");
            ASSIGN_OR_RETURN(std::string done, t->runner->Up());
            std::printf("%s: %s\n", t->name.c_str(), done.c_str());
            return Status::OK();
          }
          ASSIGN_OR_RETURN(auto m, open("up"));
          ASSIGN_OR_RETURN(auto done, m->Up(f->up_to));
          std::printf("%s\n", done.empty() ? "nothing to apply"
                                           : ("applied " + std::to_string(done.size()) +
                                              " migration(s), now at " + done.back())
                                                 .c_str());
          return Status::OK();
        },
        "up");
  });

  auto* down = cmd->add_subcommand("down", "Roll back the newest N migrations (default 1)");
  down->add_option("N", f->down_steps, "How many to roll back")
      ->check(Whole(1, 1'000'000, "a number of migrations"));
  down->add_option("--to", f->down_to, "Roll back everything newer than this version (0 = all)")
      ->check(Name("a version", 64));
  down->callback([=] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto t, tool());
          if (t) {
            if (!f->down_to.empty())
              return InvalidInput("migrate down --to: not available with a tool");
            ASSIGN_OR_RETURN(std::string done, t->runner->Down(f->down_steps));
            std::printf("%s: %s\n", t->name.c_str(), done.c_str());
            return Status::OK();
          }
          ASSIGN_OR_RETURN(auto m, open("down"));
          ASSIGN_OR_RETURN(auto done, m->Down(f->down_steps, f->down_to));
          std::printf(
              "%s\n",
              done.empty()
                  ? "nothing to roll back"
                  : ("rolled back " + std::to_string(done.size()) + " migration(s)").c_str());
          return Status::OK();
        },
        "down");
  });

  auto* status = cmd->add_subcommand("status", "Applied, pending, changed and dirty migrations");
  status->add_option("--format", f->output_format, "table or json")
      ->check(OneOf({"table", "json"}));
  status->callback([=] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto t, tool());
          if (t) {
            ASSIGN_OR_RETURN(migrate::PendingReport rep, t->runner->Pending());
            if (f->output_format == "json") {
              std::printf("%s\n", json{{"database", t->name},
                                       {"tool", std::string(t->runner->Kind())},
                                       {"current", rep.current},
                                       {"pending", rep.items.size()},
                                       {"pending_migrations", rep.items}}
                                      .dump()
                                      .c_str());
            } else {
              std::printf("%s: %s, at %s\n", t->name.c_str(),
                          std::string(t->runner->Kind()).c_str(),
                          rep.current.empty() ? "(nothing applied)" : rep.current.c_str());
              for (const std::string& i : rep.items) std::printf("pending %s\n", i.c_str());
              std::printf("%zu pending\n", rep.items.size());
            }
            return Status::OK();
          }
          ASSIGN_OR_RETURN(auto m, open("status"));
          ASSIGN_OR_RETURN(migrate::StatusReport rep, m->GetStatus());
          if (f->output_format == "json") {
            json rows = json::array();
            for (const auto& r : rep.rows) {
              rows.push_back({{"version", r.version},
                              {"name", r.name},
                              {"state", std::string(migrate::StateName(r.state))},
                              {"applied_at", r.applied ? r.applied->applied_ms : 0}});
            }
            std::printf(
                "%s\n",
                json{{"migrations", rows}, {"pending", rep.pending}, {"blocked", rep.blocked}}
                    .dump()
                    .c_str());
          } else {
            std::vector<std::vector<std::string>> rows;
            for (const auto& r : rep.rows) {
              rows.push_back({r.version, r.name, std::string(migrate::StateName(r.state)),
                              r.applied ? Utc(r.applied->applied_ms) : "-"});
            }
            PrintTable({"VERSION", "NAME", "STATE", "APPLIED"}, rows);
            std::printf("%d pending\n", rep.pending);
            if (!rep.blocked.empty()) std::printf("blocked: %s\n", rep.blocked.c_str());
          }
          return rep.blocked.empty() ? Status::OK() : FailedPrecondition(rep.blocked);
        },
        "status");
  });

  auto* history = cmd->add_subcommand("history", "The history table: who applied what, when");
  history->add_option("--format", f->output_format, "table or json")
      ->check(OneOf({"table", "json"}));
  history->callback([=] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto t, tool());
          if (t) {
            ASSIGN_OR_RETURN(auto runs, migrate::ToolHistory(t->store.get(), t->name));
            PrintListing(
                f->output_format, runs,
                {"STARTED", "DIR", "COMMAND", "TOOK", "RESULT", "BEFORE", "AFTER", "BY"},
                [](const auto& r) {
                  return json{
                      {"database", r.database},
                      {"tool", std::string(config::MigrationToolName(r.tool))},
                      {"direction", std::string(migrate::kToolDirectionNames.Name(r.direction))},
                      {"command", r.command},
                      {"started_at", r.started_ms},
                      {"duration_ms", r.duration_ms},
                      {"ok", r.ok},
                      {"before", r.before},
                      {"after", r.after},
                      {"applied_by", r.applied_by},
                      {"output", r.output}};
                },
                [](const auto& r) {
                  return std::vector<std::string>{
                      Utc(r.started_ms),
                      std::string(migrate::kToolDirectionNames.Name(r.direction)),
                      r.command,
                      std::to_string(r.duration_ms) + "ms",
                      r.ok ? "ok" : "failed",
                      r.before,
                      r.after,
                      r.applied_by};
                });
            return Status::OK();
          }
          ASSIGN_OR_RETURN(auto m, open("history"));
          ASSIGN_OR_RETURN(auto hist, m->History());
          PrintListing(
              f->output_format, hist, {"VERSION", "NAME", "APPLIED", "TOOK", "BY", "CHECKSUM", ""},
              [](const auto& a) {
                return json{{"version", a.version},
                            {"name", a.name},
                            {"checksum", a.checksum},
                            {"applied_at", a.applied_ms},
                            {"duration_ms", a.duration_ms},
                            {"applied_by", a.applied_by},
                            {"dirty", a.dirty}};
              },
              [](const auto& a) {
                return std::vector<std::string>{a.version,
                                                a.name,
                                                Utc(a.applied_ms),
                                                std::to_string(a.duration_ms) + "ms",
                                                a.applied_by,
                                                a.checksum.substr(0, 12),
                                                a.dirty ? "dirty" : ""};
              });
          return Status::OK();
        },
        "history");
  });

  auto* stamp = cmd->add_subcommand(
      "stamp", "Record the database as at VERSION without running SQL (resolves dirty/changed)");
  stamp->add_option("VERSION", f->stamp_version, "Version (0 = nothing applied)")
      ->required()
      ->check(Name("a version", 64));
  stamp->callback([=] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto m, open("stamp"));
          return m->Stamp(f->stamp_version);
        },
        "stamp");
  });

  auto* create = cmd->add_subcommand("new", "Create the next migration file(s)");
  create->add_option("NAME", f->new_name, "Short name, e.g. add_users")
      ->required()
      ->check(Name("a migration name", 200));
  create->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(ResolvedDatabase db, ResolveDatabase(ctx, f->choice));
          if (f->choice.dir.empty()) RETURN_IF_ERROR(ToolOnly(db));
          ASSIGN_OR_RETURN(auto files, migrate::CreateMigrationFiles(db.migrations, db.format,
                                                                     f->new_name, Clock::Real()));
          for (const auto& f : files) std::printf("%s\n", f.string().c_str());
          return Status::OK();
        },
        "new");
  });

  auto* plan = cmd->add_subcommand("plan", "Print the SQL that up (or --down) would run");
  plan->add_flag("--down", f->plan_down, "Plan a rollback instead");
  plan->add_option("--to", f->plan_to, "Target version")->check(Name("a version", 64));
  plan->add_option("--steps", f->plan_steps, "With --down: how many")
      ->check(Whole(1, 1'000'000, "a number of migrations"));
  plan->callback([=] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto m, open("plan"));
          ASSIGN_OR_RETURN(std::string sql, m->Plan(!f->plan_down, f->plan_to, f->plan_steps));
          std::fputs(sql.c_str(), stdout);
          return Status::OK();
        },
        "plan");
  });

  auto* verify = cmd->add_subcommand(
      "verify", "On a scratch database: up, down, up; the schema must round-trip");
  verify->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(ResolvedDatabase db, ResolveDatabase(ctx, f->choice));
          if (f->choice.url.empty() && f->choice.dir.empty()) RETURN_IF_ERROR(ToolOnly(db));
          migrate::Options o;
          o.dir = db.migrations;
          o.format = db.format;
          o.lock_timeout = db.lock_timeout;
          ASSIGN_OR_RETURN(migrate::VerifyReport rep, migrate::Verify(db.target, o));
          if (!rep.ok) return FailedPrecondition("verify: " + rep.problem);
          std::printf(
              "ok: %d migration(s) applied, rolled back and re-applied; schema round-trips\n",
              rep.migrations);
          return Status::OK();
        },
        "verify");
  });
}

}  // namespace slipway::cli
