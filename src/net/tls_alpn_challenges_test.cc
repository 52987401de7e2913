#include "net/tls_alpn_challenges.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "net/tls_context.h"
#include "net/tls_test_certs.h"
#include "net/tls_transport.h"

namespace slipway::net {
namespace {

namespace fs = std::filesystem;
using testing::MakeTestCert;
using testing::WriteTestFile;

using Kind = AlpnChallengeDecision::Kind;

// The wire form of an ALPN extension body for `protocols`.
std::string Alpn(const std::vector<std::string>& protocols) {
  std::string list;
  for (const std::string& p : protocols) list += static_cast<char>(p.size()) + p;
  return std::string{static_cast<char>(list.size() >> 8), static_cast<char>(list.size() & 0xff)} +
         list;
}

// The wire form of a server_name extension body with one host_name.
std::string Sni(const std::string& host) {
  std::string entry = std::string{'\0', static_cast<char>(host.size() >> 8),
                                  static_cast<char>(host.size() & 0xff)} +
                      host;
  return std::string{static_cast<char>(entry.size() >> 8), static_cast<char>(entry.size() & 0xff)} +
         entry;
}

std::string PeerName(SSL* ssl) {
  X509* x = SSL_get1_peer_certificate(ssl);
  if (!x) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  X509_free(x);
  return cn;
}

TEST(TlsAlpnChallengesTest, TableHoldsCheckedPairsByLowerCaseName) {
  TlsAlpnChallenges table;
  testing::TestCert c = MakeTestCert({"app.test"});
  ASSERT_TRUE(table.Put("App.Test", c.cert_pem, c.key_pem).ok());
  EXPECT_NE(table.Find("app.test"), nullptr);
  EXPECT_EQ(table.Find("other.test"), nullptr);
  testing::TestCert other = MakeTestCert({"other.test"});
  EXPECT_FALSE(table.Put("x.test", c.cert_pem, other.key_pem).ok());  // key does not match
  EXPECT_FALSE(table.Put("x.test", "not pem", c.key_pem).ok());
  EXPECT_FALSE(table.Put("", c.cert_pem, c.key_pem).ok());
  EXPECT_FALSE(table.Put("a b.test", c.cert_pem, c.key_pem).ok());
  EXPECT_FALSE(table.Put(std::string(254, 'a'), c.cert_pem, c.key_pem).ok());
  EXPECT_EQ(table.size(), 1u);
  table.Remove("APP.test");
  EXPECT_EQ(table.Find("app.test"), nullptr);
  EXPECT_EQ(table.size(), 0u);
}

TEST(TlsAlpnChallengesTest, ParsesAlpnAndServerNameAndRefusesMalformedOnes) {
  const std::string wire = Alpn({"h2", "acme-tls/1"});  // the views point into it
  auto p = ParseAlpnProtocols(wire);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, (std::vector<std::string_view>{"h2", "acme-tls/1"}));
  EXPECT_FALSE(ParseAlpnProtocols(""));
  EXPECT_FALSE(ParseAlpnProtocols(std::string("\x00\x00", 2)));  // empty list
  EXPECT_FALSE(
      ParseAlpnProtocols(std::string("\x00\x05\x0a"
                                     "acme",
                                     7)));                               // longer than sent
  EXPECT_FALSE(ParseAlpnProtocols(std::string("\x00\x02\x00\x00", 4)));  // empty protocol
  EXPECT_FALSE(ParseAlpnProtocols(std::string("\x00\x09\x02h2", 5)));    // list length lies

