#include "flags/ofrep_handler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "http/client.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "store/store.h"

namespace slipway::flags {
namespace {

const char* kFlags = R"({"flags": {
  "beta": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
           "targeting": {"if": [{"ends_with": [{"var": "email"}, "@corp.io"]}, "on", null]}},
  "color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "red"},
  "limits": {"state": "ENABLED", "variants": {"small": {"rps": 10}}, "defaultVariant": "small"},
  "off": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "nodefault": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": null},
  "broken": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
             "targeting": {"cat": ["x"]}},
  "mixed": {"state": "ENABLED", "variants": {"n": 1, "s": "x"}, "defaultVariant": "n",
            "targeting": {"if": [{"var": "s"}, "s", null]}},
  "unparsed": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
               "targeting": {"if": [{"$ref": "missing"}, "a", null]}}}})";

// A FlagService behind OfrepHandler on a real loopback listener, with the
// loop on its own thread. The test thread talks HTTP only, or runs code on the loop via OnLoop.
class OfrepTest : public ::testing::Test {
 protected:
  void Start(OfrepOptions opts) {
    dir_ = std::filesystem::temp_directory_path() /
           ("ofrep_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto st = store::Store::Open(dir_ / "state.db", Clock::Real());
    ASSERT_TRUE(st.ok());
    store_ = std::move(st).value();
    auto svc = FlagService::Open(store_.get(), Clock::Real());
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    ASSERT_TRUE(svc_->Seed("default", Json::parse(kFlags), "test").ok());
    Json prod = Json::parse(kFlags);
    prod["flags"]["color"]["defaultVariant"] = "blue";
    ASSERT_TRUE(svc_->Seed("prod", prod, "test").ok());
    ofrep_ = std::make_unique<OfrepHandler>(svc_.get(), std::move(opts));
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok());
    port_ = *net::LocalPort(fd->get());
    auto server = http::HttpServer::Create(loop_.get(), std::move(fd).value(),
                                           [this](const http::Request& r, http::ResponseWriter w) {
                                             ofrep_->Handle(r, std::move(w));
                                           });
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    thread_ = std::thread([this] { loop_->Run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      loop_->Post([this] { server_.reset(); });
      loop_->Stop();
      thread_.join();
    }
    ofrep_.reset();
    svc_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  http::ClientResponse Call(const std::string& method, const std::string& target,
                            const std::string& body, http::HeaderList headers = {}) {
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = std::move(headers);
    req.headers.emplace_back("Host", "127.0.0.1");
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    auto r = http::Fetch({"127.0.0.1", port_, "", nullptr, ""}, req, Duration(5000));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }
  Json Eval(const std::string& key, const std::string& body = "{}", http::HeaderList h = {}) {
    auto r = Call("POST", "/ofrep/v1/evaluate/flags/" + key, body, std::move(h));
    last_status_ = r.status;
    return Json::parse(r.body, nullptr, false);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FlagService> svc_;
  std::unique_ptr<OfrepHandler> ofrep_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  int last_status_ = 0;
};

TEST_F(OfrepTest, SingleEvaluations) {
  Start({});
  Json j = Eval("beta", R"({"context": {"targetingKey": "u1", "email": "a@corp.io"}})");
  EXPECT_EQ(last_status_, 200);
  EXPECT_EQ(j, Json::parse(R"({"key": "beta", "reason": "TARGETING_MATCH", "variant": "on",
                              "value": true, "metadata": {}})"));
  j = Eval("beta", R"({"context": {"email": "a@x.io"}})");
  EXPECT_EQ(j["reason"], "DEFAULT");
  EXPECT_EQ(j["value"], false);
  j = Eval("color", "");  // no body, no context, no targeting key: accepted
  EXPECT_EQ(j["reason"], "STATIC");
  EXPECT_EQ(j["value"], "#f00");
  EXPECT_EQ(Eval("limits")["value"], Json::parse(R"({"rps": 10})"));
  j = Eval("off");
  EXPECT_EQ(last_status_, 200);
  EXPECT_EQ(j["reason"], "DISABLED");
  EXPECT_FALSE(j.contains("value"));  // the SDK uses the caller's default
  j = Eval("nodefault");
  EXPECT_EQ(last_status_, 200);
  EXPECT_EQ(j["reason"], "DEFAULT");
  EXPECT_FALSE(j.contains("value"));
}

TEST_F(OfrepTest, ErrorsAndStatuses) {
  Start({});
  Json j = Eval("nope");
  EXPECT_EQ(last_status_, 404);
  EXPECT_EQ(j["errorCode"], "FLAG_NOT_FOUND");
  EXPECT_EQ(j["key"], "nope");
  j = Eval("beta", "{not json");
  EXPECT_EQ(last_status_, 400);
  EXPECT_EQ(j["errorCode"], "PARSE_ERROR");
  j = Eval("beta", R"({"context": [1]})");
  EXPECT_EQ(last_status_, 400);
  EXPECT_EQ(j["errorCode"], "INVALID_CONTEXT");
  j = Eval("broken");
  EXPECT_EQ(last_status_, 400);
  EXPECT_EQ(j["errorCode"], "GENERAL");
  // Flags flagd loads although its schema forbids them answer as flagd's OFREP does.
  j = Eval("unparsed");
  EXPECT_EQ(last_status_, 400);
  EXPECT_EQ(j["errorCode"], "PARSE_ERROR");
  EXPECT_FALSE(j.contains("value"));
  j = Eval("mixed", R"({"context": {"s": true}})");
  EXPECT_EQ(last_status_, 200);
  EXPECT_EQ(j["value"], "x");
  EXPECT_EQ(j["reason"], "TARGETING_MATCH");
  auto r = Call("GET", "/ofrep/v1/evaluate/flags/beta", "");
  EXPECT_EQ(r.status, 405);
  ASSERT_NE(r.Header("Content-Type"), nullptr);
  EXPECT_EQ(*r.Header("Content-Type"), "application/json");
}

TEST_F(OfrepTest, BulkWithETagAnd304) {
  Start({});
  auto r = Call("POST", "/ofrep/v1/evaluate/flags", R"({"context": {"targetingKey": "u"}})",
                {{"Origin", "http://app.local"}});
  ASSERT_EQ(r.status, 200);
  Json j = Json::parse(r.body);
  std::set<std::string> keys;
  for (const Json& f : j["flags"]) keys.insert(f["key"]);
  // Every flag is listed; disabled ones and ones without a value have no `value`.
  EXPECT_EQ(keys, (std::set<std::string>{"beta", "broken", "color", "limits", "mixed", "nodefault",
                                         "off", "unparsed"}));
  for (const Json& f : j["flags"]) {
    if (f["key"] == "off") {
      EXPECT_EQ(f["reason"], "DISABLED");
      EXPECT_FALSE(f.contains("value")) << f;
    }
    if (f["key"] == "nodefault") {
      EXPECT_EQ(f["reason"], "DEFAULT");
      EXPECT_FALSE(f.contains("value")) << f;
    }
  }
  // In bulk, flagd reads a flag as its default variant's type: the string variant of "mixed"
  // is a type mismatch there (GENERAL); its default, a number, is answered.
  auto typed = Call("POST", "/ofrep/v1/evaluate/flags", R"({"context": {"s": 1}})");
  const Json typed_answer = Json::parse(typed.body);
  for (const Json& f : typed_answer.at("flags")) {
    if (f["key"] == "mixed") {
      EXPECT_EQ(f["errorCode"], "GENERAL") << f;
    }
    if (f["key"] == "unparsed") {
      EXPECT_EQ(f["errorCode"], "PARSE_ERROR") << f;
    }
  }
  for (const Json& f : j["flags"]) {
    if (f["key"] == "mixed") {
      EXPECT_EQ(f["value"], 1) << f;
    }
  }
  ASSERT_NE(r.Header("ETag"), nullptr);
  const std::string etag = *r.Header("ETag");
  EXPECT_EQ(*r.Header("Access-Control-Allow-Origin"), "http://app.local");
  EXPECT_EQ(*r.Header("Access-Control-Expose-Headers"), "ETag");
  auto again = Call("POST", "/ofrep/v1/evaluate/flags", R"({"context": {"targetingKey": "u"}})",
                    {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  // A change makes a new body, so a new ETag and a 200.
  std::promise<Status> done;
  loop_->Post([&] { done.set_value(svc_->SetEnabled("default", "color", false, {"t", ""})); });
  ASSERT_TRUE(done.get_future().get().ok());
  auto changed = Call("POST", "/ofrep/v1/evaluate/flags", R"({"context": {"targetingKey": "u"}})",
                      {{"If-None-Match", etag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(*changed.Header("ETag"), etag);
}

TEST_F(OfrepTest, CorsPreflight) {
  Start({{{"secret", "*"}}});
  auto r = Call("OPTIONS", "/ofrep/v1/evaluate/flags", "", {{"Origin", "http://app.local"}});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(*r.Header("Access-Control-Allow-Origin"), "http://app.local");
  EXPECT_NE(r.Header("Access-Control-Allow-Headers")->find("X-API-Key"), std::string::npos);
}

TEST_F(OfrepTest, ReadTokensAndEnvironments) {
  OfrepOptions opts;
  opts.tokens = {{"any-env", "*"}, {"prod-only", "prod"}};
  Start(opts);
  Eval("color");
  EXPECT_EQ(last_status_, 401);
  Eval("color", "{}", {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(last_status_, 401);
  EXPECT_EQ(Eval("color", "{}", {{"Authorization", "Bearer any-env"}})["value"], "#f00");
  EXPECT_EQ(
      Eval("color", "{}", {{"X-API-Key", "any-env"}, {"X-Slipway-Environment", "prod"}})["value"],
      "#00f");
  EXPECT_EQ(Eval("color", "{}", {{"X-API-Key", "prod-only"}})["value"], "#00f");
  Eval("color", "{}", {{"X-API-Key", "prod-only"}, {"X-Slipway-Environment", "default"}});
  EXPECT_EQ(last_status_, 403);
}

TEST_F(OfrepTest, RateLimitAnswers429WithRetryAfter) {
  OfrepOptions opts;
  opts.rate_per_second = 0.001;
  opts.burst = 3;
  Start(opts);
  for (int i = 0; i < 3; ++i) {
    Eval("color");
    EXPECT_EQ(last_status_, 200);
  }
  auto r = Call("POST", "/ofrep/v1/evaluate/flags/color", "{}");
  EXPECT_EQ(r.status, 429);
  ASSERT_NE(r.Header("Retry-After"), nullptr);
}

}  // namespace
}  // namespace slipway::flags

namespace slipway::flags {
namespace {

// The hand-written answer text is byte-for-byte what dumping EvaluationJson gives, for
// successes, no-value answers and errors, with keys and messages that need escaping.
TEST(OfrepText, MatchesTheJsonLibrary) {
  auto set = FlagSet::Parse(Json::parse(kFlags), "");
  ASSERT_TRUE(set.ok()) << set.status().message();
  const Json ctxs[] = {Json::object(), Json{{"email", "a@corp.io"}}};
  std::vector<std::pair<std::string, Evaluation>> cases;
  for (const Json& ctx : ctxs) {
    for (const auto& [key, f] : (*set)->flags()) cases.emplace_back(key, f->Evaluate(ctx, 0));
  }
  for (std::string key :
       {"missing", "quo\"te", "back\\slash", "ctl\x01\n\t", "\xc3\xa9t\xc3\xa9"}) {
    cases.emplace_back(key, (*set)->Evaluate(key, Json::object(), 0));
  }
  Evaluation bare;  // nothing serialised beforehand: the writer dumps what it is given
  bare.reason = Reason::kTargetingMatch;
  static const Json kValue = Json::parse(R"({"a": [1, 2.5, "x\u0000y"], "b": null})");
  static const std::string kVariant = "v\"1";
  bare.value = &kValue;
  bare.variant = &kVariant;
  cases.emplace_back("bare", bare);
  cases.emplace_back("bare-no-metadata", Evaluation{});
  for (const auto& [key, e] : cases) {
    std::string text;
    AppendEvaluationJson(key, e, &text);
    EXPECT_EQ(text, EvaluationJson(key, e).dump()) << key;
  }
  // Invalid UTF-8 in a key (it comes from the URL) is replaced, not thrown on.
  std::string text;
  AppendEvaluationJson("bad\xff", (*set)->Evaluate("bad\xff", Json::object(), 0), &text);
  EXPECT_TRUE(Json::accept(text)) << text;
}

}  // namespace
}  // namespace slipway::flags
