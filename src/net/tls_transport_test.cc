#include "net/tls_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "net/plain_transport.h"
#include "net/tls_test_certs.h"

namespace slipway::net {
namespace {

namespace fs = std::filesystem;
using testing::MakeTestCert;
using testing::WriteTestFile;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    a_ = sv[0];
    b_ = sv[1];
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
  }
  void TearDown() override {
    close(a_);
    close(b_);
    SSL_CTX_free(client_ctx_);
    fs::remove_all(dir_);
  }
  // Writes a certificate pair; returns its paths.
  TlsServerContext::CertificatePaths Write(const std::string& stem, const testing::TestCert& c) {
    TlsServerContext::CertificatePaths p{dir_ + "/" + stem + ".pem", dir_ + "/" + stem + ".key"};
    WriteTestFile(p.cert, c.cert_pem);
    WriteTestFile(p.key, c.key_pem);
    return p;
  }
  // Drives both handshakes over the socketpair (one thread, bounded).
  bool Pump(Transport* server, Transport* client) {
    for (int i = 0; i < 100; ++i) {
      IoResult s = server->Handshake();
      IoResult c = client->Handshake();
      if (s.status == IoStatus::kError || c.status == IoStatus::kError) return false;
      if (s.status == IoStatus::kOk && c.status == IoStatus::kOk) return true;
    }
    return false;
  }
  std::string ReadAll(Transport* t, size_t want) {
    std::string out;
    char buf[4096];
    for (int i = 0; i < 1000 && out.size() < want; ++i) {
      IoResult r = t->Read(buf, sizeof buf);
      if (r.status == IoStatus::kOk) out.append(buf, r.bytes);
      if (r.status == IoStatus::kEof || r.status == IoStatus::kError) break;
    }
    return out;
  }

  std::string dir_;
  int a_ = -1, b_ = -1;
  SSL_CTX* client_ctx_ = nullptr;
};

TEST_F(TlsTest, PlainTransportReadsWritesAndReportsWouldBlock) {
  PlainTransport pa(a_), pb(b_);
  char buf[16];
  EXPECT_EQ(pa.Read(buf, sizeof buf).status, IoStatus::kWantRead);
  iovec v[2] = {{const_cast<char*>("he"), 2}, {const_cast<char*>("llo"), 3}};
  IoResult w = pb.Writev(v, 2);
  ASSERT_EQ(w.status, IoStatus::kOk);
  EXPECT_EQ(w.bytes, 5u);
  IoResult r = pa.Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "hello");
  EXPECT_TRUE(r.drained);
  pb.ShutdownWrite();
  EXPECT_EQ(pa.Read(buf, sizeof buf).status, IoStatus::kEof);
  EXPECT_FALSE(pa.secure());
}

