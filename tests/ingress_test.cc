// End-to-end: the host's ingress (`slipway ingress`, src/ingress) in front of two projects.
// A serves a.test over HTTPS (a certificate from a throwaway CA made with openssl) with the
// plain port redirecting; B serves b.test over plain HTTP; both behind one pair of ingress
// ports (free loopback ports through $SLIPWAY_INGRESS_HTTP/_HTTPS, state in a temp
// $SLIPWAY_STATE_DIR). Checked: each host reaches its own project and an unknown one gets
// 404; X-Forwarded-* as the client's connection was; under bounded load on both, a deploy of
// A, `slipway daemon restart` of A and kill -9 of A's daemon fail no request of either; `down`
// of A removes a.test while B serves; an ingress that dies comes back (its keeper starts it)
// with the routes of its state file, and under load refuses no connection meanwhile. Also: hostile
// input on the control socket and in the compose key. IngressDrain: SIGTERM lets requests in
// flight finish (bounded by --drain-timeout) while new connections are refused; a daemon
// starts the successor as soon as the stopping ingress closes its watch, and, after kill -9 of
// the ingress and then of its keeper, as soon as nothing listens on the control socket.
// IngressH2: two HTTPS projects on one TLS port, one registered with `http2`: h2 is offered by
// SNI name, and a request for the other project's name on a connection made for one gets 421
// over either protocol; a WebSocket over HTTP/2 (RFC 8441) reaches a project as HTTP/1.1.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "harness.h"
#include "http/websocket.h"
#include "proxy/test_h2_client.h"
#include "tls_helpers.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

// A CA and a leaf for `name` signed by it, with openssl (ca.pem, NAME.pem, NAME.key in dir).
void MakeCaAndLeaf(const std::filesystem::path& dir, const std::string& name) {
  CmdResult r =
      Sh("set -e\n"
         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
         "-out ca.pem -days 2 -subj '/CN=Slipway Test CA' 2>&1\n"
         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
             name + ".key -out leaf.csr -subj /CN=" + name +
             " 2>&1\n"
             "printf 'subjectAltName=DNS:" +
             name +
             "\\n' > leaf.ext\n"
             "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
             name + ".pem -days 2 -extfile leaf.ext 2>&1\n",
         dir);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
}

