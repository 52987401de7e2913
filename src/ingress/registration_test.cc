#include "ingress/registration.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway::ingress {
namespace {

constexpr char kGood[] =
    R"({"project":"shop","folder":"/srv/shop","hosts":["Shop.Example.com","www.shop.test"],)"
    R"("upstream":"127.12.34.255:40001","tls":[{"cert":"/srv/shop/c.pem","key":"/srv/shop/k.pem"}],)"
    R"("redirect":true,"hsts_seconds":31536000})";

std::string ErrorOf(std::string_view text) {
  auto r = ParseRegistration(text);
  return r.ok() ? "(parsed)" : r.status().message();
}

TEST(Registration, ParsesAndRoundTrips) {
  auto r = ParseRegistration(kGood);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->project, "shop");
  EXPECT_EQ(r->folder, "/srv/shop");
  ASSERT_EQ(r->hosts.size(), 2u);
  EXPECT_EQ(r->hosts[0], "shop.example.com");  // lowercased
  EXPECT_EQ(r->upstream_ip, "127.12.34.255");
  EXPECT_EQ(r->upstream_port, 40001);
  ASSERT_EQ(r->tls.size(), 1u);
  EXPECT_EQ(r->tls[0].key, "/srv/shop/k.pem");
  EXPECT_TRUE(r->redirect);
  EXPECT_EQ(r->hsts_seconds, 31536000);
  auto again = ParseRegistration(RegistrationJson(*r));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *r);
}

