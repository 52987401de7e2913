// The Prometheus query routes (api/query_routes.cc) over a real SeriesStore, served by a real
// loop: a long range query is computed in slices, so requests that arrive meanwhile are
// answered first, and slicing does not change the answer.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/router.h"
#include "api/routes.h"
#include "http/client.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "promql/series_store.h"

namespace slipway::api {
namespace {

using nlohmann::json;

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kScrapeMs = 15'000;
constexpr int kScrapes = 480;  // 2 h
constexpr int kSeries = 200;

class QueryRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kScrapes; ++i) {
      std::string text;
      for (int s = 0; s < kSeries; ++s) {
        text += "app_requests_total{route=\"r" + std::to_string(s) + "\"} " +
                std::to_string(i * (s + 1)) + "\n";
      }
      ASSERT_TRUE(series_.IngestText(kStartMs + i * kScrapeMs, text).ok());
    }
    loop_ = std::move(net::EventLoop::Create()).value();
    sliced_ = Serve(loop_.get(), &sliced_port_);
    whole_ = Serve(nullptr, &whole_port_);
    stepped_ = Serve(nullptr, &stepped_port_, 30'000);
    thread_ = std::thread([this] { loop_->Run(); });
  }
  void TearDown() override {
    loop_->Post([this] { servers_.clear(); });
    loop_->Stop();
    thread_.join();
  }

  // A router whose routes slice their work on `slice_loop` (nullptr: in one go), served on the
  // test's loop either way.
  std::unique_ptr<Router> Serve(net::EventLoop* slice_loop, int* port,
                                int64_t subquery_step_ms = 60'000) {
    auto router = std::make_unique<Router>(RouterOptions{});
    RouteDeps deps;
    deps.series = &series_;
    deps.loop = slice_loop;
    deps.subquery_step_ms = subquery_step_ms;
    RegisterQueryRoutes(*router, deps);
    auto fd = net::ListenTcp("127.0.0.1", 0);
    EXPECT_TRUE(fd.ok());
    *port = *net::LocalPort(fd->get());
    Router* r = router.get();
    servers_.push_back(std::move(http::HttpServer::Create(
                                     loop_.get(), std::move(fd).value(),
                                     [r](const http::Request& req, http::ResponseWriter w) {
                                       r->Dispatch(req, std::move(w), Channel::kUnix);
                                     },
                                     r->ServerOptionsFor(Channel::kUnix)))
                           .value());
    return router;
  }

