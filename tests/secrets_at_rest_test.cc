// Secrets through the real binary: the state and backup folders are private whoever
// creates them and whatever the umask, backups are 0600, and `slipway config` masks secret
// values unless --show-secrets (and its masked output loads again).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out;
};

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class SecretsAtRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-secrets-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Write("compose.yaml",
          "name: sec\nservices:\n  app:\n    image: busybox\n    environment:\n"
          "      DB_PASSWORD: ${DB_PASSWORD}\n"
          "      UPSTREAM_URL: postgres://app:${DB_PASSWORD}@db/app\n"
          "      LOG_LEVEL: info\n"
          "x-slipway:\n  databases:\n    main:\n      url: sqlite:data/app.db\n");
    Write(".env", "DB_PASSWORD=pw-e2e-4417\n");
    Write("migrations/0001_t.up.sql", "CREATE TABLE t(x INTEGER);\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const std::string& rel, const std::string& text, const fs::path& base = {}) {
    fs::path root = base.empty() ? dir_ : base;
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  }
  // Runs slipway under umask 022, the common default that makes new files 0644.
  CliRun Slipway(const std::string& args, const fs::path& where = {}) {
    fs::path cwd = where.empty() ? dir_ : where;
    std::string cmd =
        "cd '" + cwd.string() + "' && umask 022 && '" + SLIPWAY_BIN + "' " + args + " 2>&1";
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

TEST_F(SecretsAtRestTest, StateFolderAndBackupsArePrivate) {
  ASSERT_FALSE(fs::exists(dir_ / ".slipway"));
  CliRun list = Slipway("backup list");  // the first command to create .slipway
  ASSERT_EQ(list.code, 0) << list.out;
  EXPECT_EQ(ModeOf(dir_ / ".slipway"), 0700u);

  ASSERT_EQ(Slipway("migrate up").code, 0);
  CliRun create = Slipway("backup create");
  ASSERT_EQ(create.code, 0) << create.out;
  EXPECT_EQ(ModeOf(dir_ / ".slipway" / "backups"), 0700u);
  EXPECT_EQ(ModeOf(dir_ / ".slipway" / "backups" / "main"), 0700u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / ".slipway" / "backups" / "main")) {
    ++files;
    EXPECT_EQ(ModeOf(e.path()), 0600u) << e.path();
  }
  EXPECT_EQ(files, 1);

  // An existing world-readable state folder is tightened by the next command.
  ASSERT_EQ(::chmod((dir_ / ".slipway").c_str(), 0755), 0);
  ASSERT_EQ(Slipway("backup list").code, 0);
  EXPECT_EQ(ModeOf(dir_ / ".slipway"), 0700u);
}

TEST_F(SecretsAtRestTest, ConfigMasksSecretsUnlessAsked) {
  CliRun masked = Slipway("config");
  ASSERT_EQ(masked.code, 0) << masked.out;
  EXPECT_EQ(masked.out.find("pw-e2e-4417"), std::string::npos) << masked.out;
  EXPECT_TRUE(masked.out.find("DB_PASSWORD: \"***\"") != std::string::npos ||
              masked.out.find("DB_PASSWORD: '***'") != std::string::npos)
      << masked.out;
  EXPECT_NE(masked.out.find("postgres://app:***@db/app"), std::string::npos) << masked.out;
  EXPECT_NE(masked.out.find("LOG_LEVEL: info"), std::string::npos) << masked.out;

  CliRun json = Slipway("config --format json");
  ASSERT_EQ(json.code, 0) << json.out;
  EXPECT_EQ(json.out.find("pw-e2e-4417"), std::string::npos) << json.out;

  CliRun shown = Slipway("config --show-secrets");
  ASSERT_EQ(shown.code, 0) << shown.out;
  EXPECT_NE(shown.out.find("pw-e2e-4417"), std::string::npos) << shown.out;

  // The masked output is a compose file that loads again.
  fs::path again = dir_ / "again";
  Write("compose.yaml", masked.out, again);
  CliRun reload = Slipway("config", again);
  ASSERT_EQ(reload.code, 0) << reload.out << "\n--- from:\n" << masked.out;
  EXPECT_NE(reload.out.find("postgres://app:***@db/app"), std::string::npos) << reload.out;
}

}  // namespace
