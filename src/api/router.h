// Router: the admin API's one table of routes, and the one place that decides who may call
// what, how large a request may be, and what a caller sees when anything goes wrong.
//
// Every route is declared once (Add): method, path pattern ("/api/v1/flags/{key}/rollout"),
// access level, body limit, and a typed request (a struct with a static
// `Result<T> Parse(const RouteCall&)`, built with api/fields.h). Modules' routes are
// registered by one function per topic (api/routes.h); the table can be listed (routes()),
// which is what the tests walk to send every route every kind of bad input.
//
// A request is judged in two steps:
//  1. CheckHead(), from the head alone, before any body byte is read (HttpServer's
//     head_check): unknown path (404, or 401 over TCP without a token, so an anonymous caller
//     cannot map the API), wrong method (405 + Allow), over TCP a Host that is not one of the
//     API's own names (421: stops DNS rebinding), a mutation whose Origin is another site (403),
//     the token (401 without or with a wrong one; 403 for the read token on an admin route),
//     and a declared body over the route's limit (413). A refused request's body is never
//     buffered.
//  2. Dispatch(), with the whole request: the typed request is parsed (400 naming the field on
//     any mistake), then the route runs inside the error boundary: an exception escaping a
//     route is answered 500 and reported through `on_error`; the daemon goes on.
//
// Access levels, over TCP (the unix socket is guarded by its file mode, 0600 in a 0700
// folder, and may call everything):
//   kPublic    anyone who reaches the listener (/health; /metrics unless configured otherwise)
//   kOwnToken  the route checks its own credentials (OFREP's read tokens)
//   kRead      any token: the read token, the admin token, a per-user token of any role
//              (reads: release specs and logs carry secrets)
//   kDeploy    a deployer's or an admin's: deploy, pause, resume, roll back, toggle flags
//   kAdmin     the admin token or an admin's token (everything else: up/down, flag edits,
//              tokens)
// Per-user tokens (api/tokens.h) carry their role; the read token is a viewer's, the admin
// token an admin's. A dashboard session cookie (api/sessions.h) stands for the token it was
// opened with, with that token's role and name. A mutation
// authenticated by the cookie alone must also carry the session's CSRF token (X-CSRF-Token),
// an Origin naming this API and, when the browser sends one, `Sec-Fetch-Site: same-origin`
// (403 otherwise): a cookie is sent by the browser on its own, a header only by our pages.
//
// Revoking a per-user token (TokenRevoked, from DELETE /api/v1/tokens/{name}) ends it at once
// everywhere: the sessions opened with it end (their next request is 401) and every streamed
// answer it opened, by cookie or bearer (the event stream, logs -f), is ended: the router keeps
// a weak handle on each stream a per-user token opened, forgotten once the stream is over.
//
// Ownership: the daemon owns the Router; routes capture the objects they call, which the
// daemon keeps alive while its servers run. Threads: the control loop only.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/reply.h"
#include "api/sessions.h"
#include "api/tokens.h"
#include "base/status.h"
#include "http/message.h"
#include "http/server.h"

namespace slipway::api {

enum class Method { kGet, kPost, kPut, kDelete, kOptions };
enum class Access { kPublic, kOwnToken, kRead, kDeploy, kAdmin };
enum class Channel { kUnix, kTcp };  // which listener a request came through
// What the caller proved, in increasing power (RoleMay compares them).
enum class Role { kAnonymous, kReader, kDeployer, kAdmin };

std::string_view MethodName(Method m);
std::string_view AccessName(Access a);
std::string_view RoleName(Role r);  // "anonymous", "viewer", "deployer", "admin"
// Whether `role` may call a route of level `access` over TCP.
bool RoleMay(Role role, Access access);
Role RoleOf(TokenRole r);

// Who called: a role and the name the audit trail records ("alice" for alice's token,
// "alice (dashboard)" for a session opened with it, "admin token", "read token", "local cli"
// for the unix socket, "" for nobody).
struct Identity {
  Role role = Role::kAnonymous;
  std::string who;
  std::string token;  // the per-user token's name ("" for the project's tokens and the socket)
};

// One mutation as the audit trail records it (never a body: bodies carry secrets).
struct AuditEntry {
  std::string who;
  std::string action;  // "POST /api/v1/deploy": the route's method and pattern
  std::string target;  // the route's captures and a few naming fields of the body
  int status = 0;      // the HTTP status answered
  std::string result;  // "ok", or the error's message
};

// Body limits. A GET takes no body at all.
inline constexpr size_t kNoBody = 0;
inline constexpr size_t kSmallBody = 64 * 1024;  // mutations with a few fields
inline constexpr size_t kLargeBody =
    8 * 1024 * 1024;  // up/deploy (the caller's environment), flag imports

struct RouteSpec {
  Method method;
  std::string_view pattern;  // literal segments and {name} captures of one segment
  Access access;
  size_t max_body = kNoBody;
};

// What a route sees of one request.
struct RouteCall {
  const http::Request& request;
  Channel channel;
  Role role;
  std::vector<std::pair<std::string, std::string>> params;  // {name} captures, decoded
  std::string who = {};                                     // Identity::who of the caller

