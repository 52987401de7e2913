#include "api/router.h"

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/fields.h"
#include "http/client.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::api {
namespace {

constexpr char kAdmin[] = "admin-token-0123456789abcdef0123456789";
constexpr char kReader[] = "read-token-0123456789abcdef01234567890";

struct BumpRequest {
  std::string id;
  int64_t by = 1;
  std::string note;
  static Result<BumpRequest> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    BumpRequest r;
    r.id = std::string(call.Param("id"));
    r.by = f.Int("by", 1, 1, 10, "an integer step");
    r.note = f.String("note", "a note");
    RETURN_IF_ERROR(f.Finish());
    return r;
  }
};

// A router with a handful of routes, served on 127.0.0.1 (TCP) and a unix socket by a loop on
// its own thread.
class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RouterOptions o;
    o.admin_token = kAdmin;
    o.read_token = kReader;
    o.hosts = {"ops.example.com"};
    o.on_error = [this](std::string_view route, std::string_view what) {
      std::lock_guard<std::mutex> lock(mu_);
      errors_.push_back(std::string(route) + ": " + std::string(what));
    };
    router_ = std::make_unique<Router>(std::move(o));
    router_->Add<NoInput>({Method::kGet, "/t/public", Access::kPublic}, [](NoInput, Reply r) {
      r.Json(200, {{"public", true}});
    });
    router_->Add<NoInput>({Method::kGet, "/t/items/{id}", Access::kRead}, [](NoInput, Reply r) {
      r.Json(200, {{"route", "capture"}});
    });
    router_->Add<NoInput>({Method::kGet, "/t/items/special", Access::kRead}, [](NoInput, Reply r) {
      r.Json(200, {{"route", "literal"}});
    });
    router_->Add<BumpRequest>({Method::kPost, "/t/items/{id}/bump", Access::kAdmin, kSmallBody},
                              [](BumpRequest b, Reply r) {
                                r.Json(200, {{"id", b.id}, {"by", b.by}, {"note", b.note}});
                              });
    router_->Add<NoInput>({Method::kPost, "/t/throw", Access::kAdmin, kSmallBody},
                          [](NoInput, Reply) -> void { throw std::runtime_error("boom"); });

    loop_ = std::move(net::EventLoop::Create()).value();
    auto tcp = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(tcp.ok());
    port_ = net::LocalPort(tcp->get()).value();
    unix_path_ = ::testing::TempDir() + "router_test_" + std::to_string(::getpid()) + ".sock";
    auto ux = net::ListenUnix(unix_path_);
    ASSERT_TRUE(ux.ok()) << ux.status().message();
    auto serve = [this](Channel ch) {
      return [this, ch](const http::Request& r, http::ResponseWriter w) {
        router_->Dispatch(r, std::move(w), ch);
      };
    };
    tcp_ = std::move(http::HttpServer::Create(loop_.get(), std::move(tcp).value(),
                                              serve(Channel::kTcp),
                                              router_->ServerOptionsFor(Channel::kTcp)))
               .value();
    unix_ = std::move(http::HttpServer::Create(loop_.get(), std::move(ux).value(),
                                               serve(Channel::kUnix),
                                               router_->ServerOptionsFor(Channel::kUnix)))
                .value();
    thread_ = std::thread([this] { loop_->Run(); });
  }
  void TearDown() override {
    loop_->Stop();
    thread_.join();
    tcp_.reset();
    unix_.reset();
    ::unlink(unix_path_.c_str());
  }

  http::ClientResponse Call(std::string method, std::string target, std::string body = "",
                            const char* token = nullptr, http::HeaderList headers = {},
                            bool over_unix = false) {
    http::Endpoint ep;
    if (over_unix) {
      ep.unix_path = unix_path_;
    } else {
      ep.host = "127.0.0.1";
      ep.port = port_;
    }
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    if (token) req.headers.emplace_back("Authorization", std::string("Bearer ") + token);
    auto r = http::Fetch(ep, req, Duration(5000));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  std::unique_ptr<Router> router_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> tcp_, unix_;
  std::thread thread_;
  std::string unix_path_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> errors_;  // written on the loop thread before it answers
};

TEST_F(RouterTest, AccessLevelsOverTcp) {
  EXPECT_EQ(Call("GET", "/t/public").status, 200);
  EXPECT_EQ(Call("GET", "/t/items/a").status, 401);
  EXPECT_EQ(Call("GET", "/t/items/a", "", "wrong-token").status, 401);
  EXPECT_EQ(Call("GET", "/t/items/a", "", kReader).status, 200);
  EXPECT_EQ(Call("GET", "/t/items/a", "", kAdmin).status, 200);
  EXPECT_EQ(Call("POST", "/t/items/a/bump", "{}").status, 401);
  EXPECT_EQ(Call("POST", "/t/items/a/bump", "{}", kReader).status, 403);
  EXPECT_EQ(Call("POST", "/t/items/a/bump", "{}", kAdmin).status, 200);
  // The unix socket is guarded by its file mode: no token.
  EXPECT_EQ(Call("POST", "/t/items/a/bump", "{}", nullptr, {}, /*over_unix=*/true).status, 200);
}

