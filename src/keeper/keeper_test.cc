// Keeper tests with real processes: the "daemon" is this test binary re-executed in a fake
// daemon mode ($KEEPER_TEST_DAEMON), which talks the real protocol through KeeperClient. Time
// is a FakeClock: restart delays are checked by advancing it, never by sleeping on them.
#include "keeper/keeper.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "keeper/client.h"
#include "keeper/protocol.h"
#include "net/fd_passing.h"
#include "net/socket.h"

namespace slipway::keeper {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::filesystem::rename(path + ".tmp", path);
}

// A message with NUL separators, from a literal (its length from the array, not strlen).
template <size_t N>
std::string Msg(const char (&text)[N]) {
  return std::string(text, N - 1);
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fake daemon. Modes:
//   crash   hello, ready; generation 3 says stopping and exits 0, earlier ones fork a child
//           that exits 7 after 100 ms and then SIGKILL themselves.
//   early   exits 3 without a word (a daemon that cannot start).
//   listen  generation 1: 2 listeners on 127.0.0.1:0, parks a pipe's read end under "out",
//           writes "from-gen-1" into the pipe, writes the port to $DIR/port, SIGKILLs itself.
//           generation 2: asks again, writes "<port> <fds> <pipe text>" to $DIR/gen2, stops.
int FakeDaemon(const std::string& mode) {
  auto client = KeeperClient::FromEnvironment();
  if (!client.ok() || !*client) return 90;
  KeeperClient& k = **client;
  auto hello = k.SayHello();
  if (!hello.ok()) return 91;
  const std::string dir = std::getenv("KEEPER_TEST_DIR") ? std::getenv("KEEPER_TEST_DIR") : "";
  if (mode == "early") return 3;
  if (mode == "crash") {
    if (!k.Ready().ok()) return 92;
    if (hello->generation >= 3) {
      if (!k.Stopping().ok()) return 93;
      return 0;
    }
    pid_t child = fork();
    if (child == 0) {
      usleep(100'000);
      _exit(7);
    }
    WriteFile(dir + "/child" + std::to_string(hello->generation), std::to_string(child));
    raise(SIGKILL);
  }
  if (mode == "hostile") {
    int fd = k.fd();
    std::string seen;
    auto ask = [&](std::string_view msg, std::vector<int> fds = {}) {
      if (!net::SendMessage(fd, msg, fds).ok()) return;
      auto m = net::RecvMessage(fd);
      if (!seen.empty()) seen += " ";
      seen += !m.ok() ? "fail" : DecodeAnswer(m->data).ok() ? "ok" : "err";
    };
    ask("nope");
    ask(
        Msg("listen-tcp\0h\0"
            "80\0"
            "999\0"
            "1"));
    ask(std::string(5000, 'x'));
    std::vector<int> nine(9, 1);
    ask(Msg("hold-fds\0k"), nine);
    ask(Msg("take-fds\0unknown"));
    ask("ready", {1});  // fds where none belong
    ask("hello");
    WriteFile(dir + "/hostile", seen);
    return 3;
  }
  if (mode == "handover") {
    // generation 1: a listener, ready, `handover`; drains (writing its pid) until generation
    // 2 has recorded what it saw, exits 0.
    // generation 2: records its cause and whether generation 1 still ran when it started,
    // then outlives it. Waits on the other's state, not fixed sleeps: a sanitized daemon on a
    // loaded machine takes longer than any fixed drain to start (each wait ends by 10 s).
    int port = 0;
    auto fds = k.ListenTcp("127.0.0.1", 0, 1, true, &port);
    if (!fds.ok()) return 94;
    if (hello->generation == 1) {
      if (hello->cause != StartCause::kFirst) return 95;
      WriteFile(dir + "/old", std::to_string(getpid()));
      if (!k.Ready().ok() || !k.Handover().ok()) return 96;
      if (k.Handover().ok()) return 97;  // the channel is closed after the first
      for (int i = 0; i < 1000 && !std::filesystem::exists(dir + "/new"); ++i) usleep(10'000);
      return 0;
    }
    pid_t old = std::stoi(ReadFile(dir + "/old"));
    WriteFile(dir + "/new", std::string(StartCauseName(hello->cause)) + " " +
                                (kill(old, 0) == 0 ? "overlap" : "gap") + " " +
                                std::to_string(port));
    if (!k.Ready().ok()) return 100;
    // Outlives the old daemon: gone once the keeper has reaped it (a zombie still answers
    // kill 0), then long enough for the keeper to see the two exits apart.
    for (int i = 0; i < 1000 && kill(old, 0) == 0; ++i) usleep(10'000);
    usleep(200'000);
    if (!k.Stopping().ok()) return 101;
    return 0;
  }
  if (mode == "retire") {
    // A listener, ready, `retire`; drains until the test has started a second keeper in the
    // folder (it writes $DIR/second), then exits 5 (any status ends a retired keeper).
    int port = 0;
    auto fds = k.ListenTcp("127.0.0.1", 0, 1, true, &port);
    if (!fds.ok() || !k.Ready().ok() || !k.Retire().ok()) return 94;
    WriteFile(dir + "/after-retire",
              k.ListenTcp("127.0.0.1", 0, 1, true, &port).ok() ? "held" : "refused");
    WriteFile(dir + "/retired", std::to_string(getpid()));
    for (int i = 0; i < 1000 && !std::filesystem::exists(dir + "/second"); ++i) usleep(10'000);
    return 5;
  }
  if (mode == "listen") {
    int port = 0;
    auto fds = k.ListenTcp("127.0.0.1", 0, 2, true, &port);
    if (!fds.ok() || fds->size() != 2) return 94;
    if (hello->generation == 1) {
      int p[2];
      if (pipe(p) != 0) return 95;
      if (!k.HoldFds("out", {p[0]}).ok()) return 96;
      if (write(p[1], "from-gen-1", 10) != 10) return 97;
      if (!k.Ready().ok()) return 98;
      WriteFile(dir + "/port", std::to_string(port));
      raise(SIGKILL);
    }
    auto taken = k.TakeFds("out");
    if (!taken.ok() || taken->size() != 1) return 99;
    char buf[64] = {0};
    ssize_t n = read((*taken)[0].get(), buf, sizeof buf - 1);
    WriteFile(dir + "/gen2", std::to_string(port) + " " + std::to_string(fds->size()) + " " +
                                 std::string(buf, n > 0 ? n : 0));
    if (!k.Ready().ok() || !k.Stopping().ok()) return 100;
    return 0;
  }
  return 89;
}

// Runs before main() in the re-executed binary.
const int kFakeDaemonHook = [] {
  if (const char* mode = std::getenv("KEEPER_TEST_DAEMON")) std::_Exit(FakeDaemon(mode));
  return 0;
}();

class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)kFakeDaemonHook;
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-keeper-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    setenv("KEEPER_TEST_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (keeper_ && keeper_->daemon_pid() > 0) {
      kill(keeper_->daemon_pid(), SIGKILL);
      waitpid(keeper_->daemon_pid(), nullptr, 0);
    }
    keeper_.reset();
    unsetenv("KEEPER_TEST_DAEMON");
    std::filesystem::remove_all(dir_);
  }

  void MakeKeeper(const std::string& mode) {
    setenv("KEEPER_TEST_DAEMON", mode.c_str(), 1);
    KeeperOptions o;
    o.state_dir = dir_ / ".slipway";
    o.daemon_argv = {std::filesystem::read_symlink("/proc/self/exe").string()};
    o.clock = &clock_;
    auto k = Keeper::Create(std::move(o));
    ASSERT_TRUE(k.ok()) << k.status().message();
    keeper_ = std::move(k).value();
  }

  // Iterates (real waits of at most 20 ms each, bounded in count) until `cond` holds.
  bool Drive(const std::function<bool()>& cond, int max_iterations = 500) {
    for (int i = 0; i < max_iterations && !cond(); ++i) keeper_->RunOnce(Duration(20));
    return cond();
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Keeper> keeper_;
};

TEST(DaemonBackoffTest, DoublesToTheCapAndResetsAfterALongRun) {
  DaemonBackoff b(Duration(100), Duration(5'000), Duration(30'000));
  std::vector<long> got;
  for (int i = 0; i < 8; ++i) got.push_back(b.Next(Duration(10)).count());
  EXPECT_EQ(got, (std::vector<long>{100, 200, 400, 800, 1600, 3200, 5000, 5000}));
  EXPECT_EQ(b.Next(Duration(30'000)).count(), 100);  // it stayed up: start over
  EXPECT_EQ(b.Next(Duration(0)).count(), 200);
}

TEST_F(KeeperTest, RestartsADaemonThatDiesWithBackoffAndExitsWhenItStopsOnPurpose) {
  MakeKeeper("crash");
  ASSERT_TRUE(keeper_->Start().ok());
  pid_t first = keeper_->daemon_pid();
  // The first daemon SIGKILLs itself: restart planned in 100 ms (fake time).
  ASSERT_TRUE(Drive([&] { return keeper_->daemon_pid() == 0; }));
  EXPECT_EQ(keeper_->last_backoff(), Duration(100));
  for (int i = 0; i < 5; ++i) keeper_->RunOnce(Duration(5));
  EXPECT_EQ(keeper_->daemon_starts(), 1) << "no restart before the delay has passed";
  clock_.AdvanceForTest(Duration(100));
  ASSERT_TRUE(Drive([&] { return keeper_->daemon_starts() == 2; }));
  EXPECT_NE(keeper_->daemon_pid(), first);
  // The second death doubles the delay.
  ASSERT_TRUE(Drive([&] { return keeper_->daemon_pid() == 0; }));
  EXPECT_EQ(keeper_->last_backoff(), Duration(200));
  clock_.AdvanceForTest(Duration(199));
  for (int i = 0; i < 5; ++i) keeper_->RunOnce(Duration(5));
  EXPECT_EQ(keeper_->daemon_starts(), 2);
  clock_.AdvanceForTest(Duration(1));
  // The third says `stopping` and exits 0: the keeper is done, with 0.
  ASSERT_TRUE(Drive([&] { return keeper_->done(); }));
  EXPECT_EQ(keeper_->daemon_starts(), 3);
  EXPECT_EQ(keeper_->exit_code(), 0);
}

TEST_F(KeeperTest, ReapsWhatADeadDaemonLeftAndKeepsTheStatus) {
  MakeKeeper("crash");
  ASSERT_TRUE(keeper_->Start().ok());
  ASSERT_TRUE(Drive([&] { return keeper_->daemon_pid() == 0; }));
  // The daemon's child outlived it, was reparented to us (subreaper) and exits 7. (Children
  // of earlier tests' daemons may show up too: this process stays a subreaper.)
  pid_t child = std::stoi(ReadFile(dir_ / "child1"));
  int status = -1;
  auto find = [&] {
    for (const auto& [pid, st] : keeper_->pending_exits()) {
      if (pid == child) status = st;
    }
    return status != -1;
  };
  ASSERT_TRUE(Drive(find));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
  EXPECT_NE(kill(child, 0), 0) << "reaped, not a zombie";
}

TEST_F(KeeperTest, AFirstDaemonThatNeverServedEndsTheKeeperWithItsCode) {
  MakeKeeper("early");
  ASSERT_TRUE(keeper_->Start().ok());
  ASSERT_TRUE(Drive([&] { return keeper_->done(); }));
  EXPECT_EQ(keeper_->exit_code(), 3);
  EXPECT_EQ(keeper_->daemon_starts(), 1);
}

TEST_F(KeeperTest, ListenersAndParkedFdsOutliveTheDaemon) {
  MakeKeeper("listen");
  ASSERT_TRUE(keeper_->Start().ok());
  ASSERT_TRUE(Drive([&] { return keeper_->daemon_pid() == 0; }));
  int port = std::stoi(ReadFile(dir_ / "port"));
  EXPECT_EQ(keeper_->held_listeners(), 1u);
  // No daemon runs, yet the port accepts: the kernel queues the connection.
  auto c = net::ConnectTcp("127.0.0.1", port);
  ASSERT_TRUE(c.ok());
  pollfd pfd{c->get(), POLLOUT, 0};
  ASSERT_EQ(poll(&pfd, 1, 2'000), 1);
  EXPECT_TRUE(net::ConnectError(c->get()).ok()) << "connection refused while no daemon ran";
  clock_.AdvanceForTest(Duration(100));
  ASSERT_TRUE(Drive([&] { return keeper_->done(); }));
  EXPECT_EQ(keeper_->exit_code(), 0);
  EXPECT_EQ(ReadFile(dir_ / "gen2"), std::to_string(port) + " 2 from-gen-1");
}

TEST_F(KeeperTest, HandoverStartsTheSuccessorWhileTheOldDaemonStillDrains) {
  MakeKeeper("handover");
  ASSERT_TRUE(keeper_->Start().ok());
  pid_t first = keeper_->daemon_pid();
  ASSERT_TRUE(Drive([&] { return keeper_->daemon_starts() == 2; }));
  EXPECT_NE(keeper_->daemon_pid(), first);
  EXPECT_EQ(keeper_->retiring(), 1u);
  EXPECT_EQ(keeper_->last_start_cause(), StartCause::kHandover);
  ASSERT_TRUE(Drive([&] { return keeper_->retiring() == 0; }));
  EXPECT_FALSE(keeper_->done()) << "the old daemon's exit ends nothing";
  EXPECT_EQ(keeper_->last_backoff(), Duration(0)) << "a handover waits for no backoff";
  // The old daemon's exit 0 ends nothing; the successor's `stopping` + exit 0 ends the keeper.
  ASSERT_TRUE(Drive([&] { return keeper_->done(); }));
  EXPECT_EQ(keeper_->exit_code(), 0);
  EXPECT_EQ(keeper_->daemon_starts(), 2);
  EXPECT_EQ(keeper_->retiring(), 0u);
  std::string seen = ReadFile(dir_ / "new");
  EXPECT_EQ(seen.substr(0, seen.rfind(' ')), "handover overlap");
  EXPECT_EQ(keeper_->held_listeners(), 1u) << "the successor got the same listener";
}

TEST_F(KeeperTest, ARetiringDaemonFreesTheFolderAndItsKeeperRemovesNothingOfTheNextOne) {
  MakeKeeper("retire");
  ASSERT_TRUE(keeper_->Start().ok());
  ASSERT_TRUE(Drive([&] { return keeper_->retired(); }));
  EXPECT_EQ(keeper_->held_listeners(), 0u) << "a successor's port must not be shared";
  ASSERT_TRUE(Drive([&] { return std::filesystem::exists(dir_ / "after-retire"); }));
  EXPECT_EQ(ReadFile(dir_ / "after-retire"), "refused");
  EXPECT_EQ(keeper_->held_listeners(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / ".slipway" / "keeper.pid"));
  // A second keeper starts in the folder while the first one's daemon still drains.
  KeeperOptions o;
  o.state_dir = dir_ / ".slipway";
  o.daemon_argv = {"/bin/true"};
  o.subreaper = false;
  auto second = Keeper::Create(std::move(o));
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(std::filesystem::exists(dir_ / ".slipway" / "keeper.pid"));
  WriteFile((dir_ / "second").string(), "1");
  ASSERT_TRUE(Drive([&] { return keeper_->done(); }));
  EXPECT_EQ(keeper_->exit_code(), 1) << "exit 5 of a retired daemon ends the keeper";
  EXPECT_EQ(keeper_->daemon_starts(), 1) << "a retired daemon is never started again";
  keeper_.reset();
  EXPECT_TRUE(std::filesystem::exists(dir_ / ".slipway" / "keeper.pid"))
      << "the retired keeper removed the next one's pid file";
  // And the folder is the second keeper's: a third is refused.
  KeeperOptions third;
  third.state_dir = dir_ / ".slipway";
  third.daemon_argv = {"/bin/true"};
  third.subreaper = false;
  EXPECT_EQ(Keeper::Create(std::move(third)).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(KeeperTest, ASecondKeeperForTheSameProjectIsRefused) {
  MakeKeeper("crash");
  KeeperOptions o;
  o.state_dir = dir_ / ".slipway";
  o.daemon_argv = {"/bin/true"};
  o.subreaper = false;
  auto second = Keeper::Create(std::move(o));
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::exists(dir_ / ".slipway" / "keeper.pid"))
      << "the refused keeper must not remove the first one's pid file";
}

TEST_F(KeeperTest, HostileRequestsAreAnsweredErrAndTheKeeperCarriesOn) {
  MakeKeeper("hostile");
  ASSERT_TRUE(keeper_->Start().ok());
  ASSERT_TRUE(Drive([&] { return keeper_->done(); }));
  EXPECT_EQ(keeper_->exit_code(), 3);
  EXPECT_EQ(ReadFile(dir_ / "hostile"), "err err err err err err ok");
  EXPECT_EQ(keeper_->held_listeners(), 0u);
}

TEST(KeeperProtocolTest, MalformedRequestsAreRefused) {
  for (std::string bad :
       {std::string("nope"), std::string("listen-tcp"),
        Msg("listen-tcp\0h\0"
            "99999\0"
            "1\0"
            "1"),
        Msg("listen-tcp\0h\0"
            "80\0"
            "0\0"
            "1"),
        Msg("listen-tcp\0h\0"
            "80\0"
            "65\0"
            "1"),
        Msg("listen-tcp\0h\0"
            "8x\0"
            "1\0"
            "1"),
        Msg("listen-tcp\0\0"
            "80\0"
            "1\0"
            "1"),
        Msg("listen-tcp\0h\0"
            "80\0"
            "1\0"
            "yes"),
        Msg("hold-fds\0"), Msg("hello\0extra"), Msg("handover\0now"), std::string(5000, 'x'),
        std::string("hold-fds\0") + std::string(300, 'k')}) {
    EXPECT_FALSE(DecodeRequest(bad).ok()) << bad;
  }
  Request r;
  r.command = Command::kListenTcp;
  r.host = "127.0.0.1";
  r.port = 8080;
  r.count = 4;
  r.reuseport = true;
  auto back = DecodeRequest(EncodeRequest(r));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->host, "127.0.0.1");
  EXPECT_EQ(back->port, 8080);
  EXPECT_EQ(back->count, 4);
  EXPECT_TRUE(back->reuseport);
  Request p;
  p.command = Command::kListenUnix;
  p.path = "/tmp/a dir with blanks/api.sock";
  EXPECT_EQ(DecodeRequest(EncodeRequest(p))->path, p.path);
  EXPECT_EQ(DecodeAnswer(EncodeErr("bind: in use")).status().message(), "bind: in use");
  EXPECT_FALSE(DecodeAnswer("maybe").ok());
}

TEST(KeeperClientTest, EnvironmentVariableMustNameTheKeepersSocket) {
  setenv("SLIPWAY_KEEPER_FD", "banana", 1);
  EXPECT_EQ(KeeperClient::FromEnvironment().status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(std::getenv("SLIPWAY_KEEPER_FD"), nullptr) << "services must never see it";
  setenv("SLIPWAY_KEEPER_FD", "0", 1);
  EXPECT_FALSE(KeeperClient::FromEnvironment().ok());
  int fd = dup(1);
  setenv("SLIPWAY_KEEPER_FD", std::to_string(fd).c_str(), 1);
  EXPECT_FALSE(KeeperClient::FromEnvironment().ok()) << "stdout is not a seqpacket socket";
  close(fd);
  auto none = KeeperClient::FromEnvironment();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->get(), nullptr);
}

TEST(KeeperClientTest, AGoneKeeperAnswersUnavailable) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);
  KeeperClient c{net::UniqueFd(sv[0])};
  EXPECT_EQ(c.Ready().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(c.gone());
  EXPECT_EQ(c.SayHello().status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace slipway::keeper
