// Per-module schema steps against a database the binary before them wrote (testdata/state_v9.db,
// see testdata/README.md): it opens, keeps every row, records each module's version, and ends
// with the same tables as a database created fresh.
#include "daemon/state_schemas.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>

#include "alerts/rules.h"
#include "backup/catalog.h"
#include "deploy/releases.h"
#include "flags/flag_service.h"
#include "migrate/tool.h"
#include "store/statement.h"

namespace slipway::daemon {
namespace {

namespace fs = std::filesystem;

class StateSchemasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-schemas-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path OldDatabase() {
    fs::path to = dir_ / "old" / "state.db";
    fs::create_directories(to.parent_path());
    fs::copy_file(fs::path(SLIPWAY_SOURCE_DIR) / "src/daemon/testdata/state_v9.db", to);
    return to;
  }
  static int64_t Count(store::Store* s, const std::string& sql) {
    auto st = store::Statement::Prepare(s->db(), sql, "count");
    if (!st.ok()) return -1;
    auto row = (*st)->Step();
    return row.ok() && *row ? (*st)->ColumnInt64(0) : -1;
  }
  // Every table and index but the schema bookkeeping, with the SQL that defines it now.
  static std::set<std::string> Tables(store::Store* s) {
    std::set<std::string> out;
    auto st = store::Statement::Prepare(s->db(),
                                        "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') "
                                        "FROM sqlite_master WHERE name NOT LIKE 'schema_%' AND "
                                        "name NOT LIKE 'sqlite_%'",
                                        "tables");
    if (!st.ok()) return out;
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok() || !*row) break;
      out.insert((*st)->ColumnText(0));
    }
    return out;
  }

  FakeClock clock_;
  fs::path dir_;
};

TEST_F(StateSchemasTest, ADatabaseFromBeforePerModuleStepsOpensAndKeepsItsData) {
  auto opened = store::Store::Open(OldDatabase(), &clock_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  store::Store* s = opened->get();
  ASSERT_TRUE(ApplyStateSchemas(s).ok());
  // Each module's version is what the old database had of it; nothing was applied again.
  for (const auto& schema : StateSchemas()) {
    auto v = store::ModuleVersion(s->db(), schema);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, static_cast<int>(schema.steps.size())) << schema.module;
  }
  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM schema_modules"),
            static_cast<int64_t>(StateSchemas().size()));
  EXPECT_EQ(Count(s, "SELECT MAX(version) FROM schema_version"), 9) << "left as it was";

  // Every module reads its rows back through its own code.
  auto events = s->Events(0, {}, 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "pid 4242, PORT 40001");
  EXPECT_EQ(s->GetMeta("api_port")->value_or(""), "41234");
  auto load = s->GetProjectLoad();
  ASSERT_TRUE(load.ok() && load->has_value()) << load.status().message();
  EXPECT_EQ((*load)->working_dir, "/srv/app");

  backup::Catalog catalog(s);
  auto backups = catalog.List();
  ASSERT_TRUE(backups.ok()) << backups.status().message();
  ASSERT_EQ(backups->size(), 1u);
  EXPECT_EQ((*backups)[0].sha256, "ab12");

  auto releases = deploy::ReleaseStore::Open(s, &clock_);
  ASSERT_TRUE(releases.ok()) << releases.status().message();
  auto list = (*releases)->List("web", 10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, "v1");
  EXPECT_EQ((*list)[0].base_hash, "base1");

  auto flags = flags::FlagService::Open(s, &clock_);
  ASSERT_TRUE(flags.ok()) << flags.status().message();
  auto flag_list = (*flags)->List("default");
  ASSERT_TRUE(flag_list.ok());
  ASSERT_EQ(flag_list->size(), 1u);
  EXPECT_EQ((*flag_list)[0].key, "new-checkout");

  auto runs = migrate::ToolHistory(s, "db", 10);
  ASSERT_TRUE(runs.ok()) << runs.status().message();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].command, "alembic upgrade head");

  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM alert_state"), 1);
  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM alert_history"), 1);
}

TEST_F(StateSchemasTest, AFreshDatabaseHasTheSameTablesAsAnUpgradedOne) {
  auto old = store::Store::Open(OldDatabase(), &clock_);
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(ApplyStateSchemas(old->get()).ok());
  auto fresh = store::Store::Open(dir_ / "fresh" / "state.db", &clock_);
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(ApplyStateSchemas(fresh->get()).ok());
  const std::set<std::string> want = Tables(old->get());
  EXPECT_GE(want.size(), 12u);
  EXPECT_EQ(Tables(fresh->get()), want);
  EXPECT_EQ(Count(fresh->get(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_version'"),
            0)
      << "a fresh database has no global list";
}

// Modules apply their own steps on first use: a database that only the store opened gets a
// module's tables from that module alone, whatever order the modules come in.
TEST_F(StateSchemasTest, EachModuleBringsItsOwnTablesOnFirstUse) {
  auto opened = store::Store::Open(dir_ / "lazy" / "state.db", &clock_);
  ASSERT_TRUE(opened.ok());
  store::Store* s = opened->get();
  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'releases'"), 0);
  auto runs = migrate::ToolHistory(s, "", 10);
  ASSERT_TRUE(runs.ok()) << runs.status().message();
  EXPECT_TRUE(runs->empty());
  auto releases = deploy::ReleaseStore::Open(s, &clock_);
  ASSERT_TRUE(releases.ok()) << releases.status().message();
  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'releases'"), 1);
  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'flags'"), 0);
  EXPECT_EQ(Count(s, "SELECT version FROM schema_modules WHERE module = 'deploy'"), 2);
  EXPECT_EQ(Count(s, "SELECT version FROM schema_modules WHERE module = 'migrate'"), 1);
  // The daemon's list then adds the rest, and the tables end up as everywhere else.
  ASSERT_TRUE(ApplyStateSchemas(s).ok());
  EXPECT_EQ(Count(s, "SELECT COUNT(*) FROM schema_modules"),
            static_cast<int64_t>(StateSchemas().size()));
}

}  // namespace
}  // namespace slipway::daemon
