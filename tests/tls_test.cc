// End-to-end HTTPS: the real daemon terminates TLS on a published port with certificates made
// by `openssl req`, checked with curl and `openssl s_client` (SNI, ALPN, TLS 1.2 and 1.3,
// resumption), a plain port redirecting with 308, HSTS, X-Forwarded-Proto seen by the app, a
// reload (SIGHUP and a file change) under load with no failed request, the expiry metric, and
// bad certificate files refused at load time.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "harness.h"
#include "net/tls_test_certs.h"
#include "tls_helpers.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

// A self-signed certificate for `name` made by `openssl req` (EC P-256, or RSA 2048).
void MakeCert(const std::filesystem::path& dir, const std::string& stem, const std::string& name,
              bool rsa = false, int days = 30) {
  std::string key = rsa ? "-newkey rsa:2048" : "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
  CmdResult r = Sh("openssl req -x509 " + key + " -nodes -keyout " + stem + ".key -out " + stem +
                       ".pem -days " + std::to_string(days) + " -subj /CN=" + name +
                       " -addext subjectAltName=DNS:" + name + " 2>&1",
                   dir);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
}

class TlsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    https_ = FreePort();
    http_ = FreePort();
    api_ = FreePort();
    const std::string hs = std::to_string(https_), hp = std::to_string(http_);
    p_ = std::make_unique<Project>(
        "services:\n  web:\n    command: [\"" + kTestapp + "\"]\n    ports: [\"127.0.0.1:" + hs +
        ":8080\"]\n"
        "    healthcheck: {interval: 100ms, start_interval: 50ms, start_period: 5s}\n"
        "    x-slipway: {healthcheck: {http: /health}, ports: {8080: https}}\n"
        "x-slipway:\n  api: {listen: \"127.0.0.1:" +
        std::to_string(api_) +
        "\"}\n  tls:\n    certificates:\n"
        "      - {cert: a.pem, key: a.key}\n      - {cert: b.pem, key: b.key}\n"
        "    hsts: 1y\n  routes:\n    - {listen: \"127.0.0.1:" +
        hp + "\", service: web}\n");
    MakeCert(p_->dir(), "a", "a.test");
    MakeCert(p_->dir(), "b", "b.test", /*rsa=*/true);
  }
  std::string Curl(const std::string& args) {
    CmdResult r = Sh("curl -sS --max-time 5 " + args + " 2>&1", p_->dir());
    return r.out;
  }
  std::string SClient(const std::string& args, const std::string& input = "") {
    std::string in = input.empty() ? "" : "printf '" + input + "' | ";
    CmdResult r =
        Sh(in + "timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(https_) + " " +
               args + " 2>&1" + (input.empty() ? " </dev/null" : ""),
           p_->dir());
    return r.out;
  }
  std::string Resolve(const std::string& name) {
    return "--resolve " + name + ":" + std::to_string(https_) + ":127.0.0.1 https://" + name + ":" +
           std::to_string(https_);
  }

  int https_ = 0, http_ = 0, api_ = 0;
  std::unique_ptr<Project> p_;
};

