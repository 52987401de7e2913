#include "backup/backup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "backup/files.h"
#include "base/test_require.h"
#include "migrate/checksum.h"
#include "migrate/driver.h"
#include "migrate/pg_test_server.h"
#include "migrate/test_files.h"

namespace slipway::backup {
namespace {

using migrate::Target;
using migrate::testing::PgServer;
using migrate::testing::TempDir;

// Runs against SQLite and a real PostgreSQL (one server per suite).
class BackupTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    pg_ = PgServer::Start(&why).release();
    if (pg_ == nullptr) why_ = new std::string(why);
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
    delete why_;
    why_ = nullptr;
  }

  void SetUp() override {
    if (pg()) {
      SLIPWAY_REQUIRE(pg_ != nullptr, "a PostgreSQL server to test against: " << *why_);
      static int n = 0;
      std::string db = "b" + std::to_string(n++);
      ASSERT_TRUE(pg_->CreateDatabase(db));
      target_ = *migrate::ParseTarget(pg_->Url(db), "/");
    } else {
      target_ = *migrate::ParseTarget("sqlite:" + (dir_.path() / "app.db").string(), "/");
    }
    auto s = store::Store::Open(dir_.path() / "state.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    catalog_ = std::make_unique<Catalog>(store_.get());
    options_.dir = dir_.path() / "backups";
    options_.clock = &clock_;
    Exec("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    Exec(pg() ? "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g"
              : "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 1000) "
                "INSERT INTO items SELECT x, 'item ' || x FROM g");
  }

  bool pg() const { return GetParam() == "postgres"; }

  void Exec(const std::string& sql, const Target* t = nullptr) {
    auto d = migrate::Driver::Open(t ? *t : target_);
    ASSERT_TRUE(d.ok()) << d.status().message();
    Status s = (*d)->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  std::string Scalar(const std::string& sql, const Target* t = nullptr) {
    auto d = migrate::Driver::Open(t ? *t : target_);
    if (!d.ok()) return "open failed: " + d.status().message();
    auto r = (*d)->Query(sql, {});
    if (!r.ok()) return "error: " + r.status().message();
    return r->empty() ? "" : (*r)[0][0].value_or("NULL");
  }

  static PgServer* pg_;
  static std::string* why_;
  TempDir dir_;
  FakeClock clock_{1'704'069'000'000};
  Target target_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalog> catalog_;
  BackupOptions options_;
};

PgServer* BackupTest::pg_ = nullptr;
std::string* BackupTest::why_ = nullptr;

TEST_P(BackupTest, CreateDropTableRestoreDataBack) {
  auto b = Create(target_, "main", catalog_.get(), options_);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->kind, pg() ? "pg_dump-custom" : "sqlite-zstd");
  EXPECT_TRUE(std::filesystem::exists(b->path));
  EXPECT_EQ(static_cast<uintmax_t>(b->size), std::filesystem::file_size(b->path));
  EXPECT_EQ(*migrate::Sha256File(b->path), b->sha256);
  // No temporary files left beside it.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(options_.dir / "main")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  auto listed = catalog_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, b->id);
  EXPECT_EQ((*listed)[0].created_ms, 1'704'069'000'000);

  Exec("DROP TABLE items");
  Exec("CREATE TABLE other(x INTEGER)");
  Status refused = Restore(*b, target_, false, options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("--force"), std::string::npos);
  Exec("DROP TABLE other");
  Status restored = Restore(*b, target_, false, options_);
  ASSERT_TRUE(restored.ok()) << restored.message();
  EXPECT_EQ(Scalar("SELECT count(*) FROM items"), "1000");
  EXPECT_EQ(Scalar("SELECT name FROM items WHERE id = 42"), "item 42");

  // Forced restore over a changed, non-empty database.
  Exec("DELETE FROM items WHERE id > 10");
  Status forced = Restore(*b, target_, true, options_);
  ASSERT_TRUE(forced.ok()) << forced.message();
  EXPECT_EQ(Scalar("SELECT count(*) FROM items"), "1000");
}

TEST_P(BackupTest, RestoreToAnotherDatabase) {
  auto b = Create(target_, "main", catalog_.get(), options_);
  ASSERT_TRUE(b.ok()) << b.status().message();
  Target other = target_;
  if (pg()) {
    ASSERT_TRUE(pg_->CreateDatabase("copy_of_" + target_.DatabaseName()));
    other = target_.WithDatabase("copy_of_" + target_.DatabaseName());
  } else {
    other.sqlite_path = dir_.path() / "copy" / "other.db";
  }
  Status st = Restore(*b, other, false, options_);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Scalar("SELECT count(*) FROM items", &other), "1000");
}

