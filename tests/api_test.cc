// End-to-end tests of the admin API as a hostile client sees it: every route of the daemon's
// own table (GET /api/v1/routes) with every kind of bad input and every kind of credential,
// a foreign Host, and secrets planted in the project that must never come back out. The real
// daemon, a real testapp behind the proxy, real sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "harness.h"
#include "net/socket.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kTestapp = TESTAPP_BIN;
constexpr char kPlanted[] = "pl4nted-s3cret-Value-91";
constexpr char kDeployToken[] = "dep10y-t0ken-Value-77";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_port_ = FreePort();
    project_ = std::make_unique<Project>(R"(services:
  web:
    command: [")" + kTestapp + R"("]
    ports: ["127.0.0.1:)" + std::to_string(web_port_) +
                                         R"(:8080"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      DATABASE_URL: postgresql://app:${DB_PASSWORD}@db:5432/app
      VERSION: "1.0"
    healthcheck:
      interval: 100ms
      start_interval: 100ms
      start_period: 5s
    x-slipway:
      healthcheck: {http: /health}
)");
    project_->Write(".env", std::string("DB_PASSWORD=") + kPlanted + "\n");
    CmdResult up = project_->Slipway({"up", "-d", "--wait"});
    ASSERT_EQ(up.rc, 0) << up.out << up.err;
    const auto state = project_->dir() / ".slipway";
    admin_ = ReadTrimmed(state / "token");
    reader_ = ReadTrimmed(state / "read-token");
    ASSERT_GE(admin_.size(), 32u);
    ASSERT_GE(reader_.size(), 32u);
    api_port_ = project_->ApiPort();
    daemon_pid_ = project_->DaemonPid();
    ASSERT_TRUE(PidAlive(daemon_pid_));
  }

  http::ClientResponse Call(const std::string& method, const std::string& target,
                            const std::string& body, const std::string& token,
                            http::HeaderList headers = {}) {
    http::Endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = api_port_;
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = std::move(headers);
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    auto r = http::Fetch(ep, req, Duration(10'000));
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  // The daemon's own table of routes.
  json Routes() {
    auto r = Call("GET", "/api/v1/routes", "", admin_);
    EXPECT_EQ(r.status, 200) << r.body;
    json rows = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(rows.is_array());
    EXPECT_GT(rows.size(), 25u);
    return rows;
  }

  // A stream (Server-Sent Events) never ends: the route walks read only its start.
  static bool IsStream(const json& route) {
    return route["path"].get<std::string>().ends_with("/stream");
  }
  // The status line and first event of a stream, as `token` gets them.
  std::string StreamStart(const std::string& path, const std::string& token) {
    net::UniqueFd fd = std::move(net::ConnectTcp("127.0.0.1", api_port_)).value();
    EXPECT_TRUE(net::SetNonBlocking(fd.get(), false).ok());
    timeval tv{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    req += "\r\n";
    EXPECT_EQ(::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[8192];
    for (int i = 0; i < 100; ++i) {
      if (got.starts_with("HTTP/1.1 200")
              ? got.find("data: ") != std::string::npos &&
                    got.find("\n\n", got.find("data: ")) != std::string::npos
              : got.find("\r\n\r\n") != std::string::npos && got.find('}') != std::string::npos) {
        break;
      }
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, n);
    }
    return got;
  }

  // A route's path with its captures filled in.
  static std::string Concrete(const std::string& pattern) {
    return std::regex_replace(pattern, std::regex("\\{[a-z]+\\}"), "web");
  }

  void ExpectStillServing() {
    EXPECT_EQ(HttpGet(web_port_, "/"), 200) << "the proxy must still serve";
    EXPECT_EQ(project_->DaemonPid(), daemon_pid_);
    EXPECT_TRUE(PidAlive(daemon_pid_));
  }

  std::unique_ptr<Project> project_;
  int web_port_ = 0;
  int api_port_ = 0;
  pid_t daemon_pid_ = 0;
  std::string admin_, reader_;
};

TEST_F(ApiTest, EveryRouteRefusesMalformedInputWith4xx) {
  // Wrong types for every field any route reads, so no route can act on it.
  const std::string wrong_types =
      R"({"services":5,"service":5,"to":"abc","load":5,"env":5,"on":"x","definition":5,)"
      R"("document":"x","percent":"x","add":5,"wait":"x","timeout_ms":"x","version":5,)"
      R"("strategy":5,"backup":"x","message":5,"actor":1,"comment":2,"replace":"x",)"
      R"("variant":5,"drain_timeout_ms":"x"})";
  const std::string deep = std::string(10'000, '[') + std::string(10'000, ']');
  const std::string huge_numbers = R"({"to":1e400,"percent":99999999999999999999999,)"
                                   R"("timeout_ms":-1,"services":5})";
  const std::string bad_utf8 = "{\"service\":\"\xff\xfe\",\"services\":5}";
  const std::string big = R"({"services":5,"pad":")" + std::string(2 << 20, 'a') + "\"}";
  const std::vector<std::string> bodies = {wrong_types, deep, huge_numbers, bad_utf8,
                                           big,         "[]", "{",          "null"};
  int checked = 0;
  for (const json& route : Routes()) {
    const std::string method = route["method"];
    const std::string path = Concrete(route["path"]);
    if (route["access"] == "own-token" || method == "OPTIONS") continue;  // OFREP: own suite
    if (IsStream(route)) {
      EXPECT_EQ(Call("GET", path, wrong_types, admin_).status, 413) << path;
      EXPECT_TRUE(StreamStart(path + "?limit=abc&since=%zz", admin_).starts_with("HTTP/1.1 200"));
      continue;
    }
    if (method == "GET") {
      // A GET takes no body; hostile query values are refused or ignored, never fatal.
      auto r = Call("GET", path, wrong_types, admin_);
      EXPECT_EQ(r.status, 413) << path;
      r = Call("GET", path + "?limit=abc&tail=-1&since=x&after=-5&days=%zz&services=%00", "",
               admin_);
      EXPECT_LT(r.status, 500) << path << " " << r.body;
      ++checked;
      continue;
    }
    for (const std::string& body : bodies) {
      auto r = Call(method, path, body, admin_);
      EXPECT_GE(r.status, 400) << method << " " << path << " body " << body.substr(0, 60);
      EXPECT_LT(r.status, 500) << method << " " << path << " body " << body.substr(0, 60) << " → "
                               << r.body;
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
  ExpectStillServing();
}

// A request naming a service the project does not have is refused whole, before anything
// stops: `restart web nope` used to stop web, then fail to start "nope", leaving web down;
// `stop nope` answered 200.
TEST_F(ApiTest, AnUnknownServiceIsRefusedBeforeAnythingStops) {
  auto web_pid = [&] {
    auto r = Call("GET", "/api/v1/ps", "", admin_);
    json rows = json::parse(r.body, nullptr, false);
    for (const json& row : rows.is_array() ? rows : json::array()) {
      if (row.value("service", "") == "web") return row.value("pid", 0);
    }
    return 0;
  };
  const int before = web_pid();
  ASSERT_GT(before, 0);
  for (const char* path : {"/api/v1/stop", "/api/v1/restart", "/api/v1/start"}) {
    auto r = Call("POST", path, R"({"services":["web","nope"]})", admin_);
    EXPECT_EQ(r.status, 400) << path << " " << r.body;
    EXPECT_NE(r.body.find("no such service: \\\"nope\\\""), std::string::npos)
        << path << " " << r.body;
  }
  EXPECT_EQ(web_pid(), before) << "a refused request stopped web";
  ExpectStillServing();
}

// `logs` with a bad count is one line and exit 2, and an error answer to a stream is an
// error, not a line of output (it was printed as a log line, exit 0).
TEST_F(ApiTest, LogsRefusesABadTailInOneLine) {
  CmdResult bad = project_->Slipway({"logs", "--tail", "-5"});
  EXPECT_EQ(bad.rc, 2) << bad.out << bad.err;
  EXPECT_TRUE(bad.out.empty()) << bad.out;
  EXPECT_NE(bad.err.find("--tail"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  CmdResult ok = project_->Slipway({"logs", "--tail", "1", "web"});
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;
  ExpectStillServing();
}

TEST_F(ApiTest, RecentReleasesOfEveryServiceInOneAnswer) {
  CmdResult dep = project_->Slipway({"deploy", "web"}, 120s);
  ASSERT_EQ(dep.rc, 0) << dep.out << dep.err;
  dep = project_->Slipway({"deploy", "web"}, 120s);
  ASSERT_EQ(dep.rc, 0) << dep.out << dep.err;
  auto r = Call("GET", "/api/v1/releases?per_service=1", "", admin_);
  ASSERT_EQ(r.status, 200) << r.body;
  json rows = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << r.body;
  std::set<std::string> services;
  int64_t web = 0;
  for (const json& row : rows) {
    ASSERT_TRUE(row.is_object() && row.contains("service") && row["service"].is_string());
    EXPECT_TRUE(services.insert(row["service"].get<std::string>()).second)
        << "one row per service: " << r.body;
    if (row["service"] == "web") web = row.value("number", int64_t{0});
  }
  auto newest = Call("GET", "/api/v1/releases?service=web&limit=1", "", admin_);
  ASSERT_EQ(newest.status, 200) << newest.body;
  EXPECT_EQ(web, json::parse(newest.body).at(0).value("number", int64_t{-1})) << r.body;
  EXPECT_GE(web, 2) << r.body;
  r = Call("GET", "/api/v1/releases?per_service=2", "", admin_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).size(), services.size() + 1) << "web has two now: " << r.body;
  // Wrong types, out of range, and with a service: refused, naming the key.
  for (const std::string q :
       {"per_service=abc", "per_service=0", "per_service=101", "per_service=-1",
        "per_service=99999999999999999999", "per_service=1&service=web", "per_service=1.5"}) {
    r = Call("GET", "/api/v1/releases?" + q, "", admin_);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
    EXPECT_NE(r.body.find("per_service"), std::string::npos) << q << " " << r.body;
  }
  ExpectStillServing();
}

TEST_F(ApiTest, ADeployReusingTheLoadEnvironmentIsCheckedFirst) {
  auto load = Call("GET", "/api/v1/project/load", "", admin_);
  ASSERT_EQ(load.status, 200) << load.body;
  json l = json::parse(load.body);
  json body = {{"load",
                {{"files", l["files"]},
                 {"working_dir", l["working_dir"]},
                 {"env_files", l["env_files"]},
                 {"profiles", l["profiles"]},
                 {"project_name", l["project_name"]}}},
               {"services", {"no-such-service"}}};
  for (const json& bad : {json("yes"), json(1), json::array(), json::object()}) {
    body["reuse_environ"] = bad;
    auto r = Call("POST", "/api/v1/deploy", body.dump(), admin_);
    EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.body;
    EXPECT_NE(r.body.find("reuse_environ"), std::string::npos) << r.body;
  }
  body["reuse_environ"] = true;
  body["load"]["environ"] = {{"WEB_PORT", "1"}};
  auto r = Call("POST", "/api/v1/deploy", body.dump(), admin_);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("reuse_environ: given with load.environ"), std::string::npos) << r.body;
  // Well-formed: the project loads with the remembered environment, and the unknown service
  // is what is refused.
  body["load"].erase("environ");
  r = Call("POST", "/api/v1/deploy", body.dump(), admin_);
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("no-such-service"), std::string::npos) << r.body;
  ExpectStillServing();
}

TEST_F(ApiTest, AuthMatrixOverTcp) {
  for (const json& route : Routes()) {
    const std::string method = route["method"];
    const std::string path = Concrete(route["path"]);
    const std::string access = route["access"];
    if (access == "own-token" || access == "public") {
      continue;
    }
    if (IsStream(route)) {
      EXPECT_TRUE(StreamStart(path, "").starts_with("HTTP/1.1 401")) << path;
      EXPECT_TRUE(StreamStart(path, reader_).starts_with("HTTP/1.1 200")) << path;
      EXPECT_TRUE(StreamStart(path, admin_).starts_with("HTTP/1.1 200")) << path;
      continue;
    }
    // A body no route accepts, so an authorised mutation changes nothing.
    const std::string body = method == "GET" ? "" : "[]";
    EXPECT_EQ(Call(method, path, body, "").status, 401) << method << " " << path;
    EXPECT_EQ(Call(method, path, body, std::string(admin_.size(), 'x')).status, 401) << path;
    int as_reader = Call(method, path, body, reader_).status;
    int as_admin = Call(method, path, body, admin_).status;
    if (access == "admin" || access == "deploy") {
      EXPECT_EQ(as_reader, 403) << method << " " << path;
    } else {
      EXPECT_NE(as_reader, 401) << path;
      EXPECT_NE(as_reader, 403) << path;
    }
    EXPECT_NE(as_admin, 401) << path;
    EXPECT_NE(as_admin, 403) << path;
  }
  EXPECT_EQ(Call("GET", "/health", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/metrics", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/nope", "", "").status, 401);
  EXPECT_EQ(Call("GET", "/nope", "", reader_).status, 404);
  // DNS rebinding: a page on evil.example that resolves to 127.0.0.1.
  EXPECT_EQ(Call("GET", "/api/v1/releases", "", admin_, {{"Host", "evil.example"}}).status, 421);
  EXPECT_EQ(Call("GET", "/health", "", "", {{"Host", "evil.example:80"}}).status, 421);
  // A cross-site mutation with the token (e.g. pasted into a page) is refused too.
  const std::string host = "127.0.0.1:" + std::to_string(api_port_);
  EXPECT_EQ(Call("POST", "/api/v1/stop", R"({"services":["web"]})", admin_,
                 {{"Host", host}, {"Origin", "http://evil.example"}})
                .status,
            403);
  ExpectStillServing();
}

// Per-user tokens made with the CLI: each role gets exactly its routes, the tokens survive a
// daemon restart only as hashes, revoking one ends it at once, and every mutation lands in the
// audit trail under the token's name.
TEST_F(ApiTest, TokensWithRolesAndTheAuditTrail) {
  std::map<std::string, std::string> token;
  for (const char* role : {"viewer", "deployer", "admin"}) {
    CmdResult c = project_->Slipway({"tokens", "create", std::string("u-") + role, "--role", role});
    ASSERT_EQ(c.rc, 0) << c.out << c.err;
    token[role] = c.out.substr(0, c.out.find('\n'));
    ASSERT_EQ(token[role].size(), 68u) << c.out;
  }
  CmdResult bad = project_->Slipway({"tokens", "create", "Bad Name", "--role", "viewer"});
  EXPECT_EQ(bad.rc, 2) << bad.out << bad.err;
  // Refused by the command line's own check (cli/checks.h) before it reaches the daemon.
  EXPECT_NE(bad.err.find("name: \"Bad Name\" is not a token name"), std::string::npos) << bad.err;
  bad = project_->Slipway({"tokens", "create", "u-deployer", "--role", "viewer"});
  EXPECT_NE(bad.rc, 0);
  EXPECT_NE(bad.err.find("exists"), std::string::npos) << bad.err;
  CmdResult list = project_->Slipway({"tokens", "list"});
  ASSERT_EQ(list.rc, 0) << list.err;
  EXPECT_NE(list.out.find("u-deployer"), std::string::npos);
  EXPECT_NE(list.out.find("deployer"), std::string::npos);
  EXPECT_EQ(list.out.find(token["deployer"]), std::string::npos) << "a token is shown once";
  // The database holds hashes only.
  {
    std::ifstream db(project_->dir() / ".slipway" / "state.db", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
    for (const auto& [role, t] : token) EXPECT_EQ(bytes.find(t.substr(4)), std::string::npos);
  }

  int checked = 0;
  for (const json& route : Routes()) {
    const std::string method = route["method"];
    const std::string access = route["access"];
    if (access == "own-token" || access == "public") continue;
    const std::string path = Concrete(route["path"]);
    if (IsStream(route)) {
      const std::string start = StreamStart(path, token["viewer"]);
      EXPECT_TRUE(start.starts_with("HTTP/1.1 200")) << start;
      EXPECT_NE(start.find("event: ps"), std::string::npos) << start;
      EXPECT_NE(start.find("\"service\":\"web\""), std::string::npos) << start;
      continue;
    }
    const std::string body = method == "GET" ? "" : "[]";  // no route acts on it
    auto status = [&](const std::string& role) {
      return Call(method, path, body, token[role]).status;
    };
    const int v = status("viewer"), d = status("deployer"), a = status("admin");
    EXPECT_NE(a, 401) << path;
    EXPECT_NE(a, 403) << path;
    if (access == "read") {
      EXPECT_NE(v, 403) << path;
      EXPECT_NE(d, 403) << path;
    } else if (access == "deploy") {
      EXPECT_EQ(v, 403) << method << " " << path;
      EXPECT_NE(d, 403) << method << " " << path;
    } else {
      EXPECT_EQ(v, 403) << method << " " << path;
      EXPECT_EQ(d, 403) << method << " " << path;
    }
    ++checked;
  }
  EXPECT_GT(checked, 30);

  // A deployer rolls back (nothing to roll back to: 409, but allowed), cannot mint tokens.
  auto r = Call("POST", "/api/v1/rollback", R"({"service":"web"})", token["deployer"]);
  EXPECT_NE(r.status, 403) << r.body;
  r = Call("POST", "/api/v1/tokens", R"({"name":"mine","role":"admin"})", token["deployer"]);
  EXPECT_EQ(r.status, 403) << r.body;
  // Hostile token requests from an admin: one-line 400s.
  for (const std::string& b :
       {std::string(R"({"name":"x","role":"root"})"), std::string(R"({"name":5,"role":"viewer"})"),
        std::string(R"({"name":"x"})"), std::string(R"({"name":"x","role":"viewer","extra":1})"),
        std::string(R"({"name":")") + std::string(100, 'a') + R"(","role":"viewer"})"}) {
    r = Call("POST", "/api/v1/tokens", b, token["admin"]);
    EXPECT_EQ(r.status, 400) << b << " " << r.body;
  }
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/nobody", "", admin_).status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/%20x", "", admin_).status, 400);

  // The audit trail names the callers, never a token or a secret.
  CmdResult audit = project_->Slipway({"audit", "--format", "json", "-n", "1000"});
  ASSERT_EQ(audit.rc, 0) << audit.err;
  json rows = json::parse(audit.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << audit.out;
  bool saw_deployer_rollback = false, saw_refused_mint = false, saw_cli_create = false;
  for (const json& e : rows) {
    const std::string who = e.value("who", ""), action = e.value("action", "");
    if (who == "u-deployer" && action == "POST /api/v1/rollback" &&
        e.value("target", "") == "service=web") {
      saw_deployer_rollback = true;
    }
    if (who == "u-deployer" && action == "POST /api/v1/tokens" && e.value("status", 0) == 403) {
      saw_refused_mint = true;
    }
    if (who == "local cli" && action == "POST /api/v1/tokens" &&
        e.value("target", "").find("name=u-admin") != std::string::npos) {
      saw_cli_create = true;
    }
  }
  EXPECT_TRUE(saw_deployer_rollback) << audit.out.substr(0, 4000);
  EXPECT_TRUE(saw_refused_mint);
  EXPECT_TRUE(saw_cli_create);
  for (const auto& [role, t] : token) EXPECT_EQ(audit.out.find(t), std::string::npos);
  EXPECT_EQ(audit.out.find(kPlanted), std::string::npos);
  EXPECT_EQ(audit.out.find(admin_), std::string::npos);
  // Readable by a viewer too, filtered by caller.
  r = Call("GET", "/api/v1/audit?who=u-deployer&limit=5", "", token["viewer"]);
  ASSERT_EQ(r.status, 200) << r.body;
  json mine = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(mine.is_array());
  EXPECT_FALSE(mine.empty());
  for (const json& e : mine) EXPECT_EQ(e.value("who", ""), "u-deployer");
  EXPECT_EQ(Call("GET", "/api/v1/audit?limit=0", "", token["viewer"]).status, 400);

  // Revoked: refused at once.
  CmdResult rev = project_->Slipway({"tokens", "revoke", "u-deployer"});
  ASSERT_EQ(rev.rc, 0) << rev.err;
  EXPECT_EQ(Call("GET", "/api/v1/ps", "", token["deployer"]).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/ps", "", token["viewer"]).status, 200);
  ExpectStillServing();
}

TEST_F(ApiTest, ABodyIsRefusedFromTheHeadWithoutBeingRead) {
  // 10 announced 60 MB bodies that never come: each is answered at once.
  for (int i = 0; i < 10; ++i) {
    net::UniqueFd fd = std::move(net::ConnectTcp("127.0.0.1", api_port_)).value();
    ASSERT_TRUE(net::SetNonBlocking(fd.get(), false).ok());
    timeval tv{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string head =
        "POST /api/v1/up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000000\r\n\r\n";
    ASSERT_EQ(::send(fd.get(), head.data(), head.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(head.size()));
    char buf[512];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 12);
    EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 401");
  }
  // Authorised but over the route's limit: 413, also from the head.
  net::UniqueFd fd = std::move(net::ConnectTcp("127.0.0.1", api_port_)).value();
  ASSERT_TRUE(net::SetNonBlocking(fd.get(), false).ok());
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string head = "POST /api/v1/up HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                     admin_ + "\r\nContent-Length: 60000000\r\n\r\n";
  ASSERT_EQ(::send(fd.get(), head.data(), head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(head.size()));
  char buf[512];
  ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 413");
  std::ifstream status("/proc/" + std::to_string(daemon_pid_) + "/status");
  std::string line;
  long rss_kb = 0;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) rss_kb = std::stol(line.substr(6));
  }
  EXPECT_LT(rss_kb, 200 * 1024) << "the daemon buffered bodies it refused";
  ExpectStillServing();
}

TEST_F(ApiTest, PlantedSecretsNeverComeBackOut) {
  // A deploy with a secret --env value, so releases carry it in their specs.
  CmdResult dep =
      project_->Slipway({"deploy", "web", "--env", std::string("API_TOKEN=") + kDeployToken}, 120s);
  EXPECT_EQ(dep.rc, 0) << dep.out << dep.err;
  std::string seen;
  for (const json& route : Routes()) {
    if (route["method"] != "GET") continue;
    std::string path = Concrete(route["path"]);
    if (path == "/api/v1/logs") path += "?tail=1000";
    if (IsStream(route)) {
      seen += path + " " + StreamStart(path, admin_) + "\n";
      continue;
    }
    auto r = Call("GET", path, "", admin_);
    seen += path + " " + r.body + "\n";
  }
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"config"},
                                             {"events", "--format", "json"},
                                             {"releases", "web", "--format", "json"},
                                             {"ps", "--format", "json"}}) {
    CmdResult r = project_->Slipway(args);
    seen += r.out + r.err;
  }
  seen += ReadTrimmed(project_->dir() / ".slipway" / "logs" / "daemon.log");
  EXPECT_EQ(seen.find(kPlanted), std::string::npos) << "planted .env secret leaked";
  EXPECT_EQ(seen.find(kDeployToken), std::string::npos) << "deploy --env secret leaked";
  EXPECT_NE(seen.find("***"), std::string::npos) << "nothing was redacted at all?";
  ExpectStillServing();
}

}  // namespace
}  // namespace slipway::testing
