// Silences end to end: a real daemon whose two rules fire at once, a webhook receiver on
// loopback (this test's), `slipway alerts silence|silences|expire`. What a silence matches is
// not delivered while the other alert is; the silence survives `down` and `up`; expired, the
// alert is delivered again. Bad input is exit 2 before anything starts.
#include <gtest/gtest.h>

#include <mutex>

#include "harness.h"
#include "http/server.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A webhook receiver on 127.0.0.1:<port 0>: the services of each notification, in order.
class Sink {
 public:
  Sink() {
    loop_ = std::move(net::EventLoop::Create()).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    port_ = *net::LocalPort(fd->get());
    server_ = std::move(http::HttpServer::Create(
                            loop_.get(), std::move(fd).value(),
                            [this](const http::Request& r, http::ResponseWriter w) {
                              json body = json::parse(r.body, nullptr, false);
                              std::lock_guard<std::mutex> l(mu_);
                              if (body.is_object() && body["alerts"].is_array()) {
                                for (const json& a : body["alerts"]) {
                                  services_.push_back(a["labels"].value("service", ""));
                                }
                              }
                              w.Send(http::Response::Text(200, "ok"));
                            }))
                  .value();
    thread_ = std::thread([this] {
      auto deadline = std::chrono::steady_clock::now() + 240s;
      while (!stop_ && std::chrono::steady_clock::now() < deadline) loop_->RunOnce(Duration(50));
    });
  }
  ~Sink() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  size_t Size() {
    std::lock_guard<std::mutex> l(mu_);
    return services_.size();
  }
  // How many deliveries of `service` came after the first `from`.
  size_t CountSince(size_t from, const std::string& service) {
    std::lock_guard<std::mutex> l(mu_);
    return std::count(services_.begin() + std::min(from, services_.size()), services_.end(),
                      service);
  }

 private:
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> services_;
};

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::string Compose(int sink_port) {
  return R"(services:
  idle:
    command: ["/bin/sleep", "3600"]
x-slipway:
  alerts:
    interval: 1s
    builtin: false
    rules:
      - alert: WebDown
        expr: vector(1)
        labels: {service: web, severity: critical}
      - alert: DbDown
        expr: vector(1)
        labels: {service: db, severity: critical}
  notifications:
    route:
      receiver: hook
      group_by: [alertname, service]
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 1s
    receivers:
      - name: hook
        webhook: http://127.0.0.1:)" +
         std::to_string(sink_port) + "/hook\n";
}