TEST_F(TlsTest, HandshakeAlpnAndDataBothWays) {
  auto ctx = TlsServerContext::Create({Write("a", MakeTestCert({"a.test"}))}, nullptr, Now());
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  auto server = TlsTransport::Accept(*ctx, a_);
  SSL_CTX_set_alpn_protos(client_ctx_, reinterpret_cast<const unsigned char*>("\x02h2\x08http/1.1"),
                          12);
  auto client = TlsTransport::Connect(client_ctx_, b_, "a.test");
  ASSERT_TRUE(Pump(server.get(), client.get()));
  EXPECT_EQ(server->alpn(), "http/1.1");
  EXPECT_EQ(server->version(), "TLSv1.3");
  EXPECT_EQ(server->server_name(), "a.test");
  EXPECT_TRUE(server->secure());

  std::string big(100 * 1024, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  iovec v[2] = {{const_cast<char*>("HEAD"), 4}, {big.data(), big.size()}};
  size_t sent = 0;
  std::string got;
  // The socketpair buffer is smaller than the payload: alternate writes and reads.
  std::string pending = std::string("HEAD") + big;
  for (int i = 0; i < 1000 && got.size() < pending.size(); ++i) {
    if (sent < pending.size()) {
      IoResult w = sent == 0 ? client->Writev(v, 2)
                             : client->Write(pending.data() + sent, pending.size() - sent);
      if (w.status == IoStatus::kOk) sent += w.bytes;
      ASSERT_NE(w.status, IoStatus::kError);
    }
    char buf[8192];
    IoResult r = server->Read(buf, sizeof buf);
    if (r.status == IoStatus::kOk) got.append(buf, r.bytes);
    ASSERT_NE(r.status, IoStatus::kError);
  }
  EXPECT_EQ(got, pending);
  ASSERT_EQ(server->Write("pong", 4).status, IoStatus::kOk);
  EXPECT_EQ(ReadAll(client.get(), 4), "pong");
  server->ShutdownWrite();
  char buf[8];
  IoResult r;
  for (int i = 0; i < 10; ++i) {
    r = client->Read(buf, sizeof buf);
    if (r.status != IoStatus::kWantRead) break;
  }
  EXPECT_EQ(r.status, IoStatus::kEof);
}

// A read that emptied both the socket and OpenSSL's buffer says so (the caller then waits for
// the next edge instead of a read that would only say kWantRead); one that left a record, or
// a part of one, in OpenSSL's buffer does not, and the rest is read whole.
TEST_F(TlsTest, ReadSaysDrainedOnlyWhenNothingIsLeft) {
  auto ctx = TlsServerContext::Create({Write("a", MakeTestCert({"a.test"}))}, nullptr, Now());
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  auto server = TlsTransport::Accept(*ctx, a_);
  auto client = TlsTransport::Connect(client_ctx_, b_, "a.test");
  ASSERT_TRUE(Pump(server.get(), client.get()));
  // Whatever the handshake left (TLS 1.3 tickets) is read by the client first.
  char buf[64];
  for (int i = 0; i < 10 && client->Read(buf, sizeof buf).status == IoStatus::kOk; ++i) {
  }

  ASSERT_EQ(client->Write("one request", 11).status, IoStatus::kOk);
  IoResult r = server->Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "one request");
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(server->Read(buf, sizeof buf).status, IoStatus::kWantRead);

  // Two records in one socket read: the first read returns the first and is not drained.
  ASSERT_EQ(client->Write("first", 5).status, IoStatus::kOk);
  ASSERT_EQ(client->Write("second", 6).status, IoStatus::kOk);
  r = server->Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "first");
  EXPECT_FALSE(r.drained);
  r = server->Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "second");
  EXPECT_TRUE(r.drained);

  // A record larger than the caller's buffer: the plaintext left in OpenSSL is not drained.
  const std::string big(100, 'z');
  ASSERT_EQ(client->Write(big.data(), big.size()).status, IoStatus::kOk);
  r = server->Read(buf, 40);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(r.bytes, 40u);
  EXPECT_FALSE(r.drained);
  std::string rest;
  for (int i = 0; i < 10 && rest.size() < 60; ++i) {
    r = server->Read(buf, sizeof buf);
    if (r.status == IoStatus::kOk) rest.append(buf, r.bytes);
  }
  EXPECT_EQ(rest, std::string(60, 'z'));
  EXPECT_TRUE(r.drained);
}

