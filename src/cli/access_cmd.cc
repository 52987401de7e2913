#include "cli/access_cmd.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "api/tokens.h"
#include "cli/checks.h"
#include "cli/output.h"

namespace slipway::cli {

namespace {

// Creation times are Unix milliseconds; up to the year 9999.
constexpr int64_t kMaxMillis = 253'402'300'799'999;

// The daemon must run: tokens and the trail live in its store, and it alone writes them.
Status NeedDaemon(CliContext& ctx) {
  if (ctx.remote() || ctx.DaemonRunning()) return Status::OK();
  return FailedPrecondition("no daemon runs this project (start it with `slipway up -d`)");
}

// A token's name as the daemon takes it (api::CheckTokenName).
CLI::Validator TokenName() {
  return Check("NAME", [](const std::string& v) {
    return api::CheckTokenName(v).ok()
               ? std::string()
               : std::string(
                     "a token name (1 to 64 of a-z, 0-9, '.', '_', '-' starting with a "
                     "letter or digit)");
  });
}

}  // namespace

Result<std::vector<std::vector<std::string>>> AuditRows(const nlohmann::json& answer) {
  return AnswerRows(answer, [](api::BodyFields& e) -> std::vector<std::string> {
    return {e.String("time", "a time"),
            e.String("who", "a caller's name"),
            e.String("action", "an action"),
            e.String("target", "a target"),
            std::to_string(e.Int("status", 0, 0, 999, "an HTTP status")),
            e.String("result", "a result")};
  });
}

void AddAccessCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* tokens = app.add_subcommand("tokens", "Per-user API tokens with a role");
  tokens->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("viewer");
  auto* create = tokens->add_subcommand(
      "create", "Create a token for NAME and print it (once: only its hash is kept)");
  create->add_option("name", *name, "Who the token is for (a-z, 0-9, '.', '_', '-')")
      ->required()
      ->check(TokenName());
  create->add_option("--role", *role, "viewer (reads), deployer (also deploys), admin (all)")
      ->check(OneOf({"viewer", "deployer", "admin"}));
  create->callback([&ctx, name, role, rc] {
    if (Status st = NeedDaemon(ctx); !st.ok()) {
      *rc = CliContext::Fail(st, "tokens create");
      return;
    }
    Result<nlohmann::json> r =
        ctx.Call("POST", "/api/v1/tokens", nlohmann::json{{"name", *name}, {"role", *role}});
    if (!r.ok()) {
      *rc = CliContext::Fail(r.status(), "tokens create");
      return;
    }
    api::BodyFields answer(*r);
    const std::string token = answer.RequiredString("token", "the new token");
    if (!r->is_object() || !answer.status().ok()) {
      *rc = FailAnswer(r->is_object() ? answer.status()
                                      : InvalidInput(fmt::format("expected an object, got {}",
                                                                 api::JsonTypeName(*r))),
                       "tokens create");
      return;
    }
    std::printf("%s\n", token.c_str());
    std::fprintf(stderr, "token \"%s\" (%s) created: it is shown only now\n", name->c_str(),
                 role->c_str());
    *rc = 0;
  });

  auto format = std::make_shared<std::string>("table");
  auto* list = tokens->add_subcommand("list", "The tokens' names, roles and creation times");
  list->add_option("--format", *format, "table or json")->check(OneOf({"table", "json"}));
  list->callback([&ctx, format, rc] {
    if (Status st = NeedDaemon(ctx); !st.ok()) {
      *rc = CliContext::Fail(st, "tokens list");
      return;
    }
    Result<nlohmann::json> r = ctx.Call("GET", "/api/v1/tokens");
    if (!r.ok()) {
      *rc = CliContext::Fail(r.status(), "tokens list");
      return;
    }
    if (*format == "json") {
      std::printf("%s\n", r->dump(2).c_str());
    } else {
      auto rows = AnswerRows(*r, [](api::BodyFields& t) -> std::vector<std::string> {
        return {t.String("name", "a token name"), t.String("role", "a role name"),
                Utc(t.Int("created_ms", 0, 0, kMaxMillis, "a time in Unix milliseconds"))};
      });
      if (!rows.ok()) {
        *rc = FailAnswer(rows.status(), "tokens list");
        return;
      }
      PrintTable({"NAME", "ROLE", "CREATED"}, *rows);
    }
    *rc = 0;
  });

  auto revoke_name = std::make_shared<std::string>();
  auto* revoke = tokens->add_subcommand("revoke", "Revoke NAME's token (it stops working now)");
  revoke->add_option("name", *revoke_name, "The token's name")->required()->check(TokenName());
  revoke->callback([&ctx, revoke_name, rc] {
    if (Status st = NeedDaemon(ctx); !st.ok()) {
      *rc = CliContext::Fail(st, "tokens revoke");
      return;
    }
    Result<nlohmann::json> r = ctx.Call("DELETE", "/api/v1/tokens/" + UrlEncode(*revoke_name));
    if (!r.ok()) {
      *rc = CliContext::Fail(r.status(), "tokens revoke");
      return;
    }
    std::printf("revoked %s\n", revoke_name->c_str());
    *rc = 0;
  });

  struct AuditArgs {
    int64_t limit = 50;
    std::string who;
    std::string format = "table";
  };
  auto a = std::make_shared<AuditArgs>();
  auto* audit = app.add_subcommand("audit", "Who changed what through the API, newest last");
  audit->add_option("-n,--limit", a->limit, "How many entries (1 to 10000)")
      ->check(Whole(1, 10'000, "a number of entries"));
  audit->add_option("--who", a->who, "Only this caller's entries (a token name)")->check(Text(200));
  audit->add_option("--format", a->format, "table or json")->check(OneOf({"table", "json"}));
  audit->callback([&ctx, a, rc] {
    if (Status st = NeedDaemon(ctx); !st.ok()) {
      *rc = CliContext::Fail(st, "audit");
      return;
    }
    std::string path = "/api/v1/audit?limit=" + std::to_string(a->limit);
    if (!a->who.empty()) path += "&who=" + UrlEncode(a->who);
    Result<nlohmann::json> r = ctx.Call("GET", path);
    if (!r.ok()) {
      *rc = CliContext::Fail(r.status(), "audit");
      return;
    }
    if (a->format == "json") {
      std::printf("%s\n", r->dump(2).c_str());
    } else {
      auto rows = AuditRows(*r);
      if (!rows.ok()) {
        *rc = FailAnswer(rows.status(), "audit");
        return;
      }
      PrintTable({"TIME", "WHO", "ACTION", "TARGET", "STATUS", "RESULT"}, *rows);
    }
    *rc = 0;
  });
}

}  // namespace slipway::cli