TEST_F(TlsE2E, ServesHttpsWithSniAlpnVersionsResumptionRedirectAndHsts) {
  CmdResult up = p_->Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;

  // curl verifies the chain against the right certificate for each name (SNI).
  std::string out = Curl("-D - --cacert a.pem " + Resolve("a.test") + "/headers");
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: https"), std::string::npos) << out;
  EXPECT_NE(out.find("Strict-Transport-Security: max-age=31536000"), std::string::npos) << out;
  out = Curl("--cacert b.pem " + Resolve("b.test") + "/version");
  EXPECT_EQ(out, "dev\n");
  out = Curl("--cacert a.pem " + Resolve("b.test") + "/version");  // wrong CA: refused
  EXPECT_EQ(out.find("dev"), std::string::npos) << out;

  // openssl s_client: SNI picks the certificate, no SNI gets the default (the first).
  out = SClient("-servername b.test -alpn http/1.1 -tls1_3");
  EXPECT_NE(out.find("CN = b.test"), std::string::npos) << out;
  EXPECT_NE(out.find("ALPN protocol: http/1.1"), std::string::npos) << out;
  EXPECT_NE(out.find("TLSv1.3"), std::string::npos) << out;
  out = SClient("-noservername -tls1_2");
  EXPECT_NE(out.find("CN = a.test"), std::string::npos) << out;
  EXPECT_NE(out.find("New, TLSv1.2, Cipher is ECDHE-ECDSA-"), std::string::npos) << out;
  out = SClient("-servername nobody.test -tls1_1");
  EXPECT_EQ(out.find("New, TLSv1.1"), std::string::npos) << out;  // below the floor

  // Resumption with the session the first connection saved (TLS 1.3 tickets, then 1.2).
  const std::string req =
      "GET /version HTTP/1.1\\r\\nHost: a.test\\r\\nConnection: close\\r\\n\\r\\n";
  for (const std::string v : {"-tls1_3", "-tls1_2"}) {
    std::filesystem::remove(p_->dir() / "sess.pem");
    out = SClient("-servername a.test -ign_eof -sess_out sess.pem " + v, req);
    EXPECT_NE(out.find("New, TLS"), std::string::npos) << v << out;
    out = SClient("-servername a.test -ign_eof -sess_in sess.pem " + v, req);
    EXPECT_NE(out.find("Reused, TLS"), std::string::npos) << v << out;
  }

  // The plain port redirects (308 keeps the method), except ACME HTTP-01 challenges.
  out = Curl("-D - -o /dev/null -H 'Host: a.test:1234' 'http://127.0.0.1:" + std::to_string(http_) +
             "/x/y?q=1'");
  EXPECT_NE(out.find("HTTP/1.1 308"), std::string::npos) << out;
  EXPECT_NE(out.find("Location: https://a.test:" + std::to_string(https_) + "/x/y?q=1"),
            std::string::npos)
      << out;
  out = Curl("-D - 'http://127.0.0.1:" + std::to_string(http_) +
             "/.well-known/acme-challenge/token'");
  EXPECT_NE(out.find("HTTP/1.1 404"), std::string::npos) << out;               // the app's answer
  EXPECT_EQ(out.find("Strict-Transport-Security"), std::string::npos) << out;  // plain: no HSTS

  // The expiry metric, per certificate name.
  std::string metrics;
  ASSERT_EQ(HttpGet(api_, "/metrics", &metrics), 200);
  EXPECT_NE(metrics.find("slipway_tls_cert_expiry_seconds{name=\"a.test\"}"), std::string::npos);
  EXPECT_NE(metrics.find("slipway_tls_cert_expiry_seconds{name=\"b.test\"}"), std::string::npos);
}