TEST_F(TlsTest, TlsTwelveWorksAndElevenIsRefused) {
  auto ctx = TlsServerContext::Create({Write("a", MakeTestCert({"a.test"}, -60, 86400, true))},
                                      nullptr, Now());
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  SSL_CTX_set_max_proto_version(client_ctx_, TLS1_2_VERSION);
  {
    auto server = TlsTransport::Accept(*ctx, a_);
    auto client = TlsTransport::Connect(client_ctx_, b_, "");
    ASSERT_TRUE(Pump(server.get(), client.get()));
    EXPECT_EQ(server->version(), "TLSv1.2");
  }
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  SSL_CTX_set_min_proto_version(client_ctx_, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(client_ctx_, TLS1_1_VERSION);
  SSL_CTX_set_security_level(client_ctx_, 0);
  auto server = TlsTransport::Accept(*ctx, sv[0]);
  auto client = TlsTransport::Connect(client_ctx_, sv[1], "");
  EXPECT_FALSE(Pump(server.get(), client.get()));
  server.reset();
  client.reset();
  close(sv[0]);
  close(sv[1]);
}

// The transport writes with send(MSG_NOSIGNAL): with SIGPIPE's default action (the CLI's), a
// write to a peer that has gone is an error, and the process lives.
TEST_F(TlsTest, WriteToAClosedPeerIsAnErrorNotSigpipe) {
  auto ctx = TlsServerContext::Create({Write("a", MakeTestCert({"a.test"}))}, nullptr, Now());
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  auto server = TlsTransport::Accept(*ctx, a_);
  auto client = TlsTransport::Connect(client_ctx_, b_, "a.test");
  ASSERT_TRUE(Pump(server.get(), client.get()));
  server.reset();
  close(a_);
  a_ = -1;
  EXPECT_EXIT(
      {
        signal(SIGPIPE, SIG_DFL);
        IoResult w;
        for (int i = 0; i < 10 && w.status != IoStatus::kError; ++i) w = client->Write("x", 1);
        std::exit(w.status == IoStatus::kError ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

std::string PeerName(SSL* ssl) {
  X509* x = SSL_get1_peer_certificate(ssl);
  if (!x) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  X509_free(x);
  return cn;
}

TEST(TlsContextTest, SniPicksExactThenWildcardThenDefault) {
  char tmpl[] = "/tmp/slipway-tls-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto write = [&](const std::string& stem, const testing::TestCert& c) {
    TlsServerContext::CertificatePaths p{dir + "/" + stem + ".pem", dir + "/" + stem + ".key"};
    WriteTestFile(p.cert, c.cert_pem);
    WriteTestFile(p.key, c.key_pem);
    return p;
  };
  auto ctx = TlsServerContext::Create(
      {write("def", MakeTestCert({"default.test"})), write("one", MakeTestCert({"one.test"})),
       write("wild", MakeTestCert({"*.wild.test"}))},
      nullptr, Now());
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  const TlsServerContext& c = **ctx;
  EXPECT_EQ(c.ForName("one.test"), c.ForName("ONE.test."));
  EXPECT_NE(c.ForName("one.test"), c.default_ctx());
  EXPECT_NE(c.ForName("x.wild.test"), c.default_ctx());
  EXPECT_EQ(c.ForName("a.b.wild.test"), c.default_ctx());  // a wildcard covers one label
  EXPECT_EQ(c.ForName("wild.test"), c.default_ctx());
  EXPECT_EQ(c.ForName("other.test"), c.default_ctx());
  ASSERT_EQ(c.certificates().size(), 3u);
  EXPECT_EQ(c.certificates()[2].label(), "*.wild.test");

  // Over a real handshake, the certificate presented follows the SNI name.
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  for (auto [sni, want] :
       std::vector<std::pair<std::string, std::string>>{{"one.test", "one.test"},
                                                        {"x.wild.test", "*.wild.test"},
                                                        {"", "default.test"},
                                                        {"nobody.test", "default.test"}}) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    auto server = TlsTransport::Accept(*ctx, sv[0]);
    SSL* ssl = SSL_new(cctx);
    SSL_set_fd(ssl, sv[1]);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
    SSL_set_connect_state(ssl);
    bool done = false;
    for (int i = 0; i < 100 && !done; ++i) {
      server->Handshake();
      done = SSL_do_handshake(ssl) == 1;
    }
    ASSERT_TRUE(done) << sni;
    EXPECT_EQ(PeerName(ssl), want) << sni;
    SSL_free(ssl);
    server.reset();
    close(sv[0]);
    close(sv[1]);
  }
  SSL_CTX_free(cctx);
  fs::remove_all(dir);
}

// One context for several sites (the host's ingress): h2 is offered by SNI name, exact names
// before wildcards, never without SNI or for a name outside the set; a client offering h2
// only, to a name without it, gets no ALPN at all rather than h2.
TEST_F(TlsTest, H2IsOfferedByServerName) {
  const TlsServerContext::H2Names names = {
      {"h2.test", true}, {"plain.test", false}, {"*.wild.test", true}, {"Exact.Wild.test", false}};
  auto ctx =
      TlsServerContext::Create({Write("all", MakeTestCert({"h2.test", "plain.test", "other.test",
                                                           "*.wild.test", "exact.wild.test"}))},
                               nullptr, Now(), names);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_TRUE((*ctx)->OffersH2("H2.test."));
  EXPECT_FALSE((*ctx)->OffersH2("exact.wild.test"));
  EXPECT_TRUE((*ctx)->OffersH2("x.wild.test"));
  EXPECT_FALSE((*ctx)->OffersH2("a.b.wild.test"));  // a wildcard covers one label
  EXPECT_FALSE((*ctx)->OffersH2(""));
  const std::string both = std::string("\x02h2\x08http/1.1", 12);
  const std::string h2_only = std::string("\x02h2", 3);
  struct Case {
    std::string sni;
    std::string offer;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{{"h2.test", both, "h2"},
                                         {"HX.test", both, "http/1.1"},
                                         {"plain.test", both, "http/1.1"},
                                         {"other.test", both, "http/1.1"},
                                         {"x.wild.test", both, "h2"},
                                         {"exact.wild.test", both, "http/1.1"},
                                         {"", both, "http/1.1"},
                                         {"plain.test", h2_only, ""},
                                         {"h2.test", h2_only, "h2"}}) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    auto server = TlsTransport::Accept(*ctx, sv[0]);
    SSL* ssl = SSL_new(client_ctx_);
    SSL_set_fd(ssl, sv[1]);
    if (!c.sni.empty()) SSL_set_tlsext_host_name(ssl, c.sni.c_str());
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(c.offer.data()),
                        static_cast<unsigned>(c.offer.size()));
    SSL_set_connect_state(ssl);
    bool done = false;
    for (int i = 0; i < 100 && !done; ++i) {
      server->Handshake();
      done = SSL_do_handshake(ssl) == 1;
    }
    ASSERT_TRUE(done) << c.sni;
    server->Handshake();  // the server's side finishes on the client's Finished
    EXPECT_EQ(server->alpn(), c.want) << c.sni;
    SSL_free(ssl);
    server.reset();
    close(sv[0]);
    close(sv[1]);
  }
}

TEST_F(TlsTest, SessionTicketsResumeAcrossContextsAndRotation) {
  auto tickets = std::make_shared<TicketKeys>();
  auto paths = Write("a", MakeTestCert({"a.test"}));
  auto ctx1 = TlsServerContext::Create({paths}, tickets, Now());
  ASSERT_TRUE(ctx1.ok());
  SSL_CTX_set_session_cache_mode(client_ctx_, SSL_SESS_CACHE_CLIENT);
  SSL_SESSION* session = nullptr;
  auto connect = [&](std::shared_ptr<const TlsServerContext> ctx, bool* resumed) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    auto server = TlsTransport::Accept(ctx, sv[0]);
    SSL* ssl = SSL_new(client_ctx_);
    SSL_set_fd(ssl, sv[1]);
    if (session) SSL_set_session(ssl, session);
    SSL_set_connect_state(ssl);
    bool done = false;
    for (int i = 0; i < 100 && !done; ++i) {
      server->Handshake();
      done = SSL_do_handshake(ssl) == 1;
    }
    ASSERT_TRUE(done);
    // TLS 1.3 tickets arrive after the handshake: exchange a byte so the client reads them.
    ASSERT_EQ(server->Write("x", 1).status, IoStatus::kOk);
    char c;
    for (int i = 0; i < 100 && SSL_read(ssl, &c, 1) != 1; ++i) {
    }
    *resumed = SSL_session_reused(ssl) == 1;
    if (session) SSL_SESSION_free(session);
    session = SSL_get1_session(ssl);
    SSL_shutdown(ssl);  // freed without it, OpenSSL marks the session not resumable
    SSL_free(ssl);
    close(sv[0]);
    close(sv[1]);
  };
  bool resumed = true;
  connect(*ctx1, &resumed);
  EXPECT_FALSE(resumed);
  connect(*ctx1, &resumed);
  EXPECT_TRUE(resumed);
  connect(*ctx1, &resumed);
  EXPECT_TRUE(resumed) << "again";
  // A reloaded context sharing the keys still resumes; so does one rotation.
  auto ctx2 = TlsServerContext::Create({paths}, tickets, Now());
  ASSERT_TRUE(ctx2.ok());
  connect(*ctx2, &resumed);
  EXPECT_TRUE(resumed) << "reloaded";
  tickets->Rotate();
  connect(*ctx2, &resumed);
  EXPECT_TRUE(resumed) << "rotated";
  // Two rotations later the key is gone: a full handshake.
  tickets->Rotate();
  tickets->Rotate();
  connect(*ctx2, &resumed);
  EXPECT_FALSE(resumed);
  SSL_SESSION_free(session);
}

