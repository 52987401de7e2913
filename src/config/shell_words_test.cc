#include "config/shell_words.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

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

// Quoting is checked against the real /bin/sh, not only against our own splitter.
TEST(ShellWordsTest, QuotedWordsReadBackExactlyThroughSh) {
  const Words words = {"plain",    "",     "two words", "it's", "'",          "$HOME",
                       "`id`",     "a\\b", "\"q\"",     "*",    "semi;colon", "line\nbreak",
                       "--opt=x y"};
  EXPECT_EQ(SplitShellWords(ShellJoin(words)), words);
  std::string cmd = "/bin/sh -c " + ShellQuote("printf '[%s]' " + ShellJoin(words));
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(f), 0);
  std::string want;
  for (const auto& w : words) want += "[" + w + "]";
  EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace slipway::config
