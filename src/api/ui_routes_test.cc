// The dashboard's routes over a real listener: the embedded files, logins, and what a hostile
// or confused browser may send (oversized and wrong-typed logins, missing CSRF headers,
// foreign origins, expired sessions, paths that try to leave /ui/); a revoked per-user token
// ending its sessions and open streams at once.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <cstdio>
#include <filesystem>
#include <mutex>

#include "api/router_test_server.h"
#include "api/routes.h"
#include "api/sessions.h"
#include "api/tokens.h"
#include "net/socket.h"
#include "store/store.h"
#include "ui/assets.h"

namespace slipway::api {
namespace {

constexpr char kAdmin[] = "admin-token-0123456789abcdef0123456789";
constexpr char kReader[] = "read-token-0123456789abcdef01234567890";

class UiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "slipway-ui-routes-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store_ = std::move(store::Store::Open(dir_ / "state.db", Clock::Real())).value();
    tokens_ = std::move(TokenRegistry::Open(store_.get(), Clock::Real())).value();
    SessionOptions so;
    so.lifetime = std::chrono::hours(1);
    so.login_limits.max_failures = 3;
    sessions_ = std::make_unique<SessionStore>(so, &clock_);
    RouterOptions o;
    o.admin_token = kAdmin;
    o.read_token = kReader;
    o.sessions = sessions_.get();
    o.tokens = tokens_.get();
    o.tcp_tls = [this] { return tls_; };
    o.audit = [this](const AuditEntry& e) {
      std::lock_guard<std::mutex> lock(mu_);
      audited_.push_back(e);
    };
    router_ = std::make_unique<Router>(std::move(o));
    RegisterUiRoutes(*router_, RouteDeps{});
    RouteDeps deps;
    deps.tokens = tokens_.get();
    RegisterAccessRoutes(*router_, deps);
    // A stream held open (as the event stream and logs -f are) until the test ends it; /t/poke
    // writes a line to every one still open.
    router_->Add<NoInput>({Method::kGet, "/t/stream", Access::kRead}, [this](NoInput, Reply r) {
      r.writer().StartStream(200, {{"Content-Type", "text/plain"}});
      r.writer().Write("open\n");
      streams_.push_back(r);
    });
    router_->Add<NoInput>({Method::kGet, "/t/poke", Access::kRead}, [this](NoInput, Reply r) {
      for (const Reply& s : streams_) s.writer().Write("poke\n");
      r.Json(200, {{"poked", streams_.size()}});
    });
    router_->Add<NoInput>({Method::kGet, "/t/read", Access::kRead}, [](NoInput, Reply r) {
      r.Json(200, {{"read", true}});
    });
    router_->Add<NoInput>({Method::kPost, "/t/deploy", Access::kAdmin, kSmallBody},
                          [](NoInput, Reply r) {
                            r.Json(200, {{"deployed", true}});
                          });

