#include "migrate/source.h"

#include <gtest/gtest.h>

#include "migrate/checksum.h"
#include "migrate/test_files.h"

namespace slipway::migrate {
namespace {

using testing::TempDir;

TEST(SourceTest, SlipwayLayoutPairsUpAndDownInNumericOrder) {
  TempDir d;
  d.Write("m/0001_users.up.sql", "CREATE TABLE users(id int);");
  d.Write("m/0001_users.down.sql", "DROP TABLE users;");
  d.Write("m/0010_late.up.sql", "-- slipway:no-transaction\nCREATE INDEX CONCURRENTLY i ON t(x);");
  d.Write("m/0002_more.up.sql", "SELECT 1;");
  d.Write("m/README.md", "not sql");
  auto src = LoadSource(d.path() / "m", Format::kAuto);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->format, Format::kSlipway);
  ASSERT_EQ(src->migrations.size(), 3u);
  EXPECT_EQ(src->migrations[0].version, "0001");
  EXPECT_EQ(src->migrations[0].name, "users");
  EXPECT_TRUE(src->migrations[0].has_down);
  EXPECT_EQ(src->migrations[0].checksum, Sha256Hex("CREATE TABLE users(id int);"));
  EXPECT_EQ(src->migrations[1].version, "0002");
  EXPECT_FALSE(src->migrations[1].has_down);
  EXPECT_EQ(src->migrations[2].version, "0010");
  EXPECT_FALSE(src->migrations[2].up.transactional);
  EXPECT_TRUE(src->migrations[0].up.transactional);
}

TEST(SourceTest, GolangMigrateTimestampsLoadWithDeclaredFormat) {
  TempDir d;
  d.Write("20240101120000_init.up.sql", "CREATE TABLE a(x int);");
  d.Write("20240101120000_init.down.sql", "DROP TABLE a;");
  d.Write("20240202120000_b.up.sql", "CREATE TABLE b(x int);");
  auto src = LoadSource(d.path(), Format::kGolangMigrate);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->format, Format::kGolangMigrate);
  ASSERT_EQ(src->migrations.size(), 2u);
  EXPECT_EQ(src->migrations[1].version, "20240202120000");
}

TEST(SourceTest, DbmateSectionsAndTransactionFalse) {
  TempDir d;
  d.Write("20230101000000_create.sql",
          "-- migrate:up\nCREATE TABLE a(x int);\n\n-- migrate:down\nDROP TABLE a;\n");
  d.Write("20230102000000_idx.sql",
          "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a(x);\n"
          "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY i;\n");
  auto src = LoadSource(d.path(), Format::kAuto);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->format, Format::kDbmate);
  ASSERT_EQ(src->migrations.size(), 2u);
  const Migration& a = src->migrations[0];
  EXPECT_EQ(a.up.sql, "CREATE TABLE a(x int);\n\n");
  EXPECT_EQ(a.up.first_line, 2);
  EXPECT_EQ(a.down.sql, "DROP TABLE a;\n");
  EXPECT_EQ(a.down.first_line, 5);
  EXPECT_TRUE(a.up.transactional);
  EXPECT_FALSE(src->migrations[1].up.transactional);
  EXPECT_FALSE(src->migrations[1].down.transactional);
}

TEST(SourceTest, FlywayVersionsUndoAndConf) {
  TempDir d;
  d.Write("V1__init.sql", "CREATE TABLE a(x int);");
  d.Write("V1_1__add_b.sql", "ALTER TABLE a ADD b int;");
  d.Write("V1_1__add_b.sql.conf", "executeInTransaction=false\n");
  d.Write("V2__third.sql", "SELECT 1;");
  d.Write("U1_1__add_b.sql", "ALTER TABLE a DROP b;");
  d.Write("R__views.sql", "CREATE VIEW v AS SELECT 1;");
  auto src = LoadSource(d.path(), Format::kAuto);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->format, Format::kFlyway);
  ASSERT_EQ(src->migrations.size(), 3u);
  EXPECT_EQ(src->migrations[1].version, "1.1");
  EXPECT_EQ(src->migrations[1].name, "add b");
  EXPECT_TRUE(src->migrations[1].has_down);
  EXPECT_FALSE(src->migrations[1].up.transactional);
  EXPECT_FALSE(src->migrations[0].has_down);
  ASSERT_EQ(src->warnings.size(), 1u);
}

TEST(SourceTest, ErrorsNameTheFile) {
  TempDir d;
  d.Write("a/0001_x.up.sql", "");
  d.Write("a/0001_y.up.sql", "");
  auto dup = LoadSource(d.path() / "a", Format::kAuto);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate version 0001"), std::string::npos);

  d.Write("b/0002_orphan.down.sql", "");
  auto orphan = LoadSource(d.path() / "b", Format::kAuto);
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("0002_orphan.down.sql"), std::string::npos);

  d.Write("c/0001_x.up.sql", "");
  d.Write("c/notes.sql", "");
  auto stray = LoadSource(d.path() / "c", Format::kAuto);
  ASSERT_FALSE(stray.ok());
  EXPECT_EQ(stray.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(stray.status().message().find("notes.sql"), std::string::npos);

  d.Write("d/V1__a.sql", "");
  d.Write("d/0002_b.up.sql", "");
  EXPECT_FALSE(LoadSource(d.path() / "d", Format::kAuto).ok());
  EXPECT_FALSE(LoadSource(d.path() / "missing", Format::kAuto).ok());
  EXPECT_FALSE(ParseFormat("liquibase").ok());
}

TEST(SourceTest, VersionsCompareNumerically) {
  EXPECT_EQ(CompareVersions("0002", "2"), 0);
  EXPECT_LT(CompareVersions("2", "10"), 0);
  EXPECT_GT(CompareVersions("1.10", "1.9"), 0);
  EXPECT_EQ(CompareVersions("1.0", "1"), 0);
}

TEST(SourceTest, NewCreatesNextFilesInEachFormat) {
  TempDir d;
  FakeClock clock(1'700'000'000'000);  // 2023-11-14 22:13:20 UTC
  auto a = CreateMigrationFiles(d.path() / "s", Format::kAuto, "users", &clock);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].filename(), "0001_users.up.sql");
  auto b = CreateMigrationFiles(d.path() / "s", Format::kAuto, "more", &clock);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[1].filename(), "0002_more.down.sql");
  EXPECT_FALSE(CreateMigrationFiles(d.path() / "s", Format::kAuto, "bad name", &clock).ok());

  d.Write("f/V3__x.sql", "");
  auto f = CreateMigrationFiles(d.path() / "f", Format::kAuto, "next", &clock);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)[0].filename(), "V4__next.sql");

  auto m = CreateMigrationFiles(d.path() / "m", Format::kDbmate, "first", &clock);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[0].filename(), "20231114221320_first.sql");
  auto loaded = LoadSource(d.path() / "m", Format::kAuto);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->format, Format::kDbmate);
}

}  // namespace
}  // namespace slipway::migrate
