// End to end: the daemon orders its HTTPS certificates from an ACME CA. Pebble (Let's
// Encrypt's test CA, Debian package `pebble`) and pebble-challtestsrv (its DNS server, every
// name → 127.0.0.1) run on free loopback ports, started and killed by PID. Pebble validates
// HTTP-01 on the project's plain listener, so the proxy must answer the challenges; curl then
// verifies the served chain against Pebble's root. A renewal under load replaces the
// certificate with no failed request; a name whose validation cannot succeed (challtestsrv
// points it at 127.0.0.2, where nothing listens) is a cert-issue-failed event with Pebble's
// detail while the rest keeps being served.
//
// With `challenge: tls-alpn-01` (RFC 8737) Pebble validates on its `tlsPort`, the project's
// published https port: the proxy's TLS listener answers ALPN acme-tls/1 with the validation
// certificate, with no plain listener at all; a handshake offering acme-tls/1 for a name with
// no pending challenge fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

class AcmeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/pebble", X_OK) != 0 || access("/usr/bin/pebble-challtestsrv", X_OK) != 0) {
      GTEST_FAIL() << "pebble is not installed (scripts/install-deps.sh installs it)";
    }
    char tmpl[] = "/tmp/slipway-acme-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    ca_ = tmpl;
    https_ = FreePort();
    http_ = FreePort();
    api_ = FreePort();
    const int dns = FreePort(), dns_mgmt = FreePort();
    dir_port_ = FreePort();
    const int mgmt = FreePort();
    CmdResult r =
        Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem "
           "-out cert.pem -days 2 -subj /CN=localhost "
           "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>&1",
           ca_);
    ASSERT_EQ(r.rc, 0) << r.out;
    dns_.Start(
        {"/usr/bin/pebble-challtestsrv", "-dns01", "127.0.0.1:" + std::to_string(dns), "-http01",
         "", "-https01", "", "-tlsalpn01", "", "-management",
         "127.0.0.1:" + std::to_string(dns_mgmt), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""},
        {}, ca_ / "challtestsrv.log");
    std::ofstream(ca_ / "pebble.json")
        << R"({"pebble":{"listenAddress":"127.0.0.1:)" << dir_port_
        << R"(","managementListenAddress":"127.0.0.1:)" << mgmt << R"(","certificate":")"
        << (ca_ / "cert.pem").string() << R"(","privateKey":")" << (ca_ / "key.pem").string()
        << R"(","httpPort":)" << http_ << R"(,"tlsPort":)" << https_
        << R"(,"ocspResponderURL":"","externalAccountBindingRequired":false}})";
    pebble_.Start({"/usr/bin/pebble", "-config", (ca_ / "pebble.json").string(), "-dnsserver",
                   "127.0.0.1:" + std::to_string(dns)},
                  {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=10"}, ca_ / "pebble.log");
    // Ready when the directory and challtestsrv's management API answer (bounded: 20 s).
    const std::string dir_url = "https://127.0.0.1:" + std::to_string(dir_port_) + "/dir";
    ASSERT_TRUE(WaitFor(
        [&] {
          return Sh("curl -sSf --max-time 2 --cacert cert.pem " + dir_url + " >/dev/null", ca_)
                         .rc == 0 &&
                 Sh("curl -sSf --max-time 2 -X POST -d '{\"host\":\"bad.test\",\"addresses\":"
                    "[\"127.0.0.2\"]}' http://127.0.0.1:" +
                        std::to_string(dns_mgmt) + "/add-a",
                    ca_)
                         .rc == 0;
        },
        20s))
        << Tail(ca_ / "pebble.log") << Tail(ca_ / "challtestsrv.log");
    // Pebble's issuing root: what curl verifies the served chain against.
    r = Sh("curl -sSf --max-time 5 --cacert cert.pem -o root.pem https://127.0.0.1:" +
               std::to_string(mgmt) + "/roots/0",
           ca_);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;

    dir_url_ = dir_url;
    env_ = {"SLIPWAY_STATE_DIR=" + (ca_ / "state").string()};
  }
  // The project: web on the https port, a route for app.test on it and, for http-01, a plain
  // route on the port Pebble validates http-01 on; app.test and bad.test are ordered.
  void MakeProject(const std::string& challenge) {
    const std::string hs = std::to_string(https_), hp = std::to_string(http_);
    const bool http01 = challenge == "http-01";
    p_ = std::make_unique<Project>(
        "services:\n  web:\n    command: [\"" + kTestapp + "\"]\n    ports: [\"127.0.0.1:" + hs +
        ":8080\"]\n"
        "    healthcheck: {interval: 100ms, start_interval: 50ms, start_period: 5s}\n"
        "    x-slipway: {healthcheck: {http: /health}, ports: {8080: https}}\n"
        "x-slipway:\n  api: {listen: \"127.0.0.1:" +
        std::to_string(api_) +
        "\"}\n"
        "  routes:\n"
        "    - {listen: \"127.0.0.1:" +
        hs + "\", host: app.test, service: web}\n" +
        (http01 ? "    - {listen: \"127.0.0.1:" + hp + "\", service: web}\n" : std::string()) +
        "  tls:\n"
        "    acme:\n"
        "      email: ops@slipway.test\n"
        "      directory: " +
        dir_url_ + "\n      ca_file: " + (ca_ / "cert.pem").string() + "\n" +
        (http01 ? std::string() : "      challenge: " + challenge + "\n") +
        "      names: [app.test, bad.test]\n");
  }
  void TearDown() override {
    p_.reset();  // the daemon first: it talks to pebble
    std::filesystem::remove_all(ca_);
  }

  // GET https://app.test:<https>/version through curl, checked against Pebble's root.
  CmdResult Curl(const std::string& path = "/version") {
    return Sh("curl -sS --max-time 5 --cacert " + (ca_ / "root.pem").string() +
                  " --resolve app.test:" + std::to_string(https_) +
                  ":127.0.0.1 https://app.test:" + std::to_string(https_) + path + " 2>&1",
              p_->dir());
  }
  std::string ServedSerial() {
    return Sh("openssl s_client -connect 127.0.0.1:" + std::to_string(https_) +
                  " -servername app.test </dev/null 2>/dev/null | openssl x509 -noout -serial",
              p_->dir())
        .out;
  }
  // The first event of `kind` whose message holds `text`, or null.
  nlohmann::json Event(const std::string& kind, const std::string& text) {
    CmdResult r = p_->Slipway({"events", "--format", "json"}, 20s, env_);
    nlohmann::json events = nlohmann::json::parse(r.out, nullptr, false);
    if (!events.is_array()) return nullptr;
    for (const nlohmann::json& e : events) {
      if (e.value("kind", "") == kind && e.value("message", "").find(text) != std::string::npos) {
        return e;
      }
    }
    return nullptr;
  }

  std::filesystem::path ca_;
  int https_ = 0, http_ = 0, api_ = 0, dir_port_ = 0;
  std::string dir_url_;
  Child dns_, pebble_;
  std::vector<std::string> env_;
  std::unique_ptr<Project> p_;
};

