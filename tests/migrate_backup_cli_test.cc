// Drives `slipway migrate` and `slipway backup` end to end on a SQLite database
// configured in a compose file (URL from .env), through the real binary.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out;
};

class MigrateBackupCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-mbcli-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Write("compose.yaml",
          "name: mb\nservices:\n  app:\n    image: busybox\n"
          "x-slipway:\n  databases:\n    main:\n      url: ${DATABASE_URL}\n"
          "      check: SELECT count(*) FROM notes\n"
          "  backups:\n    retention: {keep-last: 1}\n");
    Write(".env", "DATABASE_URL=sqlite:data/app.db\n");
    Write("migrations/0001_notes.up.sql", "CREATE TABLE notes(id INTEGER PRIMARY KEY, t TEXT);\n");
    Write("migrations/0001_notes.down.sql", "DROP TABLE notes;\n");
    Write("migrations/0002_seed.up.sql", "INSERT INTO notes(t) VALUES ('a'), ('b');\n");
    Write("migrations/0002_seed.down.sql", "DELETE FROM notes;\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  CliRun Slipway(const std::string& args) {
    std::string cmd = "cd '" + dir_.string() + "' && '" + SLIPWAY_BIN + "' " + args + " 2>&1";
    CliRun r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  }
  fs::path dir_;
};

TEST_F(MigrateBackupCliTest, MigrateThenBackupVerifyRestore) {
  CliRun plan = Slipway("migrate plan");
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_NE(plan.out.find("CREATE TABLE notes"), std::string::npos);
  CliRun hist = Slipway("migrate history --format json");  // plan ran nothing
  ASSERT_EQ(hist.code, 0) << hist.out;
  EXPECT_NE(hist.out.find("[]"), std::string::npos) << hist.out;

  CliRun up = Slipway("migrate up");
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_NE(up.out.find("now at 0002"), std::string::npos) << up.out;
  CliRun st = Slipway("migrate status --format json");
  ASSERT_EQ(st.code, 0) << st.out;
  auto j = nlohmann::json::parse(st.out.substr(st.out.find('{')));
  EXPECT_EQ(j["pending"], 0);
  EXPECT_EQ(j["migrations"].size(), 2u);

  CliRun created = Slipway("backup create");
  ASSERT_EQ(created.code, 0) << created.out;
  CliRun list = Slipway("backup list --format json");
  ASSERT_EQ(list.code, 0) << list.out;
  auto backups = nlohmann::json::parse(list.out.substr(list.out.find('[')));
  ASSERT_EQ(backups.size(), 1u);
  int id = backups[0]["id"];
  CliRun verify = Slipway("backup verify " + std::to_string(id));
  ASSERT_EQ(verify.code, 0) << verify.out;
  EXPECT_NE(verify.out.find("check query returned 2"), std::string::npos) << verify.out;

  // Lose data, then restore: refused without --force, back with it.
  ASSERT_EQ(Slipway("migrate down 1").code, 0);
  CliRun refused = Slipway("backup restore " + std::to_string(id));
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("--force"), std::string::npos) << refused.out;
  CliRun restored = Slipway("backup restore " + std::to_string(id) + " --force");
  ASSERT_EQ(restored.code, 0) << restored.out;
  CliRun st2 = Slipway("migrate status --format json");
  auto j2 = nlohmann::json::parse(st2.out.substr(st2.out.find('{')));
  EXPECT_EQ(j2["pending"], 0) << st2.out;

  CliRun prune = Slipway("backup prune --dry-run");
  ASSERT_EQ(prune.code, 0) << prune.out;
  EXPECT_NE(prune.out.find("0 backup(s) would be deleted"), std::string::npos) << prune.out;
}

TEST_F(MigrateBackupCliTest, BadInputExitsTwo) {
  EXPECT_EQ(Slipway("migrate --db nosuch status").code, 2);
  EXPECT_EQ(Slipway("migrate --url mysql://x/y status").code, 2);
  CliRun r = Slipway("migrate up --to 9999");
  EXPECT_EQ(r.code, 2) << r.out;
}

}  // namespace
