#include "deploy/releases.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace slipway::deploy {
namespace {

class ReleasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "slipway-releases-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::Store::Open(dir_ / "state.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    auto r = ReleaseStore::Open(store_.get(), &clock_);
    ASSERT_TRUE(r.ok()) << r.status().message();
    releases_ = std::move(r).value();
  }
  void TearDown() override {
    releases_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Release Make(const std::string& service, const std::string& version) {
    Release r;
    r.service = service;
    r.version = version;
    r.spec_hash = "abc";
    r.spec = {{"command", {"./api"}}};
    r.strategy = config::DeployStrategy::kBlueGreen;
    return r;
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ReleaseStore> releases_;
};

TEST_F(ReleasesTest, NumbersPerServiceAndFinish) {
  auto a1 = releases_->Create(Make("api", "v1"));
  auto a2 = releases_->Create(Make("api", "v2"));
  auto w1 = releases_->Create(Make("web", "v1"));
  ASSERT_TRUE(a1.ok() && a2.ok() && w1.ok());
  EXPECT_EQ(a1->number, 1);
  EXPECT_EQ(a2->number, 2);
  EXPECT_EQ(w1->number, 1);
  EXPECT_EQ(a2->status, ReleaseStatus::kRunning);
  EXPECT_EQ(a2->created_ms, 1'700'000'000'000);

  clock_.AdvanceForTest(Duration(5'000));
  ASSERT_TRUE(releases_
                  ->Finish("api", 2, ReleaseStatus::kRolledBack, "5xx rate 50.0% > 5.0%",
                           {{"requests", 120}, {"errors_5xx", 60}})
                  .ok());
  auto got = releases_->Get("api", 2);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->status, ReleaseStatus::kRolledBack);
  EXPECT_EQ((*got)->ToJson()["status"], "rolled-back");
  EXPECT_EQ((*got)->reason, "5xx rate 50.0% > 5.0%");
  EXPECT_EQ((*got)->numbers["errors_5xx"], 60);
  EXPECT_EQ((*got)->finished_ms, 1'700'000'005'000);
  EXPECT_EQ((*got)->spec["command"][0], "./api");
  EXPECT_EQ((*got)->version, "v2");

  auto api = releases_->List("api", 0);
  ASSERT_TRUE(api.ok());
  ASSERT_EQ(api->size(), 2u);
  EXPECT_EQ((*api)[0].number, 2);  // newest first
  auto all = releases_->List("", 2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].service, "web");
  auto none = releases_->Get("api", 9);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(ReleasesTest, RecentGivesEachServiceItsNewest) {
  for (int i = 1; i <= 4; ++i)
    ASSERT_TRUE(releases_->Create(Make("api", fmt::format("a{}", i))).ok());
  ASSERT_TRUE(releases_->Create(Make("web", "w1")).ok());
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(releases_->Create(Make("db", fmt::format("d{}", i))).ok());
  auto got = releases_->Recent(2);
  ASSERT_TRUE(got.ok()) << got.status().message();
  std::vector<std::string> seen;
  for (const Release& r : *got) seen.push_back(fmt::format("{}/{}", r.service, r.number));
  EXPECT_EQ(seen, (std::vector<std::string>{"api/4", "api/3", "db/3", "db/2", "web/1"}));
  EXPECT_EQ((*got)[0].version, "a4");
  auto one = releases_->Recent(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 3u);
  auto zero = releases_->Recent(0);  // read as 1: never the whole table by accident
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->size(), 3u);
}

TEST_F(ReleasesTest, SurvivesReopen) {
  ASSERT_TRUE(releases_->Create(Make("api", "v1")).ok());
  releases_.reset();
  store_.reset();
  auto s = store::Store::Open(dir_ / "state.db", &clock_);
  ASSERT_TRUE(s.ok());
  store_ = std::move(s).value();
  auto r = ReleaseStore::Open(store_.get(), &clock_);
  ASSERT_TRUE(r.ok());
  releases_ = std::move(r).value();
  auto next = releases_->Create(Make("api", "v2"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->number, 2);
}

// The strategy is a closed set: stored as its name ("up" for a release `up` started), read
// back typed; a stored name the binary does not know is a one-line error naming the release.
TEST_F(ReleasesTest, TheStrategyIsStoredByNameAndReadBackTyped) {
  Release up = Make("api", "v1");
  up.strategy = std::nullopt;
  ASSERT_TRUE(releases_->Create(up).ok());
  Release canary = Make("api", "v2");
  canary.strategy = config::DeployStrategy::kCanary;
  ASSERT_TRUE(releases_->Create(canary).ok());
  auto list = releases_->List("api", 0);
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].strategy, config::DeployStrategy::kCanary);
  EXPECT_EQ((*list)[0].ToJson()["strategy"], "canary");
  EXPECT_FALSE((*list)[1].strategy.has_value());
  EXPECT_EQ((*list)[1].ToJson()["strategy"], "up");

  ASSERT_TRUE(
      store::Exec(store_->db(), "UPDATE releases SET strategy = 'shadow' WHERE number = 2", "test")
          .ok());
  list = releases_->List("api", 0);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message(),
            "releases: api r2: strategy \"shadow\" is not known (expected up, blue-green, "
            "canary, rolling or recreate)");
}

TEST_F(ReleasesTest, KeepsTheBaseHashTheFileGave) {
  Release r = Make("api", "v1");
  r.base_hash = "0123456789abcdef";
  ASSERT_TRUE(releases_->Create(r).ok());
  ASSERT_TRUE(releases_->Create(Make("api", "v2")).ok());
  auto one = releases_->Get("api", 1);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->base_hash, "0123456789abcdef");
  EXPECT_EQ((*one)->ToJson().value("base_hash", ""), "0123456789abcdef");
  auto two = releases_->Get("api", 2);
  ASSERT_TRUE(two.ok() && two->has_value());
  EXPECT_EQ((*two)->base_hash, "");
}

}  // namespace
}  // namespace slipway::deploy