  static http::ClientResponse Get(int port, const std::string& target) {
    http::Request req;
    req.method = "GET";
    req.target = target;
    auto r = http::Fetch({"127.0.0.1", port, "", nullptr, ""}, req, Duration(120'000));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  static std::string Range(const std::string& expr, int64_t step_s) {
    return "/api/v1/query_range?query=" + expr + "&start=" + std::to_string(kStartMs / 1000) +
           "&end=" + std::to_string((kStartMs + (kScrapes - 1) * kScrapeMs) / 1000) +
           "&step=" + std::to_string(step_s);
  }

  promql::SeriesStore series_;
  std::unique_ptr<net::EventLoop> loop_;
  std::vector<std::unique_ptr<http::HttpServer>> servers_;
  std::unique_ptr<Router> sliced_, whole_, stepped_;
  int sliced_port_ = 0, whole_port_ = 0, stepped_port_ = 0;
  std::thread thread_;
};

TEST_F(QueryRoutesTest, SlicingKeepsTheAnswer) {
  const std::string q = Range("sum%20by%20(route)(rate(app_requests_total%5B5m%5D))", 60);
  http::ClientResponse sliced = Get(sliced_port_, q);
  http::ClientResponse whole = Get(whole_port_, q);
  ASSERT_EQ(sliced.status, 200) << sliced.body;
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(sliced.body, whole.body);
  json j = json::parse(sliced.body);
  ASSERT_EQ(j["data"]["result"].size(), static_cast<size_t>(kSeries));
  // 7,185 s at a 60 s step is 120 steps; at the first one the 5 minute window holds a single
  // sample, so rate() has no value there.
  EXPECT_EQ(j["data"]["result"][0]["values"].size(), 119u);
}

TEST_F(QueryRoutesTest, ALongRangeQueryLetsOtherRequestsThrough) {
  // About 7,200 steps over 200 series, 200 answered: long enough that a request sent after it
  // starts is answered while it is still being computed.
  const std::string q = Range("sum%20by%20(route)(rate(app_requests_total%5B5m%5D))", 1);
  auto slow = std::async(std::launch::async, [&] { return Get(sliced_port_, q); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  http::ClientResponse labels = Get(sliced_port_, "/api/v1/labels");
  EXPECT_EQ(labels.status, 200) << labels.body;
  EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the range query finished before the second request was answered";
  http::ClientResponse r = slow.get();
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
}

TEST_F(QueryRoutesTest, ATimedOutRangeQueryIs503) {
  const std::string q = Range("sum(rate(app_requests_total%5B5m%5D))", 1) + "&timeout=10ms";
  http::ClientResponse r = Get(sliced_port_, q);
  EXPECT_EQ(r.status, 503) << r.body.substr(0, 200);
  EXPECT_EQ(json::parse(r.body)["errorType"], "timeout");
}

// The range answer is written as text, not built as a json value: it must be what nlohmann
// writes for the same document, byte for byte (fractional times, escaped label values, NaN),
// and the same whether the steps are evaluated at once or one at a time (`or` goes step by
// step).
TEST_F(QueryRoutesTest, TheRangeAnswerIsTheJsonNlohmannWrites) {
  const int64_t base = kStartMs + (kScrapes + 10) * kScrapeMs;
  std::promise<void> ingested;
  loop_->Post([&] {
    for (int i = 0; i < 40; ++i) {
      series_.Ingest(base + i * kScrapeMs,
                     {{{{"__name__", "odd"}, {"v", "a\"b\\c\n\xc3\xa9"}}, i == 5 ? NAN : i * 0.1},
                      {{{"__name__", "odd"}, {"v", "plain"}}, -1e-7 * i}},
                     "odd");
    }
    ingested.set_value();
  });
  ingested.get_future().wait();
  const std::string range = "&start=" + std::to_string(base / 1000) +
                            ".25&end=" + std::to_string((base + 39 * kScrapeMs) / 1000) +
                            "&step=7.125";
  std::string at_once, stepped;
  for (const char* q : {"odd", "odd%20or%20odd", "sum%20by%20(v)(odd)", "nothing"}) {
    http::ClientResponse r =
        Get(whole_port_, std::string("/api/v1/query_range?query=") + q + range);
    ASSERT_EQ(r.status, 200) << q << ": " << r.body;
    EXPECT_EQ(r.body, json::parse(r.body).dump() + "\n") << q;
    if (std::string(q) == "odd") at_once = r.body;
    if (std::string(q) == "odd%20or%20odd") stepped = r.body;
  }
  EXPECT_EQ(at_once, stepped);
  EXPECT_NE(at_once.find(R"("a\"b\\c\né")"), std::string::npos) << at_once;
  EXPECT_NE(at_once.find(R"(,"NaN"])"), std::string::npos) << at_once;
}

// `@ start()` and `@ end()` in a range query are the query's start and end at every step;
// a subquery is a range vector an instant query answers as a matrix.
TEST_F(QueryRoutesTest, AtStartEndAndSubqueries) {
  // r0 grows 0, 1, 2, ... per scrape: at the start 0, at the end kScrapes - 1.
  const std::string q = Range(
      "app_requests_total%7Broute%3D%22r0%22%7D%20%40%20end()%20-%20"
      "app_requests_total%7Broute%3D%22r0%22%7D%20%40%20start()",
      600);
  http::ClientResponse r = Get(whole_port_, q);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["data"]["result"].size(), 1u) << r.body;
  const json& values = j["data"]["result"][0]["values"];
  ASSERT_GE(values.size(), 2u);
  for (const json& v : values) EXPECT_EQ(v[1], std::to_string(kScrapes - 1)) << r.body;

  const int64_t t = kStartMs + 100 * kScrapeMs + 7'000;
  r = Get(whole_port_,
          "/api/v1/query?query=app_requests_total%7Broute%3D%22r1%22%7D%5B2m%3A1m%5D"
          "&time=" +
              std::to_string(t / 1000));
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["data"]["resultType"], "matrix");
  ASSERT_EQ(j["data"]["result"].size(), 1u) << r.body;
  EXPECT_EQ(j["data"]["result"][0]["values"].size(), 2u) << r.body;

  // Nested subqueries past the per-evaluation bound: an execution error, not a stall.
  r = Get(whole_port_,
          "/api/v1/query?query=max_over_time(max_over_time(app_requests_total%5B3h%3A1s%5D)"
          "%5B1h%3A1s%5D)&time=" +
              std::to_string(t / 1000));
  EXPECT_EQ(r.status, 422) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find("subqueries would evaluate more than"), std::string::npos);
}

// A subquery without a step steps at the evaluation interval the routes were given
// (x-slipway.alerts.interval in the daemon), in instant and range queries; a written step wins.
TEST_F(QueryRoutesTest, SubqueryDefaultStepIsTheEvaluationInterval) {
  const int64_t t = kStartMs + 100 * kScrapeMs + 7'000;
  auto value = [&](int port, const std::string& q) -> std::string {
    http::ClientResponse r =
        Get(port, "/api/v1/query?query=" + q + "&time=" + std::to_string(t / 1000));
    EXPECT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || j["data"]["result"].size() != 1) return "?";
    if (j["data"]["resultType"] == "matrix") {
      return std::to_string(j["data"]["result"][0]["values"].size());
    }
    return j["data"]["result"][0]["value"][1];
  };
  const std::string nostep = "count_over_time(app_requests_total%7Broute%3D%22r1%22%7D%5B5m%3A%5D)";
  EXPECT_EQ(value(whole_port_, nostep), "5");
  EXPECT_EQ(value(stepped_port_, nostep), "10");
  EXPECT_EQ(value(stepped_port_,
                  "count_over_time(app_requests_total%7Broute%3D%22r1%22%7D%5B5m%3A1m%5D)"),
            "5");
  EXPECT_EQ(value(stepped_port_, "app_requests_total%7Broute%3D%22r1%22%7D%5B2m%3A%5D"), "4");
  http::ClientResponse r = Get(
      stepped_port_, "/api/v1/query_range?query=" + nostep + "&start=" + std::to_string(t / 1000) +
                         "&end=" + std::to_string(t / 1000 + 60) + "&step=60");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["data"]["result"].size(), 1u) << r.body;
  for (const json& v : j["data"]["result"][0]["values"]) EXPECT_EQ(v[1], "10") << r.body;
}

}  // namespace
}  // namespace slipway::api
