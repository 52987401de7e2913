#include "config/input_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using ::slipway::config::testing::TempDir;
using ::testing::HasSubstr;

TEST(InputFileTest, ReadsARegularFile) {
  TempDir dir;
  auto p = dir.Write("a.yaml", "services: {}\n");
  Result<std::string> r = ReadInputFile(p, "a.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "services: {}\n");
}

TEST(InputFileTest, MissingIsNotFound) {
  TempDir dir;
  Result<std::string> r = ReadInputFile(dir.path() / "nope", "nope");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "nope: file not found");
}

TEST(InputFileTest, RefusesACharacterDevice) {
  Result<std::string> r = ReadInputFile("/dev/zero", "/dev/zero");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(),
            "/dev/zero: not a regular file (a character device; expected a regular file)");
}

TEST(InputFileTest, RefusesAFifoWithoutWaitingForAWriter) {
  TempDir dir;
  const auto fifo = dir.path() / "compose.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<std::string> r = ReadInputFile(fifo, "compose.yaml");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(),
            "compose.yaml: not a regular file (a FIFO; expected a regular file)");
}

TEST(InputFileTest, RefusesADirectory) {
  TempDir dir;
  Result<std::string> r = ReadInputFile(dir.path(), "app");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(), "app: not a regular file (a directory; expected a regular file)");
}

TEST(InputFileTest, RefusesASocket) {
  TempDir dir;
  const auto path = dir.path() / "s";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.string().size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  Result<std::string> r = ReadInputFile(path, "s");
  ::close(fd);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(), "s: not a regular file (a socket; expected a regular file)");
}

TEST(InputFileTest, RefusesAFileOverTheCapBeforeReadingIt) {
  TempDir dir;
  const auto p = dir.path() / "big.yaml";
  dir.Write("big.yaml", "");
  // Sparse: costs no disk, and is refused from its size alone.
  ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(kMaxInputFileBytes) + 1), 0);
  Result<std::string> r = ReadInputFile(p, "big.yaml");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(), "big.yaml: file is larger than 16 MiB (expected at most 16 MiB)");
}

TEST(InputFileTest, AFileOfExactlyTheCapIsRead) {
  TempDir dir;
  const auto p = dir.path() / "edge";
  dir.Write("edge", std::string(1000, 'x'));
  Result<std::string> r = ReadInputFile(p, "edge", 1000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 1000u);
  EXPECT_EQ(ReadInputFile(p, "edge", 999).status().message(),
            "edge: file is larger than 999 bytes (expected at most 999 bytes)");
}

TEST(InputFileTest, BoundedWhenStatReportsNoSize) {
  // /proc files are regular files whose stat size is 0: the read itself is bounded.
  Result<std::string> r = ReadInputFile("/proc/self/maps", "maps", 16);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_THAT(r.status().message(), HasSubstr("larger than 16 bytes"));
  Result<std::string> whole = ReadInputFile("/proc/self/maps", "maps");
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_GT(whole->size(), 16u);
}

}  // namespace
}  // namespace slipway::config