TEST_F(AcmeE2E, IssuesServesRenewsUnderLoadAndReportsAFailedChallenge) {
  MakeProject("http-01");
  CmdResult up = p_->Slipway({"up", "-d", "--wait"}, 60s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;

  // Issued within the bound, then served with a chain curl verifies against Pebble's root.
  const auto up_done = std::chrono::steady_clock::now();
  nlohmann::json issued;
  ASSERT_TRUE(WaitFor([&] { return !(issued = Event("cert-issued", "app.test")).is_null(); }, 60s))
      << Tail(ca_ / "pebble.log") << Tail(p_->dir() / ".slipway/logs/daemon.log");
  CmdResult got;
  ASSERT_TRUE(WaitFor([&] { return (got = Curl()).out == "dev\n"; }, 10s)) << got.out;
  std::printf("first verified HTTPS answer %lld ms after `up` returned\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - up_done)
                                         .count()));
  const std::string first_serial = ServedSerial();
  EXPECT_NE(first_serial.find("serial="), std::string::npos) << first_serial;
  std::string body;
  EXPECT_EQ(HttpGet(api_, "/metrics", &body), 200);
  EXPECT_NE(body.find("slipway_tls_cert_expiry_seconds{name=\"app.test\"}"), std::string::npos);

  // The plain listener answers challenges ahead of the redirect; an unknown token is 404.
  CmdResult plain =
      Sh("curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(http_) +
             "/.well-known/acme-challenge/nope",
         p_->dir());
  EXPECT_EQ(plain.out, "404");
  plain = Sh("curl -sS -o /dev/null -w '%{http_code}' -H 'Host: app.test' http://127.0.0.1:" +
                 std::to_string(http_) + "/version",
             p_->dir());
  EXPECT_EQ(plain.out, "308");

  // bad.test resolves where nothing listens: Pebble's detail in the event; app.test still served.
  nlohmann::json failed;
  ASSERT_TRUE(
      WaitFor([&] { return !(failed = Event("cert-issue-failed", "bad.test")).is_null(); }, 60s));
  const std::string detail = failed.value("message", "");
  EXPECT_NE(detail.find("127.0.0.2"), std::string::npos) << detail;
  EXPECT_NE(detail.find("connection"), std::string::npos) << detail;
  EXPECT_EQ(Curl().out, "dev\n");

  // `certs status` reads the daemon: one row per ordered name.
  CmdResult status = p_->Slipway({"certs", "status", "--format", "json"}, 20s, env_);
  ASSERT_EQ(status.rc, 0) << status.err;
  nlohmann::json st = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_TRUE(st.is_object()) << status.out;
  EXPECT_TRUE(st.value("acme", false));
  ASSERT_EQ(st["certificates"].size(), 2u) << status.out;
  EXPECT_EQ(st["certificates"][0].value("name", ""), "app.test");
  EXPECT_EQ(st["certificates"][0].value("state", ""), "valid");
  EXPECT_EQ(st["certificates"][0].value("plan", ""), "not_due");
  EXPECT_EQ(st["certificates"][1].value("name", ""), "bad.test");
  EXPECT_EQ(st["certificates"][1].value("state", ""), "failing");
  EXPECT_NE(st["certificates"][1].value("last_error", "").find("bad.test"), std::string::npos);
  EXPECT_EQ(status.out.find("PRIVATE KEY"), std::string::npos);
  CmdResult table = p_->Slipway({"certs", "status"}, 20s, env_);
  EXPECT_NE(table.out.find("app.test"), std::string::npos) << table.out;

  // A renewal under load: every request answered, then a new certificate is served.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::string last_failure;
  std::thread load([&] {
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < 2000 && !stop && std::chrono::steady_clock::now() < until; ++i) {
      CmdResult c = Curl();
      if (c.out == "dev\n") {
        ok++;
      } else {
        bad++;
        last_failure = c.out;
      }
    }
  });
  std::this_thread::sleep_for(500ms);
  CmdResult renew = p_->Slipway({"certs", "renew", "app.test"}, 20s, env_);
  EXPECT_EQ(renew.rc, 0) << renew.err;
  EXPECT_TRUE(WaitFor([&] { return !Event("cert-renewed", "app.test").is_null(); }, 60s))
      << Tail(p_->dir() / ".slipway/logs/daemon.log");
  std::string serial;
  EXPECT_TRUE(WaitFor([&] { return (serial = ServedSerial()) != first_serial; }, 10s)) << serial;
  std::this_thread::sleep_for(500ms);
  stop = true;
  load.join();
  EXPECT_GT(ok.load(), 5);
  EXPECT_EQ(bad.load(), 0) << last_failure;
  std::printf("HTTPS requests during the renewal: %d answered, %d failed\n", ok.load(), bad.load());

  // Renewing a name that is not ordered is refused in one line.
  CmdResult other = p_->Slipway({"certs", "renew", "other.test"}, 20s, env_);
  EXPECT_NE(other.rc, 0);
  EXPECT_NE(other.err.find("other.test"), std::string::npos) << other.err;
}

