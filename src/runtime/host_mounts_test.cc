#include "runtime/host_mounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "runtime/process.h"
#include "runtime/sandbox.h"
#include "runtime/test_util.h"

namespace slipway::runtime {
namespace {

namespace fs = std::filesystem;
using Kind = NamespaceMount::Kind;
using MakeTarget = NamespaceMount::MakeTarget;

class HostMountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-hostmounts-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    project_.name = "hm";
    project_.dir = dir_;
    project_.volumes["data"] = {"data", "hm_data", false, {}, {}};
    project_.volumes["ext"] = {"ext", "shared", true, {}, {}};
    config::Service& s = project_.services["app"];
    s.name = "app";
    fs::create_directories(dir_ / "src");
    std::ofstream(dir_ / "pw.txt") << "pw";
    Add(config::Mount::Type::kBind, (dir_ / "src").string(), (dir_ / "deep" / "x").string(), "",
        true);
    Add(config::Mount::Type::kVolume, "hm_data", (dir_ / "deep").string(), "data");
    Add(config::Mount::Type::kVolume, "shared", "/ext", "ext");
    Add(config::Mount::Type::kVolume, "", "/anon", "");
    Add(config::Mount::Type::kTmpfs, "", (dir_ / "tmp").string(), "");
    s.mounts.back().tmpfs_size = 1 << 20;
    config::Mount sec;
    sec.type = config::Mount::Type::kBind;
    sec.source = (dir_ / "pw.txt").string();
    sec.target = "/run/secrets/sub/pw";
    sec.read_only = true;
    sec.secret = "secrets.pw";
    sec.key_path = "secrets.pw.file";
    s.mounts.push_back(sec);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Add(config::Mount::Type t, std::string source, std::string target, std::string volume,
           bool ro = false) {
    config::Mount m;
    m.type = t;
    m.source = std::move(source);
    m.target = std::move(target);
    m.volume = std::move(volume);
    m.read_only = ro;
    m.key_path =
        "services.app.volumes[" + std::to_string(project_.services["app"].mounts.size()) + "]";
    project_.services["app"].mounts.push_back(m);
  }

  fs::path dir_;
  config::Project project_;
};

TEST_F(HostMountsTest, MountsInOrderWithSecretsInTheNamespacesOwnTmpfs) {
  HostMounts hm = HostMountsFor(project_, project_.services["app"], true);
  EXPECT_EQ(hm.env.at("SLIPWAY_SECRETS_DIR"), "/run/secrets");
  std::vector<std::string> targets;
  for (const NamespaceMount& m : hm.mounts) targets.push_back(m.target);
  // Anonymous and external volumes are not mounted; outer folders come first; /run/secrets is
  // a tmpfs before its files and read-only at the end.
  ASSERT_EQ(hm.mounts.size(), 6u);
  EXPECT_EQ(hm.mounts[0].target, "/run/secrets");
  EXPECT_EQ(hm.mounts[0].kind, Kind::kTmpfs);
  EXPECT_EQ(hm.mounts[5].kind, Kind::kRemountReadOnly);
  auto find = [&](const std::string& t) {
    for (const NamespaceMount& m : hm.mounts) {
      if (m.target == t && m.kind != Kind::kRemountReadOnly) return m;
    }
    ADD_FAILURE() << t;
    return NamespaceMount{};
  };
  auto pos = [&](const std::string& t) {
    return std::find(targets.begin(), targets.end(), t) - targets.begin();
  };
  EXPECT_LT(pos((dir_ / "deep").string()), pos((dir_ / "deep" / "x").string()));
  NamespaceMount vol = find((dir_ / "deep").string());
  EXPECT_EQ(vol.source, (dir_ / ".slipway" / "volumes" / "data").string());
  EXPECT_EQ(vol.make_target, MakeTarget::kNone);
  NamespaceMount bind = find((dir_ / "deep" / "x").string());
  EXPECT_TRUE(bind.read_only);
  EXPECT_EQ(bind.what, "services.app.volumes[0]");
  NamespaceMount tmp = find((dir_ / "tmp").string());
  EXPECT_EQ(tmp.kind, Kind::kTmpfs);
  EXPECT_EQ(tmp.options, "mode=1777,size=1048576");
  NamespaceMount sec = find("/run/secrets/sub/pw");
  EXPECT_EQ(sec.make_target, MakeTarget::kFile);
  EXPECT_EQ(sec.make_parents, std::vector<std::string>{"/run/secrets/sub"});
  EXPECT_TRUE(sec.read_only);
}

TEST_F(HostMountsTest, WithoutNamespacesSecretsAreFoundThroughTheirFolder) {
  HostMounts hm = HostMountsFor(project_, project_.services["app"], false);
  EXPECT_TRUE(hm.mounts.empty());
  EXPECT_EQ(hm.env.at("SLIPWAY_SECRETS_DIR"),
            (dir_ / ".slipway" / "secrets" / "services" / "app").string());
  config::Service plain;
  plain.name = "plain";
  EXPECT_TRUE(HostMountsFor(project_, plain, true).env.empty());
}

TEST_F(HostMountsTest, DownVRemovesVolumeFoldersButNotExternalOnes) {
  fs::create_directories(HostVolumePath(project_, "data") / "pg");
  std::vector<std::string> removed;
  ASSERT_TRUE(RemoveHostVolumes(project_, &removed).ok());
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].rfind("data (", 0), 0u) << removed[0];
  EXPECT_FALSE(fs::exists(HostVolumePath(project_, "data")));
  removed.clear();
  ASSERT_TRUE(RemoveHostVolumes(project_, &removed).ok());
  EXPECT_TRUE(removed.empty());
}

