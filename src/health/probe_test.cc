#include "health/probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "health/monitor.h"
#include "http/server.h"
#include "net/socket.h"
#include "net/test_node_server.h"
#include "net/tls_test_certs.h"

namespace slipway::health {
namespace {

using Kind = config::Healthcheck::Kind;

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = net::EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(l).value();
    target_.exec_base.env = {{"PATH", "/usr/bin:/bin"}, {"GREETING", "hello"}};
  }

  // Runs one probe to completion (bounded), checking `done` never runs inside RunProbe.
  ProbeResult Run(const config::Healthcheck& hc) {
    std::optional<ProbeResult> result;
    bool inside = true;
    RunProbe(loop_.get(), hc, target_, [&](ProbeResult r) {
      EXPECT_FALSE(inside) << "done ran inside RunProbe";
      result = std::move(r);
    });
    inside = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!result && std::chrono::steady_clock::now() < deadline) loop_->RunOnce(Duration(10));
    EXPECT_TRUE(result.has_value());
    return result.value_or(ProbeResult{});
  }

  static config::Healthcheck Exec(Kind kind, std::vector<std::string> test, int timeout_ms) {
    config::Healthcheck hc;
    hc.kind = kind;
    hc.test = std::move(test);
    hc.timeout = Duration(timeout_ms);
    return hc;
  }

  std::unique_ptr<net::EventLoop> loop_;
  ProbeTarget target_;
};