TEST_P(BackupTest, VerifyRestoresIntoScratchAndDetectsCorruption) {
  auto b = Create(target_, "main", catalog_.get(), options_);
  ASSERT_TRUE(b.ok()) << b.status().message();
  clock_.AdvanceForTest(Duration(5000));
  auto v = Verify(*b, target_, "SELECT count(*) FROM items", catalog_.get(), options_);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->ok) << v->message;
  EXPECT_EQ(v->check_result, "1000");
  auto rec = catalog_->Get(b->id);
  ASSERT_TRUE(rec.ok());
  EXPECT_TRUE(rec->Verified());
  EXPECT_EQ(rec->verified_ms, 1'704'069'005'000);
  if (pg()) {  // the scratch database is gone
    EXPECT_EQ(Scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'slipway_scratch%'"),
              "0");
  }

  // A failing check query fails verification.
  auto bad_query =
      Verify(*b, target_, "SELECT count(*) FROM nosuchtable", catalog_.get(), options_);
  ASSERT_TRUE(bad_query.ok());
  EXPECT_FALSE(bad_query->ok);

  // Flip one byte in the middle of the file.
  {
    std::fstream f(b->path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(b->size / 2);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(b->size / 2);
    f.write(&c, 1);
  }
  auto corrupt = Verify(*b, target_, "", catalog_.get(), options_);
  ASSERT_TRUE(corrupt.ok()) << corrupt.status().message();
  EXPECT_FALSE(corrupt->ok);
  EXPECT_NE(corrupt->message.find("checksum mismatch"), std::string::npos) << corrupt->message;
  auto after = catalog_->Get(b->id);
  EXPECT_FALSE(after->Verified());
  EXPECT_EQ(after->verify_status.rfind("failed: ", 0), 0u);
  Status restore = Restore(*b, target_, true, options_);
  EXPECT_FALSE(restore.ok());
}

TEST_P(BackupTest, PruneDeletesFilesAndRowsAndKeepsNewestVerified) {
  if (pg()) GTEST_SKIP() << "retention is database-independent; covered with SQLite";
  std::vector<BackupRecord> made;
  for (int i = 0; i < 6; ++i) {
    auto b = Create(target_, "main", catalog_.get(), options_);
    ASSERT_TRUE(b.ok()) << b.status().message();
    made.push_back(*b);
    clock_.AdvanceForTest(Duration(24LL * 3600 * 1000));
  }
  ASSERT_TRUE(catalog_->SetVerified(made[1].id, 1, "ok").ok());
  RetentionPolicy p;
  p.keep_last = 2;
  auto dry = Prune(catalog_.get(), p, "", true);
  ASSERT_TRUE(dry.ok()) << dry.status().message();
  int would_go = 0;
  for (const auto& d : *dry) would_go += d.keep ? 0 : 1;
  EXPECT_EQ(would_go, 3);
  EXPECT_EQ(catalog_->List()->size(), 6u);
  for (const auto& b : made) EXPECT_TRUE(std::filesystem::exists(b.path));

  auto real = Prune(catalog_.get(), p, "", false);
  ASSERT_TRUE(real.ok());
  auto left = catalog_->List();
  ASSERT_EQ(left->size(), 3u);
  EXPECT_EQ((*left)[0].id, made[5].id);
  EXPECT_EQ((*left)[1].id, made[4].id);
  EXPECT_EQ((*left)[2].id, made[1].id);  // newest verified
  EXPECT_FALSE(std::filesystem::exists(made[0].path));
  EXPECT_FALSE(std::filesystem::exists(made[3].path));
  EXPECT_TRUE(std::filesystem::exists(made[1].path));
}

TEST_P(BackupTest, SqliteBackupOfALiveDatabaseWithWal) {
  if (pg()) GTEST_SKIP() << "SQLite-specific";
  // A writer keeps its connection (WAL mode, uncheckpointed pages) open.
  auto w = migrate::Driver::Open(target_);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Query("PRAGMA journal_mode=WAL", {}).ok());
  ASSERT_TRUE((*w)->Exec("INSERT INTO items VALUES (5000, 'in wal')").ok());
  auto b = Create(target_, "main", catalog_.get(), options_);
  ASSERT_TRUE(b.ok()) << b.status().message();
  Target other = target_;
  other.sqlite_path = dir_.path() / "restored.db";
  ASSERT_TRUE(Restore(*b, other, false, options_).ok());
  EXPECT_EQ(Scalar("SELECT name FROM items WHERE id = 5000", &other), "in wal");
}

