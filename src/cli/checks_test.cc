#include "cli/checks.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway::cli {
namespace {

// "" when `v` passes `check`, else its refusal.
std::string Refused(const CLI::Validator& check, const std::string& v) { return check(v); }

TEST(ChecksTest, ShownIsShortQuotedAndOneLine) {
  EXPECT_EQ(Shown("abc"), "\"abc\"");
  EXPECT_EQ(Shown("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Shown(std::string("a\nb\x01", 4)), "\"a\\x0ab\\x01\"");
  const std::string shown = Shown(std::string(65536, 'x'));
  EXPECT_EQ(shown, "\"" + std::string(64, 'x') + "\"... (65536 bytes)");
}

TEST(ChecksTest, WholeTakesDecimalNumbersInItsRangeOnly) {
  const CLI::Validator seconds = Whole(1, 86'400, "a number of seconds");
  for (const char* ok : {"1", "300", "86400"}) EXPECT_EQ(Refused(seconds, ok), "") << ok;
  for (const char* bad : {"0", "-5", "86401", "abc", "", "1.5", " 5", "5 ", "+5", "0x10",
                          "99999999999999999999", "true"}) {
    EXPECT_EQ(Refused(seconds, bad), Shown(bad) + " is not a number of seconds from 1 to 86400")
        << bad;
  }
  const CLI::Validator any = Whole(INT64_MIN, INT64_MAX, "n");
  EXPECT_EQ(Refused(any, "-9223372036854775808"), "");
  EXPECT_NE(Refused(any, "9223372036854775808"), "");
}

TEST(ChecksTest, OneOfNamesTheWords) {
  EXPECT_EQ(Refused(OneOf({"table", "json"}), "json"), "");
  EXPECT_EQ(Refused(OneOf({"table", "json"}), "JSON"), "\"JSON\" is not one of table or json");
  EXPECT_EQ(Refused(OneOf({"a", "b", "c"}), ""), "\"\" is not one of a, b or c");
  EXPECT_EQ(Refused(OneOf({"argo"}), "x"), "\"x\" is not argo");
}

TEST(ChecksTest, DurationsWithinBounds) {
  const CLI::Validator d = DurationIn(Duration(1'000), Duration(3'600'000));
  for (const char* ok : {"1s", "30s", "1h", "59m59s"}) EXPECT_EQ(Refused(d, ok), "") << ok;
  for (const char* bad : {"0s", "999ms", "1h1s", "5", "-5s", "abc", "", "99999999999999999999h"}) {
    EXPECT_NE(Refused(d, bad), "") << bad;
  }
  EXPECT_NE(Refused(d, std::string(100, '1') + "s"), "");
  EXPECT_EQ(Refused(DurationIn(Duration(0), Duration(1'000)), "0s"), "");
}

TEST(ChecksTest, NamesTextAndPaths) {
  const CLI::Validator name = Name("a service name", 8);
  for (const char* ok : {"web", "a_b.c-d", "_x", "12345678"}) EXPECT_EQ(Refused(name, ok), "");
  for (const char* bad : {"", "-x", ".x", "a b", "a/b", "123456789", "é"}) {
    EXPECT_NE(Refused(name, bad), "") << bad;
  }
  const CLI::Validator text = Text(4);
  EXPECT_EQ(Refused(text, "a\tb"), "");
  EXPECT_NE(Refused(text, "a\nb"), "");
  EXPECT_NE(Refused(text, "abcde"), "");
  EXPECT_EQ(Refused(Text(4, /*lines_ok=*/true), "a\nb"), "");
  EXPECT_NE(Refused(Text(4, /*lines_ok=*/true), "a\x01"), "");
  EXPECT_EQ(Refused(Path(), "compose.yaml"), "");
  EXPECT_NE(Refused(Path(), ""), "");
  EXPECT_NE(Refused(Path(), std::string(kMaxPathBytes + 1, 'a')), "");
  EXPECT_EQ(Refused(ExistingFolder(), "/"), "");
  EXPECT_NE(Refused(ExistingFolder(), "/nonexistent-slipway"), "");
  EXPECT_NE(Refused(ExistingFile(), "/"), "");
}

}  // namespace
}  // namespace slipway::cli
