#include "runtime/proc_stats.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/cgroup.h"

namespace slipway::runtime {
namespace {

// A fake machine: /proc and /sys/fs/cgroup files in a temp folder.
class FakeMachine {
 public:
  FakeMachine() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-proc-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    Write("proc/self/mountinfo",
          "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
          "26 1 0:5 / /proc rw - proc proc rw\n");
    Write("proc/self/cgroup", "0::/daemon.service\n");
  }
  ~FakeMachine() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void Write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  std::string Read(const std::string& rel) const {
    std::ifstream f(root_ / rel);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return s;
  }
  // A process: stat with utime/stime ticks, VmRSS in kB, `fds` entries, its cgroup.
  void Proc(int pid, int ppid, const std::string& comm, int utime, int stime, int rss_kb, int fds,
            const std::string& cgroup = "/daemon.service") const {
    const std::string d = "proc/" + std::to_string(pid);
    Write(d + "/stat", std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) +
                           " 1 1 0 -1 4194304 100 0 0 0 " + std::to_string(utime) + " " +
                           std::to_string(stime) + " 0 0 20 0 1 0 100 1000 250\n");
    Write(d + "/status", "Name:\t" + comm + "\nVmPeak:\t 9999 kB\nVmRSS:\t " +
                             std::to_string(rss_kb) + " kB\nThreads:\t1\n");
    std::filesystem::create_directories(root_ / d / "fd");
    for (int i = 0; i < fds; ++i) Write(d + "/fd/" + std::to_string(i), "");
    Write(d + "/cgroup", "1:name=systemd:/x\n0::" + cgroup + "\n");
  }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

TEST(ProcStatsTest, SumsTheProcessTree) {
  FakeMachine m;
  m.Proc(100, 1, "sh", 150, 50, 1000, 3);                  // the instance: a shell wrapper
  m.Proc(101, 100, "my server (v2)", 300, 100, 20000, 7);  // its child, name with ") "
  m.Proc(102, 101, "worker", 10, 0, 500, 2);               // grandchild
  m.Proc(200, 1, "other", 999, 999, 99999, 9);             // not in the tree
  m.Write("proc/bogus/stat", "x");                         // not a pid: skipped
  m.Write("proc/300/stat", "garbage without parens");      // unreadable: skipped
  ProcReader r(m.root());
  ProcTable t = ProcTable::Scan(r);
  EXPECT_EQ(t.size(), 4u);
  ASSERT_NE(t.Find(101), nullptr);
  EXPECT_EQ(t.Find(101)->comm, "my server (v2)");
  EXPECT_EQ(t.Find(101)->ppid, 100);

  ProcUnits units;
  units.ticks_per_second = 100;
  auto u = Usage(r, t, 100, CgroupV2Mount(r), CgroupV2Path(r, "self"), units);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->processes, 3);
  EXPECT_DOUBLE_EQ(u->cpu_seconds, (200 + 400 + 10) / 100.0);
  EXPECT_EQ(u->memory_bytes, (1000 + 20000 + 500) * 1024);
  EXPECT_EQ(u->open_fds, 3 + 7 + 2);
  EXPECT_FALSE(u->from_cgroup);  // same group as the daemon

  EXPECT_FALSE(Usage(r, t, 4242, "", "", units).has_value());  // gone
}

TEST(ProcStatsTest, AnOwnCgroupGivesCpuAndMemory) {
  FakeMachine m;
  m.Proc(100, 1, "api", 10, 10, 1000, 1, "/daemon.service/slipway-app-api-1");
  m.Write("sys/fs/cgroup/daemon.service/slipway-app-api-1/cpu.stat",
          "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
  m.Write("sys/fs/cgroup/daemon.service/slipway-app-api-1/memory.current", "7340032\n");
  ProcReader r(m.root());
  EXPECT_EQ(CgroupV2Mount(r), "/sys/fs/cgroup");
  EXPECT_EQ(CgroupV2Path(r, "self"), "/daemon.service");
  ProcTable t = ProcTable::Scan(r);
  auto u = Usage(r, t, 100, "/sys/fs/cgroup", "/daemon.service", ProcUnits{});
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->from_cgroup);
  EXPECT_DOUBLE_EQ(u->cpu_seconds, 2.5);
  EXPECT_EQ(u->memory_bytes, 7340032);
  EXPECT_EQ(u->open_fds, 1);

  // A group without readable files falls back to the process figures.
  m.Proc(101, 1, "db", 100, 0, 10, 0, "/daemon.service/empty");
  t = ProcTable::Scan(r);
  u = Usage(r, t, 101, "/sys/fs/cgroup", "/daemon.service", ProcUnits{});
  ASSERT_TRUE(u.has_value());
  EXPECT_FALSE(u->from_cgroup);
  EXPECT_EQ(u->memory_bytes, 10 * 1024);
}

// A /proc/<pid>/cmdline: NUL-terminated arguments.
std::string Args(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += a + std::string(1, '\0');
  return out;
}

