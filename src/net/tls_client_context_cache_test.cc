#include "net/tls_client_context_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "net/tls_test_certs.h"

namespace slipway::net {
namespace {

class TlsClientContextCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("slipway-ctxcache-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    ca_ = (dir_ / "ca.pem").string();
    testing::WriteTestFile(ca_, testing::MakeTestCert({"ca.test"}).cert_pem);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string ca_;
};

TEST_F(TlsClientContextCacheTest, BuildsOnceWhileTheFileStaysTheSame) {
  TlsClientContextCache cache;
  auto a = cache.Get({ca_, true});
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = cache.Get({ca_, true});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());
  auto unverified = cache.Get({"", false});
  ASSERT_TRUE(unverified.ok());
  EXPECT_NE(unverified->get(), a->get());  // the verify switch is part of the key
}

TEST_F(TlsClientContextCacheTest, AReplacedFileIsReadAgainAndABrokenOneKeepsThePrevious) {
  TlsClientContextCache cache;
  auto first = cache.Get({ca_, true});
  ASSERT_TRUE(first.ok());
  const std::string next = (dir_ / "next.pem").string();
  testing::WriteTestFile(next, testing::MakeTestCert({"ca2.test"}).cert_pem);
  std::filesystem::rename(next, ca_);
  auto second = cache.Get({ca_, true});
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->get(), first->get());

  testing::WriteTestFile(ca_, "not a certificate\n");
  auto broken = cache.Get({ca_, true});
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("ca.pem"), std::string::npos);
  EXPECT_EQ(cache.Previous({ca_, true}).get(), second->get());
  EXPECT_EQ(cache.Previous({"/elsewhere.pem", true}), nullptr);
}

}  // namespace
}  // namespace slipway::net