    ASSERT_TRUE(server_.Start(router_.get(), Channel::kTcp).ok());
    origin_ = "http://127.0.0.1:" + std::to_string(server_.port());
  }
  void TearDown() override {
    server_.Stop();
    streams_.clear();
    router_.reset();
    tokens_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A connection that asked for /t/stream with `header` ("Cookie: ..."), read with a 5 s
  // timeout.
  net::UniqueFd OpenStream(const std::string& header) {
    net::UniqueFd fd = std::move(net::ConnectTcp("127.0.0.1", server_.port())).value();
    EXPECT_TRUE(net::SetNonBlocking(fd.get(), false).ok());
    timeval tv{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req =
        "GET /t/stream HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server_.port()) + "\r\n" +
        header + "\r\n\r\n";
    EXPECT_EQ(::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(req.size()));
    return fd;
  }
  // Reads until `want` is in *got, the peer closes or 5 s pass in silence; whether it came.
  static bool ReadUntil(int fd, std::string_view want, std::string* got) {
    char buf[4096];
    while (got->find(want) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got->append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  http::ClientResponse Call(std::string method, std::string target, std::string body = "",
                            http::HeaderList headers = {}) {
    headers.emplace_back("Host", "127.0.0.1:" + std::to_string(server_.port()));
    return server_.Call(std::move(method), std::move(target), std::move(body), std::move(headers));
  }

  // Logs in with `token`; the cookie's value and the session's CSRF token.
  std::pair<std::string, std::string> Login(const char* token) {
    auto r = Call("POST", "/api/v1/session", nlohmann::json{{"token", token}}.dump(),
                  {{"Origin", origin_}});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string* set = r.Header("Set-Cookie");
    if (!set) return {};
    std::string cookie = set->substr(0, set->find(';'));
    auto body = nlohmann::json::parse(r.body);
    return {cookie, body.value("csrf", "")};
  }

  std::vector<AuditEntry> Audited() {
    std::lock_guard<std::mutex> lock(mu_);
    return audited_;
  }

  std::mutex mu_;
  std::vector<AuditEntry> audited_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenRegistry> tokens_;
  std::vector<Reply> streams_;  // the loop thread's, while it runs
  FakeClock clock_;
  bool tls_ = false;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<Router> router_;
  RouterTestServer server_;  // after router_ and sessions_: stops before they go
  std::string origin_;
};

TEST(UiAssetsTest, TheBundleIsSmallAndHasNoInlineScript) {
  const size_t size = ui::CompressedBundleSize();
  std::printf("dashboard bundle: %zu files, %zu bytes compressed\n", ui::Assets().size(), size);
  EXPECT_LT(size, 300u * 1024);
  const ui::Asset* index = ui::FindAsset("index.html");
  ASSERT_NE(index, nullptr);
  // Every <script> names its file (the CSP allows no inline script), and no inline style.
  std::string_view html = index->body;
  for (size_t at = html.find("<script"); at != std::string_view::npos;
       at = html.find("<script", at + 1)) {
    std::string_view tag = html.substr(at, html.find('>', at) - at);
    EXPECT_NE(tag.find(" src="), std::string_view::npos) << tag;
  }
  EXPECT_EQ(html.find(" style="), std::string_view::npos);
  EXPECT_EQ(html.find(" onclick="), std::string_view::npos);
  for (const ui::Asset& a : ui::Assets()) {
    EXPECT_FALSE(a.content_type.empty()) << a.name;
    EXPECT_EQ(a.etag.size(), 18u) << a.name;
  }
}

TEST_F(UiRoutesTest, ServesTheEmbeddedFilesWithTypesEtagsAndGzip) {
  auto r = Call("GET", "/ui/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(*r.Header("Content-Type"), "text/html; charset=utf-8");
  ASSERT_NE(r.Header("Content-Security-Policy"), nullptr);
  const std::string csp = *r.Header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(*r.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(*r.Header("Cache-Control"), "no-cache");
  EXPECT_NE(r.body.find("<title>Slipway</title>"), std::string::npos);
  const std::string etag = *r.Header("ETag");

  r = Call("GET", "/ui/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());

  r = Call("GET", "/ui/app.js", "", {{"Accept-Encoding", "br, gzip;q=0.8"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(*r.Header("Content-Type"), "text/javascript; charset=utf-8");
  ASSERT_NE(r.Header("Content-Encoding"), nullptr);
  EXPECT_EQ(*r.Header("Content-Encoding"), "gzip");
  ASSERT_GE(r.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(r.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(r.body[1]), 0x8b);
  // gzip;q=0 is a refusal.
  r = Call("GET", "/ui/app.js", "", {{"Accept-Encoding", "gzip;q=0"}});
  EXPECT_EQ(r.Header("Content-Encoding"), nullptr);
  EXPECT_EQ(r.body, ui::FindAsset("app.js")->body);

  r = Call("GET", "/ui/app.css");
  EXPECT_EQ(*r.Header("Content-Type"), "text/css; charset=utf-8");
  r = Call("GET", "/ui");
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(*r.Header("Location"), "/ui/");
}

TEST_F(UiRoutesTest, UnknownFilesAndTraversalAre404) {
  EXPECT_EQ(Call("GET", "/ui/nope.js").status, 404);
  EXPECT_EQ(Call("GET", "/ui/%2e%2e%2fCMakeLists.txt").status, 404);
  EXPECT_EQ(Call("GET", "/ui/..%2F..%2Fetc%2Fpasswd").status, 404);
  // A NUL is no capture at all: refused by the router before any name is looked up.
  EXPECT_EQ(Call("GET", "/ui/index.html%00.js").status, 401);
  EXPECT_EQ(Call("GET", "/ui/web/index.html").status, 401);  // no such path: no map for strangers
  // "/ui/../x" is not a path of any route: refused before any file name is looked at.
  EXPECT_EQ(Call("GET", "/ui/../etc/passwd").status, 401);
  EXPECT_EQ(
      Call("GET", "/ui/../etc/passwd", "", {{"Authorization", std::string("Bearer ") + kAdmin}})
          .status,
      404);
  auto r = Call("GET", "/ui/..");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find("<html"), std::string::npos);
}

TEST_F(UiRoutesTest, LoginOpensASessionTheRouterAcceptsAsTheToken) {
  auto r = Call("POST", "/api/v1/session", R"({"token":")" + std::string(kAdmin) + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string set = *r.Header("Set-Cookie");
  EXPECT_NE(set.find("slipway_session="), std::string::npos);
  EXPECT_NE(set.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(set.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(set.find("; Path=/"), std::string::npos);
  EXPECT_EQ(set.find("Secure"), std::string::npos);  // clear text here
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["role"], "admin");
  EXPECT_EQ(body["csrf"].get<std::string>().size(), 64u);
  EXPECT_EQ(body.dump().find(kAdmin), std::string::npos);

  auto [cookie, csrf] = Login(kAdmin);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", "a=b; " + cookie}}).status, 200);
  r = Call("GET", "/api/v1/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(nlohmann::json::parse(r.body)["csrf"], csrf);
  EXPECT_EQ(Call("POST", "/t/deploy", "{}",
                 {{"Cookie", cookie},
                  {"X-CSRF-Token", csrf},
                  {"Origin", origin_},
                  {"Sec-Fetch-Site", "same-origin"}})
                .status,
            200);
  EXPECT_EQ(sessions_->size(), 2u);
}

TEST_F(UiRoutesTest, CookieMutationsNeedCsrfAndOurOrigin) {
  auto [cookie, csrf] = Login(kAdmin);
  auto deploy = [&](http::HeaderList h) {
    h.emplace_back("Cookie", cookie);
    return Call("POST", "/t/deploy", "{}", std::move(h));
  };
  auto r = deploy({{"Origin", origin_}});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("X-CSRF-Token"), std::string::npos) << r.body;
  EXPECT_EQ(deploy({{"Origin", origin_}, {"X-CSRF-Token", std::string(64, '0')}}).status, 403);
  EXPECT_EQ(deploy({{"Origin", origin_}, {"X-CSRF-Token", ""}}).status, 403);
  EXPECT_EQ(deploy({{"Origin", "http://evil.example"}, {"X-CSRF-Token", csrf}}).status, 403);
  EXPECT_EQ(deploy({{"Origin", "null"}, {"X-CSRF-Token", csrf}}).status, 403);
  EXPECT_EQ(deploy({{"X-CSRF-Token", csrf}}).status, 403);  // no Origin at all
  EXPECT_EQ(deploy({{"Origin", origin_}, {"X-CSRF-Token", csrf}, {"Sec-Fetch-Site", "cross-site"}})
                .status,
            403);
  EXPECT_EQ(deploy({{"Origin", origin_}, {"X-CSRF-Token", csrf}}).status, 200);
  // Another session's CSRF token is no good.
  auto [cookie2, csrf2] = Login(kAdmin);
  EXPECT_EQ(deploy({{"Origin", origin_}, {"X-CSRF-Token", csrf2}}).status, 403);
  // A garbled or unknown cookie is no session.
  EXPECT_EQ(
      Call("GET", "/t/read", "", {{"Cookie", "slipway_session=" + std::string(64, 'a')}}).status,
      401);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", "slipway_session=\xff;;=;"}}).status, 401);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", std::string(8000, ';')}}).status, 401);
}

TEST_F(UiRoutesTest, AViewerSessionReadsButCannotDeploy) {
  auto [cookie, csrf] = Login(kReader);
  auto r = Call("GET", "/api/v1/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(nlohmann::json::parse(r.body)["role"], "viewer");
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", cookie}}).status, 200);
  r = Call("POST", "/t/deploy", "{}",
           {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", origin_}});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("viewer"), std::string::npos) << r.body;
}

TEST_F(UiRoutesTest, HostileLogins) {
  // Oversized: refused from the head, whatever the body says.
  auto r = Call("POST", "/api/v1/session", std::string(5000, ' '));
  EXPECT_EQ(r.status, 413);
  r = Call("POST", "/api/v1/session", R"({"token": 5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("token: expected an API token"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/api/v1/session", R"({"token": ["x"]})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", R"({"token": null})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", R"({"token": ""})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", R"({})").status, 400);
  r = Call("POST", "/api/v1/session", R"({"token": "x", "role": "admin"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("role"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/api/v1/session", "token=abc").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", "[]").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", "\xc3\x28").status, 400);
  // From another site.
  r = Call("POST", "/api/v1/session", nlohmann::json{{"token", kAdmin}}.dump(),
           {{"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Header("Set-Cookie"), nullptr);
  EXPECT_EQ(Call("POST", "/api/v1/session", nlohmann::json{{"token", kAdmin}}.dump(),
                 {{"Sec-Fetch-Site", "cross-site"}})
                .status,
            403);
  EXPECT_EQ(sessions_->size(), 0u);
}

TEST_F(UiRoutesTest, WrongTokensAre401AndRateLimited) {
  for (int i = 0; i < 3; ++i) {
    auto r = Call("POST", "/api/v1/session", R"({"token":"guess"})");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.Header("Set-Cookie"), nullptr);
  }
  auto r = Call("POST", "/api/v1/session", R"({"token":"guess"})");
  EXPECT_EQ(r.status, 429);
  ASSERT_NE(r.Header("Retry-After"), nullptr);
  EXPECT_EQ(*r.Header("Retry-After"), "60");
  // Blocked, the right token is not even looked at.
  r = Call("POST", "/api/v1/session", nlohmann::json{{"token", kAdmin}}.dump());
  EXPECT_EQ(r.status, 429);
  clock_.AdvanceForTest(std::chrono::seconds(61));
  Login(kAdmin);
}

TEST_F(UiRoutesTest, ExpiredAndLoggedOutSessionsAreRefused) {
  auto [cookie, csrf] = Login(kAdmin);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", cookie}}).status, 200);
  clock_.AdvanceForTest(std::chrono::hours(1) + std::chrono::seconds(1));
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", cookie}}).status, 401);
  EXPECT_EQ(sessions_->size(), 0u);

  auto [cookie2, csrf2] = Login(kAdmin);
  // Logging out is a mutation too: CSRF token and Origin.
  EXPECT_EQ(Call("DELETE", "/api/v1/session", "", {{"Cookie", cookie2}}).status, 403);
  auto r = Call("DELETE", "/api/v1/session", "",
                {{"Cookie", cookie2}, {"X-CSRF-Token", csrf2}, {"Origin", origin_}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.Header("Set-Cookie")->find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", cookie2}}).status, 401);
}

TEST_F(UiRoutesTest, RevokingATokenEndsItsSessionsAndStreamsAtOnce) {
  auto alice = tokens_->Create("alice", TokenRole::kDeployer);
  auto bob = tokens_->Create("bob", TokenRole::kViewer);
  ASSERT_TRUE(alice.ok() && bob.ok());
  auto [alice1, csrf1] = Login(alice->c_str());
  auto [alice2, csrf2] = Login(alice->c_str());  // a second browser
  auto [bob1, csrf3] = Login(bob->c_str());
  auto [admin1, csrf4] = Login(kAdmin);
  for (const std::string& c : {alice1, alice2, bob1, admin1}) {
    EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", c}}).status, 200);
  }
  EXPECT_EQ(sessions_->size(), 4u);
  // Open streams: alice's by cookie and by bearer token, bob's and the admin's by cookie.
  net::UniqueFd s_alice = OpenStream("Cookie: " + alice1);
  net::UniqueFd s_alice_bearer = OpenStream("Authorization: Bearer " + *alice);
  net::UniqueFd s_bob = OpenStream("Cookie: " + bob1);
  net::UniqueFd s_admin = OpenStream("Cookie: " + admin1);
  std::string got_alice, got_alice_bearer, got_bob, got_admin;
  ASSERT_TRUE(ReadUntil(s_alice.get(), "open\n", &got_alice)) << got_alice;
  ASSERT_TRUE(ReadUntil(s_alice_bearer.get(), "open\n", &got_alice_bearer)) << got_alice_bearer;
  ASSERT_TRUE(ReadUntil(s_bob.get(), "open\n", &got_bob)) << got_bob;
  ASSERT_TRUE(ReadUntil(s_admin.get(), "open\n", &got_admin)) << got_admin;

  // Hostile and unknown names end nothing.
  const http::HeaderList admin = {{"Authorization", std::string("Bearer ") + kAdmin}};
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/No%20Body", "", admin).status, 400);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + std::string(300, 'a'), "", admin).status, 400);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/nobody", "", admin).status, 404);
  // Bob (a viewer) may not revoke alice.
  EXPECT_EQ(
      Call("DELETE", "/api/v1/tokens/alice", "", {{"Authorization", "Bearer " + *bob}}).status,
      403);
  EXPECT_EQ(sessions_->size(), 4u);

  // `slipway tokens revoke alice`: her sessions are refused from the next request on, and both
  // of her streams end (the chunked answer's last chunk) without a byte more from anyone.
  auto r = Call("DELETE", "/api/v1/tokens/alice", "", admin);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(ReadUntil(s_alice.get(), "\r\n0\r\n\r\n", &got_alice)) << got_alice;
  EXPECT_TRUE(ReadUntil(s_alice_bearer.get(), "\r\n0\r\n\r\n", &got_alice_bearer))
      << got_alice_bearer;
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", alice1}}).status, 401);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", alice2}}).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/session", "", {{"Cookie", alice2}}).status, 401);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Authorization", "Bearer " + *alice}}).status, 401);
  EXPECT_EQ(sessions_->size(), 2u);
  // The others go on: their sessions answer and their streams still get what is written.
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", bob1}}).status, 200);
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", admin1}}).status, 200);
  EXPECT_EQ(Call("GET", "/t/poke", "", admin).status, 200);
  EXPECT_TRUE(ReadUntil(s_bob.get(), "poke\n", &got_bob)) << got_bob;
  EXPECT_TRUE(ReadUntil(s_admin.get(), "poke\n", &got_admin)) << got_admin;
  EXPECT_EQ(got_bob.find("\r\n0\r\n\r\n"), std::string::npos) << got_bob;
  EXPECT_EQ(got_alice.find("poke"), std::string::npos) << got_alice;
  // A new token of the same name does not bring the old sessions back.
  auto alice_again = tokens_->Create("alice", TokenRole::kDeployer);
  ASSERT_TRUE(alice_again.ok());
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Cookie", alice1}}).status, 401);
}

TEST(SessionStoreTest, EndTokenEndsOnlyThatTokensSessions) {
  FakeClock clock;
  SessionStore s(SessionOptions{}, &clock);
  auto a = s.Create(SessionRole::kDeployer, "alice", "alice");
  auto b = s.Create(SessionRole::kAdmin, "admin token", "");
  auto c = s.Create(SessionRole::kViewer, "bob", "bob");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(s.EndToken(""), 0u);  // the project's tokens cannot be revoked
  EXPECT_EQ(s.EndToken("alic"), 0u);
  EXPECT_EQ(s.EndToken("alice"), 1u);
  EXPECT_FALSE(s.Find(a->id));
  EXPECT_TRUE(s.Find(b->id));
  EXPECT_TRUE(s.Find(c->id));
  EXPECT_EQ(s.EndToken("alice"), 0u);
}

TEST_F(UiRoutesTest, CookiesAreSecureUnderTls) {
  tls_ = true;
  auto r = Call("POST", "/api/v1/session", nlohmann::json{{"token", kReader}}.dump());
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("Set-Cookie")->find("; Secure"), std::string::npos);
}

TEST(SessionStoreTest, BoundedAndHashed) {
  FakeClock clock;
  SessionOptions so;
  so.lifetime = std::chrono::minutes(5);
  so.max_sessions = 2;
  SessionStore s(so, &clock);
  auto a = s.Create(SessionRole::kViewer);
  clock.AdvanceForTest(Duration(10));
  auto b = s.Create(SessionRole::kAdmin);
  clock.AdvanceForTest(Duration(10));
  auto c = s.Create(SessionRole::kAdmin);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(s.size(), 2u);
  EXPECT_FALSE(s.Find(a->id).has_value());  // the oldest went first
  ASSERT_TRUE(s.Find(b->id).has_value());
  EXPECT_EQ(s.Find(b->id)->role, SessionRole::kAdmin);
  EXPECT_NE(a->id, b->id);
  EXPECT_FALSE(s.Find("").has_value());
  EXPECT_FALSE(s.Find(std::string(100000, 'a')).has_value());
}

TEST(SessionStoreTest, CookieAndPeerParsing) {
  EXPECT_EQ(CookieValue("a=1; slipway_session=xyz; b=2", "slipway_session"), "xyz");
  EXPECT_EQ(CookieValue("slipway_session=\"q\"", "slipway_session"), "q");
  EXPECT_EQ(CookieValue("xslipway_session=1", "slipway_session"), std::nullopt);
  EXPECT_EQ(CookieValue(";;; =; a", "slipway_session"), std::nullopt);
  EXPECT_EQ(PeerAddress("10.0.0.1:5000"), "10.0.0.1");
  EXPECT_EQ(PeerAddress("[::1]:80"), "::1");
  EXPECT_EQ(PeerAddress("unix"), "unix");
}

TEST(LoginLimiterTest, ATableFullOfAddressesSharesOneBucket) {
  FakeClock clock;
  LoginLimiter l(LoginLimitOptions{2, std::chrono::minutes(1), 3}, &clock);
  for (int i = 0; i < 3; ++i) l.Failed("10.0.0." + std::to_string(i));
  l.Failed("10.0.1.1");
  l.Failed("10.0.1.2");
  EXPECT_TRUE(l.Blocked("10.0.1.3").has_value());  // the shared bucket is full
  EXPECT_FALSE(l.Blocked("10.0.0.0").has_value());
  clock.AdvanceForTest(std::chrono::minutes(2));
  EXPECT_FALSE(l.Blocked("10.0.1.3").has_value());
}

}  // namespace
}  // namespace slipway::api

