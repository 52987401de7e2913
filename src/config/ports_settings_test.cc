#include "config/ports_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

PortProtocol Of(const Project& p, const std::string& service, int target) {
  return ProtocolOf(p, p.services.at(service), target);
}

TEST(PortsSettingsTest, HttpWhereTheProjectSaysSoTcpOtherwise) {
  Result<Project> p = LoadText(R"(services:
  db:
    command: [postgres]
    ports: ["5432:5432"]
  web:
    command: [web]
    ports: ["8080:3000"]
    x-slipway: {healthcheck: {http: /health}}
  tlsapp:
    command: [tlsapp]
    ports: ["8443:8443"]
    x-slipway: {healthcheck: {http: /health, scheme: https}}
  api:
    command: [api]
    expose: ["8000"]
  tagged:
    command: [tagged]
    ports:
      - {target: 80, published: "8081", app_protocol: http}
      - {target: 81, published: "8082", app_protocol: grpc}
  forced:
    command: [forced]
    ports: ["9000:9000", "9001:9001"]
    x-slipway:
      healthcheck: {http: /health}
      ports: {9001: tcp}
  forced_http:
    command: [x]
    expose: [7000]
    x-slipway: {ports: {"7000": http}}
x-slipway:
  routes:
    - {listen: 8090, service: api}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(Of(*p, "db", 5432), PortProtocol::kTcp);
  EXPECT_EQ(Of(*p, "web", 3000), PortProtocol::kHttp);    // HTTP health check
  EXPECT_EQ(Of(*p, "tlsapp", 8443), PortProtocol::kTcp);  // it speaks TLS: passed through
  EXPECT_EQ(Of(*p, "api", 8000), PortProtocol::kHttp);    // a route
  EXPECT_EQ(Of(*p, "tagged", 80), PortProtocol::kHttp);
  EXPECT_EQ(Of(*p, "tagged", 81), PortProtocol::kTcp);  // HTTP/2: passed through
  EXPECT_EQ(Of(*p, "forced", 9000), PortProtocol::kHttp);
  EXPECT_EQ(Of(*p, "forced", 9001), PortProtocol::kTcp);
  EXPECT_EQ(Of(*p, "forced_http", 7000), PortProtocol::kHttp);
  EXPECT_EQ(TargetPorts(p->services.at("forced")), (std::vector<int>{9000, 9001}));
  EXPECT_EQ(TargetPorts(p->services.at("api")), (std::vector<int>{8000}));
}

TEST(PortsSettingsTest, BadInputIsOneLine) {
  auto err = [](const std::string& xs) {
    return ErrorOf(
        LoadText("services:\n  db:\n    command: [x]\n    ports: [\"5432:5432\"]\n"
                 "    x-slipway:\n      ports: " +
                 xs + "\n"));
  };
  EXPECT_EQ(err("{5432: udp}"),
            "compose.yaml:6:15: services.db.x-slipway.ports.5432: \"udp\" is not allowed (expected "
            "http, https or tcp)");
  EXPECT_EQ(err("{5433: tcp}"),
            "compose.yaml:6:15: services.db.x-slipway.ports.5433: port 5433 is not a port of the "
            "service (expected a target port listed in ports or expose)");
  EXPECT_EQ(err("{abc: tcp}"),
            "compose.yaml:6:15: services.db.x-slipway.ports.abc: \"abc\" is not a port number "
            "(expected a target port from 1 to 65535)");
  EXPECT_EQ(err("{99999: tcp}"),
            "compose.yaml:6:15: services.db.x-slipway.ports.99999: \"99999\" is not a port number "
            "(expected a target port from 1 to 65535)");
  EXPECT_EQ(err("[tcp]"),
            "compose.yaml:6:7: services.db.x-slipway.ports: is a list (expected a mapping of "
            "target ports to http, https or tcp, e.g. {5432: tcp})");
  EXPECT_EQ(
      err("{5432: [tcp]}"),
      "compose.yaml:6:15: services.db.x-slipway.ports.5432: is a list (expected http, https or "
      "tcp)");
}

TEST(PortsSettingsTest, UdpIsRefusedAtLoad) {
  Result<Project> p = LoadText("services:\n  dns:\n    command: [x]\n    ports: [\"53:53/udp\"]\n");
  EXPECT_EQ(ErrorOf(p),
            "compose.yaml:4:13: services.dns.ports[0]: \"53:53/udp\" \u2014 UDP is not proxied "
            "by slipway (expected a TCP port)");
  p = LoadText(
      "services:\n  dns:\n    command: [x]\n    ports:\n      - {target: 53, protocol: udp}\n");
  EXPECT_EQ(ErrorOf(p),
            "compose.yaml:5:22: services.dns.ports[0].protocol: protocol \"udp\" \u2014 UDP is not "
            "proxied by slipway (expected a TCP port)");
  p = LoadText("services:\n  dns:\n    command: [x]\n    expose: [\"53/udp\"]\n");
  EXPECT_EQ(ErrorOf(p),
            "compose.yaml:4:14: services.dns.expose[0]: \"53/udp\" \u2014 UDP is not proxied by "
            "slipway (expected a TCP port)");
}

TEST(PortsSettingsTest, PortRangesExpandAsComposeDoes) {
  Result<Project> p = LoadText(R"(services:
  exporter:
    command: [x]
    ports: ["9100-9101:9100-9101", "127.0.0.1:7000-7001:8000-8001", "6000-6001"]
    expose: ["5000-5002"]
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const auto& ports = p->services.at("exporter").ports;
  ASSERT_EQ(ports.size(), 6u);
  EXPECT_EQ(ports[0].published, 9100);
  EXPECT_EQ(ports[0].target, 9100);
  EXPECT_EQ(ports[1].published, 9101);
  EXPECT_EQ(ports[1].target, 9101);
  EXPECT_EQ(ports[2].host_ip, "127.0.0.1");
  EXPECT_EQ(ports[2].published, 7000);
  EXPECT_EQ(ports[3].target, 8001);
  EXPECT_EQ(ports[3].published, 7001);
  EXPECT_EQ(ports[4].published, 0);
  EXPECT_EQ(ports[5].target, 6001);
  EXPECT_EQ(p->services.at("exporter").expose, (std::vector<int>{5000, 5001, 5002}));

  auto err = [](const std::string& port) {
    return ErrorOf(LoadText("services:\n  a:\n    command: [x]\n    ports: [" + port + "]\n"));
  };
  EXPECT_EQ(err("\"9100-9102:9100-9101\""),
            "compose.yaml:4:13: services.a.ports[0]: \"9100-9102:9100-9101\": the published range "
            "and the target range differ in length (expected ranges of the same length, e.g. "
            "\"9100-9101:9100-9101\")");
  EXPECT_EQ(err("\"9101-9100\""),
            "compose.yaml:4:13: services.a.ports[0]: port range \"9101-9100\" ends before it "
            "starts (expected FIRST-LAST with FIRST <= LAST)");
  EXPECT_EQ(err("\"9100-x\""),
            "compose.yaml:4:13: services.a.ports[0]: \"9100-x\" is not a port range (expected "
            "FIRST-LAST, e.g. \"9100-9101\")");
  EXPECT_EQ(err("\"1-2000\""),
            "compose.yaml:4:13: services.a.ports[0]: port range \"1-2000\" is too long (expected "
            "at most 1024 ports)");
  EXPECT_EQ(err("\"9100-70000\""),
            "compose.yaml:4:13: services.a.ports[0]: port 70000 is out of range (expected a "
            "number from 1 to 65535)");
}

}  // namespace
}  // namespace slipway::config
