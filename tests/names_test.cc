// End-to-end: service names resolve inside services (host processes, through a private
// /etc/hosts) and ports that are not HTTP are proxied as TCP: a line server reached by name,
// and a real PostgreSQL run as a service, reached by `db:5432` from another service and with
// psql through its published port.
#include <gtest/gtest.h>
#include <pwd.h>

#include <fstream>
#include <sstream>

#include "harness.h"
#include "migrate/pg_test_server.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

// Sends `line` to 127.0.0.1:port and returns what comes back until EOF ("" when nothing
// answers).
std::string Talk(int port, const std::string& line) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  std::string out;
  if (write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    shutdown(fd, SHUT_WR);
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

// A line server: answers each connection with its input upper-cased, then closes.
constexpr char kUpper[] = R"(import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(64)
while True:
    c, _ = s.accept()
    data = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        data += b
    c.sendall(data.upper())
    c.close()
)";

// Connects to upper:7000 by name until it answers, and writes what it got to a file.
constexpr char kClient[] = R"(import socket, sys, time
for i in range(300):
    try:
        c = socket.create_connection(("upper", 7000), timeout=2)
        c.sendall(b"hello by name")
        c.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            got += b
        if got:
            open(sys.argv[1] + ".tmp", "wb").write(got)
            import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
            break
    except OSError:
        pass
    time.sleep(0.1)
time.sleep(3600)
)";

TEST(NamesTest, ServiceNamesResolveAndPlainTcpIsProxied) {
  if (geteuid() != 0) GTEST_SKIP() << "a private /etc/hosts needs root";
  const int port = FreePort();
  Project p(R"(services:
  upper:
    command: ["/usr/bin/python3", "upper.py"]
    ports: ["127.0.0.1:)" +
            std::to_string(port) + R"(:7000"]
    networks:
      default:
        aliases: [shouter]
  client:
    command: ["/usr/bin/python3", "client.py", "client.out"]
    depends_on: [upper]
)");
  p.Write("upper.py", kUpper);
  p.Write("client.py", kClient);
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  // Through the published port: TCP, not HTTP (an HTTP proxy would answer 400 to this).
  EXPECT_TRUE(WaitFor([&] { return Talk(port, "raw bytes\n") == "RAW BYTES\n"; }, 15s));
  // By name, from inside another service.
  EXPECT_TRUE(WaitFor([&] { return ReadFile(p.dir() / "client.out") == "HELLO BY NAME"; }, 20s))
      << ReadFile(p.dir() / ".slipway" / "hosts");
  const std::string hosts = ReadFile(p.dir() / ".slipway" / "hosts");
  EXPECT_NE(hosts.find(" upper shouter\n"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("localhost"), std::string::npos) << hosts;  // the host's entries kept
  // The host's own /etc/hosts is untouched.
  EXPECT_EQ(ReadFile("/etc/hosts").find("shouter"), std::string::npos);
  EXPECT_EQ(p.Slipway({"down"}).rc, 0);
}

TEST(NamesTest, UdpPortIsRefusedAtLoad) {
  Project p(R"(services:
  dns:
    command: ["sleep", "60"]
    ports: ["53:53/udp"]
)");
  CmdResult r = p.Slipway({"up", "-d"});
  EXPECT_EQ(r.rc, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("services.dns.ports[0]: \"53:53/udp\" \u2014 UDP is not proxied by slipway "
                       "(expected a TCP port)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(PidAlive(p.DaemonPid()));
}

TEST(NamesTest, PostgresAsAServiceByNameAndThroughItsPublishedPort) {
  std::string bin = migrate::testing::FindPgBin();
  passwd* pw = getpwnam("postgres");
  if (bin.empty() || pw == nullptr || geteuid() != 0) {
    GTEST_SKIP() << "needs root, the postgres user and PostgreSQL server binaries";
  }
  const int port = FreePort();
  Project p(
      R"(services:
  db:
    user: postgres
    command: ["sh", "-c", "exec )" +
      bin +
      R"(/postgres -D pgdata/data -p $$PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"]
    ports: ["127.0.0.1:)" +
      std::to_string(port) + R"(:5432"]
    healthcheck: {interval: 200ms, retries: 50}
    x-slipway: {healthcheck: {tcp: true}}
  app:
    command: ["sh", "-c", "until psql -h db -p 5432 -U postgres -d postgres -tAc 'select 40 + 2' > app.out.tmp 2>app.err; do sleep 0.2; done; mv app.out.tmp app.out; exec sleep 3600"]
    depends_on:
      db: {condition: service_healthy}
)");
  std::filesystem::create_directories(p.dir() / "pgdata");
  ASSERT_EQ(chown((p.dir() / "pgdata").c_str(), pw->pw_uid, pw->pw_gid), 0);
  std::string log = (p.dir() / "initdb.log").string();
  ASSERT_EQ(migrate::testing::RunLogged({"runuser", "-u", "postgres", "--", bin + "/initdb", "-D",
                                         (p.dir() / "pgdata" / "data").string(), "-U", "postgres",
                                         "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"},
                                        log),
            0)
      << ReadFile(log);
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 90s);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  EXPECT_TRUE(WaitFor([&] { return ReadFile(p.dir() / "app.out") == "42\n"; }, 30s))
      << ReadFile(p.dir() / "app.err");
  CmdResult psql = RunCmd({"/usr/bin/psql", "-h", "127.0.0.1", "-p", std::to_string(port), "-U",
                           "postgres", "-d", "postgres", "-tAc", "select 'published'"},
                          p.dir(), {}, 30s);
  EXPECT_EQ(psql.rc, 0) << psql.err;
  EXPECT_EQ(psql.out, "published\n");
  EXPECT_EQ(p.Slipway({"down"}, 60s).rc, 0);
}

}  // namespace
}  // namespace slipway::testing
