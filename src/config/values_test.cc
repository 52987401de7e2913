#include "config/values.h"

#include <gtest/gtest.h>

namespace slipway::config {
namespace {

TEST(ParseByteSizeTest, BinaryUnitsAndPlainBytes) {
  EXPECT_EQ(ParseByteSize("1048576", 12), 1048576u);
  EXPECT_EQ(ParseByteSize("7B", 12), 7u);
  EXPECT_EQ(ParseByteSize("512KiB", 12), 512u << 10);
  EXPECT_EQ(ParseByteSize("64MiB", 12), uint64_t{64} << 20);
  EXPECT_EQ(ParseByteSize("2GiB", 12), uint64_t{2} << 30);
}

TEST(ParseByteSizeTest, RefusesOtherTextTooManyDigitsAndOverflow) {
  EXPECT_FALSE(ParseByteSize("", 12));
  EXPECT_FALSE(ParseByteSize("MiB", 12));
  EXPECT_FALSE(ParseByteSize("10MB", 12));
  EXPECT_FALSE(ParseByteSize("-1", 12));
  EXPECT_FALSE(ParseByteSize("1 MiB", 12));
  EXPECT_FALSE(ParseByteSize("1234567890123", 12));  // 13 digits
  EXPECT_EQ(ParseByteSize("1234567890123", 15), 1234567890123u);
  EXPECT_FALSE(ParseByteSize("999999999999999GiB", 15));  // does not fit 64 bits
}

}  // namespace
}  // namespace slipway::config