TEST_F(HostMountsTest, AMissingMountPointIsRefusedInOneLine) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  config::Service& s = project_.services["app"];
  s.mounts.resize(1);
  s.mounts[0].target = "/no/such/slipway/mount/point";
  s.mounts[0].loc.file = "compose.yaml";
  s.mounts[0].loc.line = 7;
  s.mounts[0].loc.column = 9;
  Status st = PrepareHostService(project_, s);
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  EXPECT_EQ(st.message().rfind("compose.yaml:7:9: services.app.volumes[0]: mount point "
                               "\"/no/such/slipway/mount/point\" does not exist on this host",
                               0),
            0u)
      << st.message();
}

TEST_F(HostMountsTest, AProcessGetsItsMountsAndTheHostDoesNot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  config::Service& s = project_.services["app"];
  s.mounts.erase(s.mounts.begin() + 2, s.mounts.begin() + 4);  // the external and anonymous
  fs::create_directories(dir_ / "deep" / "x");
  fs::create_directories(dir_ / "tmp");
  ASSERT_TRUE(PrepareHostService(project_, s).ok());
  std::ofstream(dir_ / "src" / "f") << "bound";
  fs::create_directories(HostVolumePath(project_, "data") / "x");  // deep/x inside the volume
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  ProcessSpec spec;
  spec.argv = {"sh", "-c",
               "cat deep/x/f /run/secrets/sub/pw; echo; stat -f -c %T tmp; touch deep/v; "
               "touch deep/x/no 2>/dev/null || echo ro"};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  spec.cwd = dir_;
  spec.mounts = HostMountsFor(project_, s, true).mounts;
  std::vector<std::string> lines;
  std::optional<ExitStatus> exit;
  auto p =
      Process::Spawn((*loop).get(), spec, [&](bool, std::string_view l) { lines.emplace_back(l); },
                     [&](ExitStatus st) { exit = st; });
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(testing::RunUntil((*loop).get(), [&] { return exit.has_value(); }));
  ASSERT_EQ(lines.size(), 3u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0], "boundpw");
  EXPECT_EQ(lines[1], "tmpfs");
  EXPECT_EQ(lines[2], "ro");
  EXPECT_TRUE(fs::exists(HostVolumePath(project_, "data") / "v"));
  EXPECT_FALSE(fs::exists(dir_ / "deep" / "v"));
  EXPECT_FALSE(fs::exists("/run/secrets/sub"));

  // A mount that cannot be made fails the spawn, naming it.
  spec.mounts[1].source = (dir_ / "gone").string();
  auto bad = Process::Spawn((*loop).get(), spec, nullptr, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("mount services.app.volumes"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace slipway::runtime
