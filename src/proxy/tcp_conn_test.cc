// Tests of TCP listeners (proxy/tcp_conn.h) over real loopback sockets: an in-process echo
// server as the backend.
#include "proxy/tcp_conn.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "proxy/proxy.h"
#include "proxy/proxy_metrics.h"
#include "proxy/test_upstream.h"

namespace slipway::proxy {
namespace {

using namespace testing;  // NOLINT

// Echoes every byte back; after the client's FIN it writes "<name>:bye" and closes, so a test
// sees both that the FIN arrived and that the other direction stayed open (half-close).
// A first line "who\n" is answered with "<name>\n" instead of an echo.
class EchoServer {
 public:
  explicit EchoServer(std::string name) : name_(std::move(name)) {
    acceptor_ = std::thread([this] {
      for (;;) {
        int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        accepts_++;
        std::lock_guard<std::mutex> lock(mu_);
        fds_.push_back(fd);
        threads_.emplace_back([this, fd] { Serve(fd); });
      }
    });
  }
  ~EchoServer() {
    listener_.Shutdown();
    acceptor_.join();
    listener_.Close();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int fd : fds_) close(fd);
  }
  int port() const { return listener_.port(); }
  int accepts() const { return accepts_.load(); }

 private:
  void Serve(int fd) {
    char buf[65536];
    bool first = true;
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      if (first && n == 4 && std::string_view(buf, 4) == "who\n") {
        WriteAll(fd, name_ + "\n");
        continue;
      }
      first = false;
      if (!WriteAll(fd, std::string_view(buf, static_cast<size_t>(n)))) return;
    }
    WriteAll(fd, name_ + ":bye");
    shutdown(fd, SHUT_WR);
  }

  std::string name_;
  LoopbackListener listener_{128};
  std::atomic<int> accepts_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

InstanceSet Set(const std::string& name, uint32_t weight, std::vector<int> ports) {
  InstanceSet s;
  s.name = name;
  s.weight = weight;
  for (int p : ports) s.backends.push_back(Backend{"127.0.0.1", p, name});
  return s;
}

class TcpProxyTest : public ::testing::Test {
 protected:
  void StartProxy(ProxyOptions opt = {}) {
    if (opt.workers == 0) opt.workers = 2;
    registry_ = std::make_unique<telemetry::Registry>(Proxy::ShardsFor(opt.workers));
    auto p = Proxy::Create(opt, registry_.get());
    ASSERT_TRUE(p.ok()) << p.status().message();
    proxy_ = std::move(p).value();
  }
  void Apply(std::vector<InstanceSet> sets) {
    auto t = std::make_shared<RouteTable>();
    Listener l;
    l.host = "127.0.0.1";
    l.port = port_;
    l.mode = ListenerMode::kTcp;
    Route r;
    r.service = "db";
    r.sets = std::move(sets);
    l.routes.push_back(std::move(r));
    t->listeners.push_back(l);
    t->version = ++version_;
    Status st = proxy_->Apply(t);
    ASSERT_TRUE(st.ok()) << st.message();
    auto bound = proxy_->BoundPort("127.0.0.1", port_);
    ASSERT_TRUE(bound.ok());
    port_ = *bound;
  }
  // Which backend a connection reached.
  static std::string Who(int fd) {
    if (!WriteAll(fd, "who\n")) return "write failed";
    std::string buf;
    if (!ReadUntil(fd, &buf, "\n")) return "no answer";
    return buf.substr(0, buf.find('\n'));
  }
  static std::string Echo(int fd, const std::string& text) {
    if (!WriteAll(fd, text)) return "write failed";
    std::string got;
    char tmp[4096];
    while (got.size() < text.size()) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) return got + "<closed>";
      got.append(tmp, static_cast<size_t>(n));
    }
    return got;
  }
  static std::string ReadToEof(int fd) {
    std::string got;
    char tmp[4096];
    for (int i = 0; i < 100000; ++i) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) break;
      got.append(tmp, static_cast<size_t>(n));
    }
    return got;
  }

  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<Proxy> proxy_;
  int port_ = 0;
  uint64_t version_ = 0;
};

TEST_F(TcpProxyTest, CopiesBothWaysWithBackPressureAndHalfClose) {
  EchoServer a("a");
  StartProxy();
  Apply({Set("r1", 100, {a.port()})});
  int fd = ConnectTo(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Echo(fd, "hello"), "hello");
  // 8 MiB one way while the other way is read slowly: the proxy holds at most a buffer.
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7) % 26);
  std::thread writer([&] {
    EXPECT_TRUE(WriteAll(fd, big));
    shutdown(fd, SHUT_WR);  // half-close: the echo of the rest still comes back
  });
  std::string got = ReadToEof(fd);
  writer.join();
  close(fd);
  ASSERT_EQ(got.size(), big.size() + 5);
  EXPECT_TRUE(got.compare(0, big.size(), big) == 0);
  EXPECT_EQ(got.substr(big.size()), "a:bye");
  SetStats s = ReadSetStats(*registry_, "db", "r1");
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.errors_5xx, 0u);
}

TEST_F(TcpProxyTest, AMessageAndItsFinInOneBurstAreBothPassedOn) {
  EchoServer a("a");
  StartProxy();
  Apply({Set("r1", 100, {a.port()})});
  for (int i = 0; i < 50; ++i) {
    int fd = ConnectTo(port_);
    ASSERT_GE(fd, 0);
    if (i % 2 == 0) {
      EXPECT_EQ(Echo(fd, "warm"), "warm");  // connected before the burst
    }
    ASSERT_TRUE(WriteAll(fd, "x"));
    shutdown(fd, SHUT_WR);
    EXPECT_EQ(ReadToEof(fd), "xa:bye") << i;
    close(fd);
  }
}

