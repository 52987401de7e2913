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
            ".env:2: \"not a line\" is not a valid line (expected KEY=VALUE with a key of "
            "letters, digits and _)");
  EXPECT_EQ(Error("=value\n"),
            ".env:1: \"=value\" is not a valid line (expected KEY=VALUE with a key of letters, "
            "digits and _)");
  EXPECT_EQ(Error("1A=x\n"),
            ".env:1: \"1A=x\" is not a valid line (expected KEY=VALUE with a key of letters, "
            "digits and _)");
  EXPECT_EQ(Error("A=1\nB=\"open\nC=2\n"),
            ".env:2: value of B has no closing \" (expected a matching quote)");
  EXPECT_EQ(Error("B='open\n"), ".env:1: value of B has no closing ' (expected a matching quote)");
  EXPECT_EQ(Error("A=\"x\" y\n"),
            ".env:1: unexpected text after the quoted value of A (expected nothing or a # "
            "comment after the closing quote)");
  EXPECT_EQ(Error("\nA=${ X}\n"),
            ".env:2: value of A: \"${ X}\" is not a valid interpolation (expected $VAR, ${VAR}, "
            "${VAR:-default} or ${VAR:?error}; write $$ for a literal $)");
  EXPECT_EQ(Error("A=\"${REQ:?needed}\"\n"),
            ".env:1: value of A: required variable REQ is missing a value: needed (expected REQ "
            "to be set in the environment or the .env file)");
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