// GET http://127.0.0.1:port<path> with `Host: host` on a new connection.
Result<http::ClientResponse> GetHost(int port, const std::string& host, const std::string& path) {
  http::Endpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  http::Request req;
  req.target = path;
  req.headers.emplace_back("Host", host);
  return http::Fetch(ep, req, Duration(10'000));
}

// Calls the ingress's control socket.
Result<http::ClientResponse> Control(const std::filesystem::path& state, const std::string& method,
                                     const std::string& path, const std::string& body = "") {
  http::Endpoint ep;
  ep.unix_path = (state / "ingress.sock").string();
  http::Request req;
  req.method = method;
  req.target = path;
  req.body = body;
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  return http::Fetch(ep, req, Duration(5'000));
}

// A bounded load loop in its own thread: until Stop(), at most 30 s or 100000 requests.
struct Load {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::thread thread;

  void Fail(const std::string& why) {
    ++failed;
    std::lock_guard<std::mutex> lock(mu);
    if (failures.size() < 8) failures.push_back(why);
  }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~Load() { Stop(); }
};

class IngressE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    state_root_ =
        std::filesystem::temp_directory_path() / ("slipway-ingress-it-" + std::to_string(getpid()));
    std::filesystem::remove_all(state_root_);
    std::filesystem::create_directories(state_root_);
    state_ = state_root_ / "ingress";
    http_ = FreePort();
    https_ = FreePort();
    env_ = {"SLIPWAY_STATE_DIR=" + state_root_.string(),
            "SLIPWAY_INGRESS_HTTP=127.0.0.1:" + std::to_string(http_),
            "SLIPWAY_INGRESS_HTTPS=127.0.0.1:" + std::to_string(https_)};
  }
  void TearDown() override {
    // Projects first (their daemons would start the ingress again), then the ingress by PID.
    a_.reset();
    b_.reset();
    // The ingress's keeper first (it passes SIGTERM on and would start the ingress again).
    pid_t keeper = ReadPid(state_ / "keeper.pid");
    if (PidAlive(keeper)) {
      kill(keeper, SIGTERM);
      if (!WaitFor([&] { return !PidAlive(keeper); }, 5s)) kill(keeper, SIGKILL);
    }
    pid_t pid = ReadPid(state_ / "ingress.pid");
    if (PidAlive(pid)) {
      kill(pid, SIGTERM);
      if (!WaitFor([&] { return !PidAlive(pid); }, 5s)) kill(pid, SIGKILL);
    }
    if (std::getenv("SLIPWAY_KEEP_INGRESS_STATE") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(state_root_, ec);
    }
  }

  static std::string Compose(const std::string& version, const std::string& host,
                             const std::string& tls) {
    return "services:\n  web:\n    command: [\"" + kTestapp +
           "\"]\n    environment: {VERSION: " + version +
           "}\n    healthcheck: {interval: 100ms, start_interval: 50ms}\n"
           "    x-slipway: {healthcheck: {http: /health}}\n"
           "x-slipway:\n  ingress: true\n" +
           tls + "  routes:\n    - {host: " + host + ", service: web}\n";
  }

  std::filesystem::path state_root_, state_;
  int http_ = 0, https_ = 0;
  std::vector<std::string> env_;
  std::unique_ptr<Project> a_, b_;
};

TEST_F(IngressE2E, TwoProjectsShareOnePortPairThroughDeployRestartKillAndDown) {
  a_ = std::make_unique<Project>(
      Compose("a1", "a.test",
              "  tls:\n    certificates: [{cert: a.test.pem, key: a.test.key}]\n    hsts: 1h\n"));
  MakeCaAndLeaf(a_->dir(), "a.test");
  b_ = std::make_unique<Project>(Compose("b1", "b.test", ""));
  CmdResult up = a_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  up = b_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  const std::string ca = (a_->dir() / "ca.pem").string();

  // The first daemon started the ingress; both register within a tick.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto b = GetHost(http_, "b.test", "/version");
        TlsClient c(ca);
        std::string body;
        return b.ok() && b->status == 200 && b->body == "b1\n" && c.Connect(https_, "a.test") &&
               c.Get("/version", &body) == 200 && body == "a1\n";
      },
      20s))
      << ReadFile(state_ / "ingress.log");
  pid_t ingress_pid = ReadPid(state_ / "ingress.pid");
  ASSERT_TRUE(PidAlive(ingress_pid));

  // HTTPS by SNI with the CA's certificate (curl verifies it), HSTS, X-Forwarded-* truthful.
  CmdResult curl =
      Sh("curl -sS --max-time 5 -D - --cacert ca.pem --resolve a.test:" + std::to_string(https_) +
             ":127.0.0.1 https://a.test:" + std::to_string(https_) + "/headers 2>&1",
         a_->dir());
  EXPECT_NE(curl.out.find("HTTP/1.1 200"), std::string::npos) << curl.out;
  EXPECT_NE(curl.out.find("Strict-Transport-Security: max-age=3600"), std::string::npos)
      << curl.out;
  EXPECT_NE(curl.out.find("X-Forwarded-Proto: https"), std::string::npos) << curl.out;
  EXPECT_NE(curl.out.find("X-Forwarded-Host: a.test:" + std::to_string(https_)), std::string::npos)
      << curl.out;
  EXPECT_NE(curl.out.find("X-Forwarded-For: 127.0.0.1"), std::string::npos) << curl.out;
  auto headers = GetHost(http_, "b.test", "/headers");
  ASSERT_TRUE(headers.ok());
  EXPECT_NE(headers->body.find("X-Forwarded-Proto: http\n"), std::string::npos) << headers->body;

  // A's plain requests redirect (308) except ACME HTTP-01 paths; B has no TLS: no redirect.
  auto plain_a = GetHost(http_, "a.test", "/x?q=1");
  ASSERT_TRUE(plain_a.ok());
  EXPECT_EQ(plain_a->status, 308);
  const std::string* location = plain_a->Header("location");
  ASSERT_NE(location, nullptr);
  EXPECT_EQ(*location, "https://a.test:" + std::to_string(https_) + "/x?q=1");
  auto acme = GetHost(http_, "a.test", "/.well-known/acme-challenge/token");
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->status, 404);  // testapp's own answer: forwarded, not redirected
  EXPECT_EQ(acme->Header("location"), nullptr);

  // Unknown hosts: 404 from the ingress, on either port, never another project's service.
  auto unknown = GetHost(http_, "c.test", "/version");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, "no route for this host and path\n");
  curl = Sh("curl -sS --max-time 5 -k --resolve b.test:" + std::to_string(https_) +
                ":127.0.0.1 https://b.test:" + std::to_string(https_) + "/version 2>&1",
            a_->dir());
  EXPECT_EQ(curl.out, "no route for this host and path\n");

  // Load on both (bounded), then a deploy of A, a handover of A's daemon and kill -9 of it.
  Load load_a, load_b;
  load_b.thread = std::thread([&] {
    auto until = std::chrono::steady_clock::now() + 120s;
    for (int i = 0; i < 100000 && !load_b.stop && std::chrono::steady_clock::now() < until; ++i) {
      auto r = GetHost(http_, "b.test", "/version");
      if (r.ok() && r->status == 200 && r->body == "b1\n") {
        ++load_b.ok;
      } else {
        load_b.Fail(r.ok() ? "HTTP " + std::to_string(r->status) + " " + r->body
                           : r.status().message());
      }
    }
  });
  load_a.thread = std::thread([&] {
    TlsClient c(ca);
    bool connected = false;
    auto until = std::chrono::steady_clock::now() + 120s;
    for (int i = 0; i < 100000 && !load_a.stop && std::chrono::steady_clock::now() < until; ++i) {
      if (!connected || i % 5 == 0) {
        connected = c.Connect(https_, "a.test");
        if (!connected) {
          load_a.Fail("TLS connect");
          continue;
        }
      }
      std::string body;
      int status = c.Get("/version", &body);
      if (status == 200 && (body == "a1\n" || body == "a2\n")) {
        ++load_a.ok;
      } else {
        load_a.Fail("HTTP " + std::to_string(status) + " " + body);
        connected = false;
      }
      if (c.closed()) connected = false;
    }
  });
  ASSERT_TRUE(WaitFor([&] { return load_a.ok > 20 && load_b.ok > 20; }, 20s));

  CmdResult deploy = a_->Slipway({"deploy", "web", "--env", "VERSION=a2"}, 120s);
  EXPECT_EQ(deploy.rc, 0) << deploy.out << deploy.err;
  EXPECT_TRUE(WaitFor([&] {
    TlsClient c(ca);
    std::string body;
    return c.Connect(https_, "a.test") && c.Get("/version", &body) == 200 && body == "a2\n";
  }));

  pid_t daemon = a_->DaemonPid();
  CmdResult restart = a_->Slipway({"daemon", "restart"}, 90s);
  EXPECT_EQ(restart.rc, 0) << restart.out << restart.err;
  EXPECT_TRUE(WaitFor([&] { return a_->DaemonPid() != daemon && PidAlive(a_->DaemonPid()); }));
  int a_before_kill = load_a.ok;
  daemon = a_->DaemonPid();
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  EXPECT_TRUE(WaitFor([&] { return a_->DaemonPid() != daemon && PidAlive(a_->DaemonPid()); }, 20s));
  // Requests keep being answered after the kill (by the keeper's next daemon).
  EXPECT_TRUE(WaitFor([&] { return load_a.ok > a_before_kill + 50; }, 20s));
  int b_seen = load_b.ok;
  EXPECT_TRUE(WaitFor([&] { return load_b.ok > b_seen + 50; }, 20s));
  load_a.Stop();
  load_b.Stop();
  std::printf(
      "[ ingress ] under deploy + daemon restart + kill -9 of A: A %d ok / %d failed, "
      "B %d ok / %d failed\n",
      load_a.ok.load(), load_a.failed.load(), load_b.ok.load(), load_b.failed.load());
  EXPECT_EQ(load_a.failed.load(), 0) << ::testing::PrintToString(load_a.failures);
  EXPECT_EQ(load_b.failed.load(), 0) << ::testing::PrintToString(load_b.failures);
  EXPECT_EQ(ReadPid(state_ / "ingress.pid"), ingress_pid);  // one ingress all along

  // Metrics of the ingress on its control socket, per project.
  auto metrics = Control(state_, "GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  for (const Project* p : {a_.get(), b_.get()}) {
    const std::string name = p->dir().filename().string();
    EXPECT_NE(metrics->body.find("slipway_http_requests_total{route=\"" + name + "\",set=\"" +
                                 name + "\",code_class=\"2xx\"}"),
              std::string::npos)
        << name << "\n"
        << metrics->body.substr(0, 3000);
  }
  EXPECT_NE(metrics->body.find("slipway_ingress_projects 2"), std::string::npos);

  // `down` of A: a.test is gone (404) while B serves.
  CmdResult down = a_->Slipway({"down"}, 60s);
  ASSERT_EQ(down.rc, 0) << down.err;
  EXPECT_TRUE(WaitFor([&] {
    auto gone = GetHost(http_, "a.test", "/version");
    return gone.ok() && gone->status == 404;
  }));
  auto b_still = GetHost(http_, "b.test", "/version");
  ASSERT_TRUE(b_still.ok());
  EXPECT_EQ(b_still->body, "b1\n");

  // The ingress dies: its keeper starts it again, and it comes back with the routes of its
  // state file (the count it logs at start is read before any registration).
  ASSERT_EQ(kill(ingress_pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(ingress_pid); }, 5s));
  EXPECT_TRUE(WaitFor(
      [&] {
        pid_t now = ReadPid(state_ / "ingress.pid");
        auto r = GetHost(http_, "b.test", "/version");
        return now != ingress_pid && PidAlive(now) && r.ok() && r->status == 200;
      },
      20s));
  std::string log = ReadFile(state_ / "ingress.log");
  size_t last = log.rfind("serving ");
  ASSERT_NE(last, std::string::npos) << log;
  EXPECT_EQ(log.compare(last, 20, "serving 1 project(s)"), 0) << log;
}

// One GET of `path` for `host` on a new connection to 127.0.0.1:port ("Connection: close"):
// "refused"
// when connect() is refused, "cut" when the connection ends before a status line, else the
// status line.
std::string RawGet(int port, const std::string& host, const std::string& path = "/version") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket";
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(fd);
    return err == ECONNREFUSED ? "refused" : std::string("connect: ") + std::strerror(err);
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return "cut";
  }
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (got.rfind("HTTP/1.1 ", 0) != 0) return "cut";
  return got.substr(0, got.find("\r\n"));
}

