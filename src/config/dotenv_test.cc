#include "config/dotenv.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

class DotenvTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> environ_ = {{"FROM_ENV", "env"}, {"SHARED", "environ"}};
  Lookup lookup_ = [this](const std::string& k) -> std::optional<std::string> {
    auto it = environ_.find(k);
    if (it == environ_.end()) return std::nullopt;
    return it->second;
  };

  std::map<std::string, std::string> Parse(const std::string& text) {
    Result<std::vector<DotenvEntry>> r = ParseDotenv(text, ".env", lookup_);
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::map<std::string, std::string> out;
    if (r.ok()) {
      for (const DotenvEntry& e : *r) out[e.key] = e.value;
    }
    return out;
  }
  std::string Error(const std::string& text) {
    Result<std::vector<DotenvEntry>> r = ParseDotenv(text, ".env", lookup_);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    return r.status().message();
  }
};

using Env = std::map<std::string, std::string>;

TEST_F(DotenvTest, BasicLinesCommentsAndExport) {
  EXPECT_EQ(Parse("A=1\n\n# comment\n  # indented comment\nexport B=2\nC = 3 \nD=\n"),
            (Env{{"A", "1"}, {"B", "2"}, {"C", "3"}, {"D", ""}}));
}

TEST_F(DotenvTest, InlineCommentsNeedABlankBefore) {
  EXPECT_EQ(Parse("A=value # comment\nB=a#b\nC=#x\nD='q' # c\nE=\"q\"   # c\n"),
            (Env{{"A", "value"}, {"B", "a#b"}, {"C", "#x"}, {"D", "q"}, {"E", "q"}}));
}

TEST_F(DotenvTest, SingleQuotesAreLiteral) {
  EXPECT_EQ(Parse("A='${FROM_ENV} \\n # not a comment'\n"),
            (Env{{"A", "${FROM_ENV} \\n # not a comment"}}));
}

TEST_F(DotenvTest, DoubleQuotesEscapeAndInterpolate) {
  EXPECT_EQ(Parse("A=\"x\\ty\\nz \\\\ \\\" \\$HOME ${FROM_ENV}\"\n"),
            (Env{{"A", "x\ty\nz \\ \" $HOME env"}}));
}

TEST_F(DotenvTest, MultiLineQuotedValues) {
  Result<std::vector<DotenvEntry>> r =
      ParseDotenv("KEY=\"line1\nline2\"\nS='a\nb'\nNEXT=1\n", ".env", lookup_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].value, "line1\nline2");
  EXPECT_EQ((*r)[1].value, "a\nb");
  EXPECT_EQ((*r)[1].line, 3);
  EXPECT_EQ((*r)[2].key, "NEXT");
  EXPECT_EQ((*r)[2].line, 5);
}

TEST_F(DotenvTest, InterpolationSeesEnvironThenEarlierKeys) {
  EXPECT_EQ(Parse("BASE=/srv\nSHARED=file\nP=${BASE}/app\nQ=$SHARED\nR=${NOPE:-dflt}\n"),
            (Env{{"BASE", "/srv"},
                 {"SHARED", "file"},
                 {"P", "/srv/app"},
                 {"Q", "environ"},
                 {"R", "dflt"}}));
}

TEST_F(DotenvTest, KeyAloneTakesEnvironOrIsAbsent) {
  EXPECT_EQ(Parse("FROM_ENV\nMISSING\nX=1\n"), (Env{{"FROM_ENV", "env"}, {"X", "1"}}));
}

TEST_F(DotenvTest, LaterKeysWin) { EXPECT_EQ(Parse("A=1\nA=2\n"), (Env{{"A", "2"}})); }

TEST_F(DotenvTest, CrLfLineEndings) {
  EXPECT_EQ(Parse("A=1\r\nB='x'\r\n"), (Env{{"A", "1"}, {"B", "x"}}));
}

TEST_F(DotenvTest, MalformedLines) {
  EXPECT_EQ(Error("A=1\nnot a line\n"),
            ".env:2: key cannot contain a space: \"not a line\" (expected KEY=VALUE, or KEY "
            "alone to take it from the environment)");
  EXPECT_EQ(Error("A=1\nlol$wut\n"),
            ".env:2: unexpected character \"$\" in variable name \"lol$wut\" (expected "
            "KEY=VALUE, with a key of letters, digits, '_', '.', '-', '[' and ']')");
  EXPECT_EQ(Error("A=1\nB=\"open\nC=2\n"),
            ".env:2: unterminated quoted value \"\\\"open\" (expected a closing \")");
  EXPECT_EQ(Error("B='open\n"),
            ".env:1: unterminated quoted value \"'open\" (expected a closing ')");
  EXPECT_EQ(Error("B='it\\'\n"),
            ".env:1: unterminated quoted value \"'it\\\\'\" (expected a closing ')");
  EXPECT_EQ(Error("\nA=${ X}\n"),
            ".env:2: value of A: \"${ X}\" is not a valid interpolation (expected $VAR, ${VAR}, "
            "${VAR:-default} or ${VAR:?error}; write $$ for a literal $)");
  EXPECT_EQ(Error("A=\"${REQ:?needed}\"\n"),
            ".env:1: value of A: required variable REQ is missing a value: needed (expected REQ "
            "to be set in the environment or the .env file)");
}

