#include "base/secret.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway {
namespace {

TEST(SameSecret, EqualOnlyWhenEveryByteAndTheLengthAgree) {
  const std::string token = "s3cr3t-token-0123456789abcdef";
  EXPECT_TRUE(SameSecret(token, token));
  EXPECT_TRUE(SameSecret("", ""));
  EXPECT_FALSE(SameSecret(token, token.substr(0, token.size() - 1)));
  EXPECT_FALSE(SameSecret(token, token + "x"));
  EXPECT_FALSE(SameSecret(token, ""));
  for (size_t i = 0; i < token.size(); ++i) {
    std::string guess = token;
    guess[i] ^= 0x20;
    EXPECT_FALSE(SameSecret(token, guess)) << i;
  }
}

}  // namespace
}  // namespace slipway
