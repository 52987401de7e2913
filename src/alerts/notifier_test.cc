#include "alerts/notifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "http/server.h"
#include "net/socket.h"
#include "tlsclient/test_tls_server.h"

namespace slipway::alerts {
namespace {

using nlohmann::json;

// A webhook sink on loopback that fails the first `fail_first` requests with 503.
struct Sink {
  std::unique_ptr<net::EventLoop> loop;
  std::unique_ptr<http::HttpServer> server;
  int port = 0;
  int fail_first = 0;
  bool hang = false;  // never answer: requests are held open
  std::vector<http::ResponseWriter> held;
  std::vector<std::pair<std::string, json>> received;  // (target, body)
  int requests = 0;

  void Start() {
    loop = std::move(net::EventLoop::Create()).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok());
    port = *net::LocalPort(fd->get());
    auto s = http::HttpServer::Create(loop.get(), std::move(fd).value(),
                                      [this](const http::Request& r, http::ResponseWriter w) {
                                        ++requests;
                                        if (hang) {
                                          held.push_back(std::move(w));
                                          return;
                                        }
                                        if (requests <= fail_first) {
                                          w.Send(http::Response::Text(503, "down"));
                                          return;
                                        }
                                        received.emplace_back(r.target, json::parse(r.body));
                                        w.Send(http::Response::Text(200, "ok"));
                                      });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server = std::move(s).value();
  }

  // Runs the loop until `cond` holds or 5 s pass.
  bool RunUntil(const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop->RunOnce(Duration(20));
    }
    return true;
  }
};

Alert MakeAlert(const std::string& service, AlertState state, const std::string& severity) {
  Alert a;
  a.rule = "Down";
  a.labels = {{"alertname", "Down"}, {"service", service}, {"severity", severity}};
  a.annotations = {{"summary", service + " is down"}};
  a.state = state;
  a.active_ms = 1'700'000'000'000;
  a.resolved_ms = state == AlertState::kResolved ? a.active_ms + 60'000 : 0;
  a.fingerprint = Fingerprint(a.labels);
  return a;
}

