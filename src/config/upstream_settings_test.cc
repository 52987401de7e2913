#include "config/upstream_settings.h"

#include <gtest/gtest.h>

#include "config/ports_settings.h"
#include "config/test_support.h"
#include "net/tls_test_certs.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;
using testing::OptionsFor;
using testing::TempDir;

std::string Svc(const std::string& upstream, const std::string& extra = "") {
  return "services:\n  api:\n    command: ./api\n    ports: [\"8080:8443\"]\n    x-slipway:\n"
         "      upstream: " +
         upstream + "\n" + extra;
}

TEST(UpstreamSettingsTest, HttpsWithCaFileAndServerName) {
  TempDir dir;
  const net::testing::TestCert cert = net::testing::MakeTestCert({"api.internal"});
  dir.Write("app/certs/ca.pem", cert.cert_pem);
  dir.Write("app/compose.yaml",
            Svc("{scheme: https, ca_file: certs/ca.pem, server_name: api.internal}"));
  Result<Project> p = LoadProject(OptionsFor(dir.path() / "app"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& s = p->services.at("api");
  EXPECT_TRUE(s.upstream.https);
  EXPECT_EQ(s.upstream.ca_file, (dir.path() / "app/certs/ca.pem").string());
  EXPECT_EQ(s.upstream.server_name, "api.internal");
  // No HTTP health check, no route: the port is still HTTP, since the proxy speaks HTTPS to it.
  EXPECT_EQ(ProtocolOf(*p, s, 8443), PortProtocol::kHttp);
}

TEST(UpstreamSettingsTest, DefaultsArePlainAndTheSystemStore) {
  Result<Project> p = LoadText(Svc("{scheme: https}"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_TRUE(p->services.at("api").upstream.https);
  EXPECT_EQ(p->services.at("api").upstream.ca_file, "");
  p = LoadText(Svc("{scheme: http}"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_FALSE(p->services.at("api").upstream.https);
  EXPECT_EQ(ProtocolOf(*p, p->services.at("api"), 8443), PortProtocol::kTcp);
}

TEST(UpstreamSettingsTest, HostileInputIsOneLineNamingTheKey) {
  struct Case {
    std::string compose;
    std::string want;
  };
  const Case cases[] = {
      {Svc("{scheme: ftp}"),
       "services.api.x-slipway.upstream.scheme: \"ftp\" is not a scheme (expected http or "
       "https)"},
      {Svc("{scheme: [https]}"), "services.api.x-slipway.upstream.scheme:"},
      {Svc("{zz: 1}"),
       "services.api.x-slipway.upstream.zz: unknown key \"zz\" (expected one of ca_file, "
       "protocol, scheme, server_name)"},
      {Svc("https"), "services.api.x-slipway.upstream:"},
      {Svc("{ca_file: ca.pem}"),
       "services.api.x-slipway.upstream.ca_file: applies to TLS only (expected scheme: https "
       "beside it)"},
      {Svc("{server_name: a.b}"), "services.api.x-slipway.upstream.server_name: applies to TLS"},
      {Svc("{scheme: https, ca_file: missing.pem}"), "services.api.x-slipway.upstream.ca_file: "},
      {Svc("{scheme: https, ca_file: ''}"), "services.api.x-slipway.upstream.ca_file: is empty"},
      {Svc("{scheme: https, server_name: 'a b'}"),
       "services.api.x-slipway.upstream.server_name: \"a b\" is not a host name"},
      {Svc("{scheme: https}", "      healthcheck: {http: /health}\n"),
       "services.api.x-slipway.healthcheck.http: probes in clear, and the service speaks TLS"},
  };
  for (const Case& c : cases) {
    Result<Project> p = LoadText(c.compose);
    ASSERT_FALSE(p.ok()) << c.compose;
    EXPECT_NE(p.status().message().find(c.want), std::string::npos) << c.compose << "\n"
                                                                    << p.status().message();
    EXPECT_EQ(p.status().message().find('\n'), std::string::npos) << p.status().message();
  }
}

TEST(UpstreamSettingsTest, ProtocolH2MakesThePortHttp) {
  Result<Project> p = LoadText(Svc("{protocol: h2}"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& s = p->services.at("api");
  EXPECT_EQ(s.upstream.protocol, UpstreamProtocol::kH2);
  EXPECT_FALSE(s.upstream.https);
  // No health check, no route: HTTP all the same, since the proxy speaks HTTP/2 to it.
  EXPECT_EQ(ProtocolOf(*p, s, 8443), PortProtocol::kHttp);
  p = LoadText(Svc("{scheme: https, protocol: h2}"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").upstream.protocol, UpstreamProtocol::kH2);
  EXPECT_TRUE(p->services.at("api").upstream.https);
  p = LoadText(Svc("{protocol: http1}"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").upstream.protocol, UpstreamProtocol::kHttp1);
}

TEST(UpstreamSettingsTest, HostileProtocolIsOneLineWithFileAndLine) {
  struct Case {
    std::string compose;
    std::string want;
  };
  const Case cases[] = {
      {Svc("{protocol: h3}"),
       "compose.yaml:6:18: services.api.x-slipway.upstream.protocol: \"h3\" is not allowed "
       "(expected http1 or h2)"},
      {Svc("{protocol: H2}"), "services.api.x-slipway.upstream.protocol: \"H2\" is not allowed"},
      {Svc("{protocol: ''}"), "services.api.x-slipway.upstream.protocol: \"\" is not allowed"},
      {Svc("{protocol: [h2]}"),
       "compose.yaml:6:18: services.api.x-slipway.upstream.protocol: is a "},
      {Svc("{protocol: {h2: true}}"),
       "compose.yaml:6:18: services.api.x-slipway.upstream.protocol: is a "},
      {Svc("{protocol: \"h2\\r\\nx\"}"), "services.api.x-slipway.upstream.protocol:"},
      {Svc("{protocol: h2}", "      ports: {8443: tcp}\n"),
       "services.api.x-slipway.upstream.protocol: h2 needs an HTTP port, and x-slipway.ports "
       "makes port 8443 TCP (expected protocol: http1, or that port as http)"},
  };
  for (const Case& c : cases) {
    Result<Project> p = LoadText(c.compose);
    ASSERT_FALSE(p.ok()) << c.compose;
    EXPECT_NE(p.status().message().find(c.want), std::string::npos) << c.compose << "\n"
                                                                    << p.status().message();
    EXPECT_NE(p.status().message().find("compose.yaml:"), std::string::npos)
        << p.status().message();
    EXPECT_EQ(p.status().message().find('\n'), std::string::npos) << p.status().message();
  }
}

TEST(UpstreamSettingsTest, CaFileThatIsNoCertificateIsRefusedAtLoad) {
  TempDir dir;
  dir.Write("app/ca.pem", "not a certificate\n");
  dir.Write("app/dir.pem/x", "");
  for (std::string file : {"ca.pem", "dir.pem"}) {
    dir.Write("app/compose.yaml", Svc("{scheme: https, ca_file: " + file + "}"));
    Result<Project> p = LoadProject(OptionsFor(dir.path() / "app"));
    ASSERT_FALSE(p.ok()) << file;
    EXPECT_NE(p.status().message().find("compose.yaml:6:"), std::string::npos)
        << p.status().message();
    EXPECT_NE(p.status().message().find(file), std::string::npos) << p.status().message();
  }
}

}  // namespace
}  // namespace slipway::config
