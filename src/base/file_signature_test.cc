#include "base/file_signature.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace slipway {
namespace {

TEST(FileSignature, ChangesWhenTheFileIsReplacedOrWritten) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("slipway-sig-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "ca.pem").string();
  EXPECT_EQ(FileSignature(path), "-");
  { std::ofstream(path) << "one"; }
  const std::string first = FileSignature(path);
  EXPECT_NE(first, "-");
  EXPECT_EQ(FileSignature(path), first);  // nothing changed
  { std::ofstream(path, std::ios::app) << " two"; }
  const std::string written = FileSignature(path);
  EXPECT_NE(written, first);  // the size changed
  const std::string other = (dir / "new.pem").string();
  { std::ofstream(other) << "one two"; }
  std::filesystem::rename(other, path);
  EXPECT_NE(FileSignature(path), written);  // replaced: another inode
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slipway
