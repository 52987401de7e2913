#include "config/api_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"
#include "net/tls_test_certs.h"

namespace slipway::config {
namespace {

TEST(ApiSettingsTest, ReadsListenHostsAndMetricsAccess) {
  auto p = testing::LoadText(R"(services:
  a: {image: x}
x-slipway:
  api:
    listen: 127.0.0.1:8700
    hosts: [ops.example.com, Slipway.Internal]
    public_metrics: false
)");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->api.listen, "127.0.0.1:8700");
  EXPECT_EQ(p->api.hosts, (std::vector<std::string>{"ops.example.com", "Slipway.Internal"}));
  EXPECT_FALSE(p->api.public_metrics);
}

TEST(ApiSettingsTest, DefaultsAreLoopbackAndPublicMetrics) {
  auto p = testing::LoadText("services:\n  a: {image: x}\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->api.listen, "127.0.0.1:0");
  EXPECT_TRUE(p->api.hosts.empty());
  EXPECT_TRUE(p->api.public_metrics);
}

TEST(ApiSettingsTest, BadValuesNameFileLineAndKey) {
  auto err = [](const std::string& api) {
    return testing::ErrorOf(
        testing::LoadText("services:\n  a: {image: x}\nx-slipway:\n  api:\n" + api));
  };
  EXPECT_EQ(err("    hosts: [\"http://x.example\"]\n"),
            "compose.yaml:5:5: x-slipway.api.hosts: \"http://x.example\" is not a host name "
            "(expected names like ops.example.com, without scheme or port)");
  EXPECT_NE(err("    hosts: ops.example.com\n").find("x-slipway.api.hosts"), std::string::npos);
  EXPECT_NE(err("    public_metrics: sometimes\n").find("x-slipway.api.public_metrics"),
            std::string::npos);
  EXPECT_EQ(err("    host: [x]\n"),
            "compose.yaml:5:5: x-slipway.api.host: unknown key \"host\" (expected one of listen, "
            "tls, hosts, public_metrics)");
}

// A project folder with the API's certificate files, for x-slipway.api.tls.
struct ApiTlsFixture {
  testing::TempDir dir;
  ApiTlsFixture() {
    auto a = net::testing::MakeTestCert({"ops.example.com"});
    auto b = net::testing::MakeTestCert({"other.example.com"});
    auto old = net::testing::MakeTestCert({"old.example.com"}, -10 * 86400, -86400);
    dir.Write("app/api.pem", a.cert_pem);
    dir.Write("app/api.key", a.key_pem);
    dir.Write("app/b.key", b.key_pem);
    dir.Write("app/old.pem", old.cert_pem);
    dir.Write("app/old.key", old.key_pem);
    dir.Write("app/junk.pem", "not a certificate\n");
  }
  Result<Project> Load(const std::string& api) {
    dir.Write("app/compose.yaml", "services:\n  a: {image: x}\nx-slipway:\n  api:\n" + api);
    return LoadProject(testing::OptionsFor(dir.path() / "app"));
  }
  std::string Error(const std::string& api) { return testing::ErrorOf(Load(api)); }
};

TEST(ApiSettingsTest, TlsAllowsAnyListenAddressAndResolvesFiles) {
  ApiTlsFixture f;
  auto p = f.Load("    listen: 0.0.0.0:8700\n    tls: {cert: api.pem, key: api.key}\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->api.listen, "0.0.0.0:8700");
  ASSERT_TRUE(p->api.tls.has_value());
  EXPECT_EQ(p->api.tls->cert, (f.dir.path() / "app/api.pem").string());
  EXPECT_EQ(p->api.tls->key, (f.dir.path() / "app/api.key").string());
  // tls before listen, and loopback with TLS, load too.
  p = f.Load("    tls: {cert: api.pem, key: api.key}\n    listen: \"[::]:8700\"\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  p = f.Load("    listen: 127.0.0.1:8700\n    tls: {cert: api.pem, key: api.key}\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
}

TEST(ApiSettingsTest, NonLoopbackWithoutTlsAndBadTlsFilesAreLoadErrors) {
  ApiTlsFixture f;
  const std::string clear = f.Error("    listen: 0.0.0.0:8700\n");
  EXPECT_EQ(clear.rfind("compose.yaml:5:", 0), 0u) << clear;
  EXPECT_NE(clear.find("x-slipway.api.listen: \"0.0.0.0:8700\" is not a loopback address, and "
                       "the API serves beyond this host only over TLS (expected "
                       "x-slipway.api.tls: {cert: FILE, key: FILE}, or 127.0.0.1:PORT, "
                       "[::1]:PORT or localhost:PORT)"),
            std::string::npos)
      << clear;
  std::string e = f.Error("    listen: 10.0.0.1:8700\n    tls: {cert: api.pem, key: b.key}\n");
  EXPECT_NE(e.find("compose.yaml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("x-slipway.api.tls.key: "), std::string::npos) << e;
  EXPECT_NE(e.find("does not match the certificate"), std::string::npos) << e;
  e = f.Error("    tls: {cert: old.pem, key: old.key}\n");
  EXPECT_NE(e.find("x-slipway.api.tls.cert: "), std::string::npos) << e;
  EXPECT_NE(e.find("certificate expired on"), std::string::npos) << e;
  e = f.Error("    tls: {cert: missing.pem, key: api.key}\n");
  EXPECT_NE(e.find("x-slipway.api.tls.cert: "), std::string::npos) << e;
  EXPECT_NE(e.find("cannot read"), std::string::npos) << e;
  e = f.Error("    tls: {cert: junk.pem, key: api.key}\n");
  EXPECT_NE(e.find("not a PEM certificate"), std::string::npos) << e;
  e = f.Error("    tls: {cert: api.pem}\n");
  EXPECT_NE(e.find("x-slipway.api.tls: has no key"), std::string::npos) << e;
  e = f.Error("    tls: api.pem\n");
  EXPECT_NE(e.find("x-slipway.api.tls: "), std::string::npos) << e;
  e = f.Error("    tls: {cert: api.pem, key: api.key, ca: x}\n");
  EXPECT_NE(e.find("x-slipway.api.tls.ca: unknown key"), std::string::npos) << e;
  e = f.Error("    tls: {cert: \"\", key: api.key}\n");
  EXPECT_NE(e.find("x-slipway.api.tls.cert: is empty"), std::string::npos) << e;
  for (const std::string& bad : {e}) EXPECT_EQ(bad.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace slipway::config
