#include "engine/graph.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace slipway::engine {
namespace {

using config::DependsCondition;
using config::Project;
using Names = std::vector<std::string>;

// Builds a project from "service: deps..." lists; each service gets a
// location on its own line of compose.yaml.
Project MakeProject(std::initializer_list<std::pair<std::string, Names>> spec) {
  Project p;
  p.name = "t";
  int line = 2;
  for (const auto& [name, deps] : spec) {
    config::Service s;
    s.name = name;
    s.loc = {"compose.yaml", line, 3};
    line += 5;
    for (const std::string& d : deps) {
      s.depends_on.push_back({.service = d,
                              .condition = DependsCondition::kHealthy,
                              .required = true,
                              .restart = false});
    }
    p.services[name] = std::move(s);
  }
  return p;
}

TEST(StartOrderTest, DependenciesFirstThenByName) {
  // The shop example's shape: web and worker wait for api, api for init.
  Project p = MakeProject(
      {{"web", {"api"}}, {"worker", {"api"}}, {"api", {"init"}}, {"init", {}}, {"cache", {}}});
  auto order = StartOrder(p, {});
  ASSERT_TRUE(order.ok()) << order.status().message();
  EXPECT_EQ(*order, (Names{"cache", "init", "api", "web", "worker"}));
}

TEST(StartOrderTest, TargetsPullInOnlyTheirDependencies) {
  Project p = MakeProject(
      {{"web", {"api"}}, {"worker", {"api"}}, {"api", {"db"}}, {"db", {}}, {"docs", {}}});
  auto order = StartOrder(p, {"web"});
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (Names{"db", "api", "web"}));
  order = StartOrder(p, {"docs", "db"});
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (Names{"db", "docs"}));
  order = StartOrder(p, {"web", "web"});  // repeated target
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (Names{"db", "api", "web"}));
}

TEST(StartOrderTest, DiamondAndStableOrder) {
  Project p = MakeProject({{"a", {"b", "c"}}, {"b", {"d"}}, {"c", {"d"}}, {"d", {}}, {"e", {"d"}}});
  auto order = StartOrder(p, {});
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (Names{"d", "b", "c", "a", "e"}));
  // Same answer every time, whatever order the targets come in.
  auto again = StartOrder(p, {"e", "a"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *order);
}

TEST(StartOrderTest, CycleIsInvalidInputNamingTheCycle) {
  Project p = MakeProject({{"c", {"a"}}, {"a", {"b"}}, {"b", {"c"}}, {"web", {"a"}}, {"z", {}}});
  auto order = StartOrder(p, {});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), StatusCode::kInvalidInput);
  // "a" is the second service: line 7.
  EXPECT_EQ(order.status().message(),
            "compose.yaml:7:3: services.a.depends_on: dependency cycle: a -> b -> c -> a");
  // Reached only through a target too.
  order = StartOrder(p, {"web"});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(),
            "compose.yaml:7:3: services.a.depends_on: dependency cycle: a -> b -> c -> a");
  // A target outside the cycle is fine.
  order = StartOrder(p, {"z"});
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (Names{"z"}));
}

TEST(StartOrderTest, SelfDependencyIsACycle) {
  Project p = MakeProject({{"api", {"api"}}});
  p.services["api"].loc = {};  // no location known: the message has no prefix
  auto order = StartOrder(p, {});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(), "services.api.depends_on: dependency cycle: api -> api");
}

TEST(StartOrderTest, UnknownDependencyAndTarget) {
  Project p = MakeProject({{"api", {"dbb"}}, {"web", {}}});
  auto order = StartOrder(p, {});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(order.status().message(),
            "compose.yaml:2:3: services.api.depends_on: unknown service \"dbb\"");
  order = StartOrder(p, {"nope"});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(order.status().message(), "no such service: \"nope\"");
  order = StartOrder(p, {"web"});  // api's problem does not concern web
  ASSERT_TRUE(order.ok());
}

TEST(StartOrderTest, OptionalMissingDependencyIsSkipped) {
  Project p = MakeProject({{"api", {"metrics"}}});
  p.services["api"].depends_on[0].required = false;
  auto order = StartOrder(p, {});
  ASSERT_TRUE(order.ok()) << order.status().message();
  EXPECT_EQ(*order, (Names{"api"}));
}

TEST(StopOrderTest, DependentsFirstIncludingThroughStoppedServices) {
  Project p = MakeProject(
      {{"web", {"api"}}, {"worker", {"api"}}, {"api", {"init"}}, {"init", {}}, {"cache", {}}});
  EXPECT_EQ(StopOrder(p, {"init", "api", "web", "worker", "cache"}),
            (Names{"worker", "web", "api", "init", "cache"}));
  // init is not running: web still stops before... nothing it depends on is left but api.
  EXPECT_EQ(StopOrder(p, {"api", "web"}), (Names{"web", "api"}));
  // a -> b -> c with b not in the set: a still before c.
  Project chain = MakeProject({{"a", {"b"}}, {"b", {"c"}}, {"c", {}}});
  EXPECT_EQ(StopOrder(chain, {"c", "a"}), (Names{"a", "c"}));
}

TEST(StopOrderTest, UnknownNamesFirstAndCyclesStillStopEverything) {
  Project p = MakeProject({{"a", {"b"}}, {"b", {"a"}}, {"c", {"a"}}});
  Names order = StopOrder(p, {"c", "b", "a", "gone", "a"});
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.front(), "gone");
  EXPECT_EQ(order[1], "c");  // depends on the cycle: stops before it
  EXPECT_TRUE(StopOrder(p, {}).empty());
}

TEST(DependentsTest, DirectOnlySorted) {
  Project p = MakeProject({{"web", {"api"}},
                           {"worker", {"api"}},
                           {"api", {"init"}},
                           {"init", {}},
                           {"admin", {"api", "init"}}});
  EXPECT_EQ(Dependents(p, "api"), (Names{"admin", "web", "worker"}));
  EXPECT_EQ(Dependents(p, "init"), (Names{"admin", "api"}));
  EXPECT_TRUE(Dependents(p, "web").empty());
  EXPECT_TRUE(Dependents(p, "nope").empty());
}

}  // namespace
}  // namespace slipway::engine
