#include "api/fields.h"

#include <gtest/gtest.h>

namespace slipway::api {
namespace {

using nlohmann::json;

TEST(FieldsTest, ReadsTypedValuesAndNamesTheFirstMistake) {
  json j = json::parse(R"({"s":"x","b":true,"n":7,"l":["a","b"],"m":{"K":"v"},"bad":1})");
  BodyFields f(j);
  EXPECT_EQ(f.String("s", "a string"), "x");
  EXPECT_TRUE(f.Bool("b", false));
  EXPECT_EQ(f.Int("n", 0, 0, 10, "a count"), 7);
  EXPECT_EQ(f.StringList("l", "a list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.StringMap("m", "a map").at("K"), "v");
  EXPECT_EQ(f.String("absent", "a string", "fallback"), "fallback");
  EXPECT_TRUE(f.status().ok());
  EXPECT_EQ(f.String("bad", "a service name"), "");
  EXPECT_EQ(f.Int("s", 3, 0, 10, "a count"), 3);  // a later mistake does not replace the first
  EXPECT_EQ(f.status().message(), "bad: expected a service name, got an integer");
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidInput);
}

TEST(FieldsTest, IntegersAreRangeChecked) {
  json j = json::parse(R"({"big":18446744073709551615,"neg":-5,"f":2.0,"frac":2.5,"huge":1e300})");
  {
    BodyFields f(j);
    EXPECT_EQ(f.Int("big", 0, 0, INT64_MAX, "a number"), 0);
    EXPECT_EQ(f.status().message(), "big: expected a number from 0 to 9223372036854775807");
  }
  {
    BodyFields f(j);
    EXPECT_EQ(f.Int("neg", 0, 0, 10, "a number"), 0);
    EXPECT_FALSE(f.status().ok());
  }
  {
    BodyFields f(j);
    EXPECT_EQ(f.Int("f", 0, 0, 10, "a number"), 2);
    EXPECT_TRUE(f.status().ok());
    f.Int("frac", 0, 0, 10, "a number");
    EXPECT_EQ(f.status().message(), "frac: expected a number, got a fractional number");
  }
  {
    BodyFields f(j);
    f.Int("huge", 0, 0, 10, "a number");
    EXPECT_FALSE(f.status().ok());
  }
}

TEST(FieldsTest, ListsAndMapsNameTheBadElement) {
  json j = json::parse(R"({"l":["a",2],"m":{"A":"x","B":false}})");
  BodyFields f(j);
  f.StringList("l", "a list");
  EXPECT_EQ(f.status().message(), "l[1]: expected a string, got an integer");
  BodyFields g(j);
  g.StringMap("m", "a map");
  EXPECT_EQ(g.status().message(), "m.B: expected a string, got a boolean");
}

TEST(FieldsTest, NestedObjectsCarryTheirPrefix) {
  json j = json::parse(R"({"load":{"files":[1]}})");
  BodyFields f(j);
  BodyFields load(f.Object("load", "an object"), "load.");
  load.StringList("files", "a list");
  f.Merge(load);
  EXPECT_EQ(f.status().message(), "load.files[0]: expected a string, got an integer");
}

TEST(FieldsTest, FinishRefusesFieldsNobodyAskedFor) {
  json j = json::parse(R"({"services":["a"],"servces":["b"]})");
  BodyFields f(j);
  f.StringList("services", "a list");
  f.Bool("wait", false);
  EXPECT_EQ(f.Finish().message(), "servces: unknown field (expected one of services, wait)");
  json empty = json::parse(R"({"x":1})");
  EXPECT_EQ(BodyFields(empty).Finish().message(), "x: unknown field (expected no fields)");
  json nested = json::parse(R"({"load":{"fils":[]}})");
  BodyFields g(nested);
  BodyFields load(g.Object("load", "an object"), "load.");
  load.StringList("files", "a list");
  g.Merge(load);
  EXPECT_EQ(g.Finish().message(), "load.fils: unknown field (expected one of files)");
}

TEST(FieldsTest, ParseRefusesWhatIsNotAnObject) {
  EXPECT_TRUE(ParseJsonObject("").ok());
  EXPECT_TRUE(ParseJsonObject("{}").ok());
  EXPECT_FALSE(ParseJsonObject("[]").ok());
  EXPECT_FALSE(ParseJsonObject("{").ok());
  EXPECT_FALSE(ParseJsonObject("{\"a\":\"\xff\"}").ok());
  EXPECT_FALSE(ParseJsonObject(std::string(100000, '[')).ok());
  // Brackets inside strings do not count as nesting.
  EXPECT_TRUE(ParseJsonObject("{\"a\":\"" + std::string(1000, '[') + "\"}").ok());
}

TEST(FieldsTest, QueryValuesAreDecodedAndChecked) {
  http::Request req;
  req.target = "/x?services=a,b,,c&tail=10&q=rate%28x%5B5m%5D%29+%3E+1&follow=1&bad=%zz";
  QueryFields q(req);
  EXPECT_EQ(q.List("services"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(q.Int("tail", 0, 0, 100), 10);
  EXPECT_EQ(q.String("q"), "rate(x[5m]) > 1");
  EXPECT_TRUE(q.Bool("follow", false));
  EXPECT_FALSE(q.status().ok());  // %zz
  http::Request req2;
  req2.target = "/x?limit=abc&n=99999999999999999999";
  QueryFields q2(req2);
  EXPECT_EQ(q2.Int("limit", 5, 1, 10), 5);
  EXPECT_EQ(q2.status().message(), "limit: expected an integer from 1 to 10");
  QueryFields q3(req2);
  q3.Int("n", 0, 0, INT64_MAX);
  EXPECT_FALSE(q3.status().ok());
}

}  // namespace
}  // namespace slipway::api