TEST_F(RouterTest, UnknownRoutesDoNotMapTheApiForStrangers) {
  EXPECT_EQ(Call("GET", "/nope").status, 401);
  EXPECT_EQ(Call("GET", "/nope", "", kReader).status, 404);
  auto r = Call("DELETE", "/t/items/a/bump", "", kAdmin);
  EXPECT_EQ(r.status, 405);
  ASSERT_NE(r.Header("Allow"), nullptr);
  EXPECT_EQ(*r.Header("Allow"), "POST");
}

TEST_F(RouterTest, HostMustBeTheApisOwn) {
  EXPECT_EQ(Call("GET", "/t/public", "", nullptr, {{"Host", "evil.example"}}).status, 421);
  EXPECT_EQ(Call("GET", "/t/items/a", "", kAdmin, {{"Host", "evil.example:80"}}).status, 421);
  EXPECT_EQ(Call("GET", "/t/items/a", "", kAdmin, {{"Host", "localhost:1"}}).status, 200);
  EXPECT_EQ(Call("GET", "/t/items/a", "", kAdmin, {{"Host", "[::1]:8700"}}).status, 200);
  EXPECT_EQ(Call("GET", "/t/items/a", "", kAdmin, {{"Host", "OPS.example.com"}}).status, 200);
}

TEST_F(RouterTest, MutationsFromAnotherOriginAreRefused) {
  const std::string host = "127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(Call("POST", "/t/items/a/bump", "{}", kAdmin,
                 {{"Host", host}, {"Origin", "http://evil.example"}})
                .status,
            403);
  EXPECT_EQ(
      Call("POST", "/t/items/a/bump", "{}", kAdmin, {{"Host", host}, {"Origin", "http://" + host}})
          .status,
      200);
  // Reads are not mutations.
  EXPECT_EQ(
      Call("GET", "/t/items/a", "", kAdmin, {{"Host", host}, {"Origin", "http://x.y"}}).status,
      200);
}

TEST_F(RouterTest, TypedRequestErrorsNameTheField) {
  auto r = Call("POST", "/t/items/a/bump", R"({"by":"two"})", kAdmin);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("by: expected an integer step, got a string"), std::string::npos) << r.body;
  r = Call("POST", "/t/items/a/bump", R"({"by":99999999999999999999999})", kAdmin);
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/t/items/a/bump", R"({"by":1.5})", kAdmin);
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/t/items/a/bump", R"([1,2])", kAdmin);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("expected a JSON object, got an array"), std::string::npos);
  r = Call("POST", "/t/items/a/bump", "{\"note\":\"\xff\xfe\"}", kAdmin);
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/t/items/a/bump", std::string(100, '[') + std::string(100, ']'), kAdmin);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("nested deeper"), std::string::npos);
  r = Call("POST", "/t/items/a/bump", R"({"by":3,"note":"hi"})", kAdmin);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["by"], 3);
}

TEST_F(RouterTest, BodiesAreLimitedPerRoute) {
  // A GET takes no body; a mutation at most its limit.
  EXPECT_EQ(Call("GET", "/t/items/a", "{\"actor\":1}", kAdmin).status, 413);
  EXPECT_EQ(Call("POST", "/t/items/a/bump", std::string(kSmallBody + 1, ' '), kAdmin).status, 413);
  // Refused from the head: without a token the body's size does not matter.
  EXPECT_EQ(Call("POST", "/t/items/a/bump", std::string(kSmallBody + 1, ' ')).status, 401);
}

TEST_F(RouterTest, PathParamsAreDecodedAndLiteralsWin) {
  auto r = Call("GET", "/t/items/special", "", kReader);
  EXPECT_EQ(nlohmann::json::parse(r.body)["route"], "literal");
  r = Call("GET", "/t/items/other", "", kReader);
  EXPECT_EQ(nlohmann::json::parse(r.body)["route"], "capture");
  r = Call("POST", "/t/items/a%2Fb%20c/bump", "{}", kAdmin);
  EXPECT_EQ(nlohmann::json::parse(r.body)["id"], "a/b c");
  EXPECT_EQ(Call("POST", "/t/items/%zz/bump", "{}", kAdmin).status, 404);
  EXPECT_EQ(Call("POST", "/t/items/%00/bump", "{}", kAdmin).status, 404);
}

TEST_F(RouterTest, AnExceptionIsA500AndTheServerGoesOn) {
  auto r = Call("POST", "/t/throw", "{}", kAdmin);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("boom"), std::string::npos) << "details stay in the log";
  EXPECT_EQ(Call("GET", "/t/public").status, 200);
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0], "/t/throw: boom");
}

TEST_F(RouterTest, EveryRouteParsesHostileBodiesWithoutThrowing) {
  const std::string hostile[] = {
      "",        "{",           "null",         "[]",           "\"str\"",
      "{\"a\":", "{\"by\":{}}", "{\"by\":[1]}", "{\"note\":1}", "{\"by\":-1e309}",
      "\xc3\x28"};
  for (const Route& route : router_->routes()) {
    for (const std::string& body : hostile) {
      http::Request req;
      req.target = route.pattern;
      req.body = body;
      RouteCall call{req, Channel::kUnix, Role::kAdmin, {{"id", "x"}}};
      EXPECT_NO_THROW((void)route.parse(call)) << route.pattern << " " << body;
    }
  }
}

}  // namespace
}  // namespace slipway::api