// The ingress's keeper holds :80/:443: kill -9 of the ingress under load refuses no
// connection; the keeper starts it again on the same sockets and the queued connections are
// answered. A request cut by the dying ingress (accepted, no answer) is sent again once, as an
// idempotent GET may be (the daemon path does the same).
TEST_F(IngressE2E, KeeperHoldsThePortsAcrossKillOfTheIngress) {
  b_ = std::make_unique<Project>(Compose("b1", "b.test", ""));
  CmdResult up = b_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return RawGet(http_, "b.test") == "HTTP/1.1 200 OK"; }, 20s))
      << ReadFile(state_ / "ingress.log");
  const pid_t keeper = ReadPid(state_ / "keeper.pid");
  const pid_t first = ReadPid(state_ / "ingress.pid");
  ASSERT_TRUE(PidAlive(keeper));
  ASSERT_TRUE(PidAlive(first));
  ASSERT_NE(keeper, first);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, refused{0}, cut{0}, retried_ok{0}, failed{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto worker = [&] {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (int i = 0; i < 20000 && !stop && std::chrono::steady_clock::now() < deadline; ++i) {
      std::string r = RawGet(http_, "b.test");
      if (r == "refused") ++refused;
      if (r == "cut") {
        ++cut;
        r = RawGet(http_, "b.test");  // once: GET is idempotent
        if (r == "refused") ++refused;
        if (r == "HTTP/1.1 200 OK") ++retried_ok;
      }
      if (r == "HTTP/1.1 200 OK") {
        ++ok;
      } else {
        ++failed;
        std::lock_guard<std::mutex> lock(mu);
        if (failures.size() < 8) failures.push_back(r);
      }
    }
  };
  std::thread t1(worker), t2(worker);
  std::this_thread::sleep_for(1s);
  const int before = ok;
  ASSERT_EQ(kill(first, SIGKILL), 0);
  const auto killed = std::chrono::steady_clock::now();
  pid_t second = 0;
  const bool back = WaitFor(
      [&] {
        second = ReadPid(state_ / "ingress.pid");
        return second != first && PidAlive(second);
      },
      20s);
  const auto restarted_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - killed)
                                .count();
  const int at_restart = ok;
  std::this_thread::sleep_for(2s);
  stop = true;
  t1.join();
  t2.join();
  ASSERT_TRUE(back) << ReadFile(state_ / "ingress.log");
  std::printf(
      "ingress kill -9 under load: %d ok (%d before the kill), %d refused, %d cut and sent "
      "again (%d then ok), %d failed; a new ingress (pid %d) within %lld ms\n",
      ok.load(), before, refused.load(), cut.load(), retried_ok.load(), failed.load(), second,
      static_cast<long long>(restarted_ms));
  EXPECT_EQ(refused, 0);
  EXPECT_EQ(failed, 0) << (failures.empty() ? "" : failures.front());
  EXPECT_GT(ok.load(), at_restart);  // served after the restart too
  EXPECT_TRUE(PidAlive(keeper));     // the same keeper all along
  EXPECT_EQ(ReadPid(state_ / "keeper.pid"), keeper);
  EXPECT_NE(ReadFile(state_ / "ingress.log").find("on the same sockets"), std::string::npos);
}

// Registrations the ingress answered "unchanged" (a daemon's 2 s tick), or -1.
long UnchangedRegistrations(const std::filesystem::path& state) {
  auto r = Control(state, "GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  const std::string key = "slipway_ingress_registrations_total{outcome=\"unchanged\"} ";
  const size_t at = r->body.find(key);
  return at == std::string::npos ? 0 : std::atol(r->body.c_str() + at + key.size());
}

// SIGTERM to the ingress's keeper: a project's daemon learns of the hand-over when the ingress
// closes its watch (GET /v1/watch), not at its next 2 s tick, and starts the successor at once.
// The signal is sent right after a tick (the daemon's registration counted), so a daemon that
// waited for its tick would leave the ports refusing for about 2 s. Then, with two daemons,
// both start one: one ingress serves, the other start exits 0 on the lock, quietly.
TEST_F(IngressE2E, ADaemonStartsTheSuccessorAsSoonAsTheIngressHandsOver) {
  a_ = std::make_unique<Project>(Compose("a1", "a.test", ""));
  CmdResult up = a_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return RawGet(http_, "a.test") == "HTTP/1.1 200 OK"; }, 20s))
      << ReadFile(state_ / "ingress.log");
  const std::filesystem::path daemon_log = a_->dir() / ".slipway/logs/daemon.log";
  // Watching: the daemon's first registration opened it.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = Control(state_, "GET", "/health");
        return UnchangedRegistrations(state_) >= 1 && h.ok();
      },
      10s));

  // Round 1: one daemon. SIGTERM just after its tick.
  auto term_after_tick = [&](pid_t keeper, const char* what) -> long long {
    const long seen = UnchangedRegistrations(state_);
    if (seen < 0 || !WaitFor([&] { return UnchangedRegistrations(state_) > seen; }, 5s)) {
      ADD_FAILURE() << what << ": no tick seen";
      return -1;
    }
    const pid_t before = ReadPid(state_ / "ingress.pid");
    const auto sent = std::chrono::steady_clock::now();
    if (kill(keeper, SIGTERM) != 0) return -1;
    // Refused from about the signal on; accepting again once a successor bound the ports. A
    // successor may bind them between two polls (the refusal unseen): its pid file, written
    // after the old ingress gave the ports back, says a 200 is the successor's.
    bool refused = false;
    const bool back = WaitFor(
        [&] {
          const std::string r = RawGet(http_, "a.test");
          if (r == "refused") refused = true;
          const pid_t now = ReadPid(state_ / "ingress.pid");
          const bool successor = now > 0 && now != before && PidAlive(now);
          return (refused || successor) && r == "HTTP/1.1 200 OK";
        },
        10s);
    const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - sent)
                             .count();
    EXPECT_TRUE(back) << what << "\n" << ReadFile(state_ / "ingress.log") << Tail(daemon_log);
    return back ? ms : -1;
  };
  // A daemon starts an ingress at most once per 5 s: wait until the window of the start that
  // made the current one (its keeper.pid written then) has passed, so the next start is not
  // held back by it.
  auto past_spawn_window = [&] {
    std::error_code ec;
    const auto written = std::filesystem::last_write_time(state_ / "keeper.pid", ec);
    if (!ec)
      std::this_thread::sleep_until(
          std::chrono::steady_clock::now() +
          (written + 5500ms - std::filesystem::file_time_type::clock::now()));
  };
  past_spawn_window();
  const pid_t keeper1 = ReadPid(state_ / "keeper.pid");
  const pid_t ingress1 = ReadPid(state_ / "ingress.pid");
  ASSERT_TRUE(PidAlive(keeper1));
  const long long one_ms = term_after_tick(keeper1, "one daemon");
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(keeper1) && !PidAlive(ingress1); }, 15s));
  const pid_t keeper2 = ReadPid(state_ / "keeper.pid");
  EXPECT_TRUE(PidAlive(keeper2));
  EXPECT_NE(keeper2, keeper1);
  EXPECT_NE(ReadFile(daemon_log).find("closed its watch"), std::string::npos) << Tail(daemon_log);

  // Round 2: two daemons, both watching; both start a successor.
  b_ = std::make_unique<Project>(Compose("b1", "b.test", ""));
  up = b_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return RawGet(http_, "b.test") == "HTTP/1.1 200 OK"; }, 20s));
  const long regs = UnchangedRegistrations(state_);
  ASSERT_TRUE(WaitFor([&] { return UnchangedRegistrations(state_) >= regs + 2; }, 10s));
  past_spawn_window();  // A's daemon's, from round 1: both daemons start one
  const std::string log_before = ReadFile(state_ / "ingress.log");
  const long long two_ms = term_after_tick(keeper2, "two daemons");
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(keeper2); }, 15s));
  const pid_t keeper3 = ReadPid(state_ / "keeper.pid");
  const pid_t ingress3 = ReadPid(state_ / "ingress.pid");
  EXPECT_TRUE(PidAlive(keeper3));
  EXPECT_TRUE(PidAlive(ingress3));
  EXPECT_EQ(RawGet(http_, "b.test"), "HTTP/1.1 200 OK");
  // Both daemons reacted; one start lost on the lock and said so in one line, exit 0.
  EXPECT_NE(ReadFile(b_->dir() / ".slipway/logs/daemon.log").find("closed its watch"),
            std::string::npos);
  const std::string log_after = ReadFile(state_ / "ingress.log").substr(log_before.size());
  std::printf(
      "ingress SIGTERM right after a daemon's registration tick: the port accepts again after "
      "%lld ms (one daemon), %lld ms (two daemons)\n",
      one_ms, two_ms);
  EXPECT_GE(one_ms, 0);
  EXPECT_LT(one_ms, 1'000) << "the daemon waited for its tick";
  EXPECT_GE(two_ms, 0);
  EXPECT_LT(two_ms, 1'000) << "the daemons waited for their ticks";
  EXPECT_NE(log_after.find("already serves"), std::string::npos) << log_after;
  EXPECT_EQ(log_after.find("error"), std::string::npos) << log_after;
}

// kill -9 of the ingress while its keeper cannot start it again yet (stopped), then of the
// keeper: the daemon's registration waits in the queue of the control socket the keeper holds
// and starts no ingress (it would lose on the keeper's lock and spend the daemon's one start
// per 5 s); once the keeper is gone too nothing listens, and the daemon starts one at once.
TEST_F(IngressE2E, AfterKillOfTheIngressThenOfItsKeeperTheDaemonStartsOneAtOnce) {
  b_ = std::make_unique<Project>(Compose("b1", "b.test", ""));
  CmdResult up = b_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return RawGet(http_, "b.test") == "HTTP/1.1 200 OK"; }, 20s))
      << ReadFile(state_ / "ingress.log");
  // Registered (so watching), and past the 5 s after the daemon's start of this ingress.
  ASSERT_TRUE(WaitFor([&] { return UnchangedRegistrations(state_) >= 1; }, 10s));
  std::error_code ec;
  const auto written = std::filesystem::last_write_time(state_ / "keeper.pid", ec);
  ASSERT_FALSE(ec);
  std::this_thread::sleep_until(std::chrono::steady_clock::now() +
                                (written + 5500ms - std::filesystem::file_time_type::clock::now()));
  const pid_t keeper = ReadPid(state_ / "keeper.pid");
  const pid_t ingress = ReadPid(state_ / "ingress.pid");
  ASSERT_TRUE(PidAlive(keeper));
  ASSERT_TRUE(PidAlive(ingress));
  const std::filesystem::path daemon_log = b_->dir() / ".slipway/logs/daemon.log";
  const size_t seen = ReadFile(daemon_log).size();
  auto since = [&] {
    const std::string all = ReadFile(daemon_log);
    return all.size() > seen ? all.substr(seen) : std::string();
  };

  ASSERT_EQ(kill(keeper, SIGSTOP), 0);
  ASSERT_EQ(kill(ingress, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return since().find("closed its watch") != std::string::npos; }, 5s))
      << since();
  // A second in which a refused registration would have started an ingress (within ms).
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(since().find("started it"), std::string::npos) << since();
  ASSERT_EQ(kill(keeper, SIGKILL), 0);
  const auto killed = std::chrono::steady_clock::now();
  const bool back = WaitFor([&] { return RawGet(http_, "b.test") == "HTTP/1.1 200 OK"; }, 10s);
  const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - killed)
                           .count();
  ASSERT_TRUE(back) << since() << ReadFile(state_ / "ingress.log");
  std::printf(
      "kill -9 of the ingress, then of its keeper 1 s later: b.test answers 200 again %lld ms "
      "after the keeper's kill\n",
      ms);
  EXPECT_LT(ms, 2'500) << since();
  EXPECT_NE(since().find("started it"), std::string::npos) << since();
  const pid_t keeper2 = ReadPid(state_ / "keeper.pid");
  EXPECT_NE(keeper2, keeper);
  EXPECT_TRUE(PidAlive(keeper2));
}

