// The dashboard's routes: its files at /ui/ (embedded, ui/assets.h) and its logins
// (POST/GET/DELETE /api/v1/session, api/sessions.h). Every page answer carries a strict
// Content-Security-Policy (scripts, styles and fetches from this origin only, no inline
// script, no framing), nosniff and no referrer.
#include <fmt/format.h>

#include "api/routes.h"
#include "api/sessions.h"
#include "http/parser.h"
#include "ui/assets.h"

namespace slipway::api {

using nlohmann::json;

namespace {

constexpr char kCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

constexpr size_t kLoginBody = 4096;  // {"token": "<64 hex>"} with room to spare

void AddPageHeaders(http::Response* r) {
  r->headers.emplace_back("Content-Security-Policy", kCsp);
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
  r->headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
}

// Whether Accept-Encoding admits gzip ("gzip", "gzip;q=0.5", "*"; not "gzip;q=0").
bool AcceptsGzip(const http::Request& req) {
  const std::string* ae = req.Header("Accept-Encoding");
  if (!ae) return false;
  std::string_view s = *ae;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (!http::EqualsIgnoreCase(coding, "gzip") && coding != "*") continue;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      size_t q = params.find("q=");
      if (q != std::string_view::npos) {
        std::string_view v = params.substr(q + 2);
        bool zero = !v.empty() && v.front() == '0';
        for (char c : v.substr(v.empty() ? 0 : 1)) {
          if (c != '.' && c != '0' && c != ' ') zero = false;
        }
        if (zero) continue;
      }
    }
    return true;
  }
  return false;
}

http::Response AssetResponse(const http::Request& req, const ui::Asset& a) {
  http::Response r;
  const std::string* inm = req.Header("If-None-Match");
  if (inm && (inm->find(a.etag) != std::string::npos || *inm == "*")) {
    r.status = 304;
  } else {
    r.status = 200;
    if (!a.gzip.empty() && AcceptsGzip(req)) {
      r.body.assign(a.gzip);
      r.headers.emplace_back("Content-Encoding", "gzip");
    } else {
      r.body.assign(a.body);
    }
    r.headers.emplace_back("Content-Type", std::string(a.content_type));
  }
  r.headers.emplace_back("ETag", std::string(a.etag));
  // The names carry no content hash: the browser asks again each time and gets a 304.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("Vary", "Accept-Encoding");
  AddPageHeaders(&r);
  return r;
}

std::string SessionCookie(std::string_view value, int64_t max_age_s, bool secure) {
  return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", kSessionCookie,
                     value, max_age_s, secure ? "; Secure" : "");
}

std::optional<std::string_view> SessionIdOf(const http::Request& req) {
  const std::string* cookie = req.Header("Cookie");
  if (!cookie) return std::nullopt;
  return CookieValue(*cookie, kSessionCookie);
}

struct AssetName {
  std::string name;
  static Result<AssetName> Parse(const RouteCall& call) {
    return AssetName{std::string(call.Param("asset"))};
  }
};

struct LoginBody {
  std::string token;
  static Result<LoginBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    LoginBody b{f.RequiredString("token", "an API token")};
    RETURN_IF_ERROR(f.Finish());
    if (b.token.empty()) return InvalidInput("token: expected a token, got an empty string");
    return b;
  }
};

// A login comes from our own page or from no page at all (curl): a login from another site
// would sign the browser in to the attacker's choice of account.
std::optional<std::string> ForeignLogin(const http::Request& req) {
  const std::string* site = req.Header("Sec-Fetch-Site");
  if (site && *site != "same-origin" && *site != "none") {
    return fmt::format("Sec-Fetch-Site \"{}\" may not log in", *site);
  }
  const std::string* origin = req.Header("Origin");
  if (!origin) return std::nullopt;
  std::string_view o = *origin;
  size_t scheme = o.find("://");
  const std::string* host = req.Header("Host");
  if (scheme == std::string_view::npos || !host ||
      !http::EqualsIgnoreCase(o.substr(scheme + 3), *host)) {
    return fmt::format("Origin \"{}\" may not log in", o);
  }
  return std::nullopt;
}

json SessionJson(const Session& s) {
  return {{"role", SessionRoleName(s.role)},
          {"user", s.user},
          {"csrf", s.csrf},
          {"expires_ms", s.expires_wall_ms}};
}

}  // namespace

