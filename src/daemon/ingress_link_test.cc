// IngressLink::Renew through the admin API's route (`slipway certs renew` for a project behind
// the host's ingress), against a fake ingress on its control socket that answers late: the
// daemon's loop serves other API requests while the renewal waits, and the route answers with
// what the ingress said (202, its 404, 503 when it does not answer or answers too much, 503
// when the link goes away first). One loop runs everything, as in the daemon.
#include "daemon/ingress_link.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "api/router.h"
#include "api/routes.h"
#include "http/client.h"
#include "http/server.h"
#include "ingress/ingress.h"
#include "net/socket.h"

namespace slipway::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class IngressLinkRenewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ingress_link_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::setenv("SLIPWAY_STATE_DIR", dir_.c_str(), 1);
    std::filesystem::create_directories(ingress::DefaultStateDir());
    project_.name = "shop";
    loop_ = std::move(net::EventLoop::Create()).value();
    link_ = std::make_unique<IngressLink>(
        loop_.get(), [this]() -> const config::Project& { return project_; }, nullptr,
        "/nonexistent/slipway", [](const std::string&) {});

    router_ = std::make_unique<api::Router>(api::RouterOptions{});
    api::RouteDeps deps;
    deps.certs = [this]() -> std::optional<std::vector<acme::CertStatusRow>> {
      ++certs_served_;
      return std::vector<acme::CertStatusRow>{};
    };
    deps.renew_cert = [this](const std::string& name, std::function<void(Status)> done) {
      if (!link_) return done(Unavailable("no link"));
      link_->Renew(name, std::move(done));
    };
    api::RegisterCertsRoutes(*router_, deps);
    auto fd = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok());
    port_ = *net::LocalPort(fd->get());
    api_ = std::move(http::HttpServer::Create(
                         loop_.get(), std::move(fd).value(),
                         [this](const http::Request& r, http::ResponseWriter w) {
                           router_->Dispatch(r, std::move(w), api::Channel::kUnix);
                         },
                         router_->ServerOptionsFor(api::Channel::kUnix)))
               .value();
  }
  void TearDown() override {
    loop_->Post([this] {
      api_.reset();
      ingress_.reset();
      link_.reset();
    });
    loop_->Stop();
    if (thread_.joinable()) thread_.join();
    ::unsetenv("SLIPWAY_STATE_DIR");
    std::filesystem::remove_all(dir_);
  }

  // The fake ingress: answers POST /v1/renew after `delay` with `status` and `body`.
  void StartIngress(Duration delay, int status, std::string body) {
    auto fd = net::ListenUnix(ingress::ControlSocketPath(ingress::DefaultStateDir()).string());
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    ingress_ =
        std::move(http::HttpServer::Create(
                      loop_.get(), std::move(fd).value(),
                      [this, delay, status, body](const http::Request& r, http::ResponseWriter w) {
                        renew_body_ = r.body;
                        ++renews_asked_;
                        auto held = std::make_shared<http::ResponseWriter>(std::move(w));
                        loop_->RunAfter(delay, [held, status, body] {
                          held->Send(http::Response::Text(status, body, "application/json"));
                        });
                      }))
            .value();
  }
  void Run() {
    thread_ = std::thread([this] { loop_->Run(); });
  }
  http::ClientResponse Call(const std::string& method, const std::string& target,
                            const std::string& body = "") {
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    auto r = http::Fetch({"127.0.0.1", port_, "", nullptr, ""}, req, Duration(10'000));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  std::filesystem::path dir_;
  config::Project project_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<IngressLink> link_;
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<http::HttpServer> api_, ingress_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> certs_served_{0}, renews_asked_{0};
  std::string renew_body_;  // loop thread; read once the renew was answered
};

TEST_F(IngressLinkRenewTest, TheLoopServesOtherRequestsWhileTheIngressAnswersLate) {
  StartIngress(Duration(800), 202, R"({"renewing":true})");
  Run();
  http::ClientResponse renew;
  std::atomic<bool> renew_done{false};
  const auto start = Clock::now();
  std::thread renewer([&] {
    renew = Call("POST", "/api/v1/certs/renew", R"({"name":"shop.example.com"})");
    renew_done = true;
  });
  // The ingress holds the renew; meanwhile another API request is answered at once.
  const auto asked_deadline = Clock::now() + 5s;
  while (renews_asked_ == 0 && Clock::now() < asked_deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(renews_asked_.load(), 1);
  const auto before_other = Clock::now();
  http::ClientResponse other = Call("GET", "/api/v1/certs");
  const auto other_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - before_other).count();
  const bool renew_pending_then = !renew_done;
  renewer.join();
  const auto renew_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  std::printf(
      "renew through a fake ingress answering after 800 ms: answered after %lld ms; "
      "GET /api/v1/certs meanwhile took %lld ms\n",
      static_cast<long long>(renew_ms), static_cast<long long>(other_ms));
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(certs_served_.load(), 1);
  EXPECT_TRUE(renew_pending_then) << "the other request waited for the renew";
  EXPECT_LT(other_ms, 600);
  EXPECT_EQ(renew.status, 202) << renew.body;
  EXPECT_NE(renew.body.find("\"renewing\":true"), std::string::npos) << renew.body;
  EXPECT_GE(renew_ms, 800);
  EXPECT_NE(renew_body_.find("\"project\":\"shop\""), std::string::npos) << renew_body_;
  EXPECT_NE(renew_body_.find("\"name\":\"shop.example.com\""), std::string::npos) << renew_body_;
}

TEST_F(IngressLinkRenewTest, TheIngressRefusalIsTheAnswer) {
  StartIngress(Duration(50), 404,
               R"({"error":"project shop orders no certificates here for other.example.com"})");
  Run();
  http::ClientResponse r = Call("POST", "/api/v1/certs/renew", R"({"name":"other.example.com"})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("the host's ingress: project shop orders no certificates here"),
            std::string::npos)
      << r.body;
}

TEST_F(IngressLinkRenewTest, AnOversizedOrMissingAnswerIsUnavailable) {
  StartIngress(Duration(0), 202, std::string(200 * 1024, 'x'));
  Run();
  http::ClientResponse r = Call("POST", "/api/v1/certs/renew", R"({"name":"shop.example.com"})");
  EXPECT_EQ(r.status, 503) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find("its answer is refused"), std::string::npos) << r.body.substr(0, 200);
  EXPECT_LT(r.body.size(), 1000u);
  // No ingress at all: one line, 503, quickly.
  std::atomic<bool> gone{false};
  loop_->Post([&] {
    ingress_.reset();
    std::filesystem::remove(ingress::ControlSocketPath(ingress::DefaultStateDir()));
    gone = true;
  });
  const auto deadline = Clock::now() + 5s;
  while (!gone && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(gone);
  r = Call("POST", "/api/v1/certs/renew", R"({"name":"shop.example.com"})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("the host's ingress does not answer"), std::string::npos) << r.body;
}

TEST_F(IngressLinkRenewTest, HostileRenewBodiesAreRefusedAndReachNoIngress) {
  StartIngress(Duration(0), 202, "{}");
  Run();
  for (const std::string& body :
       {std::string("{"), std::string(R"({"name":5})"), std::string(R"({"name":"a","force":true})"),
        std::string(R"({"name":")") + std::string(300, 'a') + "\"}"}) {
    http::ClientResponse r = Call("POST", "/api/v1/certs/renew", body);
    EXPECT_EQ(r.status, 400) << body.substr(0, 40) << " → " << r.body;
  }
  EXPECT_EQ(renews_asked_.load(), 0);
}

TEST_F(IngressLinkRenewTest, ALinkDestroyedWhileWaitingStillAnswers) {
  StartIngress(Duration(600), 202, "{}");
  Run();
  http::ClientResponse renew;
  std::thread renewer(
      [&] { renew = Call("POST", "/api/v1/certs/renew", R"({"name":"shop.example.com"})"); });
  const auto deadline = Clock::now() + 5s;
  while (renews_asked_ == 0 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(renews_asked_.load(), 1);
  loop_->Post([this] { link_.reset(); });  // the daemon stopping
  renewer.join();
  EXPECT_EQ(renew.status, 503) << renew.body;
  EXPECT_NE(renew.body.find("the daemon is stopping"), std::string::npos) << renew.body;
}

}  // namespace
}  // namespace slipway::daemon