// GET /v1/watch on the ingress's control socket: the connection once its head said 200, else -1.
int OpenWatch(const std::filesystem::path& state) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string path = (state / "ingress.sock").string();
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const std::string req = "GET /v1/watch HTTP/1.1\r\nHost: ingress\r\n\r\n";
  std::string got;
  char buf[512];
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    while (got.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  if (got.rfind("HTTP/1.1 200", 0) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST_F(IngressE2E, ControlSocketRefusesHostileInputAndChangesNothing) {
  // An ingress started by hand, as a systemd unit would.
  std::filesystem::create_directories(state_root_);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open((state_root_ / "manual.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(out, 2);
    for (const auto& kv : env_) putenv(strdup(kv.c_str()));
    execl(SLIPWAY_BIN, SLIPWAY_BIN, "ingress", "--workers", "1", nullptr);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      kill(pid, SIGTERM);
      int st = 0;
      for (int i = 0; i < 250 && waitpid(pid, &st, WNOHANG) == 0; ++i) usleep(20'000);
      if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
      }
    }
  } reaper{pid};
  ASSERT_TRUE(WaitFor([&] {
    auto r = Control(state_, "GET", "/health");
    return r.ok() && r->status == 200;
  })) << ReadFile(state_root_ / "manual.log");
  struct stat st {};
  ASSERT_EQ(stat((state_ / "ingress.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const std::string good =
      R"({"project":"x","folder":"/srv/x","hosts":["x.test"],"upstream":"127.0.0.1:9"})";
  auto r = Control(state_, "POST", "/v1/register", good);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;

  struct Case {
    std::string method, path, body;
    int status;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/register", "{", 400, "not valid JSON"},
      {"POST", "/v1/register", "[]", 400, "expected a JSON object"},
      {"POST", "/v1/register", R"({"project":"y","folder":"/srv/y","hosts":"y.test"})", 400,
       "hosts: expected a list"},
      {"POST", "/v1/register",
       R"({"project":"y","folder":"/srv/y","hosts":["y.test"],"upstream":"192.168.1.1:80"})", 400,
       "is not a loopback address"},
      {"POST", "/v1/register",
       R"({"project":"y","folder":"/srv/y","hosts":["y.test","x.test"],"upstream":"127.0.0.1:8"})",
       409, "host x.test is registered by project"},
      {"POST", "/v1/register",
       R"({"project":"x","folder":"/other/x","hosts":["x.test"],"upstream":"127.0.0.1:9"})", 409,
       "is registered from /srv/x"},
      {"POST", "/v1/register",
       R"({"project":"y","folder":"/srv/y","hosts":["y.test"],"upstream":"127.0.0.1:8",)"
       R"("tls":[{"cert":"/nonexistent/c.pem","key":"/nonexistent/k.pem"}]})",
       400, "tls: "},
      {"POST", "/v1/register", std::string(100 * 1024, 'x'), 413, "too large"},
      {"POST", "/v1/deregister", R"({"project":"nobody"})", 404, "is not registered"},
      {"POST", "/v1/deregister", R"({"project":"x","folder":"/other"})", 409, "registered from"},
      {"POST", "/v1/deregister", R"({"project":["x"]})", 400, "expected only the strings"},
      {"POST", "/v1/renew", "{", 400, "renew: expected a JSON object"},
      {"POST", "/v1/renew", R"({"project":"x","name":5})", 400, "expected only the strings"},
      {"POST", "/v1/renew", R"({"project":"x","name":"x.test","force":true})", 400,
       "renew: force: expected only"},
      {"POST", "/v1/renew", R"({"project":"X Y","name":"x.test"})", 400,
       "renew: project: expected a project name"},
      {"POST", "/v1/renew", R"({"project":"x","name":""})", 400, "renew: name: expected"},
      {"POST", "/v1/renew", R"({"project":"x","name":"x.test"})", 404,
       "orders no certificates here"},
      {"POST", "/v1/renew", std::string(100 * 1024, 'x'), 413, "too large"},
      {"GET", "/v1/renew", "", 405, "use POST"},
      {"GET", "/v1/register", "", 405, "use POST"},
      {"GET", "/v1/nothing", "", 404, "unknown path"},
      {"POST", "/v1/watch", "{}", 405, "use GET"},
      {"DELETE", "/v1/watch", "", 405, "use GET"},
  };
  for (const Case& c : cases) {
    auto resp = Control(state_, c.method, c.path, c.body);
    ASSERT_TRUE(resp.ok()) << c.path << " " << c.body.substr(0, 80);
    EXPECT_EQ(resp->status, c.status) << c.body.substr(0, 80) << " → " << resp->body;
    EXPECT_NE(resp->body.find(c.expect), std::string::npos)
        << c.path << " " << c.body.substr(0, 120) << " → " << resp->body;
  }
  // Watchers are bounded: past 256 open watches the next is refused (503, one line); closing
  // one makes room again.
  std::vector<int> watches;
  for (int i = 0; i < 256; ++i) {
    const int w = OpenWatch(state_);
    if (w < 0) break;
    watches.push_back(w);
  }
  EXPECT_EQ(watches.size(), 256u);
  auto over = Control(state_, "GET", "/v1/watch");
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->status, 503) << over->body;
  EXPECT_NE(over->body.find("too many watchers (at most 256)"), std::string::npos) << over->body;
  ::close(watches.back());
  watches.pop_back();
  EXPECT_TRUE(WaitFor([&] {
    const int w = OpenWatch(state_);
    if (w >= 0) watches.push_back(w);
    return w >= 0;
  }));
  for (int w : watches) ::close(w);

  // Nothing changed: x alone, with its one host, on disk too; the ingress still answers.
  auto projects = Control(state_, "GET", "/v1/projects");
  ASSERT_TRUE(projects.ok());
  auto j = nlohmann::json::parse(projects->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << projects->body;
  ASSERT_EQ(j["projects"].size(), 1u) << projects->body;
  EXPECT_EQ(j["projects"][0]["hosts"], nlohmann::json::array({"x.test"}));
  std::string saved = ReadFile(state_ / "routes.json");
  EXPECT_NE(saved.find("x.test"), std::string::npos);
  EXPECT_EQ(saved.find("y.test"), std::string::npos);
  auto unknown = GetHost(http_, "y.test", "/");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404);

  // A second ingress on the same state folder leaves the first alone and exits 0.
  CmdResult second = RunCmd({SLIPWAY_BIN, "ingress"}, state_root_, env_, 20s);
  EXPECT_EQ(second.rc, 0) << second.err;
  EXPECT_NE(second.err.find("an ingress already serves"), std::string::npos) << second.err;
  EXPECT_TRUE(PidAlive(pid));
  // Bad addresses are one line, exit 2.
  second = RunCmd({SLIPWAY_BIN, "ingress", "--http", "127.0.0.1:http"}, state_root_, env_, 20s);
  EXPECT_EQ(second.rc, 2);
  EXPECT_NE(second.err.find("--http: \"127.0.0.1:http\" is not an address"), std::string::npos)
      << second.err;
  for (const std::string& bad :
       std::vector<std::string>{"soon", "-1s", "2h", std::string(300, '9')}) {
    second = RunCmd({SLIPWAY_BIN, "ingress", "--drain-timeout", bad}, state_root_, env_, 20s);
    EXPECT_EQ(second.rc, 2) << bad;
    EXPECT_NE(second.err.find("--drain-timeout: \"" + bad.substr(0, 20)), std::string::npos)
        << second.err;
  }
}

// Stopping the ingress while an ACME attempt is blocked on a CA that never answers (a socket
// on 127.0.0.1 that nobody accepts from: the TLS hello waits for ever) takes about a second,
// not the attempt's minute: the attempt is cancelled (acme/cert_manager.h).
TEST_F(IngressE2E, StopDoesNotWaitForABlockedAcmeAttempt) {
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string directory =
      "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/dir";

  pid_t pid = fork();
  if (pid == 0) {
    int out = open((state_root_ / "manual.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(out, 2);
    for (const auto& kv : env_) putenv(strdup(kv.c_str()));
    execl(SLIPWAY_BIN, SLIPWAY_BIN, "ingress", "--workers", "1", nullptr);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] {
    auto r = Control(state_, "GET", "/health");
    return r.ok() && r->status == 200;
  })) << ReadFile(state_root_ / "manual.log");
  auto r = Control(state_, "POST", "/v1/register",
                   R"({"project":"x","folder":"/srv/x","hosts":["x.test"],)"
                   R"("upstream":"127.0.0.1:9","acme":{"directory":")" +
                       directory + R"("}})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  // The answer carries the project's report (cert_report.h): its one name, pending.
  auto answer = nlohmann::json::parse(r->body, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << r->body;
  ASSERT_TRUE(answer["acme"].is_object()) << r->body;
  EXPECT_GT(answer["acme"].value("epoch_ms", int64_t{0}), 0);
  // The attempt is under way (and blocked) once the ingress has a last attempt for x.test.
  ASSERT_TRUE(WaitFor([&] {
    auto c = Control(state_, "GET", "/v1/certs");
    if (!c.ok()) return false;
    auto doc = nlohmann::json::parse(c->body, nullptr, false);
    if (!doc.is_object() || !doc["certificates"].is_array()) return false;
    for (const auto& row : doc["certificates"]) {
      if (row.value("name", "") == "x.test" && row.value("last_attempt_ms", int64_t{0}) > 0) {
        return true;
      }
    }
    return false;
  })) << ReadFile(state_root_ / "manual.log");
  std::this_thread::sleep_for(300ms);  // well into the blocked exchange
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  pid_t done = 0;
  WaitFor([&] { return (done = waitpid(pid, &status, WNOHANG)) == pid; }, 30s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - asked)
                        .count();
  if (done != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ::close(silent);
  std::printf("ingress stop with an ACME attempt blocked on a silent CA: %lld ms\n",
              static_cast<long long>(took));
  ASSERT_EQ(done, pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;  // its keeper, which ended with the ingress
  // Was about 0.9 s while the cancel waited for libcurl's next progress call; now the raise
  // wakes the exchange.
  EXPECT_LT(took, 500) << ReadFile(state_root_ / "manual.log");
}

// Requests to testapp on `port` that reached it (its requests counter, 200s): a request in
// flight through the ingress to /slow has been counted once testapp holds it.
int TestappRequests(int port) {
  std::string body;
  if (HttpGet(port, "/metrics", &body) != 200) return -1;
  const std::string key = "testapp_requests_total{code=\"200\"} ";
  const size_t at = body.find(key);
  return at == std::string::npos ? 0 : std::atoi(body.c_str() + at + key.size());
}

// The ingress on SIGTERM: stops accepting, lets requests in flight finish (at most
// --drain-timeout), closes idle keep-alive connections, exits. Each case runs `slipway ingress`
// by hand (under its keeper, which passes SIGTERM on and ends with it) in front of one testapp.
class IngressDrain : public IngressE2E {
 protected:
  void StartUpstreamAndIngress(const std::string& drain_timeout) {
    upstream_port_ = FreePort();
    upstream_.Start({kTestapp}, {"HOST=127.0.0.1", "PORT=" + std::to_string(upstream_port_)},
                    state_root_ / "testapp.log");
    ASSERT_TRUE(WaitFor([&] { return HttpGet(upstream_port_, "/health") == 200; }));
    pid_ = Spawn("manual.log", drain_timeout);
    ASSERT_GT(pid_, 0);
    ASSERT_TRUE(WaitFor([&] {
      auto r = Control(state_, "GET", "/health");
      return r.ok() && r->status == 200;
    })) << ReadFile(state_root_ / "manual.log");
    auto r = Control(state_, "POST", "/v1/register",
                     R"({"project":"s","folder":"/srv/s","hosts":["s.test"],"upstream":)"
                     R"("127.0.0.1:)" +
                         std::to_string(upstream_port_) + R"("})");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_TRUE(WaitFor([&] { return RawGet(http_, "s.test") == "HTTP/1.1 200 OK"; }))
        << ReadFile(state_root_ / "manual.log");
  }
  // `slipway ingress` (its keeper, then the ingress under it) on the test's ports and state,
  // output to `log` under the state root.
  pid_t Spawn(const std::string& log, const std::string& drain_timeout) {
    const std::string log_path = (state_root_ / log).string();
    pid_t pid = fork();
    if (pid == 0) {
      int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(out, 1);
      dup2(out, 2);
      for (const auto& kv : env_) putenv(strdup(kv.c_str()));
      execl(SLIPWAY_BIN, SLIPWAY_BIN, "ingress", "--workers", "2", "--drain-timeout",
            drain_timeout.c_str(), nullptr);
      _exit(127);
    }
    return pid;
  }
  // SIGTERM to the keeper we started (at sent_, then signalled_ is set); the milliseconds
  // until it exited (it waits for the ingress), or -1 after 30 s.
  long long TermAndWait() {
    sent_ = std::chrono::steady_clock::now();
    signalled_ = true;
    if (kill(pid_, SIGTERM) != 0) return -1;
    int status = 0;
    const bool done = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 30s);
    if (!done) return -1;
    pid_ = -1;
    return SinceSent();
  }
  // Milliseconds since the signal (after signalled_ was seen).
  long long SinceSent() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 sent_)
        .count();
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (successor_ > 0) {  // our child: stopped and reaped here, not by pid file
      kill(successor_, SIGTERM);
      if (!WaitFor([&] { return waitpid(successor_, nullptr, WNOHANG) == successor_; }, 5s)) {
        kill(successor_, SIGKILL);
        waitpid(successor_, nullptr, 0);
      }
    }
    IngressE2E::TearDown();
  }

  int upstream_port_ = 0;
  Child upstream_;
  pid_t pid_ = -1;
  pid_t successor_ = -1;  // a second `slipway ingress` (its keeper)
  std::chrono::steady_clock::time_point sent_;
  std::atomic<bool> signalled_{false};
};