void RegisterUiRoutes(Router& r, const RouteDeps&) {
  r.Add<NoInput>({Method::kGet, "/ui", Access::kPublic}, [](NoInput, Reply reply) {
    http::Response resp = http::Response::Text(308, "/ui/\n");
    resp.headers.emplace_back("Location", "/ui/");
    reply.Send(std::move(resp));
  });
  r.AddRaw({Method::kGet, "/ui/", Access::kPublic}, [](const RouteCall& call, Reply reply) {
    const ui::Asset* index = ui::FindAsset("index.html");
    if (!index) return reply.Error(NotFound("this build has no dashboard"));
    reply.Send(AssetResponse(call.request, *index));
  });
  r.AddRaw({Method::kGet, "/ui/{asset}", Access::kPublic}, [](const RouteCall& call, Reply reply) {
    // Only the table's names exist: "..", a decoded "%2e%2e%2f" or any folder is unknown.
    const ui::Asset* asset = ui::FindAsset(call.Param("asset"));
    if (!asset) {
      return reply.Error(NotFound(fmt::format("no such file: /ui/{}", call.Param("asset"))));
    }
    reply.Send(AssetResponse(call.request, *asset));
  });

  // Logins.
  r.AddRaw(
      {Method::kPost, "/api/v1/session", Access::kPublic, kLoginBody},
      [&r](const RouteCall& call, Reply reply) {
        SessionStore* sessions = r.sessions();
        if (!sessions) return reply.Error(NotFound("this listener has no dashboard logins"));
        if (auto foreign = ForeignLogin(call.request)) {
          return reply.Json(403, {{"error", *foreign}, {"exit", 1}});
        }
        const std::string address = PeerAddress(call.request.peer);
        if (auto wait = sessions->limiter().Blocked(address)) {
          http::Response resp = JsonResponse(
              429, {{"error", "too many failed logins from this address; try again later"},
                    {"exit", 1}});
          resp.headers.emplace_back("Retry-After", std::to_string((wait->count() + 999) / 1000));
          return reply.Send(std::move(resp));
        }
        Result<LoginBody> body = LoginBody::Parse(call);
        if (!body.ok()) return reply.Error(body.status());
        const Identity id = r.IdentityOfToken(body->token);
        if (id.role == Role::kAnonymous) {
          sessions->limiter().Failed(address);
          http::Response resp = JsonResponse(
              401, {{"error", "wrong token (use .slipway/token, .slipway/read-token or your own)"},
                    {"exit", 1}});
          return reply.Send(std::move(resp));
        }
        sessions->limiter().Succeeded(address);
        const SessionRole role = id.role == Role::kAdmin      ? SessionRole::kAdmin
                                 : id.role == Role::kDeployer ? SessionRole::kDeployer
                                                              : SessionRole::kViewer;
        Result<NewSession> s = sessions->Create(role, id.who, id.token);
        if (!s.ok()) return reply.Error(s.status());
        http::Response resp = JsonResponse(200, SessionJson(s->session));
        const int64_t max_age =
            std::chrono::duration_cast<std::chrono::seconds>(sessions->lifetime()).count();
        resp.headers.emplace_back("Set-Cookie", SessionCookie(s->id, max_age, r.TcpUsesTls()));
        reply.Send(std::move(resp));
      });
  r.AddRaw({Method::kGet, "/api/v1/session", Access::kRead},
           [&r](const RouteCall& call, Reply reply) {
             std::optional<std::string_view> id = SessionIdOf(call.request);
             std::optional<Session> s;
             if (id && r.sessions() && !call.request.Header("Authorization")) {
               s = r.sessions()->Find(*id);
             }
             if (s) return reply.Json(200, SessionJson(*s));
             // A bearer token: its role, and no CSRF token (a header is not sent by itself).
             reply.Json(200, {{"role", RoleName(call.role)},
                              {"user", call.who},
                              {"csrf", nullptr},
                              {"expires_ms", nullptr}});
           });
  r.AddRaw({Method::kDelete, "/api/v1/session", Access::kRead}, [&r](const RouteCall& call,
                                                                     Reply reply) {
    if (std::optional<std::string_view> id = SessionIdOf(call.request); id && r.sessions()) {
      r.sessions()->Remove(*id);
    }
    http::Response resp = JsonResponse(200, {{"ok", true}});
    resp.headers.emplace_back("Set-Cookie", SessionCookie("", 0, r.TcpUsesTls()));
    reply.Send(std::move(resp));
  });
}

}  // namespace slipway::api
