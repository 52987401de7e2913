#include "scrape/scraper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "http/server.h"
#include "net/socket.h"
#include "promql/evaluator.h"
#include "promql/parser.h"

namespace slipway::scrape {
namespace {

using promql::ExpositionSample;
using promql::Labels;

TEST(AddTargetLabels, ConflictsBecomeExportedLabels) {
  std::vector<ExpositionSample> s = {
      {{{"__name__", "m"}, {"instance", "7"}, {"job", "theirs"}, {"exported_job", "x"}}, 1},
      {{{"__name__", "n"}}, 2}};
  AddTargetLabels({{"instance", "127.0.0.1:1"}, {"job", "app"}}, &s);
  EXPECT_EQ(promql::LabelsToString(s[0].labels),
            "m{exported_exported_job=\"theirs\", exported_instance=\"7\", exported_job=\"x\", "
            "instance=\"127.0.0.1:1\", job=\"app\"}");
  EXPECT_EQ(promql::LabelsToString(s[1].labels), "n{instance=\"127.0.0.1:1\", job=\"app\"}");
}

// A target served by the project's own HttpServer on the test's loop.
class ScraperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok());
    port_ = net::LocalPort(fd->get()).value();
    auto server = http::HttpServer::Create(
        loop_.get(), std::move(fd).value(),
        [this](const http::Request& req, http::ResponseWriter w) {
          ++requests_;
          w.Send(http::Response::Text(status_, body_, "text/plain; version=0.0.4"));
        },
        http::ServerOptions{});
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    config::ScrapeTarget t;
    t.name = "exporter";
    t.host = "127.0.0.1";
    t.port = port_;
    t.interval = Duration(1000);
    t.timeout = Duration(500);
    project_.scrape.targets.push_back(t);
    Scraper::Options o;
    o.loop = loop_.get();
    o.store = &store_;
    o.registry = &registry_;
    o.project = [this]() -> const config::Project& { return project_; };
    o.max_body = 4096;
    o.limits.max_samples = 10;
    o.tick = Duration(20);
    scraper_ = std::make_unique<Scraper>(std::move(o));
    scraper_->Start();
  }

  // Runs the loop until `n` more scrapes were answered and ingested (bounded: 5 s).
  void Scrapes(int n) {
    const int target = requests_ + n;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (requests_ < target && std::chrono::steady_clock::now() < deadline) {
      loop_->RunOnce(Duration(50));
    }
    ASSERT_GE(requests_, target);
    for (int i = 0; i < 10; ++i) loop_->RunOnce(Duration(10));  // the answer's ingest
  }

  double Value(const std::string& expr) {
    auto e = promql::Parse(expr);
    EXPECT_TRUE(e.ok()) << expr;
    auto v = promql::Evaluate(**e, store_, Clock::Real()->WallMillis());
    EXPECT_TRUE(v.ok());
    if (!v.ok() || v->vector.size() != 1) return -1;
    return v->vector[0].value;
  }

  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  int requests_ = 0;
  int status_ = 200;
  std::string body_ = "# TYPE jobs_total counter\njobs_total{job=\"theirs\"} 5\nqueue 3\n";
  config::Project project_;
  promql::SeriesStore store_;
  telemetry::Registry registry_;
  std::unique_ptr<Scraper> scraper_;
};

TEST_F(ScraperTest, ScrapesLabelsAndWritesUpAndScrapeSeries) {
  Scrapes(1);
  EXPECT_EQ(Value("up{job=\"exporter\"}"), 1);
  EXPECT_EQ(Value("jobs_total{exported_job=\"theirs\", job=\"exporter\"}"), 5);
  EXPECT_EQ(Value("queue{instance=\"127.0.0.1:" + std::to_string(port_) + "\"}"), 3);
  EXPECT_EQ(Value("scrape_samples_scraped"), 2);
  EXPECT_GE(Value("scrape_duration_seconds"), 0);
  EXPECT_EQ(scraper_->TargetsJson()["activeTargets"][0]["health"], "up");
  // A series the target stops exposing is stale at once.
  body_ = "queue 4\n";
  Scrapes(1);
  EXPECT_EQ(Value("count(jobs_total)"), -1);  // no series at all
  EXPECT_EQ(Value("queue"), 4);
}

TEST_F(ScraperTest, HostileAnswersFailTheScrapeNotTheDaemon) {
  Scrapes(1);
  EXPECT_EQ(Value("up"), 1);
  const std::vector<std::pair<int, std::string>> answers = {
      {200, std::string(5000, 'x')},                                       // over max_body
      {200, "a 1\nb 2\nc 3\nd 4\ne 5\nf 6\ng 7\nh 8\ni 9\nj 10\nk 11\n"},  // over 10 samples
      {200, "bad{ 1\n"},                                                   // not the format
      {500, "queue 1\n"},                                                  // not 200
  };
  for (const auto& [status, body] : answers) {
    status_ = status;
    body_ = body;
    Scrapes(1);
    EXPECT_EQ(Value("up"), 0) << body.substr(0, 20);
    EXPECT_EQ(Value("count(queue)"), -1) << "stale after a failed scrape";
    const nlohmann::json all = scraper_->TargetsJson();
    const nlohmann::json& t = all["activeTargets"][0];
    EXPECT_EQ(t["health"], "down");
    EXPECT_FALSE(t["lastError"].get<std::string>().empty());
  }
  status_ = 200;
  body_ = "queue 1\n";
  Scrapes(1);
  EXPECT_EQ(Value("up"), 1);
  EXPECT_NE(registry_.RenderPrometheus().find(
                "slipway_scrapes_total{job=\"exporter\",result=\"failed\"} 4"),
            std::string::npos)
      << registry_.RenderPrometheus();
}

TEST_F(ScraperTest, ATargetThatLeavesGoesStale) {
  Scrapes(1);
  EXPECT_EQ(Value("up"), 1);
  project_.scrape.targets.clear();
  scraper_->Refresh();
  EXPECT_EQ(scraper_->target_count(), 0u);
  EXPECT_EQ(Value("count(up)"), -1);
}

}  // namespace
}  // namespace slipway::scrape
