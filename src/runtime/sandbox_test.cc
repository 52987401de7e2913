#include "runtime/sandbox.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "config/service_addresses.h"
#include "runtime/process.h"
#include "runtime/test_util.h"

namespace slipway::runtime {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-sandbox-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    project_.name = "shop";
    project_.dir = dir_;
    project_.services["db"].name = "db";
    project_.services["db"].network_aliases = {"postgres"};
    project_.services["api"].name = "api";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  config::Project project_;
};

TEST_F(SandboxTest, WritesFilesAtomicallyAndReadable) {
  umask(077);
  ASSERT_TRUE(WriteFileAtomically(dir_ / "a" / "hosts", "one\n").ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ / "a" / "hosts", "two\n").ok());
  umask(022);
  EXPECT_EQ(Slurp(dir_ / "a" / "hosts"), "two\n");
  struct stat st;
  ASSERT_EQ(stat((dir_ / "a" / "hosts").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "a")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary left
  EXPECT_FALSE(WriteFileAtomically("/proc/nope/hosts", "x").ok());
}

TEST_F(SandboxTest, HostEntriesNameEveryServiceForAddHost) {
  auto entries = HostEntries(project_);
  const std::string block = config::AddressBlock("shop");
  EXPECT_EQ(entries, (std::vector<std::pair<std::string, std::string>>{
                         {"api", block + ".1"}, {"db", block + ".2"}, {"postgres", block + ".2"}}));
}

TEST_F(SandboxTest, AProcessSeesThePrivateHostsFileAndTheHostDoesNot) {
  if (!PrivateHostsSupported()) GTEST_SKIP() << "needs root";
  const std::string before = Slurp("/etc/hosts");
  fs::path hosts = ServiceNamesFor(project_, "api");
  ASSERT_EQ(hosts, dir_ / ".slipway" / "hosts");
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "getent hosts postgres; grep -c localhost /etc/hosts"};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  spec.hosts_file = hosts;
  std::vector<std::string> lines;
  std::optional<ExitStatus> exit;
  auto p =
      Process::Spawn((*loop).get(), spec, [&](bool, std::string_view l) { lines.emplace_back(l); },
                     [&](ExitStatus st) { exit = st; });
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(testing::RunUntil((*loop).get(), [&] { return exit.has_value(); }));
  EXPECT_TRUE(exit->success());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind(config::AddressBlock("shop") + ".2 ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" db postgres"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1], "0");  // the host's own entries are kept
  EXPECT_EQ(Slurp("/etc/hosts"), before);
}

}  // namespace
}  // namespace slipway::runtime