// The umask of a process started from a careless shell or service manager: new files would
// be world-readable without the explicit modes.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t m) : old_(::umask(m)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST_P(BackupTest, FilesArePrivateWhateverTheUmask) {
  ScopedUmask open_umask(0);
  // An older version's world-readable folder of this database is tightened too.
  std::filesystem::create_directories(options_.dir);
  ASSERT_EQ(::chmod(options_.dir.c_str(), 0755), 0);
  std::filesystem::create_directories(options_.dir / "old");
  ASSERT_EQ(::chmod((options_.dir / "old").c_str(), 0777), 0);
  auto b = Create(target_, "old", catalog_.get(), options_);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(ModeOf(b->path), 0600u);
  EXPECT_EQ(ModeOf(options_.dir / "old"), 0700u);
  EXPECT_EQ(ModeOf(options_.dir), 0755u);  // a root the user made keeps its mode

  // A fresh backups root and every folder below it are created 0700.
  options_.dir = dir_.path() / "fresh" / "backups";
  auto c = Create(target_, "main", catalog_.get(), options_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(ModeOf(c->path), 0600u);
  EXPECT_EQ(ModeOf(dir_.path() / "fresh"), 0700u);
  EXPECT_EQ(ModeOf(options_.dir), 0700u);
  EXPECT_EQ(ModeOf(options_.dir / "main"), 0700u);

  auto v = Verify(*c, target_, "", catalog_.get(), options_);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->ok) << v->message;
  if (!pg()) {
    // A restore into a new file is private; over an existing one it keeps that file's mode.
    Target fresh = target_;
    fresh.sqlite_path = dir_.path() / "restored-new.db";
    ASSERT_TRUE(Restore(*c, fresh, false, options_).ok());
    EXPECT_EQ(ModeOf(fresh.sqlite_path), 0600u);
    ASSERT_EQ(::chmod(target_.sqlite_path.c_str(), 0640), 0);
    ASSERT_TRUE(Restore(*c, target_, true, options_).ok());
    EXPECT_EQ(ModeOf(target_.sqlite_path), 0640u);
  }
}