  // The capture `name` ("" if the pattern has none).
  std::string_view Param(std::string_view name) const;
};

using RouteHandler = std::function<void(const RouteCall&, Reply)>;

// The request type of a route with nothing to read (any query is ignored).
struct NoInput {
  static Result<NoInput> Parse(const RouteCall&) { return NoInput{}; }
};

struct Route {
  RouteSpec spec;
  std::string pattern;                // owned copy of spec.pattern
  std::vector<std::string> segments;  // of `pattern`, split once at registration
  RouteHandler run;
  // Parses the typed request only (the fuzzer and the malformed-input tests call it).
  std::function<Status(const RouteCall&)> parse;
};

struct RouterOptions {
  std::string admin_token;  // required for kAdmin over TCP
  std::string read_token;   // enough for kRead over TCP ("" = none issued)
  // Host names accepted in `Host` besides IP literals and localhost (x-slipway.api.hosts).
  std::vector<std::string> hosts;
  // Dashboard sessions (nullptr: no cookie is accepted). Borrowed; outlives the router.
  SessionStore* sessions = nullptr;
  // Whether the TCP listener serves TLS now (session cookies are then `Secure`).
  std::function<bool()> tcp_tls;
  // Per-user tokens (nullptr: only the two above). Borrowed; outlives the router.
  const TokenRegistry* tokens = nullptr;
  // Called once per answered mutation (any method but GET/OPTIONS on a route that is not
  // public or own-token) and per mutation refused 403 to a known caller.
  std::function<void(const AuditEntry&)> audit;
  // Called with a route's pattern and what escaped it.
  std::function<void(std::string_view route, std::string_view what)> on_error;
};

class Router {
 public:
  explicit Router(RouterOptions options) : options_(std::move(options)) {}
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // A route whose request type `Req` has `static Result<Req> Parse(const RouteCall&)`;
  // `run(Req, Reply)` gets it parsed. Registering a (method, pattern) twice is a bug.
  template <typename Req, typename Run>
  void Add(RouteSpec spec, Run run) {
    Add(
        spec, [](const RouteCall& call) { return Req::Parse(call); }, std::move(run));
  }
  // The same with a parse function that needs context: `parse(const RouteCall&)` returns a
  // Result<Req>.
  template <typename Parse, typename Run>
  void Add(RouteSpec spec, Parse parse, Run run) {
    using Req = typename std::invoke_result_t<Parse, const RouteCall&>::value_type;
    AddRoute(
        spec,
        [parse, run = std::move(run)](const RouteCall& call, Reply reply) {
          Result<Req> req = parse(call);
          if (!req.ok()) {
            reply.Error(req.status());
            return;
          }
          run(std::move(req).value(), std::move(reply));
        },
        [parse](const RouteCall& call) { return parse(call).status(); });
  }
  // A route that reads the raw request itself (OFREP's own protocol).
  void AddRaw(RouteSpec spec, RouteHandler run);

  http::HeadVerdict CheckHead(const http::Request& head, Channel channel) const;
  void Dispatch(const http::Request& request, http::ResponseWriter w, Channel channel) const;

  // Server options for a listener of this router: the head check wired in.
  http::ServerOptions ServerOptionsFor(Channel channel) const;

  const std::vector<Route>& routes() const { return routes_; }

  // What a bearer token proves over TCP (kAnonymous: no token we know).
  Identity IdentityOfToken(std::string_view token) const;
  Role RoleOfToken(std::string_view token) const { return IdentityOfToken(token).role; }
  SessionStore* sessions() const { return options_.sessions; }
  // The per-user token `name` was revoked: ends the sessions opened with it and the streams it
  // opened. How many streams were ended.
  size_t TokenRevoked(std::string_view name);
  bool TcpUsesTls() const { return options_.tcp_tls && options_.tcp_tls(); }

 private:
  struct Match {
    const Route* route = nullptr;
    bool path_known = false;  // some route has this path (with another method)
    std::vector<std::pair<std::string, std::string>> params;
  };

  void AddRoute(RouteSpec spec, RouteHandler run, std::function<Status(const RouteCall&)> parse);
  Match Find(const http::Request& req) const;
  // Who a request comes from: its bearer token, else its session cookie.
  struct Caller {
    Role role = Role::kAnonymous;
    std::string who;
    bool by_cookie = false;  // proven by the session cookie alone
    std::string csrf;        // the session's CSRF token when by_cookie
    std::string token;       // the per-user token behind it (Identity::token)
  };
  Caller CallerOf(const http::Request& req, Channel channel) const;
  bool HostAllowed(std::string_view host) const;
  void Audit(const Route& route, const std::string& who, std::string target, int status,
             std::string result) const;
  std::string AllowedMethods(std::string_view path) const;

  RouterOptions options_;
  std::vector<Route> routes_;
  // Per-user token name → the streams it opened (weak: a stream that ended is dropped on the
  // next registration). Dispatch adds to it, hence mutable; the loop thread only.
  mutable std::multimap<std::string, Reply::Weak, std::less<>> streams_;
};

// The host part of a Host header value or URL authority ("[::1]:80" → "[::1]"), lowercased.
std::string HostPart(std::string_view authority);

}  // namespace slipway::api
