// End-to-end: two `slipway up -d --wait` started at the same moment on one project that is not
// running. Only one daemon may serve the project; the CLI whose daemon lost the race for the
// lock must wait for the winner's daemon and succeed too, not report the loser's exit.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

// Live `slipway daemon` processes whose --state-dir is `state_dir` (from /proc/*/cmdline).
std::vector<pid_t> DaemonsServing(const std::filesystem::path& state_dir) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv;
    for (size_t start = 0; start < cmdline.size();) {
      size_t nul = cmdline.find('\0', start);
      if (nul == std::string::npos) nul = cmdline.size();
      argv.push_back(cmdline.substr(start, nul - start));
      start = nul + 1;
    }
    bool daemon = argv.size() > 1 && argv[1] == "daemon";
    for (size_t i = 0; daemon && i + 1 < argv.size(); ++i) {
      if (argv[i] == "--state-dir" && std::filesystem::path(argv[i + 1]) == state_dir) {
        out.push_back(static_cast<pid_t>(pid));
        break;
      }
    }
  }
  closedir(proc);
  return out;
}

TEST(ConcurrentUpTest, TwoUpsAtOnceBothSucceedWithOneDaemon) {
  constexpr int kRounds = 5;  // the race is timing-dependent: several fresh starts per run
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Project p(R"(services:
  api:
    command: [")" +
              kTestapp + R"("]
    healthcheck: {interval: 100ms}
    x-slipway: {healthcheck: {http: /health}}
)");
    CmdResult a, b;
    std::thread ta([&] { a = p.Slipway({"up", "-d", "--wait"}, 60s); });
    std::thread tb([&] { b = p.Slipway({"up", "-d", "--wait"}, 60s); });
    ta.join();
    tb.join();
    EXPECT_EQ(a.rc, 0) << a.out << a.err;
    EXPECT_EQ(b.rc, 0) << b.out << b.err;

    const std::filesystem::path state = p.dir() / ".slipway";
    std::vector<pid_t> daemons = DaemonsServing(state);
    ASSERT_EQ(daemons.size(), 1u) << "daemons serving " << state;
    EXPECT_EQ(daemons[0], p.DaemonPid());
    nlohmann::json ps = p.Ps();
    ASSERT_EQ(ps.size(), 1u) << ps.dump();
    EXPECT_EQ(ps[0].value("state", ""), "running") << ps.dump();
    EXPECT_EQ(ps[0].value("health", ""), "healthy") << ps.dump();

    pid_t pid = p.DaemonPid();
    CmdResult down = p.Slipway({"down"}, 30s);
    ASSERT_EQ(down.rc, 0) << down.out << down.err;
    ASSERT_TRUE(WaitFor([&] { return !PidAlive(pid); }, 15s));
    if (HasFailure()) return;  // one failing round tells enough
  }
}

}  // namespace
}  // namespace slipway::testing