TEST(Registration, WildcardHostsMatchOneLabel) {
  auto r = ParseRegistration(
      R"({"project":"a","folder":"/a","hosts":["*.A.test","a.test"],"upstream":"127.0.0.1:9"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->hosts[0], "*.a.test");
  EXPECT_TRUE(IsRoutableHostName("*.example.com"));
  EXPECT_FALSE(IsRoutableHostName("*.-x.com"));
  EXPECT_FALSE(IsRoutableHostName("*." + std::string(252, 'a')));
  // acme for a wildcard host needs DNS-01: refused unless names leave it out.
  r = ParseRegistration(
      R"({"project":"a","folder":"/a","hosts":["*.a.test","a.test"],"upstream":"127.0.0.1:9",)"
      R"("acme":{"directory":"https://ca.test/d"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("acme.names: is required when a host is a wildcard"),
            std::string::npos)
      << r.status().message();
  r = ParseRegistration(
      R"({"project":"a","folder":"/a","hosts":["*.a.test","a.test"],"upstream":"127.0.0.1:9",)"
      R"("acme":{"directory":"https://ca.test/d","names":["a.test"]}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
}

// `http2`: absent is false; true and false both read back the same from RegistrationJson
// (routes.json keeps it).
TEST(Registration, Http2IsABooleanThatRoundTrips) {
  auto absent = ParseRegistration(kGood);
  ASSERT_TRUE(absent.ok()) << absent.status().message();
  EXPECT_FALSE(absent->http2);
  std::string with = kGood;
  with.insert(with.size() - 1, R"(,"http2":true)");
  auto on = ParseRegistration(with);
  ASSERT_TRUE(on.ok()) << on.status().message();
  EXPECT_TRUE(on->http2);
  EXPECT_NE(RegistrationJson(*on).find(R"("http2":true)"), std::string::npos);
  auto again = ParseRegistration(RegistrationJson(*on));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *on);
  EXPECT_NE(*on, *absent);  // a change is a new registration, not a heartbeat
  std::string without = kGood;
  without.insert(without.size() - 1, R"(,"http2":false)");
  auto off = ParseRegistration(without);
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_FALSE(off->http2);
  EXPECT_EQ(*off, *absent);
}

TEST(Registration, MinimalHasNoTls) {
  auto r = ParseRegistration(
      R"({"project":"a","folder":"/a","hosts":["a.test"],"upstream":"127.0.0.1:9"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->tls.empty());
  EXPECT_FALSE(r->redirect);
  EXPECT_EQ(r->hsts_seconds, -1);
}

TEST(Registration, HostileInputIsOneClearLine) {
  const std::string base = R"("folder":"/a","hosts":["a.test"],"upstream":"127.0.0.1:9")";
  struct Case {
    std::string text;
    std::string expect;
  };
  const Case cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {"\"x\"", "expected a JSON object"},
      {std::string(70 * 1024, ' '), "too large"},
      {std::string(20, '[') + std::string(20, ']'), "nested too deep"},
      {"{" + base + "}", "project: is required"},
      {R"({"project":7,)" + base + "}", "project: expected a string"},
      {R"({"project":"Bad Name",)" + base + "}", "is not a project name"},
      {R"({"project":"","folder":"/a"})", "project: expected 1 to 64 characters"},
      {R"({"project":"a","folder":"rel","hosts":["a.test"],"upstream":"127.0.0.1:9"})",
       "folder: expected an absolute path"},
      {R"({"project":"a","folder":"/a","hosts":[],"upstream":"127.0.0.1:9"})",
       "hosts: expected a list of 1 to 100"},
      {R"({"project":"a","folder":"/a","hosts":"a.test","upstream":"127.0.0.1:9"})",
       "hosts: expected a list"},
      {R"({"project":"a","folder":"/a","hosts":["a.test:80"],"upstream":"127.0.0.1:9"})",
       "hosts[0]: \"a.test:80\" is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["**.a.test"],"upstream":"127.0.0.1:9"})",
       "hosts[0]: \"**.a.test\" is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["*."],"upstream":"127.0.0.1:9"})",
       "hosts[0]: \"*.\" is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["*"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["a.*.test"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["*a.test"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["*.*.test"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["*.)" + std::string(252, 'a') +
           R"("],"upstream":"127.0.0.1:9"})",
       "hosts[0]: expected 1 to 253 characters"},
      {R"({"project":"a","folder":"/a","hosts":["-a.test"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["a..test"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
      {R"({"project":"a","folder":"/a","hosts":["a.test","A.test"],"upstream":"127.0.0.1:9"})",
       "hosts[1]: \"a.test\" is listed twice"},
      {R"({"project":"a","folder":"/a","hosts":[1],"upstream":"127.0.0.1:9"})",
       "hosts[0]: expected a string"},
      {R"({"project":"a","folder":"/a","hosts":["a.test"],"upstream":"10.0.0.1:9"})",
       "is not a loopback address"},
      {R"({"project":"a","folder":"/a","hosts":["a.test"],"upstream":"127.0.0.1"})",
       "is not a loopback address"},
      {R"({"project":"a","folder":"/a","hosts":["a.test"],"upstream":"127.0.0.1:0"})",
       "has no port 1-65535"},
      {R"({"project":"a","folder":"/a","hosts":["a.test"],"upstream":"127.0.0.1:99999"})",
       "has no port 1-65535"},
      {R"({"project":"a","folder":"/a","hosts":["a.test"],"upstream":"127.0.0.1:+9"})",
       "has no port 1-65535"},
      {R"({"project":"a","folder":"/a","hosts":["a.test"]})", "upstream: is required"},
      {"{\"project\":\"a\"," + base + R"(,"tls":[{"cert":"/c"}]})",
       "tls[0]: expected both cert and key"},
      {"{\"project\":\"a\"," + base + R"(,"tls":[{"cert":"/c","key":"k"}]})",
       "tls[0].key: expected an absolute path"},
      {"{\"project\":\"a\"," + base + R"(,"tls":[{"cert":"/c","key":"/k","pw":"x"}]})",
       "tls[0].pw: unknown key"},
      {"{\"project\":\"a\"," + base + R"(,"tls":{}})", "tls: expected a list"},
      {"{\"project\":\"a\"," + base + R"(,"redirect":"yes"})", "redirect: expected true or false"},
      {"{\"project\":\"a\"," + base + R"(,"redirect":true})", "redirect: needs tls"},
      {"{\"project\":\"a\"," + base + R"(,"hsts_seconds":-1})",
       "hsts_seconds: expected an integer"},
      {"{\"project\":\"a\"," + base + R"(,"hsts_seconds":1.5})",
       "hsts_seconds: expected an integer"},
      {"{\"project\":\"a\"," + base + R"(,"hsts_seconds":18446744073709551615})",
       "hsts_seconds: expected an integer"},
      {"{\"project\":\"a\"," + base + R"(,"http2":"yes"})", "http2: expected true or false"},
      {"{\"project\":\"a\"," + base + R"(,"http2":1})", "http2: expected true or false"},
      {"{\"project\":\"a\"," + base + R"(,"http2":null})", "http2: expected true or false"},
      {"{\"project\":\"a\"," + base + R"(,"http2":true})", "http2: needs tls"},
      {"{\"project\":\"a\"," + base + R"(,"weights":1})", "weights: unknown key"},
      {"{\"project\":\"a\\u0000\"," + base + "}", "contains a NUL byte"},
  };
  for (const Case& c : cases) {
    std::string err = ErrorOf(c.text);
    EXPECT_NE(err.find(c.expect), std::string::npos)
        << "input: " << c.text.substr(0, 120) << "\nerror: " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

TEST(Registration, HostNames) {
  EXPECT_TRUE(IsRoutableHostName("a"));
  EXPECT_TRUE(IsRoutableHostName("x-1.example.com"));
  EXPECT_FALSE(IsRoutableHostName(""));
  EXPECT_FALSE(IsRoutableHostName("a-.b"));
  EXPECT_FALSE(IsRoutableHostName("a."));
  EXPECT_FALSE(IsRoutableHostName("A.b"));  // the parser lowercases first
  EXPECT_FALSE(IsRoutableHostName(std::string(64, 'a') + ".b"));
  EXPECT_TRUE(IsRoutableHostName(std::string(63, 'a') + ".b"));
  EXPECT_FALSE(IsRoutableHostName("a b"));
}

}  // namespace
}  // namespace slipway::ingress

