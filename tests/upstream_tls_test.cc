// End-to-end https:// upstreams: the real daemon proxies a published port to a testapp that
// speaks TLS itself (TLS_CERT/TLS_KEY), verifying it against a private CA for a server name
// (x-slipway.upstream), and answers 502 for a service whose certificate its CA does not sign.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"
#include "tlsclient/test_tls_server.h"

namespace slipway::testing {
namespace {

const std::string kTestapp = TESTAPP_BIN;

std::string TlsService(const std::string& name, int published,
                       const tlsclient::testing::TestPki& pki, const std::string& ca) {
  return "  " + name + ":\n    command: [\"" + kTestapp + "\"]\n" +
         "    environment: {TLS_CERT: \"" + pki.server_cert + "\", TLS_KEY: \"" + pki.server_key +
         "\"}\n    ports: [\"127.0.0.1:" + std::to_string(published) + ":8443\"]\n" +
         "    healthcheck: {interval: 100ms, start_interval: 50ms, start_period: 5s}\n" +
         "    x-slipway:\n      healthcheck: {tcp: true}\n" +
         "      upstream: {scheme: https, ca_file: \"" + ca + "\", server_name: localhost}\n";
}

TEST(UpstreamTlsE2E, ProxiesToAnHttpsInstanceAndRefusesAnUntrustedOne) {
  const int good = FreePort(), bad = FreePort(), api = FreePort();
  Project p("services:\n");
  tlsclient::testing::TestPki pki;
  ASSERT_TRUE(tlsclient::testing::TestPki::Make(p.dir().string(), &pki));
  p.Write("compose.yaml", "services:\n" + TlsService("secure", good, pki, pki.ca) +
                              TlsService("untrusted", bad, pki, pki.other_ca) +
                              "x-slipway:\n  api: {listen: \"127.0.0.1:" + std::to_string(api) +
                              "\"}\n");
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;

  std::string body;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(HttpGet(good, "/", &body), 200) << body;
    EXPECT_NE(body.find("service=secure"), std::string::npos) << body;
  }
  ASSERT_EQ(HttpGet(good, "/headers", &body), 200);
  EXPECT_NE(body.find("X-Forwarded-Proto: http"), std::string::npos) << body;

  EXPECT_EQ(HttpGet(bad, "/", &body), 502);
  EXPECT_EQ(body, "upstream TLS handshake failed\n");
  std::string metrics;
  ASSERT_EQ(HttpGet(api, "/metrics", &metrics), 200);
  EXPECT_NE(metrics.find("slipway_http_upstream_errors_total{route=\"untrusted\",set="),
            std::string::npos);
  EXPECT_NE(metrics.find("kind=\"tls\"} "), std::string::npos);
}

TEST(UpstreamTlsE2E, BadUpstreamSettingsAreLoadErrorsAndNothingStarts) {
  Project p("services:\n  web:\n    command: [\"" + kTestapp +
            "\"]\n    ports: [\"127.0.0.1:" + std::to_string(FreePort()) +
            ":8080\"]\n    x-slipway:\n      upstream: {scheme: https, ca_file: nowhere.pem}\n");
  CmdResult up = p.Slipway({"up", "-d"});
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("compose.yaml:6:"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("services.web.x-slipway.upstream.ca_file"), std::string::npos) << up.err;
  EXPECT_FALSE(PidAlive(p.DaemonPid()));
}

}  // namespace
}  // namespace slipway::testing