// A TLS handshake offering ALPN `alpn` for `sni` to the https port: "ok <alpn>" or "failed".
std::string AlpnHandshake(int port, const std::string& sni, const std::string& alpn,
                          const std::filesystem::path& cwd) {
  CmdResult r = Sh("openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -servername " +
                       sni + " -alpn " + alpn + " </dev/null 2>&1",
                   cwd);
  if (r.out.find("ALPN protocol: ") == std::string::npos) return "failed";
  const size_t at = r.out.find("ALPN protocol: ") + 15;
  return "ok " + r.out.substr(at, r.out.find('\n', at) - at);
}

TEST_F(AcmeE2E, TlsAlpnChallengeIsAnsweredOnTheHttpsListener) {
  MakeProject("tls-alpn-01");
  CmdResult up = p_->Slipway({"up", "-d", "--wait"}, 60s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  const auto up_done = std::chrono::steady_clock::now();
  nlohmann::json issued;
  ASSERT_TRUE(WaitFor([&] { return !(issued = Event("cert-issued", "app.test")).is_null(); }, 60s))
      << Tail(ca_ / "pebble.log") << Tail(p_->dir() / ".slipway/logs/daemon.log");
  // Validated over TLS: no plain listener exists to answer http-01 on Pebble's httpPort.
  EXPECT_NE(Tail(p_->dir() / ".slipway/logs/daemon.log").find("(tls-alpn-01)"), std::string::npos)
      << Tail(p_->dir() / ".slipway/logs/daemon.log");
  CmdResult got;
  ASSERT_TRUE(WaitFor([&] { return (got = Curl()).out == "dev\n"; }, 10s)) << got.out;
  std::printf("tls-alpn-01: first verified HTTPS answer %lld ms after `up` returned\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - up_done)
                                         .count()));

  // Nothing is pending now: acme-tls/1 is refused for every name, other handshakes unchanged.
  EXPECT_EQ(AlpnHandshake(https_, "app.test", "acme-tls/1", p_->dir()), "failed");
  EXPECT_EQ(AlpnHandshake(https_, "other.test", "acme-tls/1", p_->dir()), "failed");
  EXPECT_EQ(AlpnHandshake(https_, "app.test", "http/1.1", p_->dir()), "ok http/1.1");

  // bad.test resolves where nothing listens: the failure is an event with Pebble's reason.
  nlohmann::json failed;
  ASSERT_TRUE(
      WaitFor([&] { return !(failed = Event("cert-issue-failed", "bad.test")).is_null(); }, 60s))
      << Tail(p_->dir() / ".slipway/logs/daemon.log");
  const std::string detail = failed.value("message", "");
  EXPECT_NE(detail.find("tls-alpn-01 challenge for bad.test failed"), std::string::npos) << detail;
  EXPECT_NE(detail.find("127.0.0.2"), std::string::npos) << detail;
  EXPECT_EQ(Curl().out, "dev\n");
}

}  // namespace
}  // namespace slipway::testing

