#include "api/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "api/fields.h"
#include "base/secret.h"
#include "http/parser.h"
#include "net/tls_client_context.h"

namespace slipway::api {

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<Method> ParseMethod(std::string_view m) {
  if (m == "GET" || m == "HEAD") return Method::kGet;
  if (m == "POST") return Method::kPost;
  if (m == "PUT") return Method::kPut;
  if (m == "DELETE") return Method::kDelete;
  if (m == "OPTIONS") return Method::kOptions;
  return std::nullopt;
}

http::Response Refusal(int status, std::string message) {
  return JsonResponse(status, {{"error", std::move(message)}, {"exit", 1}});
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The fields of a mutation's body that name what it acts on (never values: an `env` or a flag
// document may hold secrets).
constexpr std::string_view kTargetFields[] = {
    "service", "services", "name", "role", "environment", "to", "label", "matchers", "id"};

std::string TargetOf(const http::Request& req,
                     const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  auto add = [&](std::string_view k, std::string_view v) {
    if (!out.empty()) out += " ";
    out += k;
    out += "=";
    out += v.substr(0, 200);
  };
  for (const auto& [k, v] : params) add(k, v);
  if (req.body.empty() || req.body.size() > kLargeBody) return out;
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (!body.is_object()) return out;
  for (std::string_view key : kTargetFields) {
    auto it = body.find(key);
    if (it == body.end()) continue;
    if (it->is_string()) {
      add(key, it->get_ref<const std::string&>());
    } else if (it->is_number_integer()) {
      add(key, std::to_string(it->get<int64_t>()));
    } else if (it->is_array()) {
      std::string joined;
      for (const nlohmann::json& e : *it) {
        if (!e.is_string()) continue;
        if (!joined.empty()) joined += ",";
        joined += e.get<std::string>();
        if (joined.size() > 200) break;
      }
      add(key, joined);
    }
  }
  return out;
}

}  // namespace

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
  }
  return "?";
}

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kOwnToken:
      return "own-token";
    case Access::kRead:
      return "read";
    case Access::kDeploy:
      return "deploy";
    case Access::kAdmin:
      return "admin";
  }
  return "?";
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kAnonymous:
      return "anonymous";
    case Role::kReader:
      return "viewer";
    case Role::kDeployer:
      return "deployer";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

bool RoleMay(Role role, Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kOwnToken:
      return true;
    case Access::kRead:
      return role >= Role::kReader;
    case Access::kDeploy:
      return role >= Role::kDeployer;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

Role RoleOf(TokenRole r) {
  switch (r) {
    case TokenRole::kViewer:
      return Role::kReader;
    case TokenRole::kDeployer:
      return Role::kDeployer;
    case TokenRole::kAdmin:
      return Role::kAdmin;
  }
  return Role::kAnonymous;
}

std::string HostPart(std::string_view authority) {
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    return Lower(
        authority.substr(0, close == std::string_view::npos ? authority.size() : close + 1));
  }
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) authority = authority.substr(0, colon);
  return Lower(authority);
}

std::string_view RouteCall::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

void Router::AddRaw(RouteSpec spec, RouteHandler run) {
  AddRoute(spec, std::move(run), [](const RouteCall&) { return Status::OK(); });
}

void Router::AddRoute(RouteSpec spec, RouteHandler run,
                      std::function<Status(const RouteCall&)> parse) {
  for (const Route& r : routes_) {
    SLIPWAY_CHECK(!(r.spec.method == spec.method && r.pattern == spec.pattern));
  }
  Route r;
  r.pattern = std::string(spec.pattern);
  for (std::string_view seg : Segments(r.pattern)) r.segments.emplace_back(seg);
  r.spec = spec;
  r.spec.pattern = {};  // the owned copy is `pattern`
  r.run = std::move(run);
  r.parse = std::move(parse);
  routes_.push_back(std::move(r));
}