TEST_F(TcpProxyTest, BackendDownClosesTheClient) {
  StartProxy();
  Apply({Set("r1", 100, {ClosedPort()})});
  int fd = ConnectTo(port_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(PeerClosed(fd));
  close(fd);
  SetStats s = ReadSetStats(*registry_, "db", "r1");
  EXPECT_EQ(s.errors_5xx, 1u);
  // No backend at all: closed at once too.
  Apply({});
  fd = ConnectTo(port_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(PeerClosed(fd));
  close(fd);
}

TEST_F(TcpProxyTest, ARefusedBackendIsSkippedForAnother) {
  EchoServer b("b");
  StartProxy(ProxyOptions{.workers = 1});
  Apply({Set("r1", 100, {ClosedPort(), b.port()})});
  for (int i = 0; i < 4; ++i) {
    int fd = ConnectTo(port_);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(Who(fd), "b");
    close(fd);
  }
}

TEST_F(TcpProxyTest, WeightChangeKeepsConnectionsAndARemovedBackendDrains) {
  EchoServer a("a"), b("b");
  ProxyOptions opt;
  opt.workers = 1;
  opt.tcp_drain_timeout = Duration(300);
  StartProxy(opt);
  Apply({Set("r1", 100, {a.port()}), Set("r2", 0, {b.port()})});
  int old_conn = ConnectTo(port_);
  ASSERT_GE(old_conn, 0);
  EXPECT_EQ(Who(old_conn), "a");
  // The deploy moves every new connection to r2; r1 still runs: the old one stays on a.
  Apply({Set("r1", 0, {a.port()}), Set("r2", 100, {b.port()})});
  int fresh = ConnectTo(port_);
  ASSERT_GE(fresh, 0);
  EXPECT_EQ(Who(fresh), "b");
  EXPECT_EQ(Echo(old_conn, "still a"), "still a");
  // r1 leaves the table: its connection drains, then closes; r2's stays.
  Apply({Set("r2", 100, {b.port()})});
  EXPECT_EQ(Echo(old_conn, "draining"), "draining");
  SetTimeouts(old_conn, 5000);
  EXPECT_TRUE(PeerClosed(old_conn));
  EXPECT_EQ(Echo(fresh, "b lives"), "b lives");
  close(old_conn);
  close(fresh);
}

TEST_F(TcpProxyTest, IdleConnectionsClose) {
  EchoServer a("a");
  ProxyOptions opt;
  opt.tcp_idle_timeout = Duration(200);
  StartProxy(opt);
  Apply({Set("r1", 100, {a.port()})});
  int fd = ConnectTo(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Echo(fd, "x"), "x");
  EXPECT_TRUE(PeerClosed(fd));
  close(fd);
}

TEST_F(TcpProxyTest, ManyConnectionsAtOnce) {
  EchoServer a("a"), b("b");
  StartProxy();
  Apply({Set("r1", 50, {a.port()}), Set("r2", 50, {b.port()})});
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    int fd = ConnectTo(port_);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  int on_a = 0;
  for (int fd : fds) {
    std::string w = Who(fd);
    EXPECT_TRUE(w == "a" || w == "b") << w;
    on_a += w == "a";
    EXPECT_EQ(Echo(fd, "ping"), "ping");
    close(fd);
  }
  EXPECT_GT(on_a, 0);
  EXPECT_LT(on_a, 64);
}

TEST_F(TcpProxyTest, ABestEffortListenerThatCannotBindIsLeftOut) {
  EchoServer a("a");
  StartProxy();
  // Someone holds the port without SO_REUSEPORT: the proxy cannot share it.
  LoopbackListener holder(8);
  ASSERT_TRUE(holder.ok());
  const int taken = holder.port();
  auto table = [&](bool best_effort) {
    auto t = std::make_shared<RouteTable>();
    for (int port : {0, taken}) {
      Listener l;
      l.host = "127.0.0.1";
      l.port = port;
      l.mode = ListenerMode::kTcp;
      l.best_effort = port == taken ? best_effort : false;
      Route r;
      r.service = "db";
      r.sets = {Set("r1", 100, {a.port()})};
      l.routes.push_back(r);
      t->listeners.push_back(l);
    }
    return t;
  };
  EXPECT_FALSE(proxy_->Apply(table(false)).ok());  // all or nothing
  Status st = proxy_->Apply(table(true));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(proxy_->BoundPort("127.0.0.1", taken).ok());
  EXPECT_EQ(proxy_->table()->listeners.size(), 1u);
  auto bound = proxy_->BoundPort("127.0.0.1", 0);
  ASSERT_TRUE(bound.ok());
  int fd = ConnectTo(*bound);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Who(fd), "a");
  close(fd);
  // Once the port is free, the next table gets it.
  holder.Close();
  ASSERT_TRUE(proxy_->Apply(table(true)).ok());
  EXPECT_TRUE(proxy_->BoundPort("127.0.0.1", taken).ok());
  fd = ConnectTo(taken);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Who(fd), "a");
  close(fd);
}

TEST(TcpRouteTableTest, ATcpListenerHasOneRoute) {
  RouteTable t;
  Listener l;
  l.port = 5432;
  l.mode = ListenerMode::kTcp;
  t.listeners.push_back(l);
  EXPECT_EQ(ValidateRouteTable(t).message(),
            "listener 0.0.0.0:5432: a TCP listener has exactly one route");
  t.listeners[0].routes.resize(2);
  EXPECT_FALSE(ValidateRouteTable(t).ok());
  t.listeners[0].routes.resize(1);
  EXPECT_TRUE(ValidateRouteTable(t).ok());
}

}  // namespace
}  // namespace slipway::proxy
