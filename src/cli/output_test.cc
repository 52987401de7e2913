// The CLI's checked reads of the daemon's answers (cli/output.h): an answer of another shape
// is one line naming the element and the field, never an exception.
#include "cli/output.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace slipway::cli {
namespace {

using nlohmann::json;

Result<std::vector<std::vector<std::string>>> TokenRows(const json& answer) {
  return AnswerRows(answer, [](api::BodyFields& t) -> std::vector<std::string> {
    return {t.String("name", "a token name"), t.String("role", "a role name"),
            std::to_string(t.Int("created_ms", 0, 0, INT64_MAX, "a time in Unix milliseconds"))};
  });
}

TEST(AnswerRows, ReadsEveryElement) {
  auto rows = TokenRows(json::parse(
      R"([{"name":"alice","role":"admin","created_ms":5},{"name":"bob","role":"viewer"}])"));
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"alice", "admin", "5"}));
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{"bob", "viewer", "0"})) << "absent: default";
}

TEST(AnswerRows, AWrongTypedFieldIsOneLineNamingIt) {
  auto rows = TokenRows(json::parse(R"([{"name":"alice","role":3}])"));
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(rows.status().message(), "[0].role: expected a role name, got an integer");
  EXPECT_EQ(rows.status().ExitCode(), 2);
}

TEST(AnswerRows, AnOversizedNumberIsRefused) {
  auto rows = TokenRows(json::parse(R"([{"name":"a","created_ms":1e300}])"));
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("[0].created_ms"), std::string::npos)
      << rows.status().message();
}

TEST(AnswerRows, AnAnswerOfAnotherShapeIsRefused) {
  for (const char* text : {R"({"error":"x"})", R"("text")", "null", R"([1])", R"([[]])"}) {
    auto rows = TokenRows(json::parse(text));
    ASSERT_FALSE(rows.ok()) << text;
    EXPECT_EQ(rows.status().code(), StatusCode::kInvalidInput) << text;
    EXPECT_EQ(rows.status().message().find('\n'), std::string::npos) << text;
  }
}

TEST(AnswerRows, NamesTheArraysPlaceInTheAnswer) {
  auto one = [](api::BodyFields& f) -> std::vector<std::string> {
    return {f.String("name", "a name")};
  };
  auto rows = AnswerRows(json::parse(R"([{"name":"a"},{"name":1}])"), one, "certificates");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().message(), "certificates[1].name: expected a name, got an integer");
  auto shape = AnswerRows(json::parse(R"({"name":"a"})"), one, "certificates");
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().message(), "certificates: expected an array, got an object");
}

TEST(AnswerError, IsOneLineNamingTheCommandWithExitTwo) {
  Status st =
      AnswerError(InvalidInput("flags[0].key: expected a flag key, got an integer"), "flags list");
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(st.ExitCode(), 2);
  EXPECT_EQ(st.message(),
            "slipway: flags list: unexpected answer from the daemon: flags[0].key: expected a "
            "flag key, got an integer");
}

TEST(FailAnswer, ExitsTwo) {
  EXPECT_EQ(FailAnswer(InvalidInput("[0].role: expected a role name, got an integer"), "audit"), 2);
}

}  // namespace
}  // namespace slipway::cli