// Forms docker compose reads that a stricter reader would refuse.
TEST_F(DotenvTest, ComposeForms) {
  EXPECT_EQ(Parse("\xEF\xBB\xBF"
                  "A=1\nB: two words\n456 = ABC\na[1]=c\n\xC3\xA1"
                  "rv\xC3\xAD"
                  "z=x\n"),
            (Env{{"A", "1"},
                 {"B", "two words"},
                 {"456", "ABC"},
                 {"a[1]", "c"},
                 {"\xC3\xA1"
                  "rv\xC3\xAD"
                  "z",
                  "x"}}));
  EXPECT_EQ(Parse("A='it\\'s'\nB=\"\\a\\b\\f\\v\\0101\\x\"\n"),
            (Env{{"A", "it's"}, {"B", "\a\b\f\vA\\x"}}));
  // After a closing quote the line goes on with the next statement.
  EXPECT_EQ(Parse("A=\"x\"B=2\n"), (Env{{"A", "x"}, {"B", "2"}}));
  EXPECT_EQ(Parse("A=${FROM_ENV:-{\"k\":1}}\nB=$ and ^re$\n"),
            (Env{{"A", "env"}, {"B", "$ and ^re$"}}));
}

// Several files read into one variable set: a later file's line sees an earlier file's
// values, and its own earlier lines, and the environment first of all.
TEST_F(DotenvTest, FilesShareOneVariableSet) {
  std::map<std::string, std::string> vars;
  ASSERT_TRUE(ParseDotenvInto("H=localhost\nURL=http://${H}\n", "a.env", lookup_, &vars).ok());
  ASSERT_TRUE(
      ParseDotenvInto("H=dev.example\nURL=http://${H}\nS=$SHARED\n", "b.env", lookup_, &vars).ok());
  EXPECT_EQ(vars, (Env{{"H", "dev.example"}, {"URL", "http://dev.example"}, {"S", "environ"}}));
}

// Hostile input: clear one-line errors with the file and line, nothing crashes.
TEST_F(DotenvTest, HostileInput) {
  testing::TempDir dir;
  dir.Write("empty-key.env", "A=1\n=value\n");
  EXPECT_EQ(
      ReadDotenvFile(dir.path() / "empty-key.env", "empty-key.env", lookup_).status().message(),
      "empty-key.env:2: \"value\" has no key (expected KEY=VALUE; a KEY alone, to take it "
      "from the environment, needs a line break after it)");
  dir.Write("last-line.env", "A=1\nFROM_ENV");
  EXPECT_EQ(
      ReadDotenvFile(dir.path() / "last-line.env", "last-line.env", lookup_).status().message(),
      "last-line.env:2: \"FROM_ENV\" has no key (expected KEY=VALUE; a KEY alone, to take "
      "it from the environment, needs a line break after it)");
  std::string deep = "A=";
  for (int i = 0; i < 5000; ++i) deep += "${X:-";
  deep += std::string(5000, '}') + "\n";
  EXPECT_NE(Error(deep).find(".env:1: value of A: "), std::string::npos);
  EXPECT_NE(Error(deep).find("more than 64 levels deep"), std::string::npos);
  // A huge value and odd bytes are read, not refused.
  const std::string huge(4 << 20, 'x');
  EXPECT_EQ(Parse("A=\"" + huge + "\"\n").at("A").size(), huge.size());
  EXPECT_EQ(Error("A=1\n\xFF=2\n"),
            ".env:2: unexpected character \"\xFF\" in variable name \"\xFF=2\" (expected "
            "KEY=VALUE, with a key of letters, digits, '_', '.', '-', '[' and ']')");
  EXPECT_EQ(Parse("A=\"\\0999\\07\\q\"\n"), (Env{{"A", "\\0999\\07\\q"}}));
}

TEST_F(DotenvTest, ReadsFilesAndReportsMissingOnes) {
  testing::TempDir dir;
  dir.Write("a.env", "A=1\nA=2\nB=x\n");
  Result<std::map<std::string, std::string>> r =
      ReadDotenvFile(dir.path() / "a.env", "a.env", lookup_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Env{{"A", "2"}, {"B", "x"}}));
  Result<std::map<std::string, std::string>> missing =
      ReadDotenvFile(dir.path() / "nope.env", "nope.env", lookup_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "nope.env: file not found");
}

}  // namespace
}  // namespace slipway::config