TEST_F(ProbeTest, ExecTrueAndFalse) {
  auto ok = Run(Exec(Kind::kCmd, {"true"}, 2'000));
  EXPECT_TRUE(ok.ok);
  auto bad = Run(Exec(Kind::kCmd, {"false"}, 2'000));
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.output, "exited with code 1");
}

TEST_F(ProbeTest, ExecShellUsesTheTargetEnvironmentAndCapturesOutput) {
  auto r = Run(Exec(Kind::kCmdShell, {"echo \"$GREETING\"; echo oops >&2; exit 2"}, 2'000));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("hello"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("oops"), std::string::npos) << r.output;

  auto big = Run(Exec(Kind::kCmdShell, {"head -c 20000 /dev/zero | tr '\\0' y; echo"}, 2'000));
  EXPECT_TRUE(big.ok);
  EXPECT_EQ(big.output.size(), kMaxProbeOutput);
}

TEST_F(ProbeTest, ExecIsKilledAtTheTimeout) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = Run(Exec(Kind::kCmd, {"sleep", "5"}, 200));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "timed out after 200ms");
  EXPECT_GE(took, std::chrono::milliseconds(190));
  EXPECT_LT(took, std::chrono::milliseconds(2'000));
  EXPECT_GE(r.took, Duration(190));
}

TEST_F(ProbeTest, ExecOfAMissingProgramFails) {
  auto r = Run(Exec(Kind::kCmd, {"no-such-probe-binary"}, 1'000));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "cannot run \"no-such-probe-binary\": No such file or directory");
  auto empty = Run(Exec(Kind::kCmd, {}, 1'000));
  EXPECT_FALSE(empty.ok);
}

TEST_F(ProbeTest, ExecPrefixRunsTheTestThroughTheContainerClient) {
  // A container service: the probe is `<prefix> test...`; `env` stands in for `podman exec`
  // here (it runs its arguments), and the prefix words come first, untouched.
  target_.exec_prefix = {"/usr/bin/env", "INSIDE=yes"};
  auto cmd = Run(Exec(Kind::kCmd, {"sh", "-c", "echo \"$INSIDE\""}, 2'000));
  EXPECT_TRUE(cmd.ok) << cmd.output;
  EXPECT_EQ(cmd.output, "yes");
  auto shell = Run(Exec(Kind::kCmdShell, {"echo \"$0 $INSIDE\"; exit 3"}, 2'000));
  EXPECT_FALSE(shell.ok);
  EXPECT_EQ(shell.output, "/bin/sh yes");  // CMD-SHELL goes through /bin/sh -c
}

TEST(ContainerAbsent, MatchesTheEnginesOwnErrorsOnly) {
  // podman 4 / docker 24 wording, first line of the exec client's output.
  EXPECT_TRUE(IsContainerAbsentError(
      "Error: no container with name or ID \"slipway-a-b-1\" found: no such container"));
  EXPECT_TRUE(IsContainerAbsentError(
      "Error: can only create exec sessions on running containers: container state improper"));
  EXPECT_TRUE(IsContainerAbsentError("Error response from daemon: No such container: x"));
  EXPECT_TRUE(
      IsContainerAbsentError("Error response from daemon: container 4f1e is not running\nmore"));
  // A probe's own failure, even one that talks about containers, is an ordinary failure.
  EXPECT_FALSE(IsContainerAbsentError("db is not running"));
  EXPECT_FALSE(IsContainerAbsentError("Error: connection refused"));
  EXPECT_FALSE(IsContainerAbsentError("checking\nError: no such container"));
  EXPECT_FALSE(IsContainerAbsentError(""));
}

TEST_F(ProbeTest, ExecIntoAContainerNotThereYetIsMarked) {
  // The engine's client stands in as a script answering as podman does for a missing name.
  const std::string fake =
      "echo 'Error: no container with name or ID \"c\" found: no such container' >&2; exit 125";
  target_.exec_prefix = {"/bin/sh", "-c", fake, "podman"};
  auto absent = Run(Exec(Kind::kCmd, {"true"}, 2'000));
  EXPECT_FALSE(absent.ok);
  EXPECT_TRUE(absent.container_absent) << absent.output;
  // Without an exec prefix the same words are the test's own output: not marked.
  target_.exec_prefix.clear();
  auto host = Run(Exec(Kind::kCmdShell, {fake}, 2'000));
  EXPECT_FALSE(host.ok);
  EXPECT_FALSE(host.container_absent);
  // Inside a running container a failing test is an ordinary failure.
  target_.exec_prefix = {"/usr/bin/env"};
  auto fails = Run(Exec(Kind::kCmd, {"sh", "-c", "echo 'Error: db down'; exit 1"}, 2'000));
  EXPECT_FALSE(fails.ok);
  EXPECT_FALSE(fails.container_absent);
}

TEST_F(ProbeTest, TcpToListeningAndClosedPorts) {
  auto listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  auto port = net::LocalPort(listener->get());
  ASSERT_TRUE(port.ok());
  config::Healthcheck hc;
  hc.kind = Kind::kTcp;
  hc.timeout = Duration(1'000);
  target_.port = *port;
  auto up = Run(hc);
  EXPECT_TRUE(up.ok) << up.output;

  listener->Reset();  // closed now: connection refused
  auto down = Run(hc);
  EXPECT_FALSE(down.ok);
  EXPECT_NE(down.output.find("refused"), std::string::npos) << down.output;

  target_.port = 0;  // no port at all
  EXPECT_EQ(Run(hc).output, "no port to probe");
}

TEST_F(ProbeTest, HttpStatusDecides) {
  auto listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  auto port = net::LocalPort(listener->get());
  ASSERT_TRUE(port.ok());
  auto server = http::HttpServer::Create(loop_.get(), std::move(listener).value(),
                                         [](const http::Request& req, http::ResponseWriter w) {
                                           if (req.Path() == "/health") {
                                             w.Send(http::Response::Text(200, "ok"));
                                           } else if (req.Path() == "/moved") {
                                             http::Response r = http::Response::Text(302, "");
                                             r.headers.emplace_back("Location", "/health");
                                             w.Send(std::move(r));
                                           } else {
                                             w.Send(http::Response::Text(503, "db down"));
                                           }
                                         });
  ASSERT_TRUE(server.ok()) << server.status().message();
  config::Healthcheck hc;
  hc.kind = Kind::kHttp;
  hc.timeout = Duration(2'000);
  hc.port = *port;  // an explicit probe port wins over the target's
  target_.port = 1;

  hc.http_path = "/health";
  auto ok = Run(hc);
  EXPECT_TRUE(ok.ok) << ok.output;
  EXPECT_EQ(ok.output, "HTTP 200: ok");
  hc.http_path = "/moved";
  EXPECT_TRUE(Run(hc).ok);
  hc.http_path = "/other";
  auto bad = Run(hc);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.output, "HTTP 503: db down");

  server->reset();
  hc.http_path = "/health";
  auto down = Run(hc);
  EXPECT_FALSE(down.ok);
  EXPECT_NE(down.output.find("GET http://127.0.0.1:"), std::string::npos) << down.output;
}

TEST_F(ProbeTest, HttpsProbesVerifyOnlyWhenAskedTo) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("slipway-probe-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto served = net::testing::MakeTestCert({"app.internal"});
  auto other = net::testing::MakeTestCert({"app.internal"});
  const std::string cert = (dir / "app.pem").string(), key = (dir / "app.key").string();
  const std::string other_ca = (dir / "other.pem").string();
  net::testing::WriteTestFile(cert, served.cert_pem);
  net::testing::WriteTestFile(key, served.key_pem);
  net::testing::WriteTestFile(other_ca, other.cert_pem);
  auto tls = net::TlsServerContext::Create({{cert, key}}, std::make_shared<net::TicketKeys>(),
                                           std::time(nullptr));
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  auto listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  target_.port = *net::LocalPort(listener->get());
  std::string seen_host;
  http::ServerOptions opt;
  opt.tls = *tls;
  auto server = http::HttpServer::Create(
      loop_.get(), std::move(listener).value(),
      [&seen_host](const http::Request& req, http::ResponseWriter w) {
        seen_host = req.Header("host") ? *req.Header("host") : "";
        w.Send(http::Response::Text(200, "ok"));
      },
      opt);
  ASSERT_TRUE(server.ok()) << server.status().message();

  config::Healthcheck hc;
  hc.kind = Kind::kHttp;
  hc.timeout = Duration(2'000);
  hc.http_path = "/health";
  hc.scheme = config::Healthcheck::Scheme::kHttps;
  // Default: TLS must be served, the certificate is not checked (127.0.0.1 is not its name).
  EXPECT_FALSE(VerifiesCertificate(hc));
  auto r = Run(hc);
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "HTTP 200: ok");
  // The right CA and name: verified, and the name is the Host.
  hc.ca_file = cert;
  hc.server_name = "app.internal";
  EXPECT_TRUE(VerifiesCertificate(hc));
  r = Run(hc);
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(seen_host, "app.internal");
  // Another CA: the handshake fails and says why.
  hc.ca_file = other_ca;
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("GET https://127.0.0.1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("certificate verify failed"), std::string::npos) << r.output;
  // A name the certificate does not cover.
  hc.ca_file = cert;
  hc.server_name = "db.internal";
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("certificate verify failed"), std::string::npos) << r.output;
  // Strict without a CA file: the system store does not know a self-signed certificate.
  hc.ca_file.clear();
  hc.server_name.clear();
  hc.insecure_skip_verify = false;
  EXPECT_TRUE(VerifiesCertificate(hc));
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("certificate verify failed"), std::string::npos) << r.output;
  // insecure_skip_verify: true wins over server_name.
  hc.insecure_skip_verify = true;
  hc.server_name = "db.internal";
  EXPECT_FALSE(VerifiesCertificate(hc));
  EXPECT_TRUE(Run(hc).ok);
  // An https probe of a clear-text server fails with the handshake's reason.
  server->reset();
  auto plain_listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(plain_listener.ok());
  target_.port = *net::LocalPort(plain_listener->get());
  auto plain = http::HttpServer::Create(loop_.get(), std::move(plain_listener).value(),
                                        [](const http::Request&, http::ResponseWriter w) {
                                          w.Send(http::Response::Text(200, "ok"));
                                        });
  ASSERT_TRUE(plain.ok());
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("TLS handshake failed"), std::string::npos) << r.output;
  // A CA file gone since load: the probe fails, naming it.
  hc.insecure_skip_verify.reset();
  hc.ca_file = (dir / "gone.pem").string();
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("gone.pem: cannot read"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
}

TEST_F(ProbeTest, MonitorWithRealProbesBecomesHealthyThenUnhealthy) {
  // A flag file decides: present = healthy.
  std::string flag = ::testing::TempDir() + "/probe-flag." + std::to_string(getpid());
  std::remove(flag.c_str());
  config::Healthcheck hc = Exec(Kind::kCmdShell, {"test -e " + flag}, 1'000);
  hc.interval = Duration(20);
  hc.retries = 2;
  std::vector<std::pair<HealthState, HealthState>> changes;
  HealthMonitor m(loop_.get(), hc, target_, [&](HealthState a, HealthState b, const ProbeResult&) {
    changes.emplace_back(a, b);
  });
  m.Start();
  auto run_until = [&](HealthState s) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (m.state() != s && std::chrono::steady_clock::now() < deadline) {
      loop_->RunOnce(Duration(10));
    }
    return m.state() == s;
  };
  ASSERT_TRUE(run_until(HealthState::kUnhealthy));
  {
    FILE* f = std::fopen(flag.c_str(), "w");
    ASSERT_TRUE(f);
    std::fclose(f);
  }
  ASSERT_TRUE(run_until(HealthState::kHealthy));
  m.Stop();
  std::remove(flag.c_str());
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], std::make_pair(HealthState::kStarting, HealthState::kUnhealthy));
  EXPECT_EQ(changes[1], std::make_pair(HealthState::kUnhealthy, HealthState::kHealthy));
}

// gRPC health probes against testdata/grpc_health_server.js (Node's http2 module), whose
// answer depends on the service asked about.
class GrpcProbeTest : public ProbeTest {
 protected:
  void SetUp() override {
    ProbeTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-grpc-probe-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    node_.Stop();
    std::filesystem::remove_all(dir_);
  }
  void StartNode(const std::vector<std::string>& args) {
    ASSERT_TRUE(node_.Start(args)) << "node did not start";
    target_.port = node_.port();
  }
  // A certificate for app.internal: {cert, key} paths.
  std::pair<std::string, std::string> Cert() {
    auto c = net::testing::MakeTestCert({"app.internal"});
    const std::string cert = (dir_ / "app.pem").string(), key = (dir_ / "app.key").string();
    net::testing::WriteTestFile(cert, c.cert_pem);
    net::testing::WriteTestFile(key, c.key_pem);
    return {cert, key};
  }
  static config::Healthcheck Grpc(const std::string& service, int timeout_ms = 2'000) {
    config::Healthcheck hc;
    hc.kind = Kind::kGrpc;
    hc.grpc_service = service;
    hc.timeout = Duration(timeout_ms);
    return hc;
  }

  net::testing::NodeServer node_{std::string(SLIPWAY_SOURCE_DIR) +
                                 "/src/health/testdata/grpc_health_server.js"};
  std::filesystem::path dir_;
};

TEST_F(GrpcProbeTest, ServingStatusesOverH2c) {
  StartNode({"h2c"});
  // The server checks the request (method, path, content-type, te, framing) and answers
  // grpc-status 13 to anything else: SERVING means the request was right.
  ProbeResult r = Run(Grpc(""));
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "SERVING");
  r = Run(Grpc("ok"));
  EXPECT_TRUE(r.ok) << r.output;
  r = Run(Grpc("down"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "NOT_SERVING");
  r = Run(Grpc("gone"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "SERVICE_UNKNOWN");
  // Unknown fields around the status are skipped; the last status wins.
  r = Run(Grpc("extra"));
  EXPECT_TRUE(r.ok) << r.output;
  // A long service name (a two-byte length) reaches the server intact: it is unknown there.
  r = Run(Grpc(std::string(300, 'n')));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "grpc-status 5");
}

TEST_F(GrpcProbeTest, GrpcErrorsAndMalformedAnswersFailWithAReason) {
  StartNode({"h2c"});
  auto out = [&](const std::string& service) {
    ProbeResult r = Run(Grpc(service));
    EXPECT_FALSE(r.ok) << service;
    EXPECT_EQ(r.output.find('\n'), std::string::npos) << r.output;
    return r.output;
  };
  // Trailers-only (grpc-status in the one header block), percent-encoded message.
  EXPECT_EQ(out("missing"), "grpc-status 5: unknown service missing");
  // In trailers after an empty body; control characters in the message do not break lines.
  EXPECT_EQ(out("unimpl"), "grpc-status 12: unknown service foo??x");
  EXPECT_EQ(out("badvarint"),
            "malformed response: malformed HealthCheckResponse: varint over "
            "64 bits");
  EXPECT_EQ(out("truncated"), "malformed response: truncated message");
  EXPECT_EQ(out("huge"), "malformed response: over 4096 bytes");
  EXPECT_EQ(out("compressed"), "malformed response: compressed message (none was accepted)");
  EXPECT_EQ(out("two"), "malformed response: more than one message");
  EXPECT_EQ(out("notfound"), "HTTP 404 (a gRPC answer is 200)");
  EXPECT_EQ(out("nostatus"), "no grpc-status in the answer");
  EXPECT_EQ(out("reset"), "stream reset by the server (INTERNAL_ERROR)");
  EXPECT_EQ(out("bighead"), "header block over 16 KiB or 100 fields");
}

TEST_F(GrpcProbeTest, NeverAnsweringTimesOut) {
  StartNode({"h2c"});
  const auto t0 = std::chrono::steady_clock::now();
  ProbeResult r = Run(Grpc("hang", 200));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "timed out after 200ms");
  EXPECT_GE(took, std::chrono::milliseconds(190));
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST_F(GrpcProbeTest, NotAnHttp2Server) {
  // Refused: nothing listens.
  auto listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  target_.port = *net::LocalPort(listener->get());
  listener->Reset();
  ProbeResult r = Run(Grpc(""));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "connect: Connection refused");
  // An HTTP/1.1 server in clear: it answers the preface with HTTP/1.1 (or closes).
  auto h1_listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(h1_listener.ok());
  target_.port = *net::LocalPort(h1_listener->get());
  auto h1 = http::HttpServer::Create(loop_.get(), std::move(h1_listener).value(),
                                     [](const http::Request&, http::ResponseWriter w) {
                                       w.Send(http::Response::Text(200, "ok"));
                                     });
  ASSERT_TRUE(h1.ok());
  r = Run(Grpc(""));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("not HTTP/2"), std::string::npos) << r.output;
}

// A server that accepts one connection, writes `answer` and closes; on a thread, bounded by
// a 5 s poll for the connection and 3 s with it.
int RawServerOnce(std::string answer, std::thread* t) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return 0;
  }
  *t = std::thread([fd, answer = std::move(answer)] {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5'000) == 1) {
      int c = accept(fd, nullptr, nullptr);
      if (c >= 0) {
        // Reads what the client sent (closing on unread bytes would be a reset), answers,
        // then waits (at most 2 s) for the client to close first.
        char buf[4096];
        pollfd cp{c, POLLIN, 0};
        if (poll(&cp, 1, 1'000) == 1) (void)!read(c, buf, sizeof buf);
        if (!answer.empty()) (void)!write(c, answer.data(), answer.size());
        shutdown(c, SHUT_WR);
        for (int i = 0; i < 20 && poll(&cp, 1, 100) >= 0; ++i) {
          if ((cp.revents & POLLIN) && read(c, buf, sizeof buf) <= 0) break;
        }
        close(c);
      }
    }
    close(fd);
  });
  return ntohs(a.sin_port);
}

TEST_F(GrpcProbeTest, HostileBytesFailWithAReason) {
  std::thread t;
  // Closed at once: nothing of HTTP/2 came.
  target_.port = RawServerOnce("", &t);
  ASSERT_GT(target_.port, 0);
  ProbeResult r = Run(Grpc(""));
  t.join();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "connection closed before any HTTP/2 frame (not an HTTP/2 server?)");
  // An HTTP/1.1 answer to the preface.
  target_.port = RawServerOnce("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", &t);
  r = Run(Grpc(""));
  t.join();
  EXPECT_EQ(r.output, "not HTTP/2 (the server answered HTTP/1.x)");
  // A frame header announcing 16 MiB of DATA on stream 0: a protocol error, not a wait.
  target_.port = RawServerOnce(std::string("\xff\xff\xff\x00\x00\x00\x00\x00\x00", 9), &t);
  r = Run(Grpc(""));
  t.join();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output.find('\n'), std::string::npos) << r.output;
  // Which of the two depends on whether the close arrives with the frame.
  EXPECT_TRUE(r.output.starts_with("HTTP/2 protocol error: ") ||
              r.output.starts_with("connection closed before the answer ended"))
      << r.output;
}

TEST_F(GrpcProbeTest, TlsWithAlpnH2) {
  auto [cert, key] = Cert();
  StartNode({"h2", cert, key});
  config::Healthcheck hc = Grpc("");
  hc.scheme = config::Healthcheck::Scheme::kHttps;
  ProbeResult r = Run(hc);
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "SERVING");
  hc.grpc_service = "down";
  r = Run(hc);
  EXPECT_EQ(r.output, "NOT_SERVING");
  // Verified against the right CA and name.
  hc.grpc_service = "";
  hc.ca_file = cert;
  hc.server_name = "app.internal";
  r = Run(hc);
  EXPECT_TRUE(r.ok) << r.output;
  hc.server_name = "db.internal";
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("certificate verify failed"), std::string::npos) << r.output;
  // A clear-text probe of the TLS port is not HTTP/2 to it.
  r = Run(Grpc(""));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output.find('\n'), std::string::npos) << r.output;
}

TEST_F(GrpcProbeTest, TlsServerWithoutH2IsNamed) {
  auto [cert, key] = Cert();
  StartNode({"tls-h1", cert, key});
  config::Healthcheck hc = Grpc("");
  hc.scheme = config::Healthcheck::Scheme::kHttps;
  ProbeResult r = Run(hc);
  EXPECT_FALSE(r.ok);
  // Node refuses a handshake whose ALPN lists have nothing in common (RFC 7301's alert).
  EXPECT_NE(r.output.find("TLS handshake failed: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no application protocol"), std::string::npos) << r.output;
}

TEST_F(GrpcProbeTest, TlsServerWithoutAlpnIsNotHttp2) {
  // slipway's own HTTPS server speaks HTTP/1.1 and answers no ALPN to a client offering h2.
  auto [cert, key] = Cert();
  auto tls = net::TlsServerContext::Create({{cert, key}}, std::make_shared<net::TicketKeys>(),
                                           std::time(nullptr));
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  auto listener = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  target_.port = *net::LocalPort(listener->get());
  http::ServerOptions opt;
  opt.tls = *tls;
  auto server = http::HttpServer::Create(
      loop_.get(), std::move(listener).value(),
      [](const http::Request&, http::ResponseWriter w) { w.Send(http::Response::Text(200, "ok")); },
      opt);
  ASSERT_TRUE(server.ok()) << server.status().message();
  config::Healthcheck hc = Grpc("");
  hc.scheme = config::Healthcheck::Scheme::kHttps;
  ProbeResult r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "not HTTP/2 (the server chose no ALPN protocol)");
  // The HTTP probe of an h2 service says the same, after what it asked for.
  hc.kind = Kind::kHttp;
  hc.http_path = "/health";
  hc.http2 = true;
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "GET https://127.0.0.1:" + std::to_string(target_.port) +
                          "/health (HTTP/2): not HTTP/2 (the server chose no ALPN protocol)");
}

TEST_F(GrpcProbeTest, HttpProbeOfAnH2OnlyServerSpeaksHttp2) {
  StartNode({"h2c"});
  config::Healthcheck hc;
  hc.kind = Kind::kHttp;
  hc.http_path = "/health";
  hc.timeout = Duration(2'000);
  // HTTP/1.1 to an h2-only server fails (what `upstream.protocol: h2` services got before).
  ProbeResult r = Run(hc);
  EXPECT_FALSE(r.ok) << r.output;
  hc.http2 = true;
  r = Run(hc);
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "HTTP 200: ok");
  hc.http_path = "/fail";
  r = Run(hc);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "HTTP 503: failing");
  // Over TLS too (ALPN h2 only).
  node_.Stop();
  auto [cert, key] = Cert();
  StartNode({"h2", cert, key});
  hc.http_path = "/health";
  hc.scheme = config::Healthcheck::Scheme::kHttps;
  r = Run(hc);
  EXPECT_TRUE(r.ok) << r.output;
}

}  // namespace
}  // namespace slipway::health