// A keep-alive connection that has served one request (its answer read whole).
int IdleKeptAlive(int port, const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string req = "GET /version HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  std::string got;
  char buf[4096];
  while (true) {  // "dev\n": the head and a 4-byte body
    const size_t head = got.find("\r\n\r\n");
    if (head != std::string::npos && got.size() >= head + 4 + 4) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  if (got.rfind("HTTP/1.1 200", 0) != 0 || got.find("Connection: close") != std::string::npos) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST_F(IngressDrain, SigtermLetsRequestsInFlightFinishAndRefusesNewConnections) {
  StartUpstreamAndIngress("10s");
  const pid_t ingress = ReadPid(state_ / "ingress.pid");
  ASSERT_TRUE(PidAlive(ingress));
  const int idle = IdleKeptAlive(http_, "s.test");
  ASSERT_GE(idle, 0);

  constexpr int kInFlight = 8;
  const int before = TestappRequests(upstream_port_);
  std::vector<std::string> results(kInFlight);
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kInFlight; ++i) {
    clients.emplace_back([&, i] {
      results[i] = RawGet(http_, "s.test", "/slow?ms=1000");
      ++answered;
    });
  }
  // Every request reached testapp through the ingress: all are in flight.
  const bool in_flight =
      WaitFor([&] { return TestappRequests(upstream_port_) >= before + kInFlight; }, 10s);

  std::atomic<long long> refused_ms{-1}, idle_closed_ms{-1};
  std::atomic<int> answered_at_refusal{-1};
  std::thread prober([&] {
    // The first refused connection after the signal.
    if (!WaitFor([&] { return signalled_.load(); }, 15s)) return;
    if (!WaitFor([&] { return RawGet(http_, "s.test") == "refused"; }, 10s)) return;
    answered_at_refusal = answered.load();
    refused_ms = SinceSent();
  });
  std::thread idle_watch([&] {
    char b = 0;
    const ssize_t n = ::recv(idle, &b, 1, 0);  // 0: closed by the ingress (10 s at most)
    if (n == 0 && signalled_) idle_closed_ms = SinceSent();
  });
  const long long exited_ms = in_flight ? TermAndWait() : -1;
  for (auto& t : clients) t.join();
  prober.join();
  idle_watch.join();
  ::close(idle);
  ASSERT_TRUE(in_flight) << TestappRequests(upstream_port_) << " " << before;
  const std::string log = ReadFile(state_root_ / "manual.log");
  std::printf(
      "ingress SIGTERM with %d requests in flight (1000 ms upstream): new connections refused "
      "after %lld ms (%d answered then), idle keep-alive closed after %lld ms, exit after %lld "
      "ms\n",
      kInFlight, refused_ms.load(), answered_at_refusal.load(), idle_closed_ms.load(), exited_ms);
  for (int i = 0; i < kInFlight; ++i) EXPECT_EQ(results[i], "HTTP/1.1 200 OK") << i << "\n" << log;
  EXPECT_GE(refused_ms.load(), 0) << log;
  EXPECT_EQ(answered_at_refusal.load(), 0) << "refused only after the requests were answered";
  EXPECT_GE(idle_closed_ms.load(), 0) << log;
  EXPECT_LT(idle_closed_ms.load(), 1000) << "the idle connection waited for the others";
  ASSERT_GE(exited_ms, 0) << log;
  EXPECT_LT(exited_ms, 10'000) << log;
  EXPECT_FALSE(PidAlive(ingress));
  EXPECT_NE(log.find("drained: the last connection finished after"), std::string::npos) << log;
}

TEST_F(IngressDrain, ARequestOutlivingTheDrainTimeoutIsCutAtIt) {
  StartUpstreamAndIngress("1500ms");
  const int before = TestappRequests(upstream_port_);
  std::string result;
  std::atomic<long long> cut_ms{-1};
  std::thread client([&] {
    result = RawGet(http_, "s.test", "/slow?ms=8000");
    if (signalled_) cut_ms = SinceSent();
  });
  const bool in_flight =
      WaitFor([&] { return TestappRequests(upstream_port_) >= before + 1; }, 10s);
  const long long exited_ms = in_flight ? TermAndWait() : -1;
  client.join();
  ASSERT_TRUE(in_flight);
  const std::string log = ReadFile(state_root_ / "manual.log");
  std::printf(
      "ingress SIGTERM with an 8000 ms request and --drain-timeout 1500ms: cut after %lld ms, "
      "exit after %lld ms\n",
      cut_ms.load(), exited_ms);
  EXPECT_EQ(result, "cut") << log;
  ASSERT_GE(exited_ms, 0) << log;
  EXPECT_GE(exited_ms, 1500) << log;
  EXPECT_LT(exited_ms, 4000) << log;
  EXPECT_GE(cut_ms.load(), 1500) << log;
  EXPECT_LT(cut_ms.load(), 4000) << log;
  EXPECT_NE(log.find("drain: closing 1 connection(s) still open after"), std::string::npos) << log;
}

// A draining ingress hands its state folder over at once: a second `slipway ingress` (what a
// daemon starts when the control socket does not answer) starts on the same folder and ports
// and serves new requests while the first one still finishes a slow request; the first one's
// exit then leaves the second one's socket, pid files and locks alone.
TEST_F(IngressDrain, DrainHandsTheFolderToASuccessorOnTheSamePorts) {
  StartUpstreamAndIngress("10s");
  const pid_t old_ingress = ReadPid(state_ / "ingress.pid");
  ASSERT_TRUE(PidAlive(old_ingress));
  const int before = TestappRequests(upstream_port_);
  std::string slow;
  std::thread client([&] { slow = RawGet(http_, "s.test", "/slow?ms=4000"); });
  const bool in_flight =
      WaitFor([&] { return TestappRequests(upstream_port_) >= before + 1; }, 10s);
  // From the signal on: when new connections were refused first and last, until stopped.
  std::atomic<bool> stop_probe{false};
  std::atomic<long long> first_refused{-1}, last_refused{-1};
  std::thread prober([&] {
    if (!WaitFor([&] { return signalled_.load(); }, 15s)) return;
    while (!stop_probe) {
      if (RawGet(http_, "s.test") == "refused") {
        const long long t = SinceSent();
        if (first_refused < 0) first_refused = t;
        last_refused = t;
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  const pid_t old_keeper = pid_;
  sent_ = std::chrono::steady_clock::now();
  signalled_ = true;
  const bool termed = in_flight && kill(old_keeper, SIGTERM) == 0;
  // Free once the ingress and its keeper both let go of it.
  const bool freed = termed && WaitFor(
                                   [&] {
                                     return !std::filesystem::exists(state_ / "ingress.sock") &&
                                            !std::filesystem::exists(state_ / "ingress.pid") &&
                                            !std::filesystem::exists(state_ / "keeper.pid");
                                   },
                                   10s);
  const long long freed_ms = SinceSent();
  if (freed) successor_ = Spawn("second.log", "10s");
  pid_t new_ingress = 0;
  const bool serves =
      freed && WaitFor(
                   [&] {
                     new_ingress = ReadPid(state_ / "ingress.pid");
                     return new_ingress > 0 && RawGet(http_, "s.test") == "HTTP/1.1 200 OK";
                   },
                   10s);
  const long long serves_ms = SinceSent();
  const bool old_still_draining = PidAlive(old_ingress);
  stop_probe = true;
  prober.join();
  client.join();
  const std::string log = ReadFile(state_root_ / "manual.log");
  const std::string log2 = ReadFile(state_root_ / "second.log");
  ASSERT_TRUE(in_flight);
  ASSERT_TRUE(freed) << log;
  ASSERT_TRUE(serves) << log << "\n---\n" << log2;
  std::printf(
      "ingress handover with a 4000 ms request in flight: folder free after %lld ms, successor "
      "serving after %lld ms; new connections refused from %lld to %lld ms after SIGTERM\n",
      freed_ms, serves_ms, first_refused.load(), last_refused.load());
  EXPECT_TRUE(old_still_draining) << "the successor served only after the old one exited";
  EXPECT_NE(new_ingress, old_ingress);
  EXPECT_EQ(slow, "HTTP/1.1 200 OK") << log;
  // The old keeper ends with its ingress; the successor's files stay.
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(old_keeper, &status, WNOHANG) == old_keeper; }, 15s))
      << log;
  pid_ = -1;
  EXPECT_FALSE(PidAlive(old_ingress));
  EXPECT_NE(log.find("handed the state folder over"), std::string::npos) << log;
  EXPECT_EQ(ReadPid(state_ / "ingress.pid"), new_ingress);
  EXPECT_EQ(ReadPid(state_ / "keeper.pid"), successor_);
  auto health = Control(state_, "GET", "/health");
  ASSERT_TRUE(health.ok()) << "the successor's control socket was removed";
  EXPECT_NE(health->body.find("\"pid\":" + std::to_string(new_ingress)), std::string::npos)
      << health->body;
  EXPECT_EQ(RawGet(http_, "s.test"), "HTTP/1.1 200 OK");
  // Its locks hold: a third start, with or without a keeper, finds it serving.
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{SLIPWAY_BIN, "ingress"},
        std::vector<std::string>{SLIPWAY_BIN, "ingress", "--no-keeper"}}) {
    CmdResult third = RunCmd(argv, state_root_, env_, 30s);
    EXPECT_EQ(third.rc, 0) << third.out << third.err;
    EXPECT_NE((third.out + third.err).find("already serves"), std::string::npos)
        << third.out << third.err;
  }
  EXPECT_EQ(ReadPid(state_ / "ingress.pid"), new_ingress);
  EXPECT_TRUE(PidAlive(new_ingress));
}

// A TCP connection to 127.0.0.1:port that has sent `bytes` (maybe none), or -1.
int OpenSending(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Client connections the ingress's proxy holds open (its slipway_http_active_connections).
long ActiveConnections(const std::filesystem::path& state) {
  auto r = Control(state, "GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  long n = 0;
  const std::string key = "slipway_http_active_connections{";
  for (size_t at = r->body.find(key); at != std::string::npos; at = r->body.find(key, at + 1)) {
    const size_t sp = r->body.find(' ', at);
    if (sp != std::string::npos) n += std::atol(r->body.c_str() + sp + 1);
  }
  return n;
}

// A connection that never sent a byte does not hold a draining ingress until its timeout: it is
// closed with the idle ones. One with half a head is a request on its way: it is served.
TEST_F(IngressDrain, ASilentConnectionDoesNotHoldTheExitAndAHalfSentHeadIsServed) {
  StartUpstreamAndIngress("10s");
  const pid_t ingress = ReadPid(state_ / "ingress.pid");
  // The set-up's requests closed their connections; the proxy counts them closed a moment
  // later (read too early, one of them would make the count below never reach before + 2).
  ASSERT_TRUE(WaitFor([&] { return ActiveConnections(state_) == 0; }, 10s))
      << ActiveConnections(state_);
  const long before = 0;
  const int silent = OpenSending(http_, "");
  const int partial = OpenSending(http_, "GET /version HTTP/1.1\r\nHo");
  ASSERT_GE(silent, 0);
  ASSERT_GE(partial, 0);
  ASSERT_TRUE(WaitFor([&] { return ActiveConnections(state_) >= before + 2; }, 10s))
      << ActiveConnections(state_);
  sent_ = std::chrono::steady_clock::now();
  signalled_ = true;
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  // The drain has begun once the folder is handed over (right after the connections were told).
  const bool draining =
      WaitFor([&] { return !std::filesystem::exists(state_ / "ingress.pid"); }, 10s);
  const std::string rest = "st: s.test\r\nConnection: close\r\n\r\n";
  const bool sent_rest =
      ::send(partial, rest.data(), rest.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(rest.size());
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(partial, buf, sizeof buf, 0)) > 0;) got.append(buf, n);
  ::close(partial);  // else the ingress lingers on it after its answer
  char b = 0;
  const ssize_t silent_read = ::recv(silent, &b, 1, 0);  // 0: closed by the ingress
  const long long silent_closed_ms = SinceSent();
  ::close(silent);
  int status = 0;
  const bool exited = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 15s);
  const long long exited_ms = SinceSent();
  if (exited) pid_ = -1;
  const std::string log = ReadFile(state_root_ / "manual.log");
  std::printf(
      "ingress SIGTERM with a silent connection and a half-sent head (--drain-timeout 10s): "
      "silent one closed after %lld ms, exit after %lld ms\n",
      silent_closed_ms, exited_ms);
  EXPECT_TRUE(draining) << log;
  EXPECT_TRUE(sent_rest);
  EXPECT_EQ(got.substr(0, got.find("\r\n")), "HTTP/1.1 200 OK") << got << log;
  EXPECT_EQ(silent_read, 0) << "the silent connection was not closed";
  ASSERT_TRUE(exited) << log;
  EXPECT_LT(exited_ms, 1'500) << log;
  EXPECT_FALSE(PidAlive(ingress));
  EXPECT_NE(log.find("drained: the last connection finished after"), std::string::npos) << log;
}

// Two HTTPS projects behind one ingress TLS port, registered as their daemons do: a.test with
// `http2`, b.test without. Each is run by hand here (a testapp as its upstream) so the test
// sees the ingress alone.
class IngressH2 : public IngressDrain {
 protected:
  void SetUp() override {
    IngressDrain::SetUp();
    StartUpstreamAndIngress("10s");
    for (const std::string name : {"a", "b"}) {
      const std::filesystem::path dir = state_root_ / name;
      std::filesystem::create_directories(dir);
      MakeCaAndLeaf(dir, name + ".test");
      const int port = FreePort();
      Child& app = name == "a" ? app_a_ : app_b_;
      app.Start({kTestapp}, {"HOST=127.0.0.1", "PORT=" + std::to_string(port), "VERSION=" + name},
                dir / "testapp.log");
      ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }));
      (name == "a" ? port_a_ : port_b_) = port;
    }
    ASSERT_EQ(Register("a", true), 200);
    ASSERT_EQ(Register("b", false), 200);
  }
  // POST /v1/register for project `name` (name.test, its certificate, its testapp).
  int Register(const std::string& name, bool http2) {
    const std::filesystem::path dir = state_root_ / name;
    const int port = name == "a" ? port_a_ : port_b_;
    auto r = Control(state_, "POST", "/v1/register",
                     R"({"project":")" + name + R"(","folder":"/srv/)" + name + R"(","hosts":[")" +
                         name + R"(.test"],"upstream":"127.0.0.1:)" + std::to_string(port) +
                         R"(","tls":[{"cert":")" + (dir / (name + ".test.pem")).string() +
                         R"(","key":")" + (dir / (name + ".test.key")).string() + R"("}])" +
                         (http2 ? R"(,"http2":true})" : "}"));
    return r.ok() ? r->status : -1;
  }
  // curl to https://NAME.test:<https>/version, verifying NAME's certificate.
  std::string Curl(const std::string& name, const std::string& args) const {
    const std::string port = std::to_string(https_);
    return Sh("curl -sS --max-time 5 --cacert " + (state_root_ / name / "ca.pem").string() +
                  " --resolve " + name + ".test:" + port + ":127.0.0.1 " + args + " https://" +
                  name + ".test:" + port + "/version 2>&1",
              state_root_)
        .out;
  }

  Child app_a_, app_b_;
  int port_a_ = 0, port_b_ = 0;
};

