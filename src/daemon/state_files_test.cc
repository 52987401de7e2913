// The daemon's small state files and x-slipway.api.listen parsing, with hostile values.
#include "daemon/state_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace slipway::daemon {
namespace {

namespace fs = std::filesystem;

class StateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-state-files-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StateFilesTest, WriteThenReadTrimsTheNewline) {
  ASSERT_TRUE(WriteSmallFile(dir_ / "api.addr", "127.0.0.1:4000", 0644).ok());
  auto back = ReadSmallFile(dir_ / "api.addr");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "127.0.0.1:4000");
  EXPECT_FALSE(fs::exists(dir_ / "api.addr.tmp"));
  EXPECT_EQ(ReadSmallFile(dir_ / "missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(WriteSmallFile(dir_ / "no" / "such" / "dir", "x", 0644).ok());
}

TEST_F(StateFilesTest, TheTokenIsKeptAndAShortOneReplaced) {
  auto first = LoadOrCreateToken(dir_ / "token");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 48u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateToken(dir_ / "token");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first) << "kept across restarts";
  std::ofstream(dir_ / "token") << "short\n";
  auto replaced = LoadOrCreateToken(dir_ / "token");
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->size(), 48u);
  EXPECT_NE(*replaced, *first);
}

}  // namespace
}  // namespace slipway::daemon
