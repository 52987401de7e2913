#include "migrate/sql_split.h"

#include <gtest/gtest.h>

namespace slipway::migrate {
namespace {

std::vector<std::string> Texts(std::string_view s) {
  std::vector<std::string> out;
  for (const auto& st : SplitSql(s)) out.push_back(st.text);
  return out;
}

TEST(SqlSplitTest, SplitsOnSemicolonsOutsideQuotesAndComments) {
  EXPECT_EQ(Texts("CREATE TABLE a(x int);\nINSERT INTO a VALUES (1);"),
            (std::vector<std::string>{"CREATE TABLE a(x int)", "INSERT INTO a VALUES (1)"}));
  EXPECT_EQ(Texts("SELECT 'a;b'; SELECT \"x;y\" FROM t; -- c;d\nSELECT 1 /* e; /* f; */ g; */;"),
            (std::vector<std::string>{"SELECT 'a;b'", "SELECT \"x;y\" FROM t",
                                      "-- c;d\nSELECT 1 /* e; /* f; */ g; */"}));
  EXPECT_EQ(Texts("SELECT 'it''s;'; SELECT E'back\\';slash';"),
            (std::vector<std::string>{"SELECT 'it''s;'", "SELECT E'back\\';slash'"}));
}

TEST(SqlSplitTest, DollarQuotesAndParameters) {
  std::string fn =
      "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n"
      "CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n"
      "PREPARE p AS SELECT $1::int; ";
  auto t = Texts(fn);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql");
  EXPECT_EQ(t[2], "PREPARE p AS SELECT $1::int");
}

TEST(SqlSplitTest, BeginAtomicBodiesStayWhole) {
  auto t = Texts(
      "CREATE FUNCTION h(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN a > 0 "
      "THEN 1 ELSE 0 END; SELECT 2; END; SELECT 3;");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1], "SELECT 3");
}

TEST(SqlSplitTest, DropsEmptyStatementsAndReportsOffsets) {
  std::string s = "  -- only a comment\n;\n\nSELECT 1;\n  SELECT 2";
  auto st = SplitSql(s);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(s.substr(st[0].offset, 8), "SELECT 1");
  EXPECT_EQ(s.substr(st[1].offset), "SELECT 2");
  LineCol lc = LineColAt(s, st[1].offset);
  EXPECT_EQ(lc.line, 5);
  EXPECT_EQ(lc.column, 3);
}

TEST(SqlSplitTest, OneLineCollapsesWhitespace) {
  EXPECT_EQ(OneLine("SELECT\n   a,\n\tb  FROM t"), "SELECT a, b FROM t");
  EXPECT_EQ(OneLine(std::string(300, 'x'), 10), "xxxxxxxxxx...");
}

}  // namespace
}  // namespace slipway::migrate
