// End to end through a real Alertmanager (Debian's prometheus-alertmanager) on loopback:
// the Notifier posts a firing alert to /api/v2/alerts, Alertmanager routes it to a webhook
// receiver served by this test.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "alerts/notifier.h"
#include "base/test_require.h"
#include "http/client.h"
#include "http/server.h"
#include "net/socket.h"

namespace slipway::alerts {
namespace {

using nlohmann::json;

constexpr char kAm[] = "/usr/bin/prometheus-alertmanager";

int FreePort() {
  auto fd = net::ListenTcp("127.0.0.1", 0);
  return fd.ok() ? *net::LocalPort(fd->get()) : 0;
}

TEST(Alertmanager, RealAlertmanagerDeliversToTheWebhookSink) {
  SLIPWAY_REQUIRE(::access(kAm, X_OK) == 0, "prometheus-alertmanager");
  auto loop = std::move(net::EventLoop::Create()).value();
  std::vector<json> received;
  auto fd = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(fd.ok());
  int sink_port = *net::LocalPort(fd->get());
  auto server = http::HttpServer::Create(loop.get(), std::move(fd).value(),
                                         [&](const http::Request& r, http::ResponseWriter w) {
                                           received.push_back(json::parse(r.body, nullptr, false));
                                           w.Send(http::Response::Text(200, "ok"));
                                         });
  ASSERT_TRUE(server.ok());

  char tmpl[] = "/tmp/slipway-am-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::filesystem::path dir = tmpl;
  std::ofstream(dir / "am.yml") << "route:\n  receiver: sink\n  group_by: [alertname]\n"
                                   "  group_wait: 1s\n  group_interval: 1s\n"
                                   "receivers:\n  - name: sink\n    webhook_configs:\n"
                                   "      - url: http://127.0.0.1:"
                                << sink_port << "/am\n";
  const int am_port = FreePort();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string log = (dir / "am.log").string();
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    std::string cfg = "--config.file=" + (dir / "am.yml").string();
    std::string storage = "--storage.path=" + (dir / "data").string();
    std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(am_port);
    ::execl(kAm, kAm, cfg.c_str(), storage.c_str(), listen.c_str(),
            "--cluster.listen-address=", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Reap {
    pid_t pid;
    std::filesystem::path dir;
    ~Reap() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } reap{pid, dir};

  // Ready within 20 s.
  http::Endpoint am{"127.0.0.1", am_port, "", nullptr, ""};
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    http::Request req;
    req.target = "/-/ready";
    auto r = http::Fetch(am, req, Duration(1000));
    ready = r.ok() && r->status == 200;
    if (!ready) ::usleep(100'000);
  }
  ASSERT_TRUE(ready) << "alertmanager did not become ready";

  config::NotificationSettings s;
  s.route.receiver = "am";
  s.route.group_wait = Duration(0);
  s.receivers.push_back({"am", config::ReceiverSpec::Kind::kAlertmanager,
                         "http://127.0.0.1:" + std::to_string(am_port), 10, Duration(5000)});
  Notifier::Options o;
  o.loop = loop.get();
  o.external_url = "http://127.0.0.1:1/";
  auto n = Notifier::Create(s, o);
  ASSERT_TRUE(n.ok()) << n.status().message();
  Alert a;
  a.rule = "SlipwayServiceUnhealthy";
  a.labels = {
      {"alertname", "SlipwayServiceUnhealthy"}, {"service", "api"}, {"severity", "critical"}};
  a.annotations = {{"summary", "api is unhealthy"}};
  a.state = AlertState::kFiring;
  a.active_ms = Clock::Real()->WallMillis();
  a.fingerprint = Fingerprint(a.labels);
  (*n)->Update({a});

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (received.empty() && std::chrono::steady_clock::now() < deadline) {
    (*n)->Tick();
    loop->RunOnce(Duration(100));
  }
  ASSERT_FALSE(received.empty()) << "nothing delivered; notifier: " << (*n)->Status().dump();
  EXPECT_EQ((*n)->Status()["receivers"][0]["sent"], 1);
  const json& got = received[0];
  EXPECT_EQ(got["status"], "firing");
  ASSERT_EQ(got["alerts"].size(), 1u);
  EXPECT_EQ(got["alerts"][0]["labels"]["service"], "api");
  EXPECT_EQ(got["alerts"][0]["annotations"]["summary"], "api is unhealthy");
}

}  // namespace
}  // namespace slipway::alerts
