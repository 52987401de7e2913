#include "runtime/log_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace slipway::runtime {
namespace {

namespace fs = std::filesystem;

// prefix + number (kept out of `"literal" + std::string` to dodge a GCC 12 -Wrestrict false
// positive).
std::string Num(std::string prefix, int i) {
  prefix += std::to_string(i);
  return prefix;
}

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           (Num("logstore.", getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  fs::path dir_;
  FakeClock clock_{1'795'300'801'123};  // 2026-11-21T22:40:01.123Z
};

TEST_F(LogStoreTest, FormatsLinesWithUtcMillisAndStderrMark) {
  LogStore store(dir_ / "logs", &clock_);
  store.Append("api", 1, false, "hello");
  store.Append("api", 2, true, "oops");
  EXPECT_EQ(Read(dir_ / "logs" / "api.log"),
            "2026-11-21T22:40:01.123Z api.1 | hello\n"
            "2026-11-21T22:40:01.123Z api.2 !| oops\n");
  EXPECT_TRUE(store.last_error().ok());
  EXPECT_EQ(FormatWallMillis(0), "1970-01-01T00:00:00.000Z");
}

TEST_F(LogStoreTest, RotatesAtMaxBytesKeepingNOldFiles) {
  // Each line is 24 (time) + 1 + 5 ("api.1") + 3 + 10 + 1 = 44 bytes; 100 bytes holds 2.
  LogStore store(dir_, &clock_, /*max_bytes=*/100, /*keep=*/2);
  for (int i = 0; i < 9; ++i) store.Append("api", 1, false, Num("line-", i) + "xxxx");
  EXPECT_TRUE(fs::exists(dir_ / "api.log"));
  EXPECT_TRUE(fs::exists(dir_ / "api.log.1"));
  EXPECT_TRUE(fs::exists(dir_ / "api.log.2"));
  EXPECT_FALSE(fs::exists(dir_ / "api.log.3"));
  for (auto name : {"api.log", "api.log.1", "api.log.2"}) {
    EXPECT_LE(fs::file_size(dir_ / name), 100u) << name;
  }
  // Newest in .log, then .1, then .2; lines 0..2 were dropped with the third rotation.
  EXPECT_NE(Read(dir_ / "api.log").find("line-8"), std::string::npos);
  EXPECT_NE(Read(dir_ / "api.log.1").find("line-6"), std::string::npos);
  EXPECT_NE(Read(dir_ / "api.log.2").find("line-4"), std::string::npos);
  EXPECT_EQ(Read(dir_ / "api.log.2").find("line-2"), std::string::npos);
}

TEST_F(LogStoreTest, ContinuesAnExistingFileAndRotatesItWhenFull) {
  {
    LogStore store(dir_, &clock_, 100, 3);
    store.Append("web", 1, false, "first-run-line");
  }
  LogStore store(dir_, &clock_, 100, 3);
  store.Append("web", 1, false, "second-run-a");
  EXPECT_FALSE(fs::exists(dir_ / "web.log.1"));
  store.Append("web", 1, false, "second-run-b");
  EXPECT_TRUE(fs::exists(dir_ / "web.log.1"));
  EXPECT_NE(Read(dir_ / "web.log.1").find("first-run-line"), std::string::npos);
}

TEST_F(LogStoreTest, TailFiltersByServiceSinceAndCount) {
  LogStore store(dir_, &clock_, 1 << 20, 3, /*ring_lines=*/5);
  int64_t t0 = clock_.WallMillis();
  for (int i = 0; i < 4; ++i) {
    store.Append("api", 1, false, Num("a", i));
    store.Append("db", 1, i % 2, Num("d", i));
    clock_.AdvanceForTest(Duration(10));
  }
  store.Append("worker", 1, false, "w");

  auto texts = [](const std::vector<LogLine>& lines) {
    std::vector<std::string> t;
    for (auto& l : lines) t.push_back(l.text);
    return t;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(texts(store.Tail({}, 0, 0)), (V{"a0", "d0", "a1", "d1", "a2", "d2", "a3", "d3", "w"}));
  EXPECT_EQ(texts(store.Tail({"db"}, 0, 0)), (V{"d0", "d1", "d2", "d3"}));
  // --tail counts per instance: 3 of api.1 and the one line of worker.1.
  EXPECT_EQ(texts(store.Tail({"api", "worker"}, 3, 0)), (V{"a1", "a2", "a3", "w"}));
  EXPECT_EQ(texts(store.Tail({"api", "db"}, 0, t0 + 20)), (V{"a2", "d2", "a3", "d3"}));
  EXPECT_EQ(texts(store.Tail({"api", "db"}, 1, t0 + 20)), (V{"a3", "d3"}));
  store.Append("api", 2, false, "b0");
  store.Append("api", 2, false, "b1");
  EXPECT_EQ(texts(store.Tail({"api"}, 1, 0)), (V{"a3", "b1"}));  // one per replica
  EXPECT_TRUE(store.Tail({"nope"}, 0, 0).empty());
  EXPECT_TRUE(store.Tail({"db"}, 0, 0)[1].is_stderr);

  // The ring keeps the last 5 per service.
  for (int i = 0; i < 10; ++i) store.Append("api", 2, false, Num("x", i));
  auto api = store.Tail({"api"}, 0, 0);
  ASSERT_EQ(api.size(), 5u);
  EXPECT_EQ(api.front().text, "x5");
  EXPECT_EQ(api.front().instance, 2);
}

TEST_F(LogStoreTest, SubscribersSeeNewLinesUntilUnsubscribed) {
  LogStore store(dir_, &clock_);
  std::vector<std::string> a, b;
  LogStore::SubscriberId ida = 0;
  ida = store.Subscribe([&](const LogLine& l) {
    a.push_back(l.service + ":" + l.text);
    if (l.text == "stop-a") store.Unsubscribe(ida);  // from inside its own callback
  });
  store.Subscribe([&](const LogLine& l) { b.push_back(l.text); });
  store.Append("api", 1, false, "one");
  store.Append("db", 1, true, "stop-a");
  store.Append("api", 1, false, "two");
  EXPECT_EQ(a, (std::vector<std::string>{"api:one", "db:stop-a"}));
  EXPECT_EQ(b, (std::vector<std::string>{"one", "stop-a", "two"}));
}

TEST_F(LogStoreTest, FileErrorsDoNotLoseTheRing) {
  // A regular file where the folder should be: every open fails.
  fs::create_directories(dir_);
  std::ofstream(dir_ / "blocked") << "x";
  LogStore store(dir_ / "blocked", &clock_);
  store.Append("api", 1, false, "kept");
  EXPECT_FALSE(store.last_error().ok());
  ASSERT_EQ(store.Tail({}, 0, 0).size(), 1u);
}

}  // namespace
}  // namespace slipway::runtime
