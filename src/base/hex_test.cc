#include "base/hex.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway {
namespace {

TEST(HexEncode, TwoLowerCaseDigitsPerByteHighNibbleFirst) {
  const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes, sizeof bytes), "00017f80abff");
  EXPECT_EQ(HexEncode(std::string_view("Az\n")), "417a0a");
}

TEST(HexEncode, EmptyAndEveryByte) {
  EXPECT_EQ(HexEncode(std::string_view()), "");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 6), "000102");
  EXPECT_EQ(hex.substr(506), "fdfeff");
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace slipway