namespace slipway::testing {
namespace {

// `slipway certs issue --challenge tls-alpn-01`: its own TLS listener on Pebble's tlsPort
// answers the validation; the stored chain verifies against Pebble's root. A name whose
// validation cannot succeed fails in one line with Pebble's reason; a challenge it does not
// know is refused before anything runs.
TEST_F(AcmeE2E, CertsIssueAnswersTlsAlpn01) {
  const std::string base = std::string(SLIPWAY_BIN) + " certs issue --directory " + dir_url_ +
                           " --ca-file cert.pem --state-dir " + (ca_ / "cli").string() +
                           " --challenge tls-alpn-01 --tls-address 127.0.0.1 --tls-port " +
                           std::to_string(https_) + " --timeout 60 ";
  CmdResult r = Sh(base + "cli.test 2>&1", ca_);
  ASSERT_EQ(r.rc, 0) << r.out << Tail(ca_ / "pebble.log");
  EXPECT_NE(r.out.find("issued cli.test"), std::string::npos) << r.out;
  const std::string chain = (ca_ / "cli/certs/cli.test/cert.pem").string();
  r = Sh("openssl verify -CAfile root.pem -untrusted " + chain + " " + chain + " 2>&1", ca_);
  EXPECT_EQ(r.rc, 0) << r.out;
  r = Sh("openssl x509 -in " + chain + " -noout -ext subjectAltName", ca_);
  EXPECT_NE(r.out.find("DNS:cli.test"), std::string::npos) << r.out;

  r = Sh(base + "bad.test 2>&1", ca_);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("tls-alpn-01 challenge for bad.test failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;  // one line

  r = Sh(std::string(SLIPWAY_BIN) + " certs issue --challenge dns-01 x.test 2>&1", ca_);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("--challenge"), std::string::npos) << r.out;
  r = Sh(std::string(SLIPWAY_BIN) +
             " certs issue --challenge tls-alpn-01 --tls-port 70000 x.test 2>&1",
         ca_);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("--tls-port"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace slipway::testing