config::NotificationSettings Settings(int port, int max_queue = 100) {
  config::NotificationSettings s;
  s.configured = true;
  s.route.receiver = "chat";
  s.route.group_by = std::vector<std::string>{"alertname"};
  s.route.group_wait = Duration(10'000);
  s.route.group_interval = Duration(60'000);
  s.route.repeat_interval = Duration(3'600'000);
  config::RouteSpec pager;
  pager.match["severity"] = "critical";
  pager.receiver = "hook";
  s.route.routes.push_back(pager);
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  s.receivers.push_back(
      {"chat", config::ReceiverSpec::Kind::kSlack, base + "/slack", max_queue, Duration(5000)});
  s.receivers.push_back(
      {"hook", config::ReceiverSpec::Kind::kWebhook, base + "/hook", max_queue, Duration(5000)});
  return s;
}

TEST(Notifier, GroupsRoutesAndRetriesUntilDelivered) {
  Sink sink;
  sink.fail_first = 2;
  ASSERT_NO_FATAL_FAILURE(sink.Start());
  FakeClock clock;
  telemetry::Registry reg(1);
  Notifier::Options o;
  o.clock = &clock;
  o.loop = sink.loop.get();
  o.registry = &reg;
  auto n = Notifier::Create(Settings(sink.port), o);
  ASSERT_TRUE(n.ok()) << n.status().message();
  Notifier& nt = **n;

  nt.Update({MakeAlert("api", AlertState::kFiring, "critical"),
             MakeAlert("db", AlertState::kFiring, "critical"),
             MakeAlert("web", AlertState::kFiring, "warning")});
  nt.Tick();
  sink.loop->RunOnce(Duration(50));
  EXPECT_EQ(sink.requests, 0);  // group_wait not over

  clock.AdvanceForTest(Duration(10'000));
  nt.Tick();
  // Two groups (hook: api+db, chat: web); the first two attempts fail with 503.
  ASSERT_TRUE(sink.RunUntil([&] {
    json s = nt.Status();
    return s["receivers"][0]["failed"] == 1 && s["receivers"][1]["failed"] == 1;
  }));
  EXPECT_TRUE(sink.received.empty());
  json st = nt.Status();
  EXPECT_EQ(st["receivers"][0]["failed"], 1);
  EXPECT_NE(st["receivers"][0]["last_error"].get<std::string>().find("503"), std::string::npos);

  nt.Tick();  // back-off: no retry yet
  sink.loop->RunOnce(Duration(50));
  EXPECT_EQ(sink.requests, 2);
  clock.AdvanceForTest(Duration(1000));
  nt.Tick();
  ASSERT_TRUE(sink.RunUntil([&] {
    json s = nt.Status();
    return s["receivers"][0]["sent"] == 1 && s["receivers"][1]["sent"] == 1;
  }));
  ASSERT_EQ(sink.received.size(), 2u);

  const json* hook = nullptr;
  const json* slack = nullptr;
  for (const auto& [target, body] : sink.received) {
    (target == "/hook" ? hook : slack) = &body;
  }
  ASSERT_NE(hook, nullptr);
  ASSERT_NE(slack, nullptr);
  EXPECT_EQ((*hook)["status"], "firing");
  EXPECT_EQ((*hook)["alerts"].size(), 2u);
  EXPECT_EQ((*hook)["groupLabels"]["alertname"], "Down");
  EXPECT_EQ((*hook)["commonLabels"]["severity"], "critical");
  EXPECT_EQ((*slack)["text"], "[FIRING:1] Down\n• firing web is down");
  std::string metrics = reg.RenderPrometheus();
  EXPECT_NE(metrics.find("slipway_notifications_total{receiver=\"hook\",result=\"sent\"} 1"),
            std::string::npos)
      << metrics;

  // Still firing: nothing new until the repeat interval; a resolution goes out after
  // group_interval.
  nt.Update({MakeAlert("api", AlertState::kFiring, "critical"),
             MakeAlert("db", AlertState::kResolved, "critical")});
  nt.Tick();
  sink.loop->RunOnce(Duration(50));
  EXPECT_EQ(sink.received.size(), 2u);
  clock.AdvanceForTest(Duration(60'000));
  nt.Tick();
  ASSERT_TRUE(sink.RunUntil([&] { return sink.received.size() == 3; }));
  EXPECT_EQ(sink.received[2].second["alerts"].size(), 2u);
  for (const json& a : sink.received[2].second["alerts"]) {
    EXPECT_EQ(a["status"], a["labels"]["service"] == "db" ? "resolved" : "firing") << a.dump();
  }
}

// match_re as Alertmanager reads it: Go's syntax (here a flag), anchored around the whole
// pattern, so `(?i)API|db` is "api" or "db" and not "api2".
TEST(Notifier, MatchReIsAnchoredGoSyntax) {
  Sink sink;
  ASSERT_NO_FATAL_FAILURE(sink.Start());
  FakeClock clock;
  telemetry::Registry reg(1);
  Notifier::Options o;
  o.clock = &clock;
  o.loop = sink.loop.get();
  o.registry = &reg;
  config::NotificationSettings s = Settings(sink.port);
  s.route.routes[0].match.clear();
  s.route.routes[0].match_re["service"] = "(?i)API|db";
  auto n = Notifier::Create(s, o);
  ASSERT_TRUE(n.ok()) << n.status().message();
  (*n)->Update({MakeAlert("api", AlertState::kFiring, "warning"),
                MakeAlert("db", AlertState::kFiring, "warning"),
                MakeAlert("api2", AlertState::kFiring, "warning"),
                MakeAlert("web", AlertState::kFiring, "warning")});
  (*n)->Tick();
  clock.AdvanceForTest(Duration(10'000));
  (*n)->Tick();
  ASSERT_TRUE(sink.RunUntil([&] { return sink.received.size() == 2; }));
  for (const auto& [target, body] : sink.received) {
    if (target == "/hook") {
      std::set<std::string> services;
      for (const json& a : body["alerts"]) services.insert(a["labels"]["service"]);
      EXPECT_EQ(services, (std::set<std::string>{"api", "db"})) << body.dump();
    } else {
      const std::string text = body["text"];
      EXPECT_NE(text.find("api2 is down"), std::string::npos) << text;
      EXPECT_NE(text.find("web is down"), std::string::npos) << text;
      EXPECT_EQ(text.find("db is down"), std::string::npos) << text;
    }
  }
  s.route.routes[0].match_re["service"] = "(a)\\1";  // a back-reference: not Go's
  auto bad = Notifier::Create(s, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("route match_re service: invalid regular expression"),
            std::string::npos)
      << bad.status().message();
}

TEST(Notifier, QueueIsBoundedWhileAReceiverIsDown) {
  Sink sink;
  sink.fail_first = 1'000'000;
  ASSERT_NO_FATAL_FAILURE(sink.Start());
  FakeClock clock;
  Notifier::Options o;
  o.clock = &clock;
  o.loop = sink.loop.get();
  auto n = Notifier::Create(Settings(sink.port, /*max_queue=*/3), o);
  ASSERT_TRUE(n.ok());
  for (int i = 0; i < 20; ++i) {
    (*n)->SendEvent({{"alertname", "Deploy"}, {"severity", "critical"}},
                    "deploy " + std::to_string(i));
    clock.AdvanceForTest(Duration(61'000));
    (*n)->Tick();
    sink.RunUntil([&] { return (*n)->Status()["receivers"][1]["failed"].get<int>() > 0; });
  }
  json st = (*n)->Status();
  EXPECT_LE(st["receivers"][1]["queue"].get<int>(), 3);
  EXPECT_GE(st["receivers"][1]["dropped"].get<int>(), 15);
  EXPECT_EQ(st["receivers"][1]["sent"], 0);
  EXPECT_EQ(st["groups"], 0);  // events are sent once and forgotten
}

// A receiver that accepts the connection but never answers fails each attempt after its own
// `timeout` (200 ms here), not the built-in 10 s: the sink would hold it well past the 5 s
// this test waits.
TEST(Notifier, AReceiverThatNeverAnswersFailsAfterItsTimeout) {
  Sink sink;
  sink.hang = true;
  ASSERT_NO_FATAL_FAILURE(sink.Start());
  FakeClock clock;
  Notifier::Options o;
  o.clock = &clock;
  o.loop = sink.loop.get();
  config::NotificationSettings settings = Settings(sink.port);
  for (auto& r : settings.receivers) r.timeout = Duration(200);
  auto n = Notifier::Create(settings, o);
  ASSERT_TRUE(n.ok());
  (*n)->SendEvent({{"alertname", "Deploy"}, {"severity", "critical"}}, "deploy 1");
  clock.AdvanceForTest(Duration(61'000));
  (*n)->Tick();
  EXPECT_TRUE(sink.RunUntil([&] {
    return (*n)->Status()["receivers"][1]["failed"].get<int>() > 0;
  })) << (*n)->Status().dump();
  EXPECT_GE(sink.requests, 1);
  EXPECT_EQ((*n)->Status()["receivers"][1]["sent"], 0);
}

TEST(Notifier, EventsReadAsNewsInSlack) {
  Sink sink;
  ASSERT_NO_FATAL_FAILURE(sink.Start());
  FakeClock clock;
  Notifier::Options o;
  o.clock = &clock;
  o.loop = sink.loop.get();
  auto n = Notifier::Create(Settings(sink.port), o);
  ASSERT_TRUE(n.ok());
  (*n)->SendEvent({{"alertname", "SlipwayDeploy"}, {"service", "api"}, {"severity", "info"}},
                  "api r2 deployed");
  clock.AdvanceForTest(Duration(10'000));
  (*n)->Tick();
  ASSERT_TRUE(sink.RunUntil([&] { return sink.received.size() == 1; }));
  EXPECT_EQ(sink.received[0].first, "/slack");
  EXPECT_EQ(sink.received[0].second["text"], "SlipwayDeploy\n• api r2 deployed");
}

// HTTPS receivers: delivery to a local TLS server whose certificate a private CA signed, and
// a wrong CA failing in one line that does not show the webhook's token.
class HttpsNotifier : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-notify-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(tlsclient::testing::TestPki::Make(dir_, &pki_));
    ASSERT_TRUE(server_.Start(pki_, 200));
    loop_ = std::move(net::EventLoop::Create()).value();
  }
  void TearDown() override {
    server_.Stop();
    std::filesystem::remove_all(dir_);
  }
  config::NotificationSettings HttpsSettings(const std::string& ca) {
    config::NotificationSettings s;
    s.configured = true;
    s.route.receiver = "hook";
    s.route.group_wait = Duration(0);
    config::ReceiverSpec r;
    r.name = "hook";
    r.kind = config::ReceiverSpec::Kind::kWebhook;
    r.url = "https://127.0.0.1:" + std::to_string(server_.port()) + "/hooks/T0/tok-SECRET-123";
    r.timeout = Duration(5000);
    r.ca_file = ca;
    s.receivers.push_back(r);
    return s;
  }
  bool RunUntil(const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_->RunOnce(Duration(20));
    }
    return true;
  }

  std::string dir_;
  tlsclient::testing::TestPki pki_;
  tlsclient::testing::TestTlsServer server_;
  std::unique_ptr<net::EventLoop> loop_;
};

TEST_F(HttpsNotifier, DeliversToAServerSignedByTheReceiversCa) {
  FakeClock clock;
  Notifier::Options o;
  o.clock = &clock;
  o.loop = loop_.get();
  auto n = Notifier::Create(HttpsSettings(pki_.ca), o);
  ASSERT_TRUE(n.ok()) << n.status().message();
  (*n)->Update({MakeAlert("api", AlertState::kFiring, "critical")});
  clock.AdvanceForTest(Duration(1000));
  (*n)->Tick();
  ASSERT_TRUE(RunUntil([&] { return (*n)->Status()["receivers"][0]["sent"].get<int>() == 1; }))
      << (*n)->Status().dump();
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("POST /hooks/T0/tok-SECRET-123 HTTP/1.1\r\n", 0), 0u) << got[0];
  const json body = json::parse(got[0].substr(got[0].find("\r\n\r\n") + 4));
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["alerts"][0]["labels"]["service"], "api");
}

TEST_F(HttpsNotifier, WrongCaFailsInOneLineWithoutTheToken) {
  FakeClock clock;
  Notifier::Options o;
  o.clock = &clock;
  o.loop = loop_.get();
  auto n = Notifier::Create(HttpsSettings(pki_.other_ca), o);
  ASSERT_TRUE(n.ok()) << n.status().message();
  (*n)->Update({MakeAlert("api", AlertState::kFiring, "critical")});
  clock.AdvanceForTest(Duration(1000));
  (*n)->Tick();
  ASSERT_TRUE(RunUntil([&] { return (*n)->Status()["receivers"][0]["failed"].get<int>() == 1; }))
      << (*n)->Status().dump();
  const std::string err = (*n)->Status()["receivers"][0]["last_error"].get<std::string>();
  EXPECT_NE(err.find("https://127.0.0.1:" + std::to_string(server_.port())), std::string::npos)
      << err;
  EXPECT_NE(err.find("certificate"), std::string::npos) << err;
  EXPECT_EQ(err.find("SECRET"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  // The status names the receiver's origin, never the token in its path.
  const std::string status = (*n)->Status().dump();
  EXPECT_EQ(status.find("SECRET"), std::string::npos) << status;
  EXPECT_NE(status.find("https://127.0.0.1:" + std::to_string(server_.port())), std::string::npos)
      << status;
  EXPECT_TRUE(server_.received().empty());
}

}  // namespace
}  // namespace slipway::alerts