  EXPECT_EQ(ParseServerName(Sni("app.test")), "app.test");
  EXPECT_FALSE(ParseServerName(""));
  EXPECT_FALSE(ParseServerName(Sni("")));
  EXPECT_FALSE(ParseServerName(Sni(std::string(254, 'a'))));  // oversize
  EXPECT_TRUE(ParseServerName(Sni(std::string(253, 'a'))));
  std::string lying = Sni("app.test");
  lying[4] = 0x40;  // the name's length points past the end
  EXPECT_FALSE(ParseServerName(lying));
  std::string two = Sni("a.test");
  two = two.substr(2) + two.substr(2);  // two host_names in one list
  two = std::string{0, static_cast<char>(two.size())} + two;
  EXPECT_FALSE(ParseServerName(two));
}

TEST(TlsAlpnChallengesTest, DecidesByAlpnThenServerName) {
  TlsAlpnChallenges table;
  testing::TestCert c = MakeTestCert({"app.test"});
  ASSERT_TRUE(table.Put("app.test", c.cert_pem, c.key_pem).ok());

  // No ALPN, or ALPN without acme-tls/1 (malformed lists are OpenSSL's to refuse): unchanged.
  EXPECT_EQ(InspectAlpnChallenge(std::nullopt, Sni("app.test"), table).kind, Kind::kNormal);
  EXPECT_EQ(InspectAlpnChallenge(Alpn({"h2", "http/1.1"}), Sni("app.test"), table).kind,
            Kind::kNormal);
  EXPECT_EQ(InspectAlpnChallenge(std::string("\x00\x01", 2), Sni("app.test"), table).kind,
            Kind::kNormal);

  AlpnChallengeDecision d = InspectAlpnChallenge(Alpn({"acme-tls/1"}), Sni("APP.test"), table);
  EXPECT_EQ(d.kind, Kind::kServe);
  EXPECT_EQ(d.name, "app.test");
  EXPECT_EQ(d.cert, table.Find("app.test"));
  EXPECT_EQ(InspectAlpnChallenge(Alpn({"acme-tls/1"}), Sni("app.test."), table).kind, Kind::kServe);

  // Hostile or unknown: refused, never a normal handshake.
  d = InspectAlpnChallenge(Alpn({"acme-tls/1"}), std::nullopt, table);
  EXPECT_EQ(d.kind, Kind::kRefuse);
  EXPECT_EQ(d.why, "acme-tls/1 offered without a server name");
  d = InspectAlpnChallenge(Alpn({"http/1.1", "acme-tls/1"}), Sni("other.test"), table);
  EXPECT_EQ(d.kind, Kind::kRefuse);
  EXPECT_NE(d.why.find("other.test"), std::string::npos) << d.why;
  EXPECT_EQ(d.cert, nullptr);
  for (const std::string& bad :
       {Sni(std::string(300, 'a')), Sni(std::string(254, 'a')), Sni("app.test\n"),
        Sni(std::string("app.test\0x", 10)), Sni(""), std::string("\x00", 1), std::string()}) {
    d = InspectAlpnChallenge(Alpn({"acme-tls/1"}), bad, table);
    EXPECT_EQ(d.kind, Kind::kRefuse);
    EXPECT_EQ(d.why, "acme-tls/1 offered with a malformed server name");
  }
}

class AlpnHandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-alpn-XXXXXX";
    dir_ = mkdtemp(tmpl);
    // The listener's own certificate is RSA: a client preferring RSA-PSS would get it if the
    // challenge certificate were only added beside it.
    testing::TestCert normal = MakeTestCert({"app.test"}, -3600, 90L * 86400, /*rsa=*/true);
    TlsServerContext::CertificatePaths p{dir_ + "/app.pem", dir_ + "/app.key"};
    WriteTestFile(p.cert, normal.cert_pem);
    WriteTestFile(p.key, normal.key_pem);
    table_ = std::make_shared<TlsAlpnChallenges>();
    validation_ = MakeTestCert({"validation.app.test"});
    ASSERT_TRUE(table_->Put("app.test", validation_.cert_pem, validation_.key_pem).ok());
    // app.test speaks HTTP/2 too: a validation must not be turned into h2 by the SNI callback.
    auto ctx = TlsServerContext::Create({p}, nullptr, std::time(nullptr), {{"app.test", true}});
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    ASSERT_TRUE(AnswerAlpnChallenges(**ctx, table_).ok());
    ctx_ = *ctx;
    cctx_ = SSL_CTX_new(TLS_client_method());
  }
  void TearDown() override {
    SSL_CTX_free(cctx_);
    fs::remove_all(dir_);
  }

  struct Outcome {
    bool handshake = false;                 // the client finished its handshake
    IoStatus server = IoStatus::kWantRead;  // the server's last Handshake() answer
    std::string alpn;                       // what the client got
    std::string peer;                       // the CN of the certificate presented
    bool closed = false;                    // the client then reads close_notify or EOF
  };
  Outcome Connect(const std::string& sni, const std::string& alpn_wire) {
    Outcome o;
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    auto server = TlsTransport::Accept(ctx_, sv[0]);
    SSL* ssl = SSL_new(cctx_);
    SSL_set_fd(ssl, sv[1]);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
    if (!alpn_wire.empty()) {
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn_wire.data()),
                          static_cast<unsigned>(alpn_wire.size()));
    }
    SSL_set_connect_state(ssl);
    for (int i = 0; i < 100; ++i) {
      if (o.server == IoStatus::kWantRead || o.server == IoStatus::kWantWrite) {
        o.server = server->Handshake().status;
      }
      if (!o.handshake) o.handshake = SSL_do_handshake(ssl) == 1;
      if (o.handshake && o.server != IoStatus::kWantRead && o.server != IoStatus::kWantWrite) {
        break;
      }
    }
    if (o.handshake) {
      const unsigned char* a = nullptr;
      unsigned len = 0;
      SSL_get0_alpn_selected(ssl, &a, &len);
      if (a) o.alpn.assign(reinterpret_cast<const char*>(a), len);
      o.peer = PeerName(ssl);
      char buf[64];
      int rc = SSL_read(ssl, buf, sizeof buf);
      int err = SSL_get_error(ssl, rc);
      o.closed = rc <= 0 && (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL);
    }
    SSL_free(ssl);
    server.reset();
    close(sv[0]);
    close(sv[1]);
    return o;
  }

  std::string dir_;
  std::shared_ptr<TlsAlpnChallenges> table_;
  testing::TestCert validation_;
  std::shared_ptr<const TlsServerContext> ctx_;
  SSL_CTX* cctx_ = nullptr;
};

