#include "config/duration.h"

#include <gtest/gtest.h>

namespace slipway::config {
namespace {

TEST(DurationTest, ParsesComposeForms) {
  EXPECT_EQ(ParseDuration("1m30s"), Duration{90'000});
  EXPECT_EQ(ParseDuration("1.5s"), Duration{1'500});
  EXPECT_EQ(ParseDuration("500ms"), Duration{500});
  EXPECT_EQ(ParseDuration("2h"), Duration{7'200'000});
  EXPECT_EQ(ParseDuration("1h2m3s4ms"), Duration{3'723'004});
  EXPECT_EQ(ParseDuration("1500us"), Duration{2});  // rounded to the nearest ms
  EXPECT_EQ(ParseDuration("2000000ns"), Duration{2});
  EXPECT_EQ(ParseDuration(".5s"), Duration{500});
  EXPECT_EQ(ParseDuration("0"), Duration{0});
  EXPECT_EQ(ParseDuration("0s"), Duration{0});
}

TEST(DurationTest, RejectsBareNumbersAndJunk) {
  EXPECT_FALSE(ParseDuration("30"));
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("5x"));
  EXPECT_FALSE(ParseDuration("s"));
  EXPECT_FALSE(ParseDuration("-5s"));
  EXPECT_FALSE(ParseDuration("1m 30s"));
  EXPECT_FALSE(ParseDuration("1.s.5"));
  EXPECT_FALSE(ParseDuration("10d"));
  EXPECT_FALSE(ParseDuration("99999999999h"));
}

TEST(DurationTest, FormatsShortestForm) {
  EXPECT_EQ(FormatDuration(Duration{0}), "0s");
  EXPECT_EQ(FormatDuration(Duration{500}), "500ms");
  EXPECT_EQ(FormatDuration(Duration{1'500}), "1.5s");
  EXPECT_EQ(FormatDuration(Duration{90'000}), "1m30s");
  EXPECT_EQ(FormatDuration(Duration{7'200'000}), "2h");
  EXPECT_EQ(FormatDuration(Duration{3'723'250}), "1h2m3.25s");
  for (int64_t ms : {1, 999, 1000, 61'001, 3'600'000, 86'400'123}) {
    EXPECT_EQ(ParseDuration(FormatDuration(Duration{ms})), Duration{ms}) << ms;
  }
}

}  // namespace
}  // namespace slipway::config
