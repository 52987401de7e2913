// IngressLink's state machine, hermetic: a fake ingress (an HttpServer on the control socket in
// a temporary folder, on the link's loop), a counted start of an ingress and a FakeClock loop,
// so the 2 s ticks, the 300 ms retries and the 5 s between starts take no real time. Checked:
// a registration at start and every 2 s; the watch's close registers at once; no answer starts
// one ingress, not more than once per 5 s; a refusal is logged once per distinct message; an
// ingress that answers the watch with an error leaves the ticks alone; Stop() is idempotent;
// Renew()'s four outcomes. And after a kill -9 of an ingress whose keeper holds the control
// socket (a listener nobody accepts on until the keeper started the ingress again), no ingress
// is started while that listener exists, and one is started at once when it goes.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ingress_link.h"
#include "daemon/routes.h"
#include "http/server.h"
#include "ingress/ingress.h"
#include "net/socket.h"

namespace slipway::daemon {
namespace {

using namespace std::chrono_literals;

class IngressLinkMachineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ingress_link_machine.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state_ = dir_ / "ingress";
    std::filesystem::create_directories(state_);
    loop_ = std::move(net::EventLoop::Create(&clock_)).value();
    project_.name = "shop";
    project_.dir = dir_ / "shop";
    project_.ingress = true;
    config::RouteSettings route;
    route.host = "shop.test";
    route.service = "web";
    project_.routes.push_back(route);
    IngressLinkEnv env;
    env.binary = "/nonexistent/slipway";
    env.state_dir = state_;
    env.listener_port = [this](const std::string& ip) -> Result<int> {
      asked_ip_ = ip;
      if (!listener_bound_) return Unavailable("no listener for " + ip);
      return 41'000;
    };
    env.start_ingress = [this] {
      ++starts_;
      return Status::OK();
    };
    link_ = std::make_unique<IngressLink>(
        loop_.get(), [this]() -> const config::Project& { return project_; }, std::move(env),
        [this](const std::string& line) { logs_.push_back(line); });
  }
  void TearDown() override {
    link_.reset();
    KillIngress();
    loop_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Socket() const { return ingress::ControlSocketPath(state_).string(); }

  // The fake ingress on the control socket (a stale socket file is replaced, as the real one
  // does). Answers /v1/register with register_status_/register_body_, /v1/renew with
  // renew_status_, and GET /v1/watch with a stream when watch_status_ is 200, else with it.
  // On `listener` when given (a copy of the keeper's), else on a socket of its own.
  void StartIngress(int listener = -1) {
    Result<net::UniqueFd> fd = listener >= 0 ? Result<net::UniqueFd>(net::UniqueFd(::dup(listener)))
                                             : net::ListenUnix(Socket());
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    auto server = http::HttpServer::Create(
        loop_.get(), std::move(fd).value(), [this](const http::Request& r, http::ResponseWriter w) {
          if (r.Path() == "/v1/watch") {
            ++watch_asks_;
            if (watch_status_ != 200) {
              return w.Send(http::Response::Text(watch_status_, "{\"error\":\"no\"}\n"));
            }
            ++watch_open_;
            w.OnClose([this] { --watch_open_; });
            w.StartStream(200, {{"Content-Type", "text/plain"}});
            watchers_.push_back(std::move(w));
            return;
          }
          if (r.Path() == "/v1/renew") {
            renew_body_ = r.body;
            return w.Send(http::Response::Text(renew_status_, renew_answer_, "application/json"));
          }
          ++registrations_;
          register_body_seen_ = r.body;
          w.Send(http::Response::Text(register_status_, register_body_, "application/json"));
        });
    ASSERT_TRUE(server.ok()) << server.status().message();
    ingress_ = std::move(server).value();
  }
  // The fake ingress dies: its connections close (the watch's too); the socket file stays.
  void KillIngress() {
    ingress_.reset();
    watchers_.clear();
  }

  // Runs the loop (real I/O; the fake clock stands still) until `done`, at most 5 s.
  bool Pump(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_->RunOnce(Duration(5));
    }
    return true;
  }
  // A few iterations for whatever is under way, so that what must not happen had its chance.
  void Settle() {
    for (int i = 0; i < 20; ++i) loop_->RunOnce(Duration(2));
  }
  void Advance(Duration d) {
    clock_.AdvanceForTest(d);
    Settle();
  }
  int LogsWith(const std::string& text) const {
    int n = 0;
    for (const std::string& l : logs_) n += l.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  std::string AllLogs() const {
    std::string all;
    for (const std::string& l : logs_) all += l + "\n";
    return all;
  }

  std::filesystem::path dir_, state_;
  FakeClock clock_;
  std::unique_ptr<net::EventLoop> loop_;
  config::Project project_;
  std::unique_ptr<IngressLink> link_;
  std::unique_ptr<http::HttpServer> ingress_;
  std::vector<http::ResponseWriter> watchers_;
  bool listener_bound_ = true;
  std::string asked_ip_;
  int starts_ = 0;
  std::vector<std::string> logs_;
  int register_status_ = 200;
  std::string register_body_ = "{\"changed\":false}\n";
  int watch_status_ = 200;
  int renew_status_ = 202;
  std::string renew_answer_ = "{\"renewing\":true}\n";
  int registrations_ = 0, watch_asks_ = 0, watch_open_ = 0;
  std::string register_body_seen_, renew_body_;
};

// x-slipway.tls.http2 reaches the ingress as the registration's `http2`, as redirect and hsts
// do; without it the key is left out (false).
TEST_F(IngressLinkMachineTest, TheRegistrationCarriesTheProjectsHttp2Setting) {
  config::TlsCertificateSettings cert;
  cert.cert = (dir_ / "c.pem").string();
  cert.key = (dir_ / "c.key").string();
  project_.tls.certificates.push_back(cert);
  project_.tls.http2 = true;
  StartIngress();
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1; })) << AllLogs();
  EXPECT_NE(register_body_seen_.find("\"http2\":true"), std::string::npos) << register_body_seen_;
  project_.tls.http2 = false;
  Advance(Duration(2'000));
  ASSERT_TRUE(Pump([&] { return registrations_ == 2; })) << AllLogs();
  EXPECT_EQ(register_body_seen_.find("http2"), std::string::npos) << register_body_seen_;
}

TEST_F(IngressLinkMachineTest, RegistersAtStartThenEveryTwoSeconds) {
  StartIngress();
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1 && watch_open_ == 1; })) << AllLogs();
  EXPECT_EQ(asked_ip_, IngressUpstreamHost("shop"));
  EXPECT_NE(register_body_seen_.find("\"project\":\"shop\""), std::string::npos)
      << register_body_seen_;
  EXPECT_NE(register_body_seen_.find("shop.test"), std::string::npos) << register_body_seen_;
  EXPECT_NE(register_body_seen_.find("41000"), std::string::npos) << register_body_seen_;
  Advance(Duration(1'999));
  EXPECT_EQ(registrations_, 1);
  clock_.AdvanceForTest(Duration(1));
  EXPECT_TRUE(Pump([&] { return registrations_ == 2; }));
  clock_.AdvanceForTest(Duration(2'000));
  EXPECT_TRUE(Pump([&] { return registrations_ == 3; }));
  // One line for the first registration, none per tick; one watch all along.
  EXPECT_EQ(LogsWith("registered with the host's ingress"), 1) << AllLogs();
  EXPECT_EQ(watch_asks_, 1);
  EXPECT_EQ(starts_, 0);
}

TEST_F(IngressLinkMachineTest, NothingIsRegisteredUntilTheListenerIsBound) {
  StartIngress();
  listener_bound_ = false;
  link_->Start();
  Advance(Duration(4'000));
  EXPECT_EQ(registrations_, 0);
  listener_bound_ = true;
  clock_.AdvanceForTest(Duration(2'000));
  EXPECT_TRUE(Pump([&] { return registrations_ == 1; }));
  // Without routes that name a host there is nothing to register either.
  project_.routes[0].host.clear();
  Advance(Duration(4'000));
  EXPECT_EQ(registrations_, 1);
}

TEST_F(IngressLinkMachineTest, TheWatchClosingRegistersAtOnce) {
  StartIngress();
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1 && watch_open_ == 1; })) << AllLogs();
  // A hand-over: the old ingress closes its watchers, its successor serves the same socket.
  // The clock stands still: the registration is not the 2 s tick's.
  KillIngress();
  StartIngress();
  EXPECT_TRUE(Pump([&] { return registrations_ == 2; })) << AllLogs();
  EXPECT_EQ(LogsWith("closed its watch"), 1) << AllLogs();
  // Registered again ("registered" once more) and watching the successor.
  EXPECT_TRUE(Pump([&] { return watch_open_ == 1 && watch_asks_ == 2; }));
  EXPECT_EQ(LogsWith("registered with the host's ingress"), 2) << AllLogs();
  EXPECT_EQ(starts_, 0);
}

TEST_F(IngressLinkMachineTest, NoAnswerStartsAnIngressAtMostOncePerFiveSeconds) {
  link_->Start();  // no socket at all
  ASSERT_TRUE(Pump([&] { return starts_ == 1; }));
  EXPECT_EQ(LogsWith("the ingress does not answer"), 1) << AllLogs();
  EXPECT_EQ(LogsWith("started it (/nonexistent/slipway ingress)"), 1) << AllLogs();
  // Asked again every 300 ms; no second start within 5 s of the first.
  for (int i = 0; i < 16; ++i) Advance(Duration(300));  // 4.8 s
  EXPECT_EQ(starts_, 1);
  clock_.AdvanceForTest(Duration(300));
  EXPECT_TRUE(Pump([&] { return starts_ == 2; })) << AllLogs();
  // The ingress comes up: the next retry registers.
  StartIngress();
  clock_.AdvanceForTest(Duration(300));
  EXPECT_TRUE(Pump([&] { return registrations_ == 1; })) << AllLogs();
  Advance(Duration(6'000));
  EXPECT_EQ(starts_, 2);
}

TEST_F(IngressLinkMachineTest, ARefusalIsLoggedOncePerDistinctMessage) {
  register_status_ = 409;
  register_body_ = "{\"error\":\"host shop.test belongs to project other\"}\n";
  StartIngress();
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1; }));
  for (int i = 0; i < 3; ++i) {
    clock_.AdvanceForTest(Duration(2'000));
    ASSERT_TRUE(Pump([&] { return registrations_ == 2 + i; }));
  }
  Settle();
  EXPECT_EQ(LogsWith("the ingress refused the registration: {\"error\":\"host shop.test belongs"),
            1)
      << AllLogs();
  // Refused on the 2 s schedule, not the 300 ms retry; no ingress started for it.
  Advance(Duration(1'000));
  EXPECT_EQ(registrations_, 4);
  EXPECT_EQ(starts_, 0);
  // Another message: one more line.
  register_body_ = "{\"error\":\"host shop.test belongs to project third\"}\n";
  clock_.AdvanceForTest(Duration(1'000));
  ASSERT_TRUE(Pump([&] { return registrations_ == 5; }));
  Settle();
  EXPECT_EQ(LogsWith("the ingress refused the registration"), 2) << AllLogs();
  // Accepted, then the first refusal again: logged again.
  register_status_ = 200;
  register_body_ = "{\"changed\":true}\n";
  clock_.AdvanceForTest(Duration(2'000));
  ASSERT_TRUE(Pump([&] { return registrations_ == 6; }));
  register_status_ = 409;
  register_body_ = "{\"error\":\"host shop.test belongs to project other\"}\n";
  clock_.AdvanceForTest(Duration(2'000));
  ASSERT_TRUE(Pump([&] { return registrations_ == 7; }));
  Settle();
  EXPECT_EQ(LogsWith("the ingress refused the registration"), 3) << AllLogs();
}

TEST_F(IngressLinkMachineTest, AnIngressAnsweringTheWatchWithAnErrorLeavesTheTicks) {
  watch_status_ = 404;  // an older ingress
  StartIngress();
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1 && watch_asks_ == 1; }));
  for (int i = 0; i < 3; ++i) {
    clock_.AdvanceForTest(Duration(2'000));
    ASSERT_TRUE(Pump([&] { return registrations_ == 2 + i; }));
  }
  Settle();
  EXPECT_EQ(watch_asks_, 1) << "asked the watch of an ingress that refused it again";
  // That ingress goes (nothing tells the link: the tick finds it), a newer one comes: its watch
  // is asked for.
  KillIngress();
  clock_.AdvanceForTest(Duration(2'000));
  ASSERT_TRUE(Pump([&] { return starts_ == 1; })) << AllLogs();
  watch_status_ = 200;
  StartIngress();
  clock_.AdvanceForTest(Duration(300));
  EXPECT_TRUE(Pump([&] { return registrations_ == 5 && watch_open_ == 1; })) << AllLogs();
  EXPECT_EQ(watch_asks_, 2);
}

TEST_F(IngressLinkMachineTest, StopIsIdempotentAndEndsTheWatch) {
  StartIngress();
  link_->Stop();  // before Start: nothing to stop
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1 && watch_open_ == 1; }));
  link_->Stop();
  link_->Stop();
  EXPECT_TRUE(Pump([&] { return watch_open_ == 0; }));
  Advance(Duration(5'000));
  EXPECT_EQ(registrations_, 1);
  EXPECT_EQ(LogsWith("closed its watch"), 0) << AllLogs();
  // Started again (a handover that was called off): registering and watching again.
  link_->Start();
  EXPECT_TRUE(Pump([&] { return registrations_ == 2 && watch_open_ == 1; }));
  link_->Stop();
  link_.reset();  // after Stop: nothing left to do
  EXPECT_TRUE(Pump([&] { return watch_open_ == 0; }));
}

TEST_F(IngressLinkMachineTest, RenewHasFourOutcomes) {
  StartIngress();
  std::optional<Status> got;
  auto renew = [&](const std::string& name) {
    got.reset();
    link_->Renew(name, [&](Status st) { got = st; });
    return Pump([&] { return got.has_value(); });
  };
  ASSERT_TRUE(renew("shop.test"));
  EXPECT_TRUE(got->ok()) << got->message();
  EXPECT_NE(renew_body_.find("\"project\":\"shop\""), std::string::npos) << renew_body_;
  EXPECT_NE(renew_body_.find("\"name\":\"shop.test\""), std::string::npos) << renew_body_;

  renew_status_ = 404;
  renew_answer_ = "{\"error\":\"project \\\"shop\\\" orders no certificates here\"}\n";
  ASSERT_TRUE(renew("other.test"));
  EXPECT_EQ(got->code(), StatusCode::kNotFound) << got->message();
  EXPECT_EQ(got->message(), "the host's ingress: project \"shop\" orders no certificates here");

  renew_status_ = 400;
  renew_answer_ = "not json at all";
  ASSERT_TRUE(renew("shop.test"));
  EXPECT_EQ(got->code(), StatusCode::kInvalidInput) << got->message();
  EXPECT_EQ(got->message(), "the host's ingress: not json at all");

  // Something holds the socket and never answers: Unavailable after 2 s (of the loop's clock).
  KillIngress();
  auto silent = net::ListenUnix(Socket());
  ASSERT_TRUE(silent.ok());
  got.reset();
  link_->Renew("shop.test", [&](Status st) { got = st; });
  Advance(Duration(1'900));
  EXPECT_FALSE(got.has_value());
  clock_.AdvanceForTest(Duration(200));
  ASSERT_TRUE(Pump([&] { return got.has_value(); }));
  EXPECT_EQ(got->code(), StatusCode::kUnavailable) << got->message();
  EXPECT_NE(got->message().find("the host's ingress does not answer"), std::string::npos)
      << got->message();
}

// kill -9 of an ingress whose keeper holds the control socket: the watch closes, the
// registration waits in the keeper's queue (no ingress started: it would lose on the keeper's
// lock) and the ingress started again answers it. A registration that times out there starts
// none either. When the keeper goes too (nothing listens), one is started at once: no start
// was spent meanwhile.
TEST_F(IngressLinkMachineTest, AKeeperHoldingTheSocketIsWaitedForAndItsEndStartsOneAtOnce) {
  auto keeper = net::ListenUnix(Socket());
  ASSERT_TRUE(keeper.ok());
  StartIngress(keeper->get());
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1 && watch_open_ == 1; })) << AllLogs();
  KillIngress();
  ASSERT_TRUE(Pump([&] { return LogsWith("closed its watch") == 1; })) << AllLogs();
  Advance(Duration(1'000));
  EXPECT_EQ(starts_, 0) << AllLogs();
  EXPECT_EQ(registrations_, 1);
  // The keeper starts it again: the queued registration is answered, the clock standing still.
  StartIngress(keeper->get());
  EXPECT_TRUE(Pump([&] { return registrations_ == 2 && watch_open_ == 1; })) << AllLogs();

  // Killed again; this time the registration times out in the queue: still no start.
  KillIngress();
  ASSERT_TRUE(Pump([&] { return LogsWith("closed its watch") == 2; })) << AllLogs();
  clock_.AdvanceForTest(Duration(2'000));
  ASSERT_TRUE(Pump([&] { return LogsWith("its control socket is held") == 1; })) << AllLogs();
  EXPECT_EQ(starts_, 0);
  clock_.AdvanceForTest(Duration(300));  // asked again: queued again
  Settle();
  EXPECT_EQ(starts_, 0);
  // The keeper is killed too: the queued registration is reset, nothing listens, and an ingress
  // is started at once.
  keeper->Reset();
  EXPECT_TRUE(Pump([&] { return starts_ == 1; })) << AllLogs();
  EXPECT_EQ(LogsWith("started it (/nonexistent/slipway ingress)"), 1) << AllLogs();
}

// An ingress alone on its socket (run by hand, or its keeper gone) killed: nothing listens, so
// the closed watch starts its successor at once.
TEST_F(IngressLinkMachineTest, AnIngressAloneOnItsSocketIsStartedAgainAtOnce) {
  StartIngress();
  link_->Start();
  ASSERT_TRUE(Pump([&] { return registrations_ == 1 && watch_open_ == 1; })) << AllLogs();
  KillIngress();  // the socket file stays, refusing
  EXPECT_TRUE(Pump([&] { return starts_ == 1; })) << AllLogs();
  EXPECT_EQ(LogsWith("its control socket is held"), 0) << AllLogs();
}

}  // namespace
}  // namespace slipway::daemon