TEST(SilencesE2E, ASilenceHoldsBackItsAlertAcrossARestartUntilExpired) {
  Sink sink;
  Project p(Compose(sink.port()));
  // Bad input: exit 2, one line, and no daemon started.
  const std::vector<std::vector<std::string>> bad = {
      {"alerts", "silence", "service", "--for", "1h"},
      {"alerts", "silence", "service=~\"(\"", "--for", "1h"},
      {"alerts", "silence", "service=\"web\"", "--for", "0s"},
      {"alerts", "silence", "service=\"web\"", "--for", "721h"},
      {"alerts", "silence", "service=\"web\"", "--for", "soon"},
      {"alerts", "silence", "service=\"web\"", "--for", "1h", "--comment", std::string(2000, 'x')},
      {"alerts", "silence", "--for", "1h"},
      {"alerts", "expire", "not-an-id"},
      {"alerts", "silence", "service=\"web\"", "--for", "1h", "--replace", "not-an-id"},
      {"alerts", "silence", "service=\"web\"", "--for", "1h", "--replace", std::string(65, 'a')},
  };
  for (const auto& args : bad) {
    CmdResult r = p.Slipway(args);
    EXPECT_EQ(r.rc, 2) << args[2] << ": " << r.out << r.err;
    EXPECT_FALSE(r.err.empty());
    EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(p.DaemonPid(), 0) << "bad input started the daemon";

  CmdResult up = p.Slipway({"up", "-d"});
  ASSERT_EQ(up.rc, 0) << up.err;
  ASSERT_TRUE(
      WaitFor([&] { return sink.CountSince(0, "web") > 0 && sink.CountSince(0, "db") > 0; }, 30s));

  CmdResult s = p.Slipway({"alerts", "silence", "service=\"web\"", "severity=~\"crit.*\"", "--for",
                           "1h", "--comment", "maintenance"});
  ASSERT_EQ(s.rc, 0) << s.err;
  json list = p.Json({"alerts", "silences", "--format", "json"}, true);
  ASSERT_EQ(list["silences"].size(), 1u) << list.dump();
  std::string id = list["silences"][0]["id"];
  EXPECT_EQ(list["silences"][0]["state"], "active");
  EXPECT_EQ(list["silences"][0]["comment"], "maintenance");

  // Notifications of web queued before the silence are checked again before they go: only
  // the one in flight when the silence was made may still carry web.
  size_t mark = 0;
  std::string last;
  ASSERT_TRUE(WaitFor(
      [&] {
        json a = p.Json({"alerts", "--format", "json"});
        last = a["notifications"].dump();
        if (a["notifications"].value("silenced", 0) < 1) return false;
        mark = sink.Size() + 1;
        return true;
      },
      30s))
      << last;
  ASSERT_TRUE(WaitFor([&] { return sink.Size() >= mark; }, 30s));
  ASSERT_TRUE(WaitFor([&] { return sink.CountSince(mark, "db") >= 3; }, 30s));
  EXPECT_EQ(sink.CountSince(mark, "web"), 0u);
  json alerts = p.Json({"alerts", "--format", "json"}, true);
  for (const json& a : alerts["alerts"]) {
    const bool web = a["labels"]["service"] == "web";
    EXPECT_EQ(a["silenced_by"], web ? json({id}) : json::array()) << a.dump();
  }
  EXPECT_GE(alerts["notifications"]["silenced"].get<int64_t>(), 3);

  // Across a restart of the daemon.
  ASSERT_EQ(p.Slipway({"down"}).rc, 0);
  ASSERT_EQ(p.Slipway({"up", "-d"}).rc, 0);
  list = p.Json({"alerts", "silences", "--format", "json"}, true);
  ASSERT_EQ(list["silences"].size(), 1u);
  EXPECT_EQ(list["silences"][0]["id"], id);
  mark = sink.Size();
  ASSERT_TRUE(WaitFor([&] { return sink.CountSince(mark, "db") >= 3; }, 30s));
  EXPECT_EQ(sink.CountSince(mark, "web"), 0u);

  // Replaced (Alertmanager's edit): the new one holds web back, the old one is expired; an
  // unknown id to replace is exit 2 and adds nothing.
  CmdResult unknown_replace = p.Slipway(
      {"alerts", "silence", "service=\"web\"", "--for", "1h", "--replace", "00000000deadbeef"});
  EXPECT_EQ(unknown_replace.rc, 2) << unknown_replace.err;
  EXPECT_EQ(unknown_replace.err,
            "slipway: alerts silence: --replace: no silence 00000000deadbeef (slipway alerts "
            "silences)\n");
  CmdResult rep = p.Slipway({"alerts", "silence", "service=\"web\"", "--for", "2h", "--comment",
                             "longer", "--replace", id});
  ASSERT_EQ(rep.rc, 0) << rep.err;
  const std::string old_id = id;
  ASSERT_EQ(rep.out.rfind("silence ", 0), 0u) << rep.out;
  id = rep.out.substr(8, 16);
  EXPECT_NE(rep.out.find("(replaces " + old_id + ", expired)"), std::string::npos) << rep.out;
  list = p.Json({"alerts", "silences", "--format", "json"});
  ASSERT_EQ(list["silences"].size(), 2u) << list.dump();
  for (const auto& one : list["silences"]) {
    EXPECT_EQ(one["state"], one["id"] == old_id ? "expired" : "active") << one.dump();
  }
  mark = sink.Size();
  ASSERT_TRUE(WaitFor([&] { return sink.CountSince(mark, "db") >= 3; }, 30s));
  EXPECT_EQ(sink.CountSince(mark, "web"), 0u) << "the new silence holds web back";

  CmdResult ex = p.Slipway({"alerts", "expire", id});
  ASSERT_EQ(ex.rc, 0) << ex.err;
  mark = sink.Size();
  EXPECT_TRUE(WaitFor([&] { return sink.CountSince(mark, "web") >= 1; }, 30s));
  CmdResult again = p.Slipway({"alerts", "expire", id});
  EXPECT_EQ(again.rc, 1) << "already expired: " << again.err;
  // An id that names no silence: exit 2, one line naming it.
  CmdResult unknown = p.Slipway({"alerts", "expire", "00000000deadbeef"});
  EXPECT_EQ(unknown.rc, 2) << unknown.err;
  EXPECT_EQ(unknown.err,
            "slipway: alerts expire: no silence 00000000deadbeef (slipway alerts silences)\n");
}

}  // namespace
}  // namespace slipway::testing
