// End-to-end TLS of the admin API and of health probes, against the real daemon:
//  - x-slipway.api.tls: curl --cacert over TLS 1.2 and 1.3 (and not 1.1), a clear-text request
//    on the TLS port closed while the API goes on, the CLI from another folder with --api
//    https://... --cacert and a token (and refusing a wrong CA, a missing token, `up`), a
//    certificate reload on SIGHUP;
//  - load errors (exit 2, one line, file:line): a non-loopback listen without tls, bad files;
//  - an https health probe: a testapp serving TLS becomes healthy, and unhealthy under a
//    strict setting its certificate does not pass.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <string>

#include "harness.h"
#include "net/tls_test_certs.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

// A self-signed certificate by `openssl req` for api.test and 127.0.0.1.
void MakeCert(const std::filesystem::path& dir, const std::string& stem) {
  CmdResult r = Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
                       stem + ".key -out " + stem +
                       ".pem -days 30 -subj /CN=api.test "
                       "-addext subjectAltName=DNS:api.test,IP:127.0.0.1 2>&1",
                   dir);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
}

class ApiTlsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ = FreePort();
    p_ = std::make_unique<Project>(
        "services:\n  web:\n    command: [\"" + kTestapp +
        "\"]\nx-slipway:\n  api:\n    listen: \"127.0.0.1:" + std::to_string(api_) +
        "\"\n    hosts: [api.test]\n    tls: {cert: api.pem, key: api.key}\n");
    MakeCert(p_->dir(), "api");
    MakeCert(p_->dir(), "next");
    std::filesystem::create_directories(elsewhere_);
  }
  void TearDown() override { std::filesystem::remove_all(elsewhere_); }

  std::string Url(const std::string& path) {
    return "--resolve api.test:" + std::to_string(api_) +
           ":127.0.0.1 https://api.test:" + std::to_string(api_) + path;
  }
  std::string Curl(const std::string& args) {
    return Sh("curl -sS --max-time 5 " + args + " 2>&1", p_->dir()).out;
  }
  std::string Token() {
    std::ifstream in(p_->dir() / ".slipway" / "token");
    std::string t;
    in >> t;
    return t;
  }
  // The CLI run from a folder with no project in it.
  CmdResult Remote(std::vector<std::string> args, const std::vector<std::string>& env) {
    args.insert(args.begin(), SLIPWAY_BIN);
    return RunCmd(args, elsewhere_, env, 30s);
  }

  int api_ = 0;
  std::unique_ptr<Project> p_;
  std::filesystem::path elsewhere_ =
      std::filesystem::temp_directory_path() / ("slipway-remote-cli-" + std::to_string(getpid()));
};

