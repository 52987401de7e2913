#include "config/tls_settings.h"

#include <gtest/gtest.h>

#include "config/api_settings.h"
#include "config/ports_settings.h"
#include "config/test_support.h"
#include "net/tls_test_certs.h"

namespace slipway::config {
namespace {

using net::testing::MakeTestCert;

// A project folder with certificates under certs/ and `compose` as compose.yaml.
struct Fixture {
  testing::TempDir dir;
  Fixture() {
    auto a = MakeTestCert({"a.example"});
    auto b = MakeTestCert({"b.example"});
    auto old = MakeTestCert({"old.example"}, -10 * 86400, -86400);
    auto future = MakeTestCert({"new.example"}, 86400, 10 * 86400);
    dir.Write("app/certs/a.pem", a.cert_pem);
    dir.Write("app/certs/a.key", a.key_pem);
    dir.Write("app/certs/b.key", b.key_pem);
    dir.Write("app/certs/old.pem", old.cert_pem);
    dir.Write("app/certs/old.key", old.key_pem);
    dir.Write("app/certs/new.pem", future.cert_pem);
    dir.Write("app/certs/new.key", future.key_pem);
    dir.Write("app/certs/junk.pem", "not a certificate\n");
  }
  Result<Project> Load(const std::string& compose) {
    dir.Write("app/compose.yaml", compose);
    return LoadProject(testing::OptionsFor(dir.path() / "app"));
  }
  std::string Error(const std::string& tls) {
    return testing::ErrorOf(Load("services:\n  web:\n    image: x\nx-slipway:\n  tls:\n" + tls));
  }
};

TEST(TlsSettingsTest, ReadsCertificatesRedirectHstsAndHttpsPorts) {
  Fixture f;
  auto p = f.Load(R"(services:
  web:
    image: x
    ports: ["8443:8080", "8081:8080"]
    x-slipway:
      ports: {8080: https}
x-slipway:
  tls:
    certificates:
      - {cert: certs/a.pem, key: certs/a.key}
    redirect: false
    hsts: 1y
    http2: true
)");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  ASSERT_EQ(p->tls.certificates.size(), 1u);
  EXPECT_EQ(p->tls.certificates[0].cert, (f.dir.path() / "app/certs/a.pem").string());
  EXPECT_EQ(p->tls.certificates[0].key, (f.dir.path() / "app/certs/a.key").string());
  EXPECT_NE(p->tls.certificates[0].cert_where.find("compose.yaml:10:"), std::string::npos);
  EXPECT_FALSE(p->tls.redirect);
  EXPECT_EQ(p->tls.hsts_seconds, 365 * 86400);
  EXPECT_TRUE(p->tls.http2);
  const Service& web = p->services.at("web");
  EXPECT_EQ(ProtocolOf(*p, web, 8080), PortProtocol::kHttps);
  EXPECT_EQ(PortProtocolName(PortProtocol::kHttps), "https");
}

TEST(TlsSettingsTest, DefaultsRedirectOnAndNoHsts) {
  Fixture f;
  auto p = f.Load(
      "services:\n  web: {image: x}\nx-slipway:\n  tls:\n    certificates: [{cert: "
      "certs/a.pem, key: certs/a.key}]\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_TRUE(p->tls.redirect);
  EXPECT_FALSE(p->tls.hsts_seconds.has_value());
  EXPECT_FALSE(p->tls.http2) << "HTTP/2 is opt-in";
  auto none = testing::LoadText("services:\n  web: {image: x}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->tls.enabled());
}

TEST(TlsSettingsTest, HstsAges) {
  EXPECT_EQ(ParseHstsAge("1y"), 31536000);
  EXPECT_EQ(ParseHstsAge("180d"), 180 * 86400);
  EXPECT_EQ(ParseHstsAge("12h"), 12 * 3600);
  EXPECT_EQ(ParseHstsAge("0"), 0);
  EXPECT_EQ(ParseHstsAge("600"), 600);
  EXPECT_FALSE(ParseHstsAge("").has_value());
  EXPECT_FALSE(ParseHstsAge("-1").has_value());
  EXPECT_FALSE(ParseHstsAge("ay").has_value());
  EXPECT_FALSE(ParseHstsAge("99999999y").has_value());
}

TEST(TlsSettingsTest, BadFilesAreErrorsAtTheSettingsLine) {
  Fixture f;
  const std::string dir = (f.dir.path() / "app").string();
  EXPECT_EQ(f.Error("    certificates: [{cert: certs/missing.pem, key: certs/a.key}]\n"),
            "compose.yaml:6:21: x-slipway.tls.certificates[0].cert: " + dir +
                "/certs/missing.pem: cannot read (No such file or directory)");
  EXPECT_EQ(f.Error("    certificates: [{cert: certs/a.pem, key: certs/b.key}]\n"),
            "compose.yaml:6:40: x-slipway.tls.certificates[0].key: " + dir +
                "/certs/b.key: this key does not match the certificate in " + dir + "/certs/a.pem");
  EXPECT_NE(f.Error("    certificates: [{cert: certs/old.pem, key: certs/old.key}]\n")
                .find("x-slipway.tls.certificates[0].cert: " + dir +
                      "/certs/old.pem: certificate expired on "),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/new.pem, key: certs/new.key}]\n")
                .find("certificate not valid before"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/junk.pem, key: certs/a.key}]\n")
                .find("certs/junk.pem: not a PEM certificate"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/a.pem, key: certs/junk.pem}]\n")
                .find("certificates[0].key: " + dir + "/certs/junk.pem: not a PEM private key"),
            std::string::npos);
}

