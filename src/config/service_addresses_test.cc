#include "config/service_addresses.h"

#include <gtest/gtest.h>

#include "config/project.h"
#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

TEST(ServiceAddressesTest, BlockIsStableAndOutsideTheUsualLoopbackNames) {
  EXPECT_EQ(AddressBlock("shop"), AddressBlock("shop"));
  EXPECT_NE(AddressBlock("shop"), AddressBlock("shop2"));
  for (const std::string& name :
       std::vector<std::string>{"", "a", "shop", "app", "x-y_z", std::string(300, 'q')}) {
    std::string b = AddressBlock(name);
    ASSERT_EQ(b.rfind("127.", 0), 0u) << b;
    int a = std::stoi(b.substr(4));
    EXPECT_GE(a, 1) << b;  // never 127.0.x.x (localhost, Debian's 127.0.1.1)
    EXPECT_LE(a, 254) << b;
  }
}

TEST(ServiceAddressesTest, ServicesInSortedOrderWithTheirNames) {
  Result<Project> p = LoadText(R"(services:
  web:
    command: [web]
    links: ["db:database", api]
  db:
    command: [postgres]
    hostname: pg
    container_name: shop-db
    networks:
      back:
        aliases: [postgres, db.internal]
      front:
  api:
    command: [api]
    hostname: db
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  Result<std::vector<ServiceAddress>> a = ServiceAddresses(*p);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a->size(), 3u);
  const std::string block = AddressBlock("app");
  EXPECT_EQ((*a)[0].service, "api");
  EXPECT_EQ((*a)[0].ip, block + ".1");
  EXPECT_EQ((*a)[0].names, (std::vector<std::string>{"api"}));  // "db" is a service's name
  EXPECT_EQ((*a)[1].service, "db");
  EXPECT_EQ((*a)[1].ip, block + ".2");
  EXPECT_EQ((*a)[1].names, (std::vector<std::string>{"db", "pg", "shop-db", "postgres",
                                                     "db.internal", "database"}));
  EXPECT_EQ((*a)[2].ip, block + ".3");
  std::string hosts = HostsFileText("127.0.0.1 localhost", *a);
  std::string want = "127.0.0.1 localhost\n# services of this project (slipway)\n";
  for (const char* line :
       {".1 api\n", ".2 db pg shop-db postgres db.internal database\n", ".3 web\n"}) {
    want.append(block).append(line);
  }
  EXPECT_EQ(hosts, want);
}

TEST(ServiceAddressesTest, AddingAServiceAfterTheOthersKeepsTheirAddresses) {
  Result<Project> one = LoadText("services:\n  a: {command: [x]}\n  b: {command: [x]}\n");
  Result<Project> two =
      LoadText("services:\n  a: {command: [x]}\n  b: {command: [x]}\n  c: {command: [x]}\n");
  ASSERT_TRUE(one.ok() && two.ok());
  auto x = ServiceAddresses(*one), y = ServiceAddresses(*two);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ((*x)[0].ip, (*y)[0].ip);
  EXPECT_EQ((*x)[1].ip, (*y)[1].ip);
}

TEST(ServiceAddressesTest, TooManyServices) {
  Project p;
  p.name = "big";
  for (int i = 0; i < 255; ++i) {
    std::string name = std::to_string(i);
    name.insert(name.begin(), 's');
    p.services[name].name = name;
  }
  EXPECT_FALSE(ServiceAddresses(p).ok());
  p.services.erase("s0");
  EXPECT_TRUE(ServiceAddresses(p).ok());
}

TEST(ServiceAddressesTest, BadNamesAreOneLine) {
  auto err = [](const std::string& body) {
    return ErrorOf(LoadText("services:\n  a:\n    command: [x]\n" + body));
  };
  EXPECT_EQ(err("    hostname: \"a b\"\n"),
            "compose.yaml:4:5: services.a.hostname: \"a b\" is not a host name (expected "
            "letters, digits, '-', '.', '_', not starting with '-' or '.')");
  EXPECT_EQ(err("    container_name: -x\n"),
            "compose.yaml:4:5: services.a.container_name: \"-x\" is not a host name (expected "
            "letters, digits, '-', '.', '_', not starting with '-' or '.')");
  EXPECT_EQ(err("    networks:\n      n:\n        aliases: [ok, \"no way\"]\n"),
            "compose.yaml:6:23: services.a.networks.n.aliases[1]: \"no way\" is not a host name "
            "(expected letters, digits, '-', '.', '_', not starting with '-' or '.')");
  EXPECT_EQ(err("    networks:\n      n:\n        aliases: oops\n"),
            "compose.yaml:6:9: services.a.networks.n.aliases: is \"oops\" (expected a list of "
            "strings)");
  EXPECT_EQ(err("    networks: 5\n"),
            "compose.yaml:4:5: services.a.networks: is \"5\" (expected a list of network names "
            "or a mapping of networks)");
  EXPECT_EQ(err("    links: [\"db:\"]\n"),
            "compose.yaml:4:13: services.a.links[0]: \"db:\" is not a link (expected SERVICE or "
            "SERVICE:ALIAS, e.g. \"db:database\")");
  EXPECT_EQ(err("    expose: [\"x\"]\n"),
            "compose.yaml:4:14: services.a.expose[0]: \"x\" is not a port number (expected a "
            "number from 1 to 65535)");
  EXPECT_EQ(err("    expose: 80\n"),
            "compose.yaml:4:5: services.a.expose: is \"80\" (expected a list of ports, e.g. "
            "[\"5432\"])");
  std::string huge(100'000, 'h');
  EXPECT_NE(err("    hostname: " + huge + "\n").find("is not a host name"), std::string::npos);
}

}  // namespace
}  // namespace slipway::config