Router::Match Router::Find(const http::Request& req) const {
  Match best;
  const std::vector<std::string_view> path = Segments(req.Path());
  const std::optional<Method> method = ParseMethod(req.method);
  size_t best_captures = SIZE_MAX;
  for (const Route& r : routes_) {
    const std::vector<std::string>& pat = r.segments;
    if (pat.size() != path.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (size_t i = 0; i < pat.size() && ok; ++i) {
      if (pat[i].size() > 2 && pat[i].front() == '{' && pat[i].back() == '}') {
        auto decoded = PercentDecode(path[i], /*plus_is_space=*/false);
        ok = !path[i].empty() && decoded.ok();
        if (ok) params.emplace_back(pat[i].substr(1, pat[i].size() - 2), std::move(*decoded));
      } else {
        ok = pat[i] == path[i];
      }
    }
    if (!ok) continue;
    best.path_known = true;
    // A literal segment beats a capture: /flags/export is not the flag "export".
    if (method == r.spec.method && params.size() < best_captures) {
      best_captures = params.size();
      best.route = &r;
      best.params = std::move(params);
    }
  }
  return best;
}

std::string Router::AllowedMethods(std::string_view path) const {
  std::string out;
  const size_t n = Segments(path).size();
  http::Request probe;
  probe.target = std::string(path);
  for (Method m : {Method::kGet, Method::kPost, Method::kPut, Method::kDelete, Method::kOptions}) {
    probe.method = std::string(MethodName(m));
    Match found = Find(probe);
    if (found.route && found.route->segments.size() == n) {
      if (!out.empty()) out += ", ";
      out += MethodName(m);
    }
  }
  return out;
}

Identity Router::IdentityOfToken(std::string_view token) const {
  if (!options_.admin_token.empty() && SameSecret(token, options_.admin_token)) {
    return {Role::kAdmin, "admin token", ""};
  }
  if (!options_.read_token.empty() && SameSecret(token, options_.read_token)) {
    return {Role::kReader, "read token", ""};
  }
  if (options_.tokens) {
    if (std::optional<TokenInfo> t = options_.tokens->Find(token)) {
      return {RoleOf(t->role), t->name, t->name};
    }
  }
  return {};
}

Router::Caller Router::CallerOf(const http::Request& req, Channel channel) const {
  Caller c;
  if (channel == Channel::kUnix) {
    c.role = Role::kAdmin;
    c.who = "local cli";
    return c;
  }
  const std::string* auth = req.Header("Authorization");
  if (auth && auth->size() >= 7 && http::EqualsIgnoreCase(auth->substr(0, 7), "Bearer ")) {
    Identity id = IdentityOfToken(std::string_view(*auth).substr(7));
    c.role = id.role;
    c.who = std::move(id.who);
    c.token = std::move(id.token);
    return c;
  }
  const std::string* cookie = req.Header("Cookie");
  if (!cookie || options_.sessions == nullptr) return c;
  std::optional<std::string_view> id = CookieValue(*cookie, kSessionCookie);
  if (!id) return c;
  std::optional<Session> s = options_.sessions->Find(*id);
  if (!s) return c;
  switch (s->role) {
    case SessionRole::kViewer:
      c.role = Role::kReader;
      break;
    case SessionRole::kDeployer:
      c.role = Role::kDeployer;
      break;
    case SessionRole::kAdmin:
      c.role = Role::kAdmin;
      break;
  }
  c.who = (s->user.empty() ? std::string("unnamed") : s->user) + " (dashboard)";
  c.by_cookie = true;
  c.csrf = std::move(s->csrf);
  c.token = std::move(s->token);
  return c;
}

bool Router::HostAllowed(std::string_view host) const {
  // DNS rebinding needs a name the attacker controls; an IP literal or localhost is never one.
  if (net::IsIpLiteral(host) || host == "localhost" || host.ends_with(".localhost")) return true;
  for (const std::string& h : options_.hosts) {
    if (Lower(h) == host) return true;
  }
  return false;
}

http::HeadVerdict Router::CheckHead(const http::Request& head, Channel channel) const {
  http::HeadVerdict v;
  const Match m = Find(head);
  const Caller caller = CallerOf(head, channel);
  const Role role = caller.role;
  const bool tcp = channel == Channel::kTcp;
  if (tcp) {
    const std::string* host = head.Header("Host");
    if (host && !HostAllowed(HostPart(*host))) {
      v.reject = Refusal(421, fmt::format("Host \"{}\" is not a name of this API (list it in "
                                          "x-slipway.api.hosts)",
                                          HostPart(*host)));
      return v;
    }
  }
  if (!m.route) {
    if (tcp && role == Role::kAnonymous) {
      v.reject = Refusal(401, "a bearer token is needed (see .slipway/token)");
      v.reject->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"slipway\"");
    } else if (m.path_known) {
      v.reject = Refusal(405, fmt::format("{} is not allowed on {}", head.method, head.Path()));
      v.reject->headers.emplace_back("Allow", AllowedMethods(head.Path()));
    } else {
      v.reject = Refusal(404, fmt::format("no such endpoint: {} {}", head.method, head.Path()));
    }
    return v;
  }
  const Access access = m.route->spec.access;
  if (tcp && (access == Access::kRead || access == Access::kDeploy || access == Access::kAdmin)) {
    if (role == Role::kAnonymous) {
      v.reject = Refusal(401, "a bearer token is needed (see .slipway/token)");
      v.reject->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"slipway\"");
      return v;
    }
    if (!RoleMay(role, access)) {
      std::string why;
      if (role == Role::kReader) {
        why = caller.who == "read token"
                  ? "the read token may not change anything (use .slipway/token)"
                  : fmt::format("{} is a viewer and may not change anything", caller.who);
      } else {
        why = fmt::format(
            "{} is a deployer: it may deploy, pause, resume, roll back and toggle "
            "flags, not {} {} (an admin may)",
            caller.who, head.method, m.route->pattern);
      }
      v.reject = Refusal(403, why);
      if (m.route->spec.method != Method::kGet) {
        Audit(*m.route, caller.who, TargetOf(head, m.params), 403, why);
      }
      return v;
    }
    // A browser sends Origin with every cross-site mutation: only the API's own pages may.
    const std::string* origin = head.Header("Origin");
    const std::string* host = head.Header("Host");
    if (m.route->spec.method != Method::kGet && origin) {
      std::string_view o = *origin;
      size_t scheme = o.find("://");
      std::string authority(scheme == std::string_view::npos ? "" : o.substr(scheme + 3));
      if (!host || Lower(authority) != Lower(*host)) {
        v.reject = Refusal(403, fmt::format("Origin \"{}\" may not change this API", o));
        return v;
      }
    }
    // A cookie rides along with any request the browser makes, whoever's page asked: a
    // mutation proven by it alone must show it comes from our own pages.
    if (caller.by_cookie && m.route->spec.method != Method::kGet) {
      const std::string* site = head.Header("Sec-Fetch-Site");
      if (!origin) {
        v.reject = Refusal(403, "a mutation with a session cookie needs an Origin header");
        return v;
      }
      if (site && *site != "same-origin") {
        v.reject =
            Refusal(403, fmt::format("Sec-Fetch-Site \"{}\" may not change this API", *site));
        return v;
      }
      const std::string* csrf = head.Header(kCsrfHeader);
      if (!csrf || !SameSecret(*csrf, caller.csrf)) {
        v.reject = Refusal(403, fmt::format("a mutation with a session cookie needs the session's "
                                            "{} header (from POST /api/v1/session)",
                                            kCsrfHeader));
        return v;
      }
    }
  }
  v.max_body = m.route->spec.max_body;
  return v;
}

