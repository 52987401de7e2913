#include "ingress/registry.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ingress/ingress.h"
#include "net/tls_context.h"
#include "net/tls_test_certs.h"

namespace slipway::ingress {
namespace {

class TempFolder {
 public:
  TempFolder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ingress-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

Registration Reg(const std::string& project, std::vector<std::string> hosts, int port) {
  Registration r;
  r.project = project;
  r.folder = "/srv/" + project;
  r.hosts = std::move(hosts);
  r.upstream_ip = "127.0.0.1";
  r.upstream_port = port;
  return r;
}

TEST(Registry, ConflictsChangeNothing) {
  TempFolder dir;
  auto reg = Registry::Open(dir.path());
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  bool changed = false;
  ASSERT_TRUE(reg->Register(Reg("a", {"a.test", "www.a.test"}, 1000), &changed).ok());
  EXPECT_TRUE(changed);
  ASSERT_TRUE(reg->Register(Reg("a", {"a.test", "www.a.test"}, 1000), &changed).ok());
  EXPECT_FALSE(changed);

  // Another project asking for a's host: refused, naming the owner.
  Status st = reg->Register(Reg("b", {"b.test", "www.a.test"}, 2000));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("host www.a.test is registered by project \"a\" (/srv/a)"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(reg->projects().size(), 1u);

  // The same name from another folder: refused.
  Registration other = Reg("a", {"a.test"}, 1000);
  other.folder = "/elsewhere/a";
  st = reg->Register(other);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("is registered from /srv/a"), std::string::npos) << st.message();
  EXPECT_EQ(reg->projects().at("a").hosts.size(), 2u);

  // A project may give up a host; another may take it then.
  ASSERT_TRUE(reg->Register(Reg("a", {"a.test"}, 1000), &changed).ok());
  EXPECT_TRUE(changed);
  ASSERT_TRUE(reg->Register(Reg("b", {"b.test", "www.a.test"}, 2000)).ok());

  EXPECT_EQ(reg->Deregister("c", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->Deregister("a", "/other").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(reg->projects().size(), 2u);
  ASSERT_TRUE(reg->Deregister("a", "/srv/a").ok());
  EXPECT_EQ(reg->projects().count("a"), 0u);
}

TEST(Registry, PersistsAcrossOpens) {
  TempFolder dir;
  Registration a = Reg("a", {"a.test"}, 1000);
  a.tls.push_back({"/srv/a/c.pem", "/srv/a/k.pem"});
  a.redirect = true;
  a.hsts_seconds = 600;
  a.http2 = true;  // kept by routes.json like the other fields
  {
    auto reg = Registry::Open(dir.path());
    ASSERT_TRUE(reg.ok());
    ASSERT_TRUE(reg->Register(a).ok());
    ASSERT_TRUE(reg->Register(Reg("b", {"b.test"}, 2000)).ok());
    ASSERT_TRUE(reg->Deregister("b", "").ok());
    ASSERT_TRUE(reg->Register(Reg("c", {"c.test"}, 3000)).ok());
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "routes.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = Registry::Open(dir.path());
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_EQ(again->projects().size(), 2u);
  EXPECT_EQ(again->projects().at("a"), a);
  EXPECT_EQ(again->projects().at("c").upstream_port, 3000);
  EXPECT_EQ(again->projects().count("b"), 0u);
}

TEST(Registry, DamagedStateFileIsNamed) {
  TempFolder dir;
  auto write = [&](const std::string& text) { std::ofstream(dir.path() / "routes.json") << text; };
  write("{not json");
  auto r = Registry::Open(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("routes.json: not a route table"), std::string::npos);
  write(
      R"({"projects":[{"project":"a","folder":"/a","hosts":["a.test"],"upstream":"8.8.8.8:1"}]})");
  r = Registry::Open(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("projects[0]: registration: upstream"), std::string::npos)
      << r.status().message();
  // Two entries claiming one host: the file was edited by hand; refused, not half-loaded.
  write(R"({"projects":[)"
        R"({"project":"a","folder":"/a","hosts":["x.test"],"upstream":"127.0.0.1:1"},)"
        R"({"project":"b","folder":"/b","hosts":["x.test"],"upstream":"127.0.0.1:2"}]})");
  r = Registry::Open(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("projects[1]: host x.test is registered by project"),
            std::string::npos)
      << r.status().message();
}

TEST(IngressTable, RoutesEachHostToItsProjectOnly) {
  TempFolder dir;
  net::testing::TestCert cert = net::testing::MakeTestCert({"a.test"});
  std::string cert_path = (dir.path() / "a.pem").string(),
              key_path = (dir.path() / "a.key").string();
  net::testing::WriteTestFile(cert_path, cert.cert_pem);
  net::testing::WriteTestFile(key_path, cert.key_pem);
  std::map<std::string, Registration> projects;
  Registration a = Reg("a", {"a.test"}, 1000);
  a.tls.push_back({cert_path, key_path});
  a.redirect = true;
  a.hsts_seconds = 60;
  projects["a"] = a;
  projects["b"] = Reg("b", {"b.test", "www.b.test"}, 2000);
  IngressOptions o;
  o.http = {"127.0.0.1", 8080};
  o.https = {"127.0.0.1", 8443};
  auto tls = net::TlsServerContext::Create({{cert_path, key_path}},
                                           std::make_shared<net::TicketKeys>(), ::time(nullptr));
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  auto table = BuildIngressTable(projects, o, *tls, 7);
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  ASSERT_EQ(table->listeners.size(), 2u);
  const proxy::Listener& plain = table->listeners[0];
  const proxy::Listener& secure = table->listeners[1];
  EXPECT_EQ(plain.port, 8080);
  EXPECT_EQ(secure.port, 8443);
  EXPECT_TRUE(secure.tls);
  EXPECT_TRUE(plain.retry_same_backend);
  EXPECT_TRUE(secure.retry_same_backend);
  ASSERT_EQ(plain.routes.size(), 3u);
  ASSERT_EQ(secure.routes.size(), 1u);  // only a has certificates
  int ia = proxy::MatchRoute(plain, "a.test", "/");
  ASSERT_GE(ia, 0);
  EXPECT_EQ(plain.routes[ia].https_redirect_port, 8443);
  EXPECT_EQ(plain.routes[ia].sets[0].backends[0].port, 1000);
  int ib = proxy::MatchRoute(plain, "www.b.test:8080", "/x");
  ASSERT_GE(ib, 0);
  EXPECT_EQ(plain.routes[ib].service, "b");
  EXPECT_EQ(plain.routes[ib].https_redirect_port, 0);
  EXPECT_EQ(secure.routes[0].hsts, "max-age=60");
  // No catch-all: an unknown host matches nothing (404), never another project.
  EXPECT_LT(proxy::MatchRoute(plain, "c.test", "/"), 0);
  EXPECT_LT(proxy::MatchRoute(plain, "", "/"), 0);
  EXPECT_LT(proxy::MatchRoute(secure, "b.test", "/"), 0);

  // Without certificates there is no HTTPS listener.
  projects.erase("a");
  table = BuildIngressTable(projects, o, nullptr, 8);
  EXPECT_EQ(table->listeners.size(), 1u);
}

TEST(IngressOptions, ListenAddresses) {
  auto a = ParseListenAddress("127.0.0.1:8080", "--http");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  a = ParseListenAddress(":443", "--https");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "0.0.0.0");
  a = ParseListenAddress("80", "--http");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 80);
  for (const char* bad : {"", "host:", "host:0", "host:70000", "x:y", ":-1"}) {
    auto r = ParseListenAddress(bad, "SLIPWAY_INGRESS_HTTP");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("SLIPWAY_INGRESS_HTTP: \""), std::string::npos);
  }
}

}  // namespace
}  // namespace slipway::ingress

namespace slipway::ingress {
namespace {

// *.shop.test belongs to one project and www.shop.test to another: the exact host wins, the
// wildcard takes any other single label; with a wildcard certificate chosen by SNI.
TEST(IngressTable, WildcardHostsMatchOneLabelAndExactHostsWin) {
  TempFolder dir;
  net::testing::TestCert wild = net::testing::MakeTestCert({"*.shop.test"});
  net::testing::TestCert www = net::testing::MakeTestCert({"www.shop.test"});
  const std::string wc = (dir.path() / "w.pem").string(), wk = (dir.path() / "w.key").string();
  const std::string xc = (dir.path() / "x.pem").string(), xk = (dir.path() / "x.key").string();
  net::testing::WriteTestFile(wc, wild.cert_pem);
  net::testing::WriteTestFile(wk, wild.key_pem);
  net::testing::WriteTestFile(xc, www.cert_pem);
  net::testing::WriteTestFile(xk, www.key_pem);
  TempFolder state;
  auto reg = Registry::Open(state.path());
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  Registration a = Reg("a", {"*.shop.test"}, 1000);
  a.tls.push_back({wc, wk});
  Registration b = Reg("b", {"www.shop.test"}, 2000);
  b.tls.push_back({xc, xk});
  ASSERT_TRUE(reg->Register(a).ok());
  ASSERT_TRUE(reg->Register(b).ok());  // an exact host beside another project's wildcard
  Registration c = Reg("c", {"*.shop.test"}, 3000);
  EXPECT_EQ(reg->Register(c).code(), StatusCode::kAlreadyExists);  // the same wildcard twice
  IngressOptions o;
  o.http = {"127.0.0.1", 8080};
  o.https = {"127.0.0.1", 8443};
  auto tls = net::TlsServerContext::Create({{wc, wk}, {xc, xk}},
                                           std::make_shared<net::TicketKeys>(), ::time(nullptr));
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  auto table = BuildIngressTable(reg->projects(), o, *tls, 1);
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener& secure = table->listeners[1];
  auto service = [&](const std::string& host) {
    int i = proxy::MatchRoute(secure, host, "/");
    return i < 0 ? std::string("(none)") : secure.routes[i].service;
  };
  EXPECT_EQ(service("api.shop.test"), "a");
  EXPECT_EQ(service("WWW.shop.test:8443"), "b");
  EXPECT_EQ(service("shop.test"), "(none)");
  EXPECT_EQ(service("a.b.shop.test"), "(none)");
  EXPECT_EQ((*tls)->ForName("api.shop.test"), (*tls)->default_ctx());  // the wildcard is first
  EXPECT_NE((*tls)->ForName("www.shop.test"), (*tls)->default_ctx());
}

}  // namespace
}  // namespace slipway::ingress