namespace slipway::ingress {
namespace {

constexpr char kAcmeBase[] =
    R"({"project":"a","folder":"/a","hosts":["a.test","www.a.test"],"upstream":"127.0.0.1:9",)";

TEST(RegistrationAcme, ParsesDefaultsToEveryHostAndRoundTrips) {
  auto r = ParseRegistration(std::string(kAcmeBase) +
                             R"("acme":{"directory":"https://ca.test/dir"},"redirect":true})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->acme.has_value());
  EXPECT_TRUE(r->https());
  EXPECT_TRUE(r->tls.empty());
  EXPECT_EQ(r->acme->challenge, AcmeChallengeKind::kHttp01);
  EXPECT_EQ(r->acme->names, (std::vector<std::string>{"a.test", "www.a.test"}));
  auto again = ParseRegistration(RegistrationJson(*r));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *r);

  r = ParseRegistration(
      std::string(kAcmeBase) +
      R"("acme":{"directory":"https://ca.test/dir","email":"ops@a.test",)"
      R"("ca_file":"/a/root.pem","challenge":"tls-alpn-01","names":["WWW.a.test"]}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->acme->challenge, AcmeChallengeKind::kTlsAlpn01);
  EXPECT_EQ(r->acme->names, std::vector<std::string>{"www.a.test"});
  EXPECT_EQ(r->acme->email, "ops@a.test");
  EXPECT_EQ(r->acme->ca_file, "/a/root.pem");
  again = ParseRegistration(RegistrationJson(*r));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *r);
}

// The directory URL is checked as the project's x-slipway.tls.acme.directory is (net/url.h):
// the scheme in any case (RFC 3986), so a URL one accepts the other does too.
TEST(RegistrationAcme, TheDirectorysSchemeIsCaseInsensitive) {
  for (const char* dir : {"HTTPS://ca.test/dir", "Https://ca.test/dir"}) {
    auto r =
        ParseRegistration(std::string(kAcmeBase) + R"("acme":{"directory":")" + dir + R"("}})");
    ASSERT_TRUE(r.ok()) << dir << ": " << r.status().message();
    EXPECT_EQ(r->acme->directory, dir);
  }
  auto http =
      ParseRegistration(std::string(kAcmeBase) + R"("acme":{"directory":"HTTP://ca.test/dir"}})");
  ASSERT_FALSE(http.ok());
  EXPECT_NE(http.status().message().find("acme.directory: expected an https:// URL"),
            std::string::npos)
      << http.status().message();
}

TEST(RegistrationAcme, HostileInputIsOneClearLine) {
  auto acme = [](const std::string& body) {
    auto r = ParseRegistration(std::string(kAcmeBase) + R"("acme":)" + body + "}");
    return r.ok() ? std::string("(parsed)") : r.status().message();
  };
  const std::string dir = R"("directory":"https://ca.test/dir")";
  struct Case {
    std::string body;
    std::string expect;
  };
  const Case cases[] = {
      {"true", "registration: acme: expected an object"},
      {"[]", "registration: acme: expected an object"},
      {"{}", "acme.directory: is required"},
      {R"({"directory":"http://ca.test/dir"})", "acme.directory: expected an https:// URL"},
      {R"({"directory":"https://"})", "acme.directory: expected an https:// URL"},
      {R"({"directory":"https://a b/"})", "acme.directory: expected an https:// URL"},
      {R"({"directory":"https://u@ca.test/"})", "acme.directory: expected an https:// URL"},
      {R"({"directory":"https://)" + std::string(3000, 'x') + R"("})",
       "acme.directory: expected 1 to 2048"},
      {R"({"directory":7})", "acme.directory: expected a string"},
      {"{" + dir + R"(,"email":"nobody"})", "acme.email: expected an e-mail address"},
      {"{" + dir + R"(,"email":"a@b@c"})", "acme.email: expected an e-mail address"},
      {"{" + dir + R"(,"email":"a b@c"})", "acme.email: expected an e-mail address"},
      {"{" + dir + R"(,"ca_file":"root.pem"})", "acme.ca_file: expected an absolute path"},
      {"{" + dir + R"(,"challenge":"dns-01"})", "acme.challenge: expected http-01 or tls-alpn-01"},
      {"{" + dir + R"(,"challenge":1})", "acme.challenge: expected a string"},
      {"{" + dir + R"(,"names":[]})", "acme.names: expected a list of 1 to 100"},
      {"{" + dir + R"(,"names":"a.test"})", "acme.names: expected a list of 1 to 100"},
      {"{" + dir + R"(,"names":[1]})", "acme.names[0]: expected a string"},
      {"{" + dir + R"(,"names":["b.test"]})",
       "acme.names[0]: \"b.test\" is not one of the registration's hosts"},
      {"{" + dir + R"(,"names":["*.a.test"]})", "acme.names[0]: \"*.a.test\" is a wildcard"},
      {"{" + dir + R"(,"names":["a.test","A.test"]})", "acme.names[1]: \"a.test\" is listed twice"},
      {"{" + dir + R"(,"nmes":["a.test"]})", "acme.nmes: unknown key"},
  };
  for (const Case& c : cases) {
    std::string got = acme(c.body);
    EXPECT_NE(got.find(c.expect), std::string::npos) << c.body.substr(0, 200) << " → " << got;
  }
  // A single-label host can be routed but not ordered.
  auto r = ParseRegistration(
      R"({"project":"a","folder":"/a","hosts":["intranet"],"upstream":"127.0.0.1:9",)"
      R"("acme":{"directory":"https://ca.test/dir"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("acme.names: is required when a host has a single label"),
            std::string::npos)
      << r.status().message();
  // redirect and HSTS need HTTPS: certificate files or acme.
  r = ParseRegistration(R"({"project":"a","folder":"/a","hosts":["a.test"],)"
                        R"("upstream":"127.0.0.1:9","redirect":true})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("redirect: needs tls certificates or acme"),
            std::string::npos);
}

}  // namespace
}  // namespace slipway::ingress
