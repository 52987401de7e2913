#include "proxy/route_table.h"

#include <gtest/gtest.h>

namespace slipway::proxy {
namespace {

TEST(RouteTableTest, MatchLongestPrefixAndHost) {
  Listener l;
  Route web;
  web.service = "web";
  Route api;
  api.service = "api";
  api.path_prefix = "/api";
  Route admin;
  admin.service = "admin";
  admin.host = "admin.example.com";
  l.routes = {web, api, admin};
  EXPECT_EQ(MatchRoute(l, "x.com", "/"), 0);
  EXPECT_EQ(MatchRoute(l, "x.com", "/api"), 1);
  EXPECT_EQ(MatchRoute(l, "x.com", "/api/v1?q"), 1);
  EXPECT_EQ(MatchRoute(l, "x.com", "/api?q=1"), 1);
  EXPECT_EQ(MatchRoute(l, "x.com", "/apix"), 0);
  EXPECT_EQ(MatchRoute(l, "ADMIN.example.com:8080", "/api"), 2);
  Listener empty;
  EXPECT_EQ(MatchRoute(empty, "x", "/"), -1);
}

TEST(RouteTableTest, WildcardHostMatchesOneLabelAndExactWins) {
  Listener l;
  Route any;
  any.service = "any";
  Route wild;
  wild.service = "wild";
  wild.host = "*.example.com";
  Route exact;
  exact.service = "exact";
  exact.host = "shop.example.com";
  Route wild_api = wild;
  wild_api.service = "wild-api";
  wild_api.path_prefix = "/api";
  l.routes = {any, wild, exact, wild_api};
  EXPECT_EQ(MatchRoute(l, "a.example.com", "/"), 1);
  EXPECT_EQ(MatchRoute(l, "A.Example.COM:8443", "/x"), 1);
  EXPECT_EQ(MatchRoute(l, "a.example.com", "/api/v1"), 3);     // longest prefix among wildcards
  EXPECT_EQ(MatchRoute(l, "shop.example.com", "/api/v1"), 2);  // exact beats a longer wildcard
  EXPECT_EQ(MatchRoute(l, "a.b.example.com", "/"), 0);         // one label only
  EXPECT_EQ(MatchRoute(l, "example.com", "/"), 0);             // the bare domain is not covered
  EXPECT_EQ(MatchRoute(l, ".example.com", "/"), 0);            // an empty label is not one
  EXPECT_EQ(MatchRoute(l, "aexample.com", "/"), 0);
  EXPECT_EQ(MatchRoute(l, "", "/"), 0);
  EXPECT_EQ(MatchRoute(l, std::string(5000, 'a') + ".example.com", "/"), 0);
  EXPECT_EQ(MatchRoute(l, "x.example.org", "/"), 0);
}

TEST(RouteTableTest, StripPrefix) {
  EXPECT_EQ(StripPrefix("/api/x?q", "/api"), "/x?q");
  EXPECT_EQ(StripPrefix("/api", "/api"), "/");
  EXPECT_EQ(StripPrefix("/api?q", "/api/"), "/?q");
  EXPECT_EQ(StripPrefix("/x", "/"), "/x");
}

TEST(RouteTableTest, Validate) {
  RouteTable t;
  t.listeners.resize(2);
  t.listeners[0].port = 80;
  t.listeners[1].port = 80;
  EXPECT_EQ(ValidateRouteTable(t).code(), StatusCode::kInvalidInput);
  t.listeners[1].port = 81;
  EXPECT_TRUE(ValidateRouteTable(t).ok());
  Route r;
  r.path_prefix = "api";
  t.listeners[0].routes.push_back(r);
  EXPECT_EQ(ValidateRouteTable(t).code(), StatusCode::kInvalidInput);
  t.listeners[0].routes[0].path_prefix = "/api";
  InstanceSet s;
  s.name = "blue";
  t.listeners[0].routes[0].sets = {s, s};
  EXPECT_EQ(ValidateRouteTable(t).code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace slipway::proxy