TEST_F(IngressH2, H2ByServerNameAndMisdirectedRequestsGet421) {
  const std::string fmt = "-w ' %{http_code} %{http_version}'";
  EXPECT_EQ(Curl("a", "--http2 " + fmt), "a\n 200 2") << ReadFile(state_root_ / "manual.log");
  EXPECT_EQ(Curl("b", "--http2 " + fmt), "b\n 200 1.1");
  EXPECT_EQ(Curl("a", "--http1.1 " + fmt), "a\n 200 1.1");

  // HTTP/1.1 on a connection made for one project with the other's Host: 421, both ways.
  const std::string misdirected = "this connection is not for this host name: open one for it\n";
  EXPECT_EQ(Curl("a", "--http1.1 -H 'Host: b.test' " + fmt), misdirected + " 421 1.1");
  EXPECT_EQ(Curl("b", "--http2 -H 'Host: a.test' " + fmt), misdirected + " 421 1.1");

  // HTTP/2 on a connection made for a.test, a stream for b.test (a client coalescing
  // connections): 421 on that stream, and the connection still serves a.test.
  const int b_before = TestappRequests(port_b_);
  proxy::testing::H2Client c(https_, "a.test");
  ASSERT_TRUE(c.ok());
  c.set_authority("b.test:" + std::to_string(https_));
  const int32_t other = c.Submit("GET", "/version");
  c.set_authority("a.test:" + std::to_string(https_));
  const int32_t own = c.Submit("GET", "/version");
  ASSERT_TRUE(c.RunUntilClosed({other, own}));
  EXPECT_EQ(c.stream(other).Status(0), "421");
  EXPECT_EQ(c.stream(other).body, misdirected);
  EXPECT_EQ(c.stream(own).Status(0), "200");
  EXPECT_EQ(c.stream(own).body, "a\n");
  EXPECT_EQ(TestappRequests(port_b_), b_before);  // nothing of it reached b

  // The registry keeps the setting; a registration without it stops offering h2 at once.
  auto projects = Control(state_, "GET", "/v1/projects");
  ASSERT_TRUE(projects.ok());
  EXPECT_NE(projects->body.find(R"("http2":true)"), std::string::npos) << projects->body;
  ASSERT_EQ(Register("a", false), 200);
  EXPECT_EQ(Curl("a", "--http2 " + fmt), "a\n 200 1.1");
  ASSERT_EQ(Register("b", true), 200);
  EXPECT_EQ(Curl("b", "--http2 " + fmt), "b\n 200 2");
}