INSTANTIATE_TEST_SUITE_P(Databases, BackupTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// Scripts named like the PostgreSQL client tools that log the command line and environment
// they were started with, then exec the real tool: what every local user could read in ps
// while it runs.
class RecordingPgBin {
 public:
  RecordingPgBin(const std::filesystem::path& dir, const std::string& real_bin) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    for (const char* tool : {"pg_dump", "pg_restore", "psql", "createdb"}) {
      std::filesystem::path script = dir_ / tool;
      std::ofstream(script)
          << "#!/bin/sh\n"
          << "{ printf 'argv:'; tr '\\000' ' ' < /proc/$$/cmdline; echo;"
          << "  [ -n \"$PGPASSWORD\" ] && echo \"env: PGPASSWORD=$PGPASSWORD\"; } >> '"
          << log().string() << "'\n"
          << "exec '" << real_bin << "/" << tool << "' \"$@\"\n";
      std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    }
    const char* old = std::getenv("SLIPWAY_PG_BIN");
    if (old != nullptr) old_ = old;
    ::setenv("SLIPWAY_PG_BIN", dir_.c_str(), 1);
  }
  ~RecordingPgBin() {
    if (old_) {
      ::setenv("SLIPWAY_PG_BIN", old_->c_str(), 1);
    } else {
      ::unsetenv("SLIPWAY_PG_BIN");
    }
  }
  std::filesystem::path log() const { return dir_ / "runs.log"; }
  std::string Read() const {
    std::ifstream in(log());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::filesystem::path dir_;
  std::optional<std::string> old_;
};

TEST(BackupSecretsTest, PostgresPasswordGoesThroughTheEnvironmentNotArgv) {
  const std::string password = "pw-Zq8!s3cr3t";
  std::string why;
  auto pg = PgServer::Start(&why, password);
  SLIPWAY_REQUIRE(pg != nullptr, "a PostgreSQL server to test against: " << why);
  ASSERT_TRUE(pg->CreateDatabase("app"));
  auto target = migrate::ParseTarget(pg->Url("app"), "/");
  ASSERT_TRUE(target.ok()) << target.status().message();
  ASSERT_EQ(target->Password(), password);
  {
    auto d = migrate::Driver::Open(*target);
    ASSERT_TRUE(d.ok()) << d.status().message();
    ASSERT_TRUE((*d)->Exec("CREATE TABLE t(x int)").ok());
    ASSERT_TRUE((*d)->Exec("INSERT INTO t VALUES (1), (2)").ok());
  }
  TempDir dir;
  RecordingPgBin bin(dir.path() / "bin", pg->bin());
  FakeClock clock(1'704'069'000'000);
  auto store = store::Store::Open(dir.path() / "state.db", &clock);
  ASSERT_TRUE(store.ok());
  Catalog catalog(store->get());
  BackupOptions options;
  options.dir = dir.path() / "backups";
  options.clock = &clock;
  std::vector<std::string> logged;
  options.log = [&](const std::string& l) { logged.push_back(l); };

  auto b = Create(*target, "app", &catalog, options);
  ASSERT_TRUE(b.ok()) << b.status().message();
  auto v = Verify(*b, *target, "SELECT count(*) FROM t", &catalog, options);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->ok) << v->message;
  EXPECT_EQ(v->check_result, "2");
  Status restored = Restore(*b, *target, true, options);
  ASSERT_TRUE(restored.ok()) << restored.message();

  const std::string runs = bin.Read();
  // pg_dump, then pg_restore twice (verify, restore), each with its password in the env.
  size_t argv_lines = 0, env_lines = 0;
  for (size_t at = 0; (at = runs.find("argv:", at)) != std::string::npos; ++at) ++argv_lines;
  for (size_t at = 0; (at = runs.find("env: PGPASSWORD=" + password, at)) != std::string::npos;
       ++at) {
    ++env_lines;
  }
  EXPECT_EQ(argv_lines, 3u) << runs;
  EXPECT_EQ(env_lines, 3u) << runs;
  EXPECT_NE(runs.find("pg_dump --dbname="), std::string::npos) << runs;
  std::istringstream lines(runs);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("argv:", 0) != 0) continue;
    EXPECT_EQ(line.find(password), std::string::npos) << line;
    EXPECT_EQ(line.find("password="), std::string::npos) << line;
  }
  for (const std::string& l : logged) EXPECT_EQ(l.find(password), std::string::npos) << l;

  // A wrong password: the tool fails, and neither password is in the message.
  Target wrong = *target;
  wrong.pg_params["password"] = "wrong-pw-77";
  auto failed = Create(wrong, "app", &catalog, options);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("pg_dump failed"), std::string::npos)
      << failed.status().message();
  EXPECT_EQ(failed.status().message().find("wrong-pw-77"), std::string::npos)
      << failed.status().message();
  EXPECT_EQ(failed.status().message().find(password), std::string::npos);
}

TEST(BackupSecretsTest, PgToolKeepsThePasswordOffTheCommandLine) {
  auto t = migrate::ParseTarget("postgres://u:top-secret@h:5433/db?sslmode=disable", "/");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ToolCommand cmd = PgTool("pg_dump", {"-Fc", "-f", "/x"}, *t);
  ASSERT_GE(cmd.argv.size(), 2u);
  EXPECT_EQ(cmd.argv[0], "pg_dump");
  EXPECT_EQ(cmd.argv[1], "--dbname=dbname='db' host='h' port='5433' sslmode='disable' user='u'");
  EXPECT_EQ(cmd.argv.back(), "/x");
  for (const std::string& a : cmd.argv) EXPECT_EQ(a.find("top-secret"), std::string::npos) << a;
  ASSERT_EQ(cmd.env.size(), 1u);
  EXPECT_EQ(cmd.env[0], (std::pair<std::string, std::string>("PGPASSWORD", "top-secret")));
  // Without a password, the tool's own PGPASSWORD / PGPASSFILE / ~/.pgpass apply.
  auto bare = migrate::ParseTarget("postgres://u@h/db", "/");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(PgTool("pg_dump", {}, *bare).env.empty());
}

TEST(BackupSecretsTest, RunToolMasksSecretsInTheToolsMessage) {
  ToolCommand cmd;
  cmd.argv = {"/bin/sh", "-c",
              "echo \"connecting with $SECRET_FOR_TEST to postgres://u:$SECRET_FOR_TEST@h\" >&2; "
              "exit 3"};
  cmd.env = {{"SECRET_FOR_TEST", "echo-me-not"}};
  cmd.secrets = {"echo-me-not"};
  Status st = RunTool(cmd);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "sh failed (exit 3): connecting with *** to postgres://u:***@h");
}

}  // namespace
}  // namespace slipway::backup
