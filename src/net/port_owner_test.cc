#include "net/port_owner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace slipway::net {
namespace {

namespace fs = std::filesystem;

// A listening TCP socket on `host`, port 0; returns the fd and sets *port.
int Listen(int family, const char* host, int* port) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_storage addr{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, host, &a->sin_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, host, &a->sin6_addr);
    len = sizeof(*a);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 8) != 0) {
    ::close(fd);
    return -1;
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                            : ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return fd;
}

std::string SelfExe() { return fs::read_symlink("/proc/self/exe").filename().string(); }

TEST(PortOwnerTest, FindsOurselvesOnIpv4) {
  int port = 0;
  int fd = Listen(AF_INET, "127.0.0.1", &port);
  ASSERT_GE(fd, 0);
  auto owner = FindPortOwner(port);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, getpid());
  EXPECT_NE(owner->command.find(SelfExe()), std::string::npos) << owner->command;
  ::close(fd);
  EXPECT_FALSE(FindPortOwner(port).has_value());
}

TEST(PortOwnerTest, FindsOurselvesOnIpv6) {
  int port = 0;
  int fd = Listen(AF_INET6, "::1", &port);
  if (fd < 0) GTEST_SKIP() << "no IPv6 loopback here";
  auto owner = FindPortOwner(port);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, getpid());
  ::close(fd);
}

TEST(PortOwnerTest, FindsAnotherProcess) {
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe work here: listen, report the port, wait to be killed.
    int port = 0;
    int fd = Listen(AF_INET, "127.0.0.1", &port);
    if (fd < 0) _exit(1);
    ssize_t n = write(pipefd[1], &port, sizeof(port));
    (void)n;
    for (int i = 0; i < 300; ++i) pause();  // bounded; killed long before
    _exit(0);
  }
  ::close(pipefd[1]);
  int port = 0;
  ASSERT_EQ(read(pipefd[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  ::close(pipefd[0]);
  auto owner = FindPortOwner(port);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, child);
  EXPECT_FALSE(PortInUse("127.0.0.1", port));  // the child is gone
}

TEST(PortOwnerTest, NobodyListening) {
  int port = 0;
  int fd = Listen(AF_INET, "127.0.0.1", &port);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_FALSE(FindPortOwner(port).has_value());
  EXPECT_FALSE(FindPortOwner(0).has_value());
  EXPECT_FALSE(FindPortOwner(70000).has_value());
}

TEST(PortOwnerTest, FakeProcTree) {
  std::string tmpl = (fs::temp_directory_path() / "slipway-proc-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  fs::path root = tmpl;
  fs::create_directories(root / "net");
  // 8080 = 0x1F90 listening (0A) with inode 5555; 8081 only ESTABLISHED (01).
  std::ofstream(root / "net" / "tcp")
      << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
         "timeout inode\n"
      << "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0  "
         "      0 5555 1 0000000000000000 100 0 0 10 0\n"
      << "   1: 0100007F:1F91 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0  "
         "      0 6666 1 0000000000000000 100 0 0 10 0\n";
  // 9090 = 0x2382 on IPv6 with inode 7777.
  std::ofstream(root / "net" / "tcp6")
      << "  sl  local_address                         remote_address                        st "
         "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      << "   0: 00000000000000000000000001000000:2382 00000000000000000000000000000000:0000 0A "
         "00000000:00000000 00:00000000 00000000     0        0 7777 1 0000000000000000 100 0 0 "
         "10 0\n";
  auto make_proc = [&](const std::string& pid, const std::string& cmdline, const std::string& comm,
                       const std::string& socket) {
    fs::create_directories(root / pid / "fd");
    std::ofstream(root / pid / "cmdline", std::ios::binary) << cmdline;
    std::ofstream(root / pid / "comm") << comm;
    fs::create_symlink("/dev/null", root / pid / "fd" / "0");
    fs::create_symlink(socket, root / pid / "fd" / "3");
  };
  using namespace std::string_literals;
  make_proc("412", "nginx: worker process\0"s, "nginx\n", "socket:[5555]");
  make_proc("77", "nginx: master process\0-g\0daemon off;\0"s, "nginx\n", "socket:[5555]");
  make_proc("900", "", "kworker\n", "socket:[7777]");
  make_proc("901", "other\0"s, "other\n", "socket:[6666]");
  fs::create_directories(root / "self");  // non-numeric entries are skipped

  auto owner = FindPortOwnerInForTest(root, 8080);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, 77);  // lowest pid among the sharers
  EXPECT_EQ(owner->command, "nginx: master process -g daemon off;");
  owner = FindPortOwnerInForTest(root, 9090);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, 900);
  EXPECT_EQ(owner->command, "kworker");                          // empty cmdline: comm
  EXPECT_FALSE(FindPortOwnerInForTest(root, 8081).has_value());  // not listening
  EXPECT_FALSE(FindPortOwnerInForTest(root / "missing", 8080).has_value());
  fs::remove_all(root);
}

TEST(PortInUseTest, BindProbe) {
  int port = 0;
  int fd = Listen(AF_INET, "127.0.0.1", &port);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(PortInUse("127.0.0.1", port));
  EXPECT_TRUE(PortInUse("0.0.0.0", port));  // the wildcard overlaps the loopback listener
  EXPECT_TRUE(PortInUse("", port));
  EXPECT_FALSE(PortInUse("not-an-ip", port));
  ::close(fd);
  EXPECT_FALSE(PortInUse("127.0.0.1", port));
  EXPECT_FALSE(PortInUse("0.0.0.0", port));
  EXPECT_FALSE(PortInUse("127.0.0.1", 0));

  int fd6 = Listen(AF_INET6, "::1", &port);
  if (fd6 >= 0) {
    EXPECT_TRUE(PortInUse("::1", port));
    EXPECT_TRUE(PortInUse("[::1]", port));
    ::close(fd6);
    EXPECT_FALSE(PortInUse("::1", port));
  }
}

}  // namespace
}  // namespace slipway::net
