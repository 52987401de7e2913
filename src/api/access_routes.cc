// Access routes: per-user tokens (admin only: a token's holder could otherwise mint a stronger
// one) and the audit trail (readable by any token: it holds names and actions, no secrets).
//   GET    /api/v1/tokens          [{name, role, created_ms}]
//   POST   /api/v1/tokens          {"name": "alice", "role": "deployer"} → {name, role, token}
//                                  (the token is shown this once)
//   DELETE /api/v1/tokens/{name}      (its sessions and open streams end with it)
//   GET    /api/v1/audit?after=ID&limit=N&who=NAME
#include <fmt/format.h>

#include "api/audit.h"
#include "api/routes.h"
#include "api/tokens.h"

namespace slipway::api {

using nlohmann::json;

namespace {

struct NewTokenBody {
  std::string name;
  TokenRole role = TokenRole::kViewer;

  static Result<NewTokenBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    NewTokenBody b;
    b.name = f.RequiredString("name", "a token name");
    std::string role = f.RequiredString("role", "viewer, deployer or admin");
    RETURN_IF_ERROR(f.Finish());
    RETURN_IF_ERROR(CheckTokenName(b.name));
    ASSIGN_OR_RETURN(b.role, ParseTokenRole(role));
    return b;
  }
};

struct TokenName {
  std::string name;
  static Result<TokenName> Parse(const RouteCall& call) {
    TokenName t{std::string(call.Param("name"))};
    RETURN_IF_ERROR(CheckTokenName(t.name));
    return t;
  }
};

struct AuditParams {
  AuditQuery q;
  static Result<AuditParams> Parse(const RouteCall& call) {
    QueryFields f(call.request);
    AuditParams p;
    p.q.after_id = f.Int("after", 0, 0, INT64_MAX);
    p.q.limit = f.Int("limit", 100, 1, 10000);
    p.q.who = f.String("who");
    RETURN_IF_ERROR(f.status());
    if (p.q.who.size() > 200) return InvalidInput("who: expected a name of at most 200 bytes");
    return p;
  }
};

Status NoRegistry() { return Unavailable("this daemon keeps no per-user tokens"); }

}  // namespace

void RegisterAccessRoutes(Router& r, const RouteDeps& d) {
  TokenRegistry* tokens = d.tokens;
  AuditLog* audit = d.audit;
  r.Add<NoInput>({Method::kGet, "/api/v1/tokens", Access::kAdmin}, [tokens](NoInput, Reply reply) {
    if (!tokens) return reply.Error(NoRegistry());
    json rows = json::array();
    for (const TokenInfo& t : tokens->List()) {
      rows.push_back(
          {{"name", t.name}, {"role", TokenRoleName(t.role)}, {"created_ms", t.created_ms}});
    }
    reply.Json(200, rows);
  });
  r.Add<NewTokenBody>(
      {Method::kPost, "/api/v1/tokens", Access::kAdmin, kSmallBody},
      [tokens](NewTokenBody b, Reply reply) {
        if (!tokens) return reply.Error(NoRegistry());
        Result<std::string> t = tokens->Create(b.name, b.role);
        if (!t.ok()) return reply.Error(t.status());
        reply.Json(200, {{"name", b.name}, {"role", TokenRoleName(b.role)}, {"token", *t}});
      });
  // A revoked token stops working at once: its dashboard sessions and open streams end too.
  r.Add<TokenName>({Method::kDelete, "/api/v1/tokens/{name}", Access::kAdmin},
                   [tokens, &r](TokenName t, Reply reply) {
                     if (!tokens) return reply.Error(NoRegistry());
                     Status st = tokens->Revoke(t.name);
                     if (st.ok()) r.TokenRevoked(t.name);
                     reply.Done(st);
                   });
  r.Add<AuditParams>({Method::kGet, "/api/v1/audit", Access::kRead},
                     [audit](AuditParams p, Reply reply) {
                       if (!audit)
                         return reply.Error(Unavailable("this daemon keeps no audit trail"));
                       Result<std::vector<AuditRow>> rows = audit->List(p.q);
                       if (!rows.ok()) return reply.Error(rows.status());
                       json out = json::array();
                       for (const AuditRow& row : *rows) out.push_back(row.ToJson());
                       reply.Json(200, out);
                     });
}

}  // namespace slipway::api