namespace slipway::api {
namespace {

TEST_F(UiRoutesTest, MutationsAreAuditedWithWhoWhatTargetAndResultNeverTheBody) {
  auto r = Call("POST", "/t/deploy", R"({"services":["web","api"],"env":{"API_KEY":"s3cret"}})",
                {{"Authorization", std::string("Bearer ") + kAdmin}});
  EXPECT_EQ(r.status, 200);
  auto [cookie, csrf] = Login(kReader);
  r = Call("POST", "/t/deploy", "{}",
           {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", origin_}});
  EXPECT_EQ(r.status, 403);
  // Reads are not mutations.
  EXPECT_EQ(Call("GET", "/t/read", "", {{"Authorization", std::string("Bearer ") + kAdmin}}).status,
            200);
  std::vector<AuditEntry> a = Audited();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].who, "admin token");
  EXPECT_EQ(a[0].action, "POST /t/deploy");
  EXPECT_EQ(a[0].target, "services=web,api");
  EXPECT_EQ(a[0].status, 200);
  EXPECT_EQ(a[0].result, "ok");
  EXPECT_EQ(a[1].who, "read token (dashboard)");
  EXPECT_EQ(a[1].status, 403);
  EXPECT_NE(a[1].result.find("viewer"), std::string::npos);
  for (const AuditEntry& e : a) {
    EXPECT_EQ(e.target.find("s3cret"), std::string::npos);
    EXPECT_EQ(e.result.find("s3cret"), std::string::npos);
  }
}

}  // namespace
}  // namespace slipway::api
