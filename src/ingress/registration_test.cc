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
      {R"({"project":"a","folder":"/a","hosts":["*.a.test"],"upstream":"127.0.0.1:9"})",
       "is not a host name"},
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
