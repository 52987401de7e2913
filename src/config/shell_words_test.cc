#include "config/shell_words.h"

#include <gtest/gtest.h>

namespace slipway::config {
namespace {

using Words = std::vector<std::string>;

TEST(ShellWordsTest, SplitsOnBlanks) {
  EXPECT_EQ(SplitShellWords("npm run  dev"), (Words{"npm", "run", "dev"}));
  EXPECT_EQ(SplitShellWords("  a\tb\n"), (Words{"a", "b"}));
  EXPECT_EQ(SplitShellWords(""), Words{});
}

TEST(ShellWordsTest, Quotes) {
  EXPECT_EQ(SplitShellWords("sh -c 'echo $HOME && ls'"), (Words{"sh", "-c", "echo $HOME && ls"}));
  EXPECT_EQ(SplitShellWords(R"(echo "a \"b\" \\ \$c")"), (Words{"echo", R"(a "b" \ $c)"}));
  EXPECT_EQ(SplitShellWords(R"(echo "keep \n")"), (Words{"echo", R"(keep \n)"}));
  EXPECT_EQ(SplitShellWords("a'b c'd"), (Words{"ab cd"}));
  EXPECT_EQ(SplitShellWords("''"), (Words{""}));
  EXPECT_EQ(SplitShellWords(R"(a\ b c)"), (Words{"a b", "c"}));
}

TEST(ShellWordsTest, RejectsUnclosedQuotes) {
  EXPECT_FALSE(SplitShellWords("echo 'a"));
  EXPECT_FALSE(SplitShellWords("echo \"a"));
  EXPECT_FALSE(SplitShellWords("echo a\\"));
}

}  // namespace
}  // namespace slipway::config