TEST_F(TlsE2E, ReloadsOnSighupAndFileChangeUnderLoadWithoutAFailedRequest) {
  CmdResult up = p_->Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;
  const std::string ca;  // curl checks verification; here serials tell certificates apart
  std::string first_serial;
  {
    TlsClient c(ca, 5s);
    ASSERT_TRUE(c.Connect(https_, "a.test"));
    ASSERT_EQ(c.Get("/version"), 200);
    first_serial = c.PeerSerial();
  }
  std::filesystem::create_directories(p_->dir() / "next");
  MakeCert(p_->dir() / "next", "a", "a.test");
  MakeCert(p_->dir() / "next", "a2", "a.test");

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      TlsClient c(ca, 5s);
      // Bounded: at most 20 s or 100000 requests; a new connection (handshake) every 5.
      auto until = std::chrono::steady_clock::now() + 20s;
      for (int i = 0; i < 100000 && !stop && std::chrono::steady_clock::now() < until; ++i) {
        if (i % 5 == 0 && !c.Connect(https_, "a.test")) {
          failed++;
          continue;
        }
        if (c.Get("/version") == 200) {
          ok++;
        } else {
          failed++;
        }
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  // SIGHUP after replacing the files.
  std::filesystem::copy_file(p_->dir() / "next/a.pem", p_->dir() / "a.pem",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(p_->dir() / "next/a.key", p_->dir() / "a.key",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(kill(p_->DaemonPid(), SIGHUP), 0);
  std::string second_serial;
  EXPECT_TRUE(WaitFor([&] {
    TlsClient c(ca, 5s);
    if (!c.Connect(https_, "a.test")) return false;
    second_serial = c.PeerSerial();
    return second_serial != first_serial;
  }));
  // Then a file change alone (the watch polls every 5 s): key first, as tools write them.
  Sh("cat next/a2.key > a.key.tmp && mv a.key.tmp a.key && cat next/a2.pem > a.pem.tmp && "
     "mv a.pem.tmp a.pem",
     p_->dir());
  std::string third_serial;
  EXPECT_TRUE(WaitFor(
      [&] {
        TlsClient c(ca, 5s);
        if (!c.Connect(https_, "a.test")) return false;
        third_serial = c.PeerSerial();
        return third_serial != second_serial && third_serial != first_serial;
      },
      15s));
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_GT(ok.load(), 100);
  EXPECT_EQ(failed.load(), 0);
  std::string events = p_->Slipway({"events"}).out;
  EXPECT_NE(events.find("tls-reloaded"), std::string::npos) << events;
}

TEST(TlsBadFiles, AreLoadErrorsWithFileLineAndReasonAndNothingStarts) {
  const std::string port = std::to_string(FreePort());
  auto compose = [&](const std::string& cert, const std::string& key) {
    return "services:\n  web:\n    command: [\"" + kTestapp +
           "\"]\n    ports: [\"127.0.0.1:" + port +
           ":8080\"]\n    x-slipway: {ports: {8080: https}}\n"
           "x-slipway:\n  tls:\n    certificates:\n      - cert: " +
           cert + "\n        key: " + key + "\n";
  };
  struct Case {
    std::string cert, key, where, reason;
  };
  const std::vector<Case> cases = {
      {"a.pem", "b.key",
       "compose.yaml:10:9: x-slipway.tls.certificates[0].key:", "does not match the certificate"},
      {"old.pem", "old.key",
       "compose.yaml:9:9: x-slipway.tls.certificates[0].cert:", "certificate expired on"},
      {"missing.pem", "a.key",
       "compose.yaml:9:9: x-slipway.tls.certificates[0].cert:", "cannot read"},
      {"compose.yaml", "a.key",
       "compose.yaml:9:9: x-slipway.tls.certificates[0].cert:", "not a PEM certificate"},
  };
  for (const Case& c : cases) {
    Project p(compose(c.cert, c.key));
    MakeCert(p.dir(), "a", "a.test");
    MakeCert(p.dir(), "b", "b.test");
    // Expired (OpenSSL 3.0's `req` cannot date a certificate in the past: made in memory).
    net::testing::TestCert old = net::testing::MakeTestCert({"old.test"}, -10 * 86400, -86400);
    net::testing::WriteTestFile((p.dir() / "old.pem").string(), old.cert_pem);
    net::testing::WriteTestFile((p.dir() / "old.key").string(), old.key_pem);
    CmdResult up = p.Slipway({"up", "-d"});
    EXPECT_EQ(up.rc, 2) << c.cert << ": " << up.err;
    EXPECT_EQ(std::count(up.err.begin(), up.err.end(), '\n'), 1) << up.err;
    EXPECT_NE(up.err.find(c.where), std::string::npos) << up.err;
    EXPECT_NE(up.err.find(c.reason), std::string::npos) << up.err;
    EXPECT_FALSE(PidAlive(p.DaemonPid()));
  }
}

}  // namespace
}  // namespace slipway::testing
