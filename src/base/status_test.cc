#include "base/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

namespace slipway {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidInput("not positive");
  return v;
}

Result<int> Doubled(int v) {
  ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status Check(int v) {
  RETURN_IF_ERROR(ParsePositive(v));
  RETURN_IF_ERROR(Status::OK());
  return Status::OK();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ExitCode(), 0);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ExitCodes) {
  EXPECT_EQ(InvalidInput("x").ExitCode(), 2);
  EXPECT_EQ(Unavailable("x").ExitCode(), 1);
  EXPECT_EQ(Internal("x").ExitCode(), 1);
}

TEST(StatusTest, WithContextPrefixes) {
  Status s = NotFound("no such service").WithContext("restart web");
  EXPECT_EQ(s.message(), "restart web: no such service");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

TEST(StatusTest, ErrnoErrorNamesTheCall) {
  Status s = ErrnoError("open /nope", ENOENT);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("open /nope: "), std::string::npos);
}

TEST(ResultTest, ValueAndErrorPropagate) {
  EXPECT_EQ(*Doubled(4), 8);
  Result<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "not positive");
  EXPECT_EQ(bad.value_or(7), 7);
  EXPECT_TRUE(Check(1).ok());
  EXPECT_EQ(Check(0).code(), StatusCode::kInvalidInput);
}

TEST(ResultTest, HoldsMoveOnlyTypes) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(3);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 3);
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = Internal("boom");
  EXPECT_DEATH((void)r.value(), "boom");
}

}  // namespace
}  // namespace slipway