void Router::Dispatch(const http::Request& request, http::ResponseWriter w, Channel channel) const {
  // The server ran CheckHead already; running it again keeps a listener created without the
  // head check just as safe.
  http::HeadVerdict v = CheckHead(request, channel);
  if (v.reject) {
    w.Send(std::move(*v.reject));
    return;
  }
  if (request.body.size() > v.max_body) {
    w.Send(Refusal(413, fmt::format("request body over {} bytes", v.max_body)));
    return;
  }
  Match m = Find(request);
  Caller caller = CallerOf(request, channel);
  const Route* route = m.route;
  std::function<void(const http::Response&)> on_answer;
  if (options_.audit && route->spec.method != Method::kGet &&
      route->spec.method != Method::kOptions && route->spec.access != Access::kPublic &&
      route->spec.access != Access::kOwnToken) {
    // Computed now: an asynchronous route (deploy) answers after `request` is gone.
    on_answer = [this, route, target = TargetOf(request, m.params),
                 who = caller.who](const http::Response& r) {
      std::string result = "ok";
      if (r.status >= 300) {
        nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
        result = body.is_object() && body.contains("error") && body["error"].is_string()
                     ? body["error"].get<std::string>()
                     : fmt::format("HTTP {}", r.status);
      }
      Audit(*route, who, target, r.status, std::move(result));
    };
  }
  RouteCall call{request, channel, caller.role, std::move(m.params), std::move(caller.who)};
  Reply reply(std::move(w), std::move(on_answer));
  auto fail = [&](std::string_view what) {
    if (options_.on_error) options_.on_error(m.route->pattern, what);
    reply.Error(Internal("internal error (the daemon's log has the details)"));
  };
  try {
    m.route->run(call, reply);
  } catch (const std::exception& e) {
    fail(e.what());
  } catch (...) {
    fail("unknown exception");
  }
  // A stream a per-user token opened ends when that token is revoked (TokenRevoked).
  if (!caller.token.empty() && reply.writer().streaming()) {
    std::erase_if(streams_, [](const auto& kv) { return !kv.second.streaming(); });
    streams_.emplace(std::move(caller.token), reply.weak());
  }
}

size_t Router::TokenRevoked(std::string_view name) {
  if (options_.sessions != nullptr) options_.sessions->EndToken(name);
  size_t ended = 0;
  auto [from, to] = streams_.equal_range(name);
  for (auto it = from; it != to; ++it) {
    if (it->second.streaming()) ++ended;
    it->second.EndStream();
  }
  streams_.erase(from, to);
  return ended;
}

void Router::Audit(const Route& route, const std::string& who, std::string target, int status,
                   std::string result) const {
  if (!options_.audit) return;
  AuditEntry e;
  e.who = who;
  e.action = fmt::format("{} {}", MethodName(route.spec.method), route.pattern);
  e.target = std::move(target);
  e.status = status;
  if (result.size() > 500) result.resize(500);
  e.result = std::move(result);
  try {
    options_.audit(e);
  } catch (const std::exception& ex) {
    if (options_.on_error) options_.on_error(route.pattern, ex.what());
  }
}

http::ServerOptions Router::ServerOptionsFor(Channel channel) const {
  http::ServerOptions o;
  o.head_check = [this, channel](const http::Request& head) { return CheckHead(head, channel); };
  return o;
}

}  // namespace slipway::api