TEST(ProcStatsTest, FindsAContainerByItsConmon) {
  FakeMachine m;
  m.Proc(50, 1, "podman", 1, 1, 100, 4);  // the client the daemon supervises
  m.Proc(60, 1, "conmon", 0, 0, 100, 2);
  m.Write("proc/60/cmdline", Args({"/usr/bin/conmon", "--api-version", "1", "-c", "abc", "-n",
                                   "slipway-app-web-1", "--exit-dir", "/x"}));
  m.Proc(61, 60, "catatonit", 0, 0, 50, 1);
  m.Proc(62, 61, "nginx", 40, 10, 8000, 12);
  m.Proc(70, 1, "conmon", 0, 0, 100, 2);
  m.Write("proc/70/cmdline", Args({"conmon", "--name", "slipway-app-web-2"}));
  m.Proc(71, 70, "catatonit", 0, 0, 50, 1);
  ProcReader r(m.root());
  ProcTable t = ProcTable::Scan(r);
  EXPECT_EQ(t.ContainerRoot(r, "slipway-app-web-1"), 61);
  EXPECT_EQ(t.ContainerRoot(r, "slipway-app-web-2"), 71);
  EXPECT_EQ(t.ContainerRoot(r, "slipway-app-web"), 0);
  auto u = Usage(r, t, 61, "", "", ProcUnits{});
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->processes, 2);
  EXPECT_EQ(u->memory_bytes, 8050 * 1024);
}

TEST(ProcStatsTest, ReadsThisMachine) {
  ProcReader r;
  ProcTable t = ProcTable::Scan(r);
  ASSERT_NE(t.Find(::getpid()), nullptr);
  auto u = Usage(r, t, ::getpid(), CgroupV2Mount(r), CgroupV2Path(r, "self"), ProcUnits::Machine());
  ASSERT_TRUE(u.has_value());
  EXPECT_GT(u->memory_bytes, 1 << 20);  // a test binary holds more than a MiB
  EXPECT_GE(u->open_fds, 3);
}

TEST(CgroupHostTest, ProbeNeedsControllersAndDelegation) {
  FakeMachine m;
  // A hybrid machine: v2 mounted, controllers bound to v1.
  m.Write("sys/fs/cgroup/daemon.service/cgroup.controllers", "\n");
  CgroupHost none = CgroupHost::Probe(m.root());
  EXPECT_FALSE(none.usable());
  EXPECT_NE(none.why_not().find("has no cpu, memory, pids controller"), std::string::npos)
      << none.why_not();
  EXPECT_EQ(none.why_not().find('\n'), std::string::npos);

  m.Write("sys/fs/cgroup/daemon.service/cgroup.controllers", "cpuset cpu io memory pids\n");
  m.Write("sys/fs/cgroup/daemon.service/cgroup.subtree_control", "cpu memory pids\n");
  CgroupHost h = CgroupHost::Probe(m.root());
  ASSERT_TRUE(h.usable()) << h.why_not();
  EXPECT_EQ(h.group(), "/sys/fs/cgroup/daemon.service");

  config::ResourceSettings lim;
  lim.cpus = 0.5;
  lim.memory_bytes = 64 << 20;
  lim.pids = 50;
  // The kernel creates a group's control files with it; the fake has them beforehand.
  const std::string dir = "sys/fs/cgroup/daemon.service/slipway-app-api-1/";
  for (const char* f : {"cpu.max", "memory.max", "pids.max"}) m.Write(dir + f, "max\n");
  auto g = h.Create("slipway-app-api-1", lim);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, m.root() / "sys/fs/cgroup/daemon.service/slipway-app-api-1");
  EXPECT_EQ(m.Read(dir + "cpu.max"), "50000 100000");
  EXPECT_EQ(m.Read(dir + "memory.max"), std::to_string(64 << 20));
  EXPECT_EQ(m.Read(dir + "pids.max"), "50");
  // A control file the kernel would refuse (here: missing) is an error naming it.
  m.Write("sys/fs/cgroup/daemon.service/other/.keep", "");
  auto bad = h.Create("other", lim);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("other/cpu.max"), std::string::npos);
  EXPECT_FALSE(h.Create("../escape", lim).ok());
  EXPECT_FALSE(h.Create("", lim).ok());
  EXPECT_EQ(CgroupHost::CpuMax(0.5), "50000 100000");
  EXPECT_EQ(CgroupHost::CpuMax(2), "200000 100000");
  EXPECT_EQ(CgroupHost::CpuMax(0.001), "1000 100000");
}

TEST(CgroupHostTest, NoV2MountIsSaid) {
  FakeMachine m;
  m.Write("proc/self/mountinfo", "26 1 0:5 / /proc rw - proc proc rw\n");
  CgroupHost h = CgroupHost::Probe(m.root());
  EXPECT_FALSE(h.usable());
  EXPECT_EQ(h.why_not(), "this machine has no cgroup v2 hierarchy mounted");
}

}  // namespace
}  // namespace slipway::runtime