TEST_F(ApiTlsE2E, ServesTheApiOverTlsToCurlAndToTheRemoteCli) {
  CmdResult up = p_->Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;
  EXPECT_NE(up.out.find("API and metrics at https://127.0.0.1:" + std::to_string(api_)),
            std::string::npos)
      << up.out;

  // curl verifies the chain and the name; TLS 1.2 and 1.3 both work.
  std::string out = Curl("-D - --cacert api.pem " + Url("/health"));
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  out = Curl("-o /dev/null -w '%{http_code}' --tlsv1.2 --tls-max 1.2 --cacert api.pem " +
             Url("/health"));
  EXPECT_EQ(out, "200");
  out = Curl("-o /dev/null -w '%{http_code}' --tlsv1.3 --cacert api.pem " + Url("/health"));
  EXPECT_EQ(out, "200");
  out = Sh("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(api_) +
               " -tls1_1 </dev/null 2>&1",
           p_->dir())
            .out;
  EXPECT_EQ(out.find("New, TLSv1.1"), std::string::npos) << out;
  // The token over TLS; a wrong CA is refused by curl.
  out = Curl("-H 'Authorization: Bearer " + Token() + "' --cacert api.pem " + Url("/api/v1/ps"));
  EXPECT_NE(out.find("\"service\":\"web\""), std::string::npos) << out;
  out = Curl("--cacert next.pem " + Url("/health"));
  EXPECT_NE(out.find("curl: (60)"), std::string::npos) << out;

  // Clear text on the TLS port: closed without an answer, and the API goes on.
  out = Curl("-o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(api_) + "/health");
  EXPECT_NE(out.find("000"), std::string::npos) << out;
  EXPECT_EQ(out.find("200"), std::string::npos) << out;
  out = Curl("-o /dev/null -w '%{http_code}' --cacert api.pem " + Url("/health"));
  EXPECT_EQ(out, "200");

  // The CLI elsewhere, with the URL's host (an IP the certificate names) verified.
  const std::string api = "https://127.0.0.1:" + std::to_string(api_);
  const std::string ca = (p_->dir() / "api.pem").string();
  CmdResult ps = Remote({"--api", api, "--cacert", ca, "ps", "--format", "json"},
                        {"SLIPWAY_API_TOKEN=" + Token()});
  ASSERT_EQ(ps.rc, 0) << ps.err;
  auto rows = nlohmann::json::parse(ps.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << ps.out;
  ASSERT_EQ(rows.size(), 1u) << ps.out;
  EXPECT_EQ(rows[0].value("service", ""), "web");
  // The token from a file works the same.
  std::ofstream(elsewhere_ / "token") << Token() << "\n";
  ps = Remote({"--api", api, "--cacert", ca, "--token-file", (elsewhere_ / "token").string(), "ps"},
              {});
  EXPECT_EQ(ps.rc, 0) << ps.err;
  EXPECT_NE(ps.out.find("web"), std::string::npos) << ps.out;
  // A CA the certificate does not chain to: refused, saying why (exit 1).
  ps = Remote({"--api", api, "--cacert", (p_->dir() / "next.pem").string(), "ps"},
              {"SLIPWAY_API_TOKEN=" + Token()});
  EXPECT_EQ(ps.rc, 1) << ps.out;
  EXPECT_NE(ps.err.find("certificate verify failed"), std::string::npos) << ps.err;
  // The system store does not know this certificate either.
  ps = Remote({"--api", api, "ps"}, {"SLIPWAY_API_TOKEN=" + Token()});
  EXPECT_EQ(ps.rc, 1) << ps.out;
  // Bad input is exit 2, one line: no token, a bad URL, clear text beyond loopback, `up`.
  for (const auto& [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--api", api, "--cacert", ca, "ps"}, "no token"},
           {{"--api", "ftp://x:1", "ps"}, "is not an API URL"},
           {{"--api", "http://10.1.2.3:8700", "ps"}, "in clear beyond this host"},
           {{"--api", api, "--cacert", "/nonexistent.pem", "ps"},
            "--cacert: \"/nonexistent.pem\" is not an existing file"},
       }) {
    std::vector<std::string> env;
    if (want != "no token") env.push_back("SLIPWAY_API_TOKEN=" + Token());
    CmdResult r = Remote(args, env);
    EXPECT_EQ(r.rc, 2) << want << ": " << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // `up` loads and sends this host's project: refused with --api, even beside the files.
  CmdResult remote_up = p_->Slipway({"--api", api, "--cacert", ca, "up", "-d"}, 30s,
                                    {"SLIPWAY_API_TOKEN=" + Token()});
  EXPECT_EQ(remote_up.rc, 2) << remote_up.err;
  EXPECT_NE(remote_up.err.find("only works on the daemon's own host"), std::string::npos)
      << remote_up.err;
  // A wrong token over TLS is the router's 401, not a TLS problem.
  ps = Remote({"--api", api, "--cacert", ca, "ps"}, {"SLIPWAY_API_TOKEN=wrong-token-0123456789"});
  EXPECT_EQ(ps.rc, 1);
  EXPECT_NE(ps.err.find("token"), std::string::npos) << ps.err;
}

TEST_F(ApiTlsE2E, ReloadsTheApiCertificateOnSighup) {
  CmdResult up = p_->Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;
  std::string out = Curl("-o /dev/null -w '%{http_code}' --cacert api.pem " + Url("/health"));
  ASSERT_EQ(out, "200");
  std::filesystem::copy_file(p_->dir() / "next.key", p_->dir() / "api.key",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(p_->dir() / "next.pem", p_->dir() / "api.pem",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(kill(p_->DaemonPid(), SIGHUP), 0);
  // api.pem now holds the next certificate: it verifies only once the daemon serves it.
  EXPECT_TRUE(WaitFor([&] {
    return Curl("-o /dev/null -w '%{http_code}' --cacert api.pem " + Url("/health")) == "200";
  }));
  std::string events = p_->Events().dump();
  EXPECT_NE(events.find("the API's certificate after SIGHUP"), std::string::npos) << events;
}

TEST(ApiTlsLoad, NonLoopbackWithoutTlsAndBadFilesAreExit2WithFileAndLine) {
  const std::string web = "services:\n  web:\n    command: [\"" + kTestapp + "\"]\n";
  struct Case {
    std::string api, where, reason;
  };
  const std::vector<Case> cases = {
      {"    listen: 0.0.0.0:18700\n",
       "compose.yaml:6:5: x-slipway.api.listen:", "serves beyond this host only over TLS"},
      {"    listen: 0.0.0.0:18700\n    tls: {cert: a.pem, key: b.key}\n",
       "compose.yaml:7:", "does not match the certificate"},
      {"    tls: {cert: missing.pem, key: a.key}\n", "x-slipway.api.tls.cert:", "cannot read"},
      {"    tls: {cert: old.pem, key: old.key}\n",
       "x-slipway.api.tls.cert:", "certificate expired on"},
      {"    tls: {cert: compose.yaml, key: a.key}\n",
       "x-slipway.api.tls.cert:", "not a PEM certificate"},
  };
  for (const Case& c : cases) {
    Project p(web + "x-slipway:\n  api:\n" + c.api);
    MakeCert(p.dir(), "a");
    MakeCert(p.dir(), "b");
    net::testing::TestCert old = net::testing::MakeTestCert({"old.test"}, -10 * 86400, -86400);
    net::testing::WriteTestFile((p.dir() / "old.pem").string(), old.cert_pem);
    net::testing::WriteTestFile((p.dir() / "old.key").string(), old.key_pem);
    CmdResult up = p.Slipway({"up", "-d"});
    EXPECT_EQ(up.rc, 2) << c.api << up.err;
    EXPECT_EQ(std::count(up.err.begin(), up.err.end(), '\n'), 1) << up.err;
    EXPECT_NE(up.err.find(c.where), std::string::npos) << up.err;
    EXPECT_NE(up.err.find(c.reason), std::string::npos) << up.err;
    EXPECT_FALSE(PidAlive(p.DaemonPid()));
  }
}

// A testapp serving TLS with its own certificate (for api.test / 127.0.0.1), probed over https.
std::string TlsApp(const std::string& healthcheck) {
  return "services:\n  app:\n    command: [\"" + kTestapp +
         "\"]\n    environment: {TLS_CERT: app.pem, TLS_KEY: app.key}\n"
         "    healthcheck: {interval: 200ms, timeout: 2s, retries: 2, start_interval: 100ms}\n"
         "    x-slipway:\n      healthcheck: " +
         healthcheck + "\n";
}

TEST(HttpsProbeE2E, ATlsServiceBecomesHealthyAndAStrictProbeRejectsItsCertificate) {
  {
    // Default (no verification): TLS is served and /health answers 200.
    Project p(TlsApp("{http: /health, scheme: https}"));
    MakeCert(p.dir(), "app");
    CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s);
    ASSERT_EQ(up.rc, 0) << up.err << up.out;
    auto ps = p.Ps();
    ASSERT_EQ(ps.size(), 1u) << ps.dump();
    EXPECT_EQ(ps[0].value("health", ""), "healthy") << ps.dump();
  }
  {
    // Verified against the certificate itself as CA, for the IP the probe connects to.
    Project p(TlsApp("{http: /health, scheme: https, ca_file: app.pem}"));
    MakeCert(p.dir(), "app");
    CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s);
    ASSERT_EQ(up.rc, 0) << up.err << up.out;
    EXPECT_EQ(p.Ps()[0].value("health", ""), "healthy");
  }
  {
    // Strict against the system store: a self-signed certificate never passes.
    Project p(TlsApp("{http: /health, scheme: https, insecure_skip_verify: false}"));
    MakeCert(p.dir(), "app");
    CmdResult up = p.Slipway({"up", "-d"}, 60s);
    ASSERT_EQ(up.rc, 0) << up.err << up.out;
    std::string health;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto ps = p.Ps();
          health = ps.is_array() && !ps.empty() ? ps[0].value("health", "") : "";
          return health == "unhealthy";
        },
        20s))
        << health;
    std::string events = p.Events().dump();
    EXPECT_NE(events.find("certificate verify failed"), std::string::npos) << events;
  }
}

}  // namespace
}  // namespace slipway::testing