// A WebSocket over HTTP/2 (RFC 8441) through the real ingress: a project registered with
// `http2` whose upstream is a WebSocket echo server here; the stream's 200, a masked frame
// echoed back, and the upstream seeing the HTTP/1.1 handshake with the ingress's own key.
TEST_F(IngressH2, AWebSocketOverH2ReachesTheProjectAsHttp11) {
  std::mutex mu;
  std::string seen_head;
  proxy::testing::ScriptedUpstream echo([&](int fd, const std::string& head, std::string* rest) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen_head = head;
    }
    const proxy::testing::Head h = proxy::testing::ParseHead(head);
    proxy::testing::WriteAll(
        fd,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
            http::WebSocketAccept(h.Get("sec-websocket-key")) + "\r\n\r\n");
    // One masked frame of under 126 bytes, echoed unmasked.
    std::string buf = *rest;
    char tmp[4096];
    while (buf.size() < 6 || buf.size() < 6 + (static_cast<size_t>(buf[1]) & 0x7f)) {
      const ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    const size_t len = static_cast<unsigned char>(buf[1]) & 0x7f;
    std::string payload = buf.substr(6, len);
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ buf[2 + i % 4]);
    proxy::testing::WriteAll(fd, std::string{'\x81', static_cast<char>(len)} + payload);
    if (!proxy::testing::PeerClosed(fd)) return;  // the client's END_STREAM, as a FIN
  });
  const std::filesystem::path dir = state_root_ / "c";
  std::filesystem::create_directories(dir);
  MakeCaAndLeaf(dir, "c.test");
  auto r = Control(state_, "POST", "/v1/register",
                   R"({"project":"c","folder":"/srv/c","hosts":["c.test"],"upstream":"127.0.0.1:)" +
                       std::to_string(echo.port()) + R"(","tls":[{"cert":")" +
                       (dir / "c.test.pem").string() + R"(","key":")" +
                       (dir / "c.test.key").string() + R"("}],"http2":true})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200);
  proxy::testing::H2Client c(https_, "c.test");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Run([&] { return c.settings_received(); }));
  EXPECT_EQ(c.RemoteSetting(NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 1u);
  const int32_t id = c.Open({{":method", "CONNECT"},
                             {":protocol", "websocket"},
                             {":scheme", "https"},
                             {":path", "/socket"},
                             {":authority", "c.test"},
                             {"sec-websocket-version", "13"}});
  const std::string text = "hello through the ingress";
  std::string frame = {'\x81', static_cast<char>(0x80 | text.size()), 'k', 'e', 'y', '!'};
  for (size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ "key!"[i % 4]);
  c.Write(id, frame);
  ASSERT_TRUE(c.Run([&] {
    return c.stream(id).body.size() >= 2 + text.size() || c.stream(id).closed;
  })) << ReadFile(state_root_ / "manual.log");
  EXPECT_EQ(c.stream(id).Status(0), "200");
  const std::string want = std::string{'\x81', static_cast<char>(text.size())} + text;
  EXPECT_EQ(c.stream(id).body, want);
  c.End(id);
  ASSERT_TRUE(c.RunUntilClosed({id}));
  EXPECT_EQ(c.stream(id).error, 0u);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen_head.rfind("GET /socket HTTP/1.1\r\n", 0), 0u) << seen_head;
  EXPECT_NE(proxy::testing::Lower(seen_head).find("upgrade: websocket"), std::string::npos);
}

TEST(IngressConfig, HostileKeysAreLoadErrors) {
  struct Case {
    std::string top, expect;
  };
  const std::vector<Case> cases = {
      {"  ingress: maybe\n  routes: [{host: a.test, service: web}]\n",
       "x-slipway.ingress: \"maybe\" is not a boolean"},
      {"  ingress: [true]\n", "x-slipway.ingress:"},
      {"  routes: [{host: a.test, service: web}]\n", "x-slipway.routes[0].listen: is required"},
      {"  ingress: true\n  routes: [{path: /api, service: web}]\n",
       "x-slipway.routes[0].host: is required for a route without listen"},
      {"  ingress: true\n  routes: [{host: \"a.test:80\", service: web}]\n", "is not a host name"},
  };
  for (const Case& c : cases) {
    Project p("services:\n  web:\n    command: [\"" + kTestapp + "\"]\nx-slipway:\n" + c.top);
    CmdResult r = p.Slipway({"config"});
    EXPECT_EQ(r.rc, 2) << c.top << r.out << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.top << r.err;
    EXPECT_NE(r.err.find("compose.yaml:"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace slipway::testing
