// End to end: the host's ingress orders the certificates of the projects behind it from an
// ACME CA. Pebble (Let's Encrypt's test CA, Debian package `pebble`) and pebble-challtestsrv
// (its DNS server: every name → 127.0.0.1, bad.test → 127.0.0.2 where nothing listens) run on
// free loopback ports, started and killed by PID; Pebble validates HTTP-01 on the ingress's
// plain port and TLS-ALPN-01 on its TLS port (both free ports, through
// $SLIPWAY_INGRESS_HTTP/_HTTPS). Project A (a.test, bad.test) takes http-01, project B
// (b.test) tls-alpn-01; each certificate is verified by curl against Pebble's root by SNI;
// bad.test's failed challenge is reported by the ingress with Pebble's reason, while a.test
// is served. Certificates land 0600 in the ingress's state folder, and /metrics has their
// expiry. The projects learn their own certificates from the ingress (ingress/cert_report.h):
// each sees its events (cert-issued, cert-issue-failed) in `slipway events`, its names in
// `slipway certs status` and its expiry gauge in its own /metrics, never the other's. Then
// `slipway certs renew a.test` through A's daemon renews at the ingress under a client loop
// (0 failed), the new certificate is served, and A records cert-renewed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
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

Result<http::ClientResponse> Control(const std::filesystem::path& state, const std::string& path) {
  http::Endpoint ep;
  ep.unix_path = (state / "ingress.sock").string();
  http::Request req;
  req.target = path;
  return http::Fetch(ep, req, Duration(5'000));
}

// GET <path> on a project's daemon (its unix socket).
Result<http::ClientResponse> DaemonGet(const Project& p, const std::string& path) {
  http::Endpoint ep;
  ep.unix_path = (p.dir() / ".slipway" / "api.sock").string();
  http::Request req;
  req.target = path;
  return http::Fetch(ep, req, Duration(5'000));
}

// The first event of `kind` in the project's `slipway events` whose message holds `text`.
nlohmann::json FindEvent(Project& p, const std::vector<std::string>& env, const std::string& kind,
                         const std::string& text) {
  CmdResult r = p.Slipway({"events", "--format", "json"}, 20s, env);
  nlohmann::json events = nlohmann::json::parse(r.out, nullptr, false);
  if (!events.is_array()) return nullptr;
  for (const nlohmann::json& e : events) {
    if (e.value("kind", "") == kind && e.value("message", "").find(text) != std::string::npos) {
      return e;
    }
  }
  return nullptr;
}

class IngressAcmeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/pebble", X_OK) != 0 || access("/usr/bin/pebble-challtestsrv", X_OK) != 0) {
      GTEST_FAIL() << "pebble is not installed (scripts/install-deps.sh installs it)";
    }
    char tmpl[] = "/tmp/slipway-ingress-acme-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    state_ = root_ / "state" / "ingress";
    http_ = FreePort();
    https_ = FreePort();
    const int dns = FreePort(), dns_mgmt = FreePort(), dir_port = FreePort(), mgmt = FreePort();
    CmdResult r =
        Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem "
           "-out cert.pem -days 2 -subj /CN=localhost "
           "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>&1",
           root_);
    ASSERT_EQ(r.rc, 0) << r.out;
    dns_.Start(
        {"/usr/bin/pebble-challtestsrv", "-dns01", "127.0.0.1:" + std::to_string(dns), "-http01",
         "", "-https01", "", "-tlsalpn01", "", "-management",
         "127.0.0.1:" + std::to_string(dns_mgmt), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""},
        {}, root_ / "challtestsrv.log");
    std::ofstream(root_ / "pebble.json")
        << R"({"pebble":{"listenAddress":"127.0.0.1:)" << dir_port
        << R"(","managementListenAddress":"127.0.0.1:)" << mgmt << R"(","certificate":")"
        << (root_ / "cert.pem").string() << R"(","privateKey":")" << (root_ / "key.pem").string()
        << R"(","httpPort":)" << http_ << R"(,"tlsPort":)" << https_
        << R"(,"ocspResponderURL":"","externalAccountBindingRequired":false}})";
    pebble_.Start({"/usr/bin/pebble", "-config", (root_ / "pebble.json").string(), "-dnsserver",
                   "127.0.0.1:" + std::to_string(dns)},
                  {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=10"}, root_ / "pebble.log");
    dir_url_ = "https://127.0.0.1:" + std::to_string(dir_port) + "/dir";
    ASSERT_TRUE(WaitFor(
        [&] {
          return Sh("curl -sSf --max-time 2 --cacert cert.pem " + dir_url_ + " >/dev/null", root_)
                         .rc == 0 &&
                 Sh("curl -sSf --max-time 2 -X POST -d '{\"host\":\"bad.test\",\"addresses\":"
                    "[\"127.0.0.2\"]}' http://127.0.0.1:" +
                        std::to_string(dns_mgmt) + "/add-a",
                    root_)
                         .rc == 0;
        },
        20s))
        << Tail(root_ / "pebble.log") << Tail(root_ / "challtestsrv.log");
    r = Sh("curl -sSf --max-time 5 --cacert cert.pem -o root.pem https://127.0.0.1:" +
               std::to_string(mgmt) + "/roots/0",
           root_);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    env_ = {"SLIPWAY_STATE_DIR=" + (root_ / "state").string(),
            "SLIPWAY_INGRESS_HTTP=127.0.0.1:" + std::to_string(http_),
            "SLIPWAY_INGRESS_HTTPS=127.0.0.1:" + std::to_string(https_)};
  }
  void TearDown() override {
    a_.reset();  // the daemons first: they would start the ingress again
    b_.reset();
    pid_t pid = ReadPid(state_ / "ingress.pid");
    if (PidAlive(pid)) {
      kill(pid, SIGTERM);
      if (!WaitFor([&] { return !PidAlive(pid); }, 10s)) kill(pid, SIGKILL);
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  std::string Compose(const std::string& version, const std::vector<std::string>& hosts,
                      const std::string& challenge) {
    std::string routes;
    for (const std::string& h : hosts) routes += "    - {host: " + h + ", service: web}\n";
    return "services:\n  web:\n    command: [\"" + kTestapp +
           "\"]\n    environment: {VERSION: " + version +
           "}\n    healthcheck: {interval: 100ms, start_interval: 50ms}\n"
           "    x-slipway: {healthcheck: {http: /health}}\n"
           "x-slipway:\n  ingress: true\n  tls:\n    acme:\n      email: ops@slipway.test\n"
           "      directory: " +
           dir_url_ + "\n      ca_file: " + (root_ / "cert.pem").string() +
           "\n      challenge: " + challenge + "\n  routes:\n" + routes;
  }

  // GET https://host:<https>/version, verified against Pebble's root for `host` (SNI).
  CmdResult Curl(const std::string& host) {
    return Sh("curl -sS --max-time 5 --cacert " + (root_ / "root.pem").string() + " --resolve " +
                  host + ":" + std::to_string(https_) + ":127.0.0.1 https://" + host + ":" +
                  std::to_string(https_) + "/version 2>&1",
              root_);
  }

  std::filesystem::path root_, state_;
  int http_ = 0, https_ = 0;
  std::string dir_url_;
  Child dns_, pebble_;
  std::vector<std::string> env_;
  std::unique_ptr<Project> a_, b_;
};

TEST_F(IngressAcmeE2E, TwoProjectsGetCertificatesByHttp01AndTlsAlpn01) {
  a_ = std::make_unique<Project>(Compose("a1", {"a.test", "bad.test"}, "http-01"));
  b_ = std::make_unique<Project>(Compose("b1", {"b.test"}, "tls-alpn-01"));
  CmdResult up = a_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  up = b_->Slipway({"up", "-d", "--wait"}, 90s, env_);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  const auto start = std::chrono::steady_clock::now();

  // Both names verify against Pebble's root, each by its own SNI.
  CmdResult a, b;
  ASSERT_TRUE(WaitFor(
      [&] {
        a = Curl("a.test");
        b = Curl("b.test");
        return a.out == "a1\n" && b.out == "b1\n";
      },
      90s))
      << "a: " << a.out << "\nb: " << b.out << "\n"
      << Tail(state_ / "ingress.log") << Tail(root_ / "pebble.log");
  std::printf("first verified HTTPS answers for a.test and b.test %lld ms after both `up`s\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - start)
                                         .count()));
  for (const std::string host : {"a.test", "b.test"}) {
    CmdResult san =
        Sh("openssl s_client -connect 127.0.0.1:" + std::to_string(https_) + " -servername " +
               host + " </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName",
           root_);
    EXPECT_NE(san.out.find("DNS:" + host), std::string::npos) << host << ": " << san.out;
    struct stat st {};
    ASSERT_EQ(stat((state_ / "certs" / host / "key.pem").c_str(), &st), 0) << host;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << host;
    ASSERT_EQ(stat((state_ / "certs" / host / "cert.pem").c_str(), &st), 0) << host;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << host;
  }
  std::string log = Tail(state_ / "ingress.log");
  EXPECT_NE(log.find("(http-01)"), std::string::npos) << log;
  EXPECT_NE(log.find("(tls-alpn-01)"), std::string::npos) << log;

  // bad.test's challenge cannot succeed (nothing listens on 127.0.0.2): a failed attempt with
  // Pebble's reason, in the ingress's report and its log.
  nlohmann::json failed;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Control(state_, "/v1/certs");
        if (!r.ok() || r->status != 200) return false;
        nlohmann::json doc = nlohmann::json::parse(r->body, nullptr, false);
        if (doc.is_discarded()) return false;
        for (const nlohmann::json& e : doc["events"]) {
          if (e.value("kind", "") == "cert-issue-failed" && e.value("project", "") != "" &&
              e["names"] == nlohmann::json::array({"bad.test"})) {
            failed = e;
            return true;
          }
        }
        return false;
      },
      60s))
      << Tail(state_ / "ingress.log");
  const std::string error = failed.value("error", "");
  EXPECT_NE(error.find("challenge for bad.test failed"), std::string::npos) << error;
  EXPECT_NE(error.find("connection"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.2"), std::string::npos) << error;
  EXPECT_NE(Tail(state_ / "ingress.log").find("cert-issue-failed bad.test"), std::string::npos);

  auto certs = Control(state_, "/v1/certs");
  ASSERT_TRUE(certs.ok());
  nlohmann::json doc = nlohmann::json::parse(certs->body);
  int valid = 0;
  for (const nlohmann::json& row : doc["certificates"]) {
    if (row["state"] == "valid") ++valid;
    if (row["name"] == "bad.test") {
      EXPECT_EQ(row["state"], "failing") << row.dump();
    }
  }
  EXPECT_EQ(valid, 2) << doc.dump();

  // Plain HTTP redirects (308) to HTTPS by default; the ingress's /metrics has the expiry.
  CmdResult plain =
      Sh("curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: a.test' "
         "http://127.0.0.1:" +
             std::to_string(http_) + "/version",
         root_);
  EXPECT_EQ(plain.out, "308");
  auto metrics = Control(state_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("slipway_tls_cert_expiry_seconds{name=\"a.test\"}"),
            std::string::npos)
      << metrics->body.substr(0, 2000);
  EXPECT_NE(metrics->body.find("slipway_tls_cert_expiry_seconds{name=\"b.test\"}"),
            std::string::npos);
  EXPECT_EQ(metrics->body.find("placeholder"), std::string::npos);
  // An ALPN acme-tls/1 handshake with no pending validation is refused.
  CmdResult alpn = Sh("openssl s_client -connect 127.0.0.1:" + std::to_string(https_) +
                          " -servername a.test -alpn acme-tls/1 </dev/null 2>&1",
                      root_);
  EXPECT_EQ(alpn.out.find("ALPN protocol: acme-tls/1"), std::string::npos) << alpn.out;

  // ---- The projects' own view: events, `certs status`, /metrics; each its own names only.
  const auto learnt = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor(
      [&] {
        return !FindEvent(*a_, env_, "cert-issued", "a.test").is_null() &&
               !FindEvent(*a_, env_, "cert-issue-failed", "bad.test").is_null() &&
               !FindEvent(*b_, env_, "cert-issued", "b.test").is_null();
      },
      20s))
      << a_->Slipway({"events"}, 20s, env_).out << Tail(a_->dir() / ".slipway/logs/daemon.log");
  std::printf("the projects' events were in `slipway events` %lld ms after the ingress's\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - learnt)
                                         .count()));
  nlohmann::json a_failed = FindEvent(*a_, env_, "cert-issue-failed", "bad.test");
  EXPECT_NE(a_failed.value("message", "").find("127.0.0.2"), std::string::npos) << a_failed;
  EXPECT_TRUE(FindEvent(*b_, env_, "cert-issued", "a.test").is_null());
  EXPECT_TRUE(FindEvent(*b_, env_, "cert-issue-failed", "bad.test").is_null());
  EXPECT_TRUE(FindEvent(*a_, env_, "cert-issued", "b.test").is_null());

  CmdResult table = a_->Slipway({"certs", "status"}, 20s, env_);
  EXPECT_EQ(table.rc, 0) << table.err;
  EXPECT_NE(table.out.find("ISSUER"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("LAST ATTEMPT"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Pebble"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("failing"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("127.0.0.2"), std::string::npos) << table.out;  // the last error
  EXPECT_EQ(table.out.find("b.test"), std::string::npos) << table.out;
  CmdResult b_json = b_->Slipway({"certs", "status", "--format", "json"}, 20s, env_);
  nlohmann::json b_doc = nlohmann::json::parse(b_json.out, nullptr, false);
  ASSERT_TRUE(b_doc.is_object()) << b_json.out << b_json.err;
  EXPECT_EQ(b_doc["acme"], true);
  ASSERT_EQ(b_doc["certificates"].size(), 1u) << b_doc.dump();
  EXPECT_EQ(b_doc["certificates"][0]["name"], "b.test");
  EXPECT_EQ(b_doc["certificates"][0]["state"], "valid");
  EXPECT_GT(b_doc["certificates"][0].value("not_after_ms", int64_t{0}), 0);
  EXPECT_GT(b_doc["certificates"][0].value("last_attempt_ms", int64_t{0}), 0);
  auto a_metrics = DaemonGet(*a_, "/metrics");
  ASSERT_TRUE(a_metrics.ok()) << a_metrics.status().message();
  EXPECT_NE(a_metrics->body.find("slipway_tls_cert_expiry_seconds{name=\"a.test\"}"),
            std::string::npos)
      << a_metrics->body.substr(0, 2000);
  EXPECT_EQ(a_metrics->body.find("name=\"b.test\""), std::string::npos);

  // ---- Renewal through the ingress under a client loop: every request answered, the new
  // certificate served, the project told.
  auto served_serial = [&] {
    return Sh("openssl s_client -connect 127.0.0.1:" + std::to_string(https_) +
                  " -servername a.test </dev/null 2>/dev/null | openssl x509 -noout -serial",
              root_)
        .out;
  };
  const std::string first_serial = served_serial();
  ASSERT_NE(first_serial.find("serial="), std::string::npos) << first_serial;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::string last_failure;
  std::thread load([&] {
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < 2000 && !stop && std::chrono::steady_clock::now() < until; ++i) {
      CmdResult c = Curl("a.test");
      if (c.out == "a1\n") {
        ok++;
      } else {
        bad++;
        last_failure = c.out;
      }
    }
  });
  std::this_thread::sleep_for(500ms);
  const auto asked = std::chrono::steady_clock::now();
  CmdResult renew = a_->Slipway({"certs", "renew", "a.test"}, 20s, env_);
  EXPECT_EQ(renew.rc, 0) << renew.out << renew.err;
  std::string serial;
  const bool swapped = WaitFor([&] { return (serial = served_serial()) != first_serial; }, 60s);
  const auto swapped_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - asked)
                              .count();
  const bool told =
      WaitFor([&] { return !FindEvent(*a_, env_, "cert-renewed", "a.test").is_null(); }, 20s);
  std::this_thread::sleep_for(500ms);
  stop = true;
  load.join();
  EXPECT_TRUE(swapped) << serial << Tail(state_ / "ingress.log");
  EXPECT_TRUE(told) << Tail(a_->dir() / ".slipway/logs/daemon.log");
  EXPECT_GT(ok.load(), 5);
  EXPECT_EQ(bad.load(), 0) << last_failure;
  std::printf(
      "renewal through the ingress: new certificate served %lld ms after `certs renew`; HTTPS "
      "requests meanwhile: %d answered, %d failed\n",
      static_cast<long long>(swapped_ms), ok.load(), bad.load());
  EXPECT_TRUE(FindEvent(*b_, env_, "cert-renewed", "a.test").is_null());

  // Renewing a name the project does not order is refused in one line, by the ingress.
  CmdResult other = a_->Slipway({"certs", "renew", "b.test"}, 20s, env_);
  EXPECT_NE(other.rc, 0);
  EXPECT_NE(other.err.find("b.test"), std::string::npos) << other.err;
}

}  // namespace
}  // namespace slipway::testing