TEST(TlsSettingsTest, MalformedSettingsNameTheKey) {
  Fixture f;
  EXPECT_EQ(f.Error("    redirect: true\n"),
            "compose.yaml:5:3: x-slipway.tls: has no certificates (expected certificates: "
            "[{cert: FILE, key: FILE}, ...], or acme: {...})");
  EXPECT_NE(f.Error("    certificates: []\n").find("x-slipway.tls.certificates: is not a list"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: certs/a.pem\n").find("is not a list"), std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/a.pem}]\n")
                .find("x-slipway.tls.certificates[0]: has no key"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/a.pem, key: certs/a.key, pass: x}]\n")
                .find("x-slipway.tls.certificates[0].pass: unknown key"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [[1]]\n").find("x-slipway.tls.certificates[0]"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/a.pem, key: certs/a.key}]\n    hsts: soon\n")
                .find("x-slipway.tls.hsts: \"soon\" is not a max-age"),
            std::string::npos);
  EXPECT_NE(f.Error("    certificates: [{cert: certs/a.pem, key: certs/a.key}]\n    redirect: "
                    "maybe\n")
                .find("x-slipway.tls.redirect"),
            std::string::npos);
  // http2: a boolean only; the error names the file, line and key.
  for (const char* bad : {"yes please", "[true]", "{on: 1}", "2"}) {
    const std::string err = f.Error(
        std::string("    certificates: [{cert: certs/a.pem, key: certs/a.key}]\n    http2: ") +
        bad + "\n");
    EXPECT_NE(err.find("compose.yaml:7:"), std::string::npos) << bad << ": " << err;
    EXPECT_NE(err.find("x-slipway.tls.http2"), std::string::npos) << bad << ": " << err;
  }
  EXPECT_NE(f.Error("    certificate: x\n").find("x-slipway.tls.certificate: unknown key"),
            std::string::npos);
  EXPECT_NE(f.Error("    - x\n").find("x-slipway.tls"), std::string::npos);
}

TEST(TlsSettingsTest, HttpsPortNeedsCertificates) {
  auto p = testing::LoadText(R"(services:
  web:
    image: x
    ports: ["8443:8080"]
    x-slipway:
      ports: {8080: https}
)");
  EXPECT_EQ(testing::ErrorOf(p),
            "compose.yaml:6:15: services.web.x-slipway.ports.8080: https needs certificates, and "
            "x-slipway.tls names none (expected x-slipway.tls.certificates: [{cert: FILE, key: "
            "FILE}] or x-slipway.tls.acme)");
}

TEST(ApiListenTest, NonLoopbackIsRefusedInClear) {
  auto err = testing::ErrorOf(testing::LoadText(
      "services:\n  a: {image: x}\nx-slipway:\n  api:\n    listen: 0.0.0.0:8700\n"));
  EXPECT_NE(err.find("compose.yaml:5:5: x-slipway.api.listen: \"0.0.0.0:8700\" is not a loopback "
                     "address"),
            std::string::npos)
      << err;
  for (const char* ok : {"127.0.0.1:0", "localhost:8700", "[::1]:8700", "127.1.2.3:1"}) {
    auto p = testing::LoadText(std::string("services:\n  a: {image: x}\nx-slipway:\n  api:\n    "
                                           "listen: \"") +
                               ok + "\"\n");
    EXPECT_TRUE(p.ok()) << ok << ": " << testing::ErrorOf(p);
  }
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
}

}  // namespace
}  // namespace slipway::config