const std::string kAcmeOnly = std::string("\x0a") + "acme-tls/1";
const std::string kHttp11 = std::string("\x08") + "http/1.1";

TEST_F(AlpnHandshakeTest, AcmeTlsForAPendingNamePresentsTheValidationCertificateThenCloses) {
  Outcome o = Connect("app.test", kAcmeOnly);
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.alpn, "acme-tls/1");
  EXPECT_EQ(o.peer, "validation.app.test");
  EXPECT_EQ(o.server, IoStatus::kEof);  // the server's side ends with the handshake
  EXPECT_TRUE(o.closed);
}

TEST_F(AlpnHandshakeTest, OtherHandshakesAreUnchanged) {
  Outcome o = Connect("app.test", kHttp11);
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.alpn, "http/1.1");
  EXPECT_EQ(o.peer, "app.test");
  EXPECT_EQ(o.server, IoStatus::kOk);
  o = Connect("app.test", "");
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.alpn, "");
  EXPECT_EQ(o.peer, "app.test");
  // Once the authorization ends, acme-tls/1 for the name is refused, not served normally.
  table_->Remove("app.test");
  o = Connect("app.test", kAcmeOnly);
  EXPECT_FALSE(o.handshake);
  EXPECT_EQ(o.server, IoStatus::kError);
}

// A name offered h2 (TlsServerContext::H2Names) gets h2 from an ordinary client, while a
// validation for the same name still gets acme-tls/1 and the validation certificate alone.
TEST_F(AlpnHandshakeTest, AnH2NameStillAnswersValidations) {
  const std::string h2 = std::string("\x02") + "h2";
  Outcome o = Connect("app.test", h2 + kHttp11);
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.alpn, "h2");
  EXPECT_EQ(o.peer, "app.test");
  EXPECT_EQ(o.server, IoStatus::kOk);
  o = Connect("app.test", h2 + kAcmeOnly);
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.alpn, "acme-tls/1");
  EXPECT_EQ(o.peer, "validation.app.test");
  EXPECT_EQ(o.server, IoStatus::kEof);
}

TEST_F(AlpnHandshakeTest, HostileAcmeTlsHellosFailTheHandshake) {
  for (const std::string& sni :
       {std::string(), std::string("other.test"), std::string(250, 'a') + ".test"}) {
    Outcome o = Connect(sni, kAcmeOnly);
    EXPECT_FALSE(o.handshake) << sni;
    EXPECT_EQ(o.server, IoStatus::kError) << sni;
    EXPECT_NE(o.peer, "validation.app.test");
  }
  // acme-tls/1 among other protocols still counts as a validation attempt.
  Outcome o = Connect("other.test", kHttp11 + kAcmeOnly);
  EXPECT_FALSE(o.handshake);
  o = Connect("app.test", kHttp11 + kAcmeOnly);  // app.test is pending here
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.alpn, "acme-tls/1");
}

}  // namespace
}  // namespace slipway::net
