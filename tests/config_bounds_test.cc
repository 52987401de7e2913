// The real binary against hostile compose files, under a 1 GiB address-space limit
// (prlimit --as): an alias bomb, a 50 MB file, /dev/zero and a FIFO each end with exit 2 and
// one line naming the bound, promptly. The time is measured and printed, with a generous
// ceiling only (no timed assertion on a shared machine).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "base/test_require.h"
#include "harness.h"

namespace slipway::testing {
namespace {

constexpr const char* kOneGiB = "--as=1073741824";

struct Timed {
  CmdResult r;
  double seconds = 0;
};

// `slipway -f <file> config` in `dir` under the memory limit, at most 10 s.
Timed ConfigUnderLimit(const std::filesystem::path& dir, const std::string& file) {
  auto t0 = std::chrono::steady_clock::now();
  CmdResult r = RunCmd({"/usr/bin/prlimit", kOneGiB, SLIPWAY_BIN, "-f", file, "config"}, dir, {},
                       std::chrono::seconds(10));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {r, s};
}

class ConfigBoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SLIPWAY_REQUIRE(std::filesystem::exists("/usr/bin/prlimit"), "prlimit (util-linux)");
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-bounds-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  static void Report(const char* what, const Timed& t) {
    std::cout << "[ bounds ] " << what << ": exit " << t.r.rc << " in " << t.seconds << " s\n";
  }

  std::filesystem::path dir_;
  static inline int counter_ = 0;
};

TEST_F(ConfigBoundsTest, AliasBombExitsTwo) {
  std::string y =
      "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  const std::string names = "abcdefghi";
  for (size_t k = 1; k < names.size(); ++k) {
    const std::string c(1, names[k]), prev(1, names[k - 1]);
    y.append("x-").append(c).append(": &").append(c).append(" [");
    for (int i = 0; i < 9; ++i) y.append(i ? ",*" : "*").append(prev);
    y.append("]\n");
  }
  y += "services:\n  app:\n    image: busybox\n";
  Write("bomb.yaml", y);
  Timed t = ConfigUnderLimit(dir_, "bomb.yaml");
  Report("alias bomb", t);
  EXPECT_EQ(t.r.rc, 2) << t.r.err;
  EXPECT_EQ(t.r.err,
            "bomb.yaml:7:10: x-g[0]: YAML aliases expand to more than 1000000 nodes (an alias "
            "bomb?)\n");
  EXPECT_LT(t.seconds, 10.0);
}

TEST_F(ConfigBoundsTest, FiftyMegabyteFileExitsTwo) {
  // A real 50 MB file (not sparse): the size cap answers before any of it is read.
  std::string y = "services:\n  app:\n    image: busybox\nx-pad:\n";
  const std::string line = "  - " + std::string(95, 'p') + "\n";
  while (y.size() < 50u * 1000 * 1000) y += line;
  Write("big.yaml", y);
  Timed t = ConfigUnderLimit(dir_, "big.yaml");
  Report("50 MB file", t);
  EXPECT_EQ(t.r.rc, 2) << t.r.err;
  EXPECT_EQ(t.r.err,
            "slipway: config: big.yaml: file is larger than 16 MiB (expected at most 16 MiB)\n");
  EXPECT_LT(t.seconds, 10.0);
}

TEST_F(ConfigBoundsTest, DevZeroExitsTwo) {
  Timed t = ConfigUnderLimit(dir_, "/dev/zero");
  Report("/dev/zero", t);
  EXPECT_EQ(t.r.rc, 2) << t.r.err;
  EXPECT_EQ(t.r.err,
            "slipway: config: /dev/zero: not a regular file (a character device; expected a "
            "regular file)\n");
}

TEST_F(ConfigBoundsTest, FifoExitsTwoWithoutWaitingForAWriter) {
  ASSERT_EQ(::mkfifo((dir_ / "compose.yaml").c_str(), 0600), 0);
  Timed t = ConfigUnderLimit(dir_, "compose.yaml");
  Report("FIFO", t);
  EXPECT_EQ(t.r.rc, 2) << t.r.err;
  EXPECT_EQ(
      t.r.err,
      "slipway: config: compose.yaml: not a regular file (a FIFO; expected a regular file)\n");
}

TEST_F(ConfigBoundsTest, DeepNestingExitsTwo) {
  Write("deep.yaml", "x: " + std::string(100000, '[') + std::string(100000, ']') +
                         "\nservices:\n  app:\n    image: busybox\n");
  Timed t = ConfigUnderLimit(dir_, "deep.yaml");
  Report("100k-deep nesting", t);
  EXPECT_EQ(t.r.rc, 2) << t.r.err;
  EXPECT_EQ(t.r.err, "deep.yaml:1:259: document nests too deeply (expected at most 256 levels)\n");
}

}  // namespace
}  // namespace slipway::testing
