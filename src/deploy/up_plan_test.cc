#include "deploy/up_plan.h"

#include <gtest/gtest.h>

#include "engine/spec_hash.h"

namespace slipway::deploy {
namespace {

config::Service Svc(const std::string& name, const std::string& image,
                    std::map<std::string, std::string> env = {}) {
  config::Service s;
  s.name = name;
  s.image = image;
  s.environment = std::move(env);
  return s;
}

config::Project File(std::vector<config::Service> services) {
  config::Project p;
  p.name = "shop";
  for (auto& s : services) p.services[s.name] = std::move(s);
  return p;
}

// web was deployed from the file's web:1 with --env FLAG=on: the running spec differs from
// the file, but the file did not change since, so up keeps what runs.
TEST(UpPlanTest, ADeployedReleaseIsKeptWhileTheFileIsUnchanged) {
  config::Project file = File({Svc("web", "web:1"), Svc("worker", "worker:1")});
  config::Service running = Svc("web", "web:1", {{"FLAG", "on"}});
  UpPlan plan = PlanUp(file, {{"web", running, engine::SpecHash(file.services["web"])}}, {});
  EXPECT_EQ(plan.keep, std::vector<std::string>{"web"});
  EXPECT_TRUE(plan.deploy.empty());
  EXPECT_EQ(engine::SpecHash(plan.project.services["web"]), engine::SpecHash(running))
      << "the engine sees what runs, so Up leaves it";
  EXPECT_EQ(plan.project.services["worker"].image, "worker:1") << "others: the file's";
}

TEST(UpPlanTest, AFileChangedSinceTheDeployIsDeployedNotRecreated) {
  config::Project before = File({Svc("web", "web:1")});
  config::Project file = File({Svc("web", "web:2")});
  config::Service running = Svc("web", "web:1", {{"FLAG", "on"}});
  UpPlan plan = PlanUp(file, {{"web", running, engine::SpecHash(before.services["web"])}}, {});
  EXPECT_TRUE(plan.keep.empty());
  EXPECT_EQ(plan.deploy, std::vector<std::string>{"web"});
  EXPECT_EQ(plan.project.services["web"].image, "web:1")
      << "Up must not recreate it: the deploy replaces it";
}

TEST(UpPlanTest, AnUnknownBaseIsAChangeAndUnrequestedServicesAreKept) {
  config::Project file = File({Svc("web", "web:2"), Svc("api", "api:2")});
  UpPlan plan =
      PlanUp(file, {{"web", Svc("web", "web:1"), ""}, {"api", Svc("api", "api:1"), "zz"}}, {"web"});
  EXPECT_EQ(plan.deploy, std::vector<std::string>{"web"});
  EXPECT_EQ(plan.keep, std::vector<std::string>{"api"}) << "`up web` touches web only";
  EXPECT_EQ(plan.project.services["api"].image, "api:1");
}

TEST(UpPlanTest, ServicesGoneFromTheFileAreNotPlanned) {
  config::Project file = File({Svc("web", "web:1")});
  UpPlan plan = PlanUp(file, {{"old", Svc("old", "old:1"), "x"}}, {});
  EXPECT_TRUE(plan.keep.empty());
  EXPECT_TRUE(plan.deploy.empty());
  EXPECT_EQ(plan.project.services.count("old"), 0u);
}

}  // namespace
}  // namespace slipway::deploy
