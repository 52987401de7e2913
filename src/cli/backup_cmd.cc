#include "cli/backup_cmd.h"

#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "backup/backup.h"
#include "backup/files.h"
#include "backup/project_databases.h"
#include "cli/checks.h"
#include "cli/migrate_cmd.h"
#include "cli/output.h"
#include "store/store.h"

namespace slipway::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct BackupFlags {
  DatabaseChoice choice;
  std::string output_format;
  std::string create_db;
  int64_t id = 0;
  std::string to;
  bool force = false;
  bool dry_run = false;
  std::string check;
};

std::string Size(int64_t b) {
  char buf[32];
  if (b >= (1 << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", b / double(1 << 30));
  } else if (b >= (1 << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  }
  return buf;
}

json ToJson(const backup::BackupRecord& b) {
  return {{"id", b.id},     {"database", b.database},       {"created_ms", b.created_ms},
          {"size", b.size}, {"sha256", b.sha256},           {"kind", b.kind},
          {"path", b.path}, {"verified_ms", b.verified_ms}, {"verify_status", b.verify_status}};
}

// The state store, catalog and options of the project.
struct Env {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<backup::Catalog> catalog;
  backup::BackupOptions options;
  const config::Project* project = nullptr;
};

Result<std::unique_ptr<Env>> OpenEnv(CliContext& ctx) {
  auto env = std::make_unique<Env>();
  ASSIGN_OR_RETURN(env->project, ctx.Project());
  ASSIGN_OR_RETURN(daemon::StatePaths paths, ctx.Paths());
  // The state folder (the catalog is in its state.db) is 0700 whoever creates it first.
  RETURN_IF_ERROR(backup::CreatePrivateDirs(paths.dir));
  ::chmod(paths.dir.c_str(), 0700);
  ASSIGN_OR_RETURN(env->store, store::Store::Open(paths.db(), Clock::Real()));
  env->catalog = std::make_unique<backup::Catalog>(env->store.get());
  env->options = backup::BackupOptionsFor(*env->project);
  env->options.log = [](const std::string& l) { std::fprintf(stderr, "%s\n", l.c_str()); };
  return env;
}

}  // namespace

void AddBackupCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* cmd =
      app.add_subcommand("backup", "Database backups: create, list, verify, restore, prune");
  cmd->require_subcommand(1);
  auto f = std::make_shared<BackupFlags>();
  cmd->add_option("--db", f->choice.db, "Database name from x-slipway.databases")
      ->check(Name("a database name", 128));
  cmd->add_option("--url", f->choice.url, "Database URL (overrides the compose file)")
      ->check(DatabaseUrl());
  auto run = [rc](const std::function<Status()>& body, const char* name) {
    Status st = body();
    *rc = st.ok() ? 0 : CliContext::Fail(st, std::string("backup ") + name);
  };

  auto* create = cmd->add_subcommand("create", "Back up a database (default: every configured)");
  create->add_option("DB", f->create_db, "Database name")->check(Name("a database name", 128));
  create->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto env, OpenEnv(ctx));
          std::vector<std::string> names;
          std::string one = !f->create_db.empty() ? f->create_db : f->choice.db;
          if (!one.empty() || !f->choice.url.empty() || env->project->databases.size() <= 1) {
            names.push_back(one);
          } else {
            for (const auto& [n, d] : env->project->databases) names.push_back(n);
          }
          for (const std::string& n : names) {
            ASSIGN_OR_RETURN(ResolvedDatabase db, ResolveDatabase(ctx, f->choice, n));
            ASSIGN_OR_RETURN(backup::BackupRecord b,
                             backup::Create(db.target, db.name, env->catalog.get(), env->options));
            std::printf("%lld %s %s %s\n", static_cast<long long>(b.id), b.database.c_str(),
                        Size(b.size).c_str(), b.path.c_str());
          }
          return Status::OK();
        },
        "create");
  });

  auto* list = cmd->add_subcommand("list", "List backups, newest first");
  list->add_option("--format", f->output_format, "table or json")->check(OneOf({"table", "json"}));
  list->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto env, OpenEnv(ctx));
          ASSIGN_OR_RETURN(auto all, env->catalog->List(f->choice.db));
          PrintListing(
              f->output_format, all,
              {"ID", "DATABASE", "CREATED", "SIZE", "KIND", "VERIFIED", "SHA256"},
              [](const auto& b) { return ToJson(b); },
              [](const auto& b) {
                return std::vector<std::string>{std::to_string(b.id),
                                                b.database,
                                                Utc(b.created_ms),
                                                Size(b.size),
                                                b.kind,
                                                b.verify_status.empty() ? "never" : b.verify_status,
                                                b.sha256.substr(0, 12)};
              });
          return Status::OK();
        },
        "list");
  });

  auto* verify = cmd->add_subcommand(
      "verify", "Checksum, restore into a scratch database, run the check query");
  verify->add_option("ID", f->id, "Backup id (default: the newest of each database)")
      ->check(Whole(1, INT64_MAX, "a backup id"));
  verify->add_option("--check", f->check, "Check query (default: the database's `check`)")
      ->check(Text(kMaxExpressionBytes, /*lines_ok=*/true));
  verify->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto env, OpenEnv(ctx));
          std::vector<backup::BackupRecord> todo;
          if (f->id > 0) {
            ASSIGN_OR_RETURN(auto b, env->catalog->Get(f->id));
            todo.push_back(b);
          } else {
            ASSIGN_OR_RETURN(auto all, env->catalog->List(f->choice.db));
            std::set<std::string> seen;
            for (const auto& b : all) {
              if (seen.insert(b.database).second) todo.push_back(b);
            }
            if (todo.empty()) return NotFound("no backups to verify");
          }
          Status worst;
          for (const auto& b : todo) {
            ASSIGN_OR_RETURN(
                ResolvedDatabase db,
                ResolveDatabase(ctx, f->choice, f->choice.url.empty() ? b.database : ""));
            std::string check = !f->check.empty() ? f->check : db.check;
            ASSIGN_OR_RETURN(auto res,
                             backup::Verify(b, db.target, check, env->catalog.get(), env->options));
            std::printf("%lld %s: %s\n", static_cast<long long>(b.id), res.ok ? "ok" : "FAILED",
                        res.message.c_str());
            if (!res.ok)
              worst = Internal("backup " + std::to_string(b.id) +
                               " failed verification: " + res.message);
          }
          return worst;
        },
        "verify");
  });

  auto* restore = cmd->add_subcommand("restore", "Restore a backup into its database (or --to)");
  restore->add_option("ID", f->id, "Backup id")
      ->required()
      ->check(Whole(1, INT64_MAX, "a backup id"));
  restore->add_option("--to", f->to, "Another configured database name, or a URL")
      ->check(Check("DB|URL", [](const std::string& v) {
        if (v.find(':') != std::string::npos) {
          return DatabaseUrl()(v).empty() ? std::string() : std::string("a database name or URL");
        }
        return Name("a database name", 128)(v).empty() ? std::string()
                                                       : std::string("a database name or URL");
      }));
  restore->add_flag("--force", f->force, "Replace the contents of a non-empty database");
  restore->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto env, OpenEnv(ctx));
          ASSIGN_OR_RETURN(auto b, env->catalog->Get(f->id));
          DatabaseChoice choice = f->choice;
          std::string name = b.database;
          if (!f->to.empty()) {
            if (f->to.find(':') != std::string::npos) {
              choice.url = f->to;
              name = "";
            } else {
              name = f->to;
              choice.url.clear();
            }
          } else if (!choice.url.empty()) {
            name = "";
          }
          ASSIGN_OR_RETURN(ResolvedDatabase db, ResolveDatabase(ctx, choice, name));
          RETURN_IF_ERROR(backup::Restore(b, db.target, f->force, env->options));
          std::printf("restored backup %lld into %s\n", static_cast<long long>(b.id),
                      db.target.Display().c_str());
          return Status::OK();
        },
        "restore");
  });

  auto* prune = cmd->add_subcommand("prune", "Delete backups outside the retention policy");
  prune->add_flag("--dry-run", f->dry_run, "Print what would go and why the rest stays");
  prune->add_option("--format", f->output_format, "table or json")->check(OneOf({"table", "json"}));
  prune->callback([=, &ctx] {
    run(
        [&]() -> Status {
          ASSIGN_OR_RETURN(auto env, OpenEnv(ctx));
          ASSIGN_OR_RETURN(auto ds,
                           backup::Prune(env->catalog.get(), backup::RetentionFor(*env->project),
                                         f->choice.db, f->dry_run));
          if (f->output_format == "json") {
            json rows = json::array();
            for (const auto& d : ds) {
              rows.push_back(
                  {{"backup", ToJson(d.backup)}, {"keep", d.keep}, {"reasons", d.reasons}});
            }
            std::printf("%s\n", rows.dump().c_str());
            return Status::OK();
          }
          int gone = 0;
          for (const auto& d : ds) {
            std::string why;
            for (const auto& r : d.reasons) why += (why.empty() ? "" : ", ") + r;
            std::printf(
                "%s %lld %s %s%s\n", d.keep ? "keep  " : (f->dry_run ? "would delete" : "deleted"),
                static_cast<long long>(d.backup.id), d.backup.database.c_str(),
                Utc(d.backup.created_ms).c_str(), why.empty() ? "" : ("  (" + why + ")").c_str());
            gone += d.keep ? 0 : 1;
          }
          std::printf("%d backup(s) %s\n", gone, f->dry_run ? "would be deleted" : "deleted");
          return Status::OK();
        },
        "prune");
  });
}

}  // namespace slipway::cli
