#include "config/resources_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

Result<Project> LoadResources(const std::string& flow) {
  return LoadText("services:\n  api:\n    command: ./api\n    deploy:\n      resources: " + flow +
                  "\n");
}

TEST(ResourcesSettingsTest, LimitsAndReservationsAreTyped) {
  auto p = LoadResources(
      "{limits: {cpus: '0.5', memory: 512m, pids: 200}, reservations: {cpus: 0.25, memory: "
      "128M}}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const ResourceSettings& r = p->services.at("api").resources;
  EXPECT_EQ(r.cpus, 0.5);
  EXPECT_EQ(r.memory_bytes, int64_t{512} << 20);
  EXPECT_EQ(r.pids, 200);
  EXPECT_EQ(r.reserved_cpus, 0.25);
  EXPECT_EQ(r.reserved_memory_bytes, int64_t{128} << 20);
  EXPECT_TRUE(r.HasLimits());
  EXPECT_EQ(r.LimitsText(), "cpus 0.5, memory 512MiB, pids 200");
  // Applied now: no "ignored by slipway" warning for them.
  for (const std::string& w : p->warnings) EXPECT_EQ(w.find("resources"), std::string::npos) << w;
}

TEST(ResourcesSettingsTest, UnusedKeysAreWarnedAboutOneByOne) {
  auto p =
      LoadResources("{limits: {memory: 1g}, reservations: {devices: [{capabilities: [gpu]}]}}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->warnings, (std::vector<std::string>{
                             "services.api.deploy.resources.reservations.devices: ignored by "
                             "slipway"}));
  EXPECT_EQ(p->services.at("api").resources.memory_bytes, int64_t{1} << 30);
}

TEST(ResourcesSettingsTest, HostileValuesGiveOneClearLine) {
  struct Case {
    const char* flow;
    const char* want;
  };
  const Case cases[] = {
      {"{limits: {cpus: '1.5.3'}}",
       "services.api.deploy.resources.limits.cpus: \"1.5.3\" is not a number of CPUs"},
      {"{limits: {cpus: -1}}", "services.api.deploy.resources.limits.cpus: cpus -1 is negative"},
      {"{limits: {cpus: 0}}", "cpus 0 is not positive"},
      {"{limits: {cpus: [1]}}", "services.api.deploy.resources.limits.cpus: is a list"},
      {"{limits: {memory: 10XB}}",
       "services.api.deploy.resources.limits.memory: \"10XB\" is not a memory size"},
      {"{limits: {memory: -5m}}", "memory -5m is negative"},
      {"{limits: {memory: {a: 1}}}", "services.api.deploy.resources.limits.memory: is a mapping"},
      {"{limits: {memory: 99999999999p}}", "is too large"},
      {"{limits: {pids: 1.5}}",
       "services.api.deploy.resources.limits.pids: \"1.5\" is not an "
       "integer"},
      {"{limits: {pids: -3}}", "pids -3 is out of range"},
      {"{limits: [cpus]}", "services.api.deploy.resources.limits: is a list"},
      {"nope", "services.api.deploy.resources: is \"nope\""},
      {"{limits: {cpus: 1}, reservations: {cpus: 2}}",
       "reservations.cpus 2 is above limits.cpus 1"},
      {"{limits: {memory: 1m}, reservations: {memory: 2m}}",
       "reservations.memory 2MiB is above limits.memory 1MiB"},
  };
  for (const Case& c : cases) {
    auto p = LoadResources(c.flow);
    ASSERT_FALSE(p.ok()) << c.flow;
    const std::string e = ErrorOf(p);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.flow << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_NE(e.find("compose.yaml:"), std::string::npos) << e;  // file and line
  }
}

TEST(ResourcesSettingsTest, ParsersMatchComposeUnits) {
  EXPECT_EQ(*ParseMemorySize("1024"), 1024);
  EXPECT_EQ(*ParseMemorySize("1k"), 1024);
  EXPECT_EQ(*ParseMemorySize("1.5GiB"), int64_t{3} << 29);
  EXPECT_EQ(*ParseMemorySize("2 mb"), int64_t{2} << 20);
  EXPECT_FALSE(ParseMemorySize("").ok());
  EXPECT_FALSE(ParseMemorySize(".").ok());
  EXPECT_FALSE(ParseMemorySize("1.2.3m").ok());
  EXPECT_EQ(*ParseCpus("2"), 2.0);
  EXPECT_EQ(*ParseCpus(".5"), 0.5);
  EXPECT_FALSE(ParseCpus("1e3").ok());
  EXPECT_FALSE(ParseCpus("5000").ok());
  EXPECT_EQ(FormatBytes(int64_t{512} << 20), "512MiB");
  EXPECT_EQ(FormatBytes(1000), "1000B");
}

}  // namespace
}  // namespace slipway::config