TEST_F(TlsTest, LoadErrorsNameTheFileAndTheReason) {
  auto good = MakeTestCert({"a.test"});
  auto other = MakeTestCert({"b.test"});
  auto p = Write("a", good);
  EXPECT_TRUE(LoadCertificate(p.cert, p.key, Now()).cert != nullptr);

  LoadResult r = LoadCertificate(dir_ + "/missing.pem", p.key, Now());
  EXPECT_EQ(r.error.file, CertificateFile::kCert);
  EXPECT_NE(r.error.reason.find("missing.pem: cannot read"), std::string::npos) << r.error.reason;

  WriteTestFile(dir_ + "/other.key", other.key_pem);
  r = LoadCertificate(p.cert, dir_ + "/other.key", Now());
  EXPECT_EQ(r.error.file, CertificateFile::kKey);
  EXPECT_NE(r.error.reason.find("does not match"), std::string::npos) << r.error.reason;

  WriteTestFile(dir_ + "/junk.pem", "hello\n");
  r = LoadCertificate(dir_ + "/junk.pem", p.key, Now());
  EXPECT_NE(r.error.reason.find("not a PEM certificate"), std::string::npos) << r.error.reason;
  r = LoadCertificate(p.cert, dir_ + "/junk.pem", Now());
  EXPECT_EQ(r.error.file, CertificateFile::kKey);
  EXPECT_NE(r.error.reason.find("not a PEM private key"), std::string::npos) << r.error.reason;

  auto expired = Write("old", MakeTestCert({"a.test"}, -10 * 86400, -86400));
  r = LoadCertificate(expired.cert, expired.key, Now());
  EXPECT_NE(r.error.reason.find("certificate expired on"), std::string::npos) << r.error.reason;
  auto future = Write("new", MakeTestCert({"a.test"}, 86400, 10 * 86400));
  r = LoadCertificate(future.cert, future.key, Now());
  EXPECT_NE(r.error.reason.find("not valid before"), std::string::npos) << r.error.reason;

  EXPECT_FALSE(TlsServerContext::Create({expired}, nullptr, Now()).ok());
  EXPECT_FALSE(TlsServerContext::Create({}, nullptr, Now()).ok());
}

}  // namespace
}  // namespace slipway::net
