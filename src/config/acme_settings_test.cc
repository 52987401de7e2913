#include "config/acme_settings.h"

#include <gtest/gtest.h>

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

// A service on an HTTPS port with routes for two hosts there, and one on a plain port.
std::string AcmeProject(const std::string& acme) {
  return R"(services:
  web:
    image: x
    ports: ["8443:8080"]
    x-slipway:
      ports: {8080: https}
x-slipway:
  routes:
    - {listen: 8443, host: App.Test, service: web}
    - {listen: 8443, host: api.app.test, path: /api, service: web}
    - {listen: 8081, host: plain.test, service: web}
  tls:
)" + acme;
}

TEST(AcmeSettingsTest, ReadsEveryKey) {
  Fixture f;
  f.dir.Write("app/pebble.pem", "root\n");
  auto p = f.Load(AcmeProject(R"(    acme:
      email: ops@example.org
      directory: https://127.0.0.1:14000/dir
      ca_file: pebble.pem
      challenge: http-01
      names: [Shop.Example.com, www.example.com]
)"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  const std::optional<AcmeSettings>& acme = p->tls.acme;
  ASSERT_TRUE(acme.has_value());
  const AcmeSettings& a = *acme;
  EXPECT_EQ(a.email, "ops@example.org");
  EXPECT_EQ(a.directory_url, "https://127.0.0.1:14000/dir");
  EXPECT_EQ(a.ca_file, (f.dir.path() / "app/pebble.pem").string());
  EXPECT_EQ(a.challenge, AcmeChallenge::kHttp01);
  EXPECT_EQ(a.names, (std::vector<std::string>{"shop.example.com", "www.example.com"}));
  EXPECT_NE(a.where.find("compose.yaml:13:5"), std::string::npos) << a.where;
}

TEST(AcmeSettingsTest, TlsAlpnChallengeLoads) {
  Fixture f;
  auto p = f.Load(AcmeProject("    acme: {challenge: tls-alpn-01}\n"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  ASSERT_TRUE(p->tls.acme.has_value());
  EXPECT_EQ(p->tls.acme->challenge, AcmeChallenge::kTlsAlpn01);
  EXPECT_EQ(p->tls.acme->names, (std::vector<std::string>{"app.test", "api.app.test"}));
}

TEST(AcmeSettingsTest, DefaultsAndRouteHostsServedOverTls) {
  Fixture f;
  auto p = f.Load(AcmeProject("    acme: {}\n"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_FALSE(p->tls.enabled());  // no file: the daemon's certificates are all ordered
  const AcmeSettings a = *p->tls.acme;
  EXPECT_EQ(a.directory_url, "https://acme-v02.api.letsencrypt.org/directory");
  EXPECT_EQ(a.challenge, AcmeChallenge::kHttp01);
  EXPECT_TRUE(a.email.empty());
  EXPECT_TRUE(a.ca_file.empty());
  // The plain port's host is not served over TLS: not ordered.
  EXPECT_EQ(a.names, (std::vector<std::string>{"app.test", "api.app.test"}));
  auto staging = f.Load(AcmeProject("    acme: {directory: letsencrypt-staging}\n"));
  ASSERT_TRUE(staging.ok()) << testing::ErrorOf(staging);
  EXPECT_EQ(staging->tls.acme->directory_url,
            "https://acme-staging-v02.api.letsencrypt.org/directory");
  auto le = f.Load(AcmeProject("    acme: {directory: letsencrypt}\n"));
  ASSERT_TRUE(le.ok()) << testing::ErrorOf(le);
  EXPECT_EQ(le->tls.acme->directory_url, "https://acme-v02.api.letsencrypt.org/directory");
  // Without the block: nothing.
  auto none = f.Load("services:\n  web: {image: x}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->tls.acme.has_value());
}

TEST(AcmeSettingsTest, ANameACertificateFileCoversIsNotOrdered) {
  Fixture f;
  auto cert = net::testing::MakeTestCert({"app.test"});
  f.dir.Write("app/certs/app.pem", cert.cert_pem);
  f.dir.Write("app/certs/app.key", cert.key_pem);
  auto p = f.Load(
      AcmeProject("    certificates: [{cert: certs/app.pem, key: certs/app.key}]\n    acme: {}\n"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->tls.acme->names, std::vector<std::string>{"api.app.test"});
  EXPECT_EQ(p->tls.acme->file_names, std::vector<std::string>{"app.test"});
  auto given = f.Load(AcmeProject(
      "    certificates: [{cert: certs/app.pem, key: certs/app.key}]\n    acme: {names: "
      "[app.test, b.test]}\n"));
  ASSERT_TRUE(given.ok()) << testing::ErrorOf(given);
  // The one place names a file covers are left out: the daemon orders `names` as they are.
  EXPECT_EQ(given->tls.acme->names, std::vector<std::string>{"b.test"});
}

TEST(AcmeSettingsTest, HostileValuesAreOneLineAtTheKey) {
  Fixture f;
  auto err = [&](const std::string& acme) { return testing::ErrorOf(f.Load(AcmeProject(acme))); };
  EXPECT_EQ(err("    acme: {directory: http://ca.example/dir}\n"),
            "compose.yaml:13:12: x-slipway.tls.acme.directory: \"http://ca.example/dir\" is not "
            "an ACME directory (expected letsencrypt, letsencrypt-staging or an https:// URL)");
  EXPECT_NE(err("    acme: {directory: \"https://\"}\n").find("acme.directory"), std::string::npos);
  EXPECT_NE(err("    acme: {directory: \"https://a b/\"}\n").find("acme.directory"),
            std::string::npos);
  EXPECT_NE(err("    acme: {directory: zerossl}\n").find("is not an ACME directory"),
            std::string::npos);
  EXPECT_NE(err("    acme: {directory: [x]}\n").find("x-slipway.tls.acme.directory"),
            std::string::npos);
  EXPECT_EQ(err("    acme: {names: [\"*.app.test\"]}\n"),
            "compose.yaml:13:20: x-slipway.tls.acme.names[0]: \"*.app.test\" is a wildcard, "
            "which http-01 cannot validate (expected a host name: wildcards need the DNS-01 "
            "challenge)");
  const std::string wild = err("    acme: {challenge: tls-alpn-01, names: [\"*.app.test\"]}\n");
  EXPECT_NE(wild.find("x-slipway.tls.acme.names[0]: \"*.app.test\" is a wildcard, which only the "
                      "DNS-01 challenge can validate"),
            std::string::npos)
      << wild;
  EXPECT_NE(err("    acme: {challenge: TLS-ALPN-01}\n").find("x-slipway.tls.acme.challenge"),
            std::string::npos);
  EXPECT_NE(err("    acme: {challenge: [tls-alpn-01]}\n").find("x-slipway.tls.acme.challenge"),
            std::string::npos);
  EXPECT_NE(CheckAcmeName("*.app.test", AcmeChallenge::kTlsAlpn01).message().find("DNS-01"),
            std::string::npos);
  EXPECT_NE(err("    acme: {names: [192.0.2.1]}\n").find("is an IP address"), std::string::npos);
  EXPECT_NE(err("    acme: {names: [\"::1\"]}\n").find("is an IP address"), std::string::npos);
  EXPECT_NE(err("    acme: {names: [localhost]}\n").find("single label"), std::string::npos);
  EXPECT_NE(err("    acme: {names: [a_b.test]}\n").find("only letters"), std::string::npos);
  EXPECT_NE(err("    acme: {names: [-a.test]}\n").find("'-'"), std::string::npos);
  EXPECT_NE(err("    acme: {names: [a.test, A.test]}\n").find("listed twice"), std::string::npos);
  EXPECT_NE(err("    acme: {names: []}\n").find("acme.names: is empty"), std::string::npos);
  EXPECT_NE(err("    acme: {names: a.test}\n").find("x-slipway.tls.acme.names"), std::string::npos);
  EXPECT_NE(err("    acme: {names: [{a: 1}]}\n").find("x-slipway.tls.acme.names"),
            std::string::npos);
  std::string many = "    acme:\n      names:\n";
  for (int i = 0; i <= 100; ++i) many += "        - n" + std::to_string(i) + ".test\n";
  EXPECT_EQ(
      err(many),
      "compose.yaml:14:7: x-slipway.tls.acme.names: lists 101 names (expected at most 100, one "
      "order's worth)");
  EXPECT_NE(err("    acme: {email: nobody}\n").find("acme.email: \"nobody\" is not an e-mail"),
            std::string::npos);
  EXPECT_NE(err("    acme: {email: [a@b.c]}\n").find("x-slipway.tls.acme.email"),
            std::string::npos);
  EXPECT_NE(err("    acme: {ca_file: missing.pem}\n")
                .find("acme.ca_file: \"missing.pem\" is not a readable file"),
            std::string::npos);
  EXPECT_NE(err("    acme: {challenge: dns-01}\n").find("x-slipway.tls.acme.challenge"),
            std::string::npos);
  EXPECT_EQ(err("    acme: {contact: x}\n"),
            "compose.yaml:13:12: x-slipway.tls.acme.contact: unknown key \"contact\" (expected "
            "one of email, directory, ca_file, challenge, names)");
  EXPECT_NE(err("    acme: yes\n").find("x-slipway.tls.acme"), std::string::npos);
}

TEST(AcmeSettingsTest, NothingToOrderIsAnError) {
  auto p = testing::LoadText(R"(services:
  web:
    image: x
    ports: ["8443:8080"]
    x-slipway:
      ports: {8080: https}
x-slipway:
  tls:
    acme: {}
)");
  EXPECT_NE(testing::ErrorOf(p).find("compose.yaml:9:5: x-slipway.tls.acme: no name to order"),
            std::string::npos)
      << testing::ErrorOf(p);
  auto ip = testing::LoadText(R"(services:
  web:
    image: x
    ports: ["8443:8080"]
    x-slipway:
      ports: {8080: https}
x-slipway:
  routes: [{listen: 8443, host: 10.0.0.1, service: web}]
  tls:
    acme: {}
)");
  EXPECT_NE(testing::ErrorOf(ip).find("x-slipway.routes host: \"10.0.0.1\" is an IP address"),
            std::string::npos)
      << testing::ErrorOf(ip);
}

TEST(AcmeSettingsTest, NamesAreCheckedOneByOne) {
  for (const char* ok : {"a.test", "shop.example.com", "xn--bcher-kva.example", "a-b.c-d.test"}) {
    EXPECT_TRUE(CheckAcmeName(ok, AcmeChallenge::kHttp01).ok()) << ok;
  }
  for (const char* bad : {"", "test", "a..b", ".a.b", "a.b.", "a b.test", "a/b.test", "127.0.0.1",
                          "[::1]", "*.a.test", "-a.b", "a-.b"}) {
    EXPECT_FALSE(CheckAcmeName(bad, AcmeChallenge::kHttp01).ok()) << bad;
  }
  EXPECT_FALSE(CheckAcmeName(std::string(64, 'a') + ".test", AcmeChallenge::kHttp01).ok());
  EXPECT_EQ(AcmeChallengeName(AcmeChallenge::kTlsAlpn01), "tls-alpn-01");
}

}  // namespace
}  // namespace slipway::config

namespace slipway::config {
namespace {

// Behind the host's ingress, the hosts of the project's routes are what is ordered (by the
// ingress): acme + ingress loads; a name that is not a route host, or a wildcard, does not.
std::string IngressAcme(const std::string& acme, const std::string& host2 = "www.shop.test") {
  return "services:\n  web:\n    image: x\nx-slipway:\n  ingress: true\n  tls:\n    acme: " + acme +
         "\n  routes:\n    - {host: shop.test, service: web}\n    - {host: " + host2 +
         ", service: web}\n";
}

TEST(AcmeSettingsTest, IngressOrdersTheRouteHosts) {
  auto p = testing::LoadText(IngressAcme("{directory: letsencrypt-staging}"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  ASSERT_TRUE(p->tls.acme.has_value());
  EXPECT_EQ(p->tls.acme->names, (std::vector<std::string>{"shop.test", "www.shop.test"}));
  p = testing::LoadText(IngressAcme("{challenge: tls-alpn-01, names: [WWW.shop.test]}"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->tls.acme->names, std::vector<std::string>{"www.shop.test"});
}

TEST(AcmeSettingsTest, IngressRefusesNamesItDoesNotRoute) {
  auto p = testing::LoadText(IngressAcme("{names: [other.test]}"));
  EXPECT_NE(testing::ErrorOf(p).find("x-slipway.tls.acme.names[0]: \"other.test\" is not the host "
                                     "of any x-slipway.routes entry"),
            std::string::npos)
      << testing::ErrorOf(p);
  // A wildcard host cannot be ordered (DNS-01 only): the route's key is named.
  p = testing::LoadText(IngressAcme("{}", "\"*.shop.test\""));
  EXPECT_NE(testing::ErrorOf(p).find("x-slipway.routes host: \"*.shop.test\" is a wildcard"),
            std::string::npos)
      << testing::ErrorOf(p);
  p = testing::LoadText(IngressAcme("{names: [\"*.shop.test\"]}", "\"*.shop.test\""));
  EXPECT_NE(testing::ErrorOf(p).find("x-slipway.tls.acme.names[0]"), std::string::npos)
      << testing::ErrorOf(p);
  EXPECT_NE(testing::ErrorOf(p).find("wildcard"), std::string::npos) << testing::ErrorOf(p);
}

}  // namespace
}  // namespace slipway::config
