// TLS-ALPN-01 (RFC 8737): the self-signed validation certificate a TLS server presents, during
// a handshake that offers ALPN "acme-tls/1" with SNI = the domain, to prove control of it.
//
// The certificate names exactly the domain (subjectAltName dNSName) and carries the critical
// acmeIdentifier extension (id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31) whose value is the DER
// OCTET STRING of SHA-256(key authorization). MakeTlsAlpnCertificate is the pure function
// that makes it (any thread); TlsAlpnResponder answers an authorization with it through the
// table the TLS listeners read (net/tls_alpn_challenges.h), which serve it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "acme/challenge.h"
#include "acme/key.h"
#include "base/clock.h"
#include "base/status.h"
#include "net/tls_alpn_challenges.h"
#include "net/tls_context.h"

namespace slipway::acme {

inline constexpr const char* kAcmeTlsAlpnProtocol = "acme-tls/1";
inline constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

// PEM certificate for `domain`, valid from `now_unix_s` - 1 h for 7 days, key `key`.
Result<std::string> MakeTlsAlpnCertificate(const std::string& domain,
                                           const std::string& key_authorization, const EcKey& key,
                                           int64_t now_unix_s);

// A plain self-signed certificate for `names`, valid from `now_unix_s` - 1 h for 30 days: what
// HTTPS answers with for a name until its certificate is issued (clients reject it, as they
// should, and no handshake is left hanging).
Result<std::string> MakePlaceholderCertificate(const std::vector<std::string>& names,
                                               const EcKey& key, int64_t now_unix_s);

// Answers tls-alpn-01 challenges (RFC 8737) through a table the TLS listeners read
// (net/tls_alpn_challenges.h): Present makes the validation certificate for the domain and
// key authorization, with a fresh P-256 key, and puts it in the table; CleanUp removes it
// when the authorization is settled. Safe from any thread.
class TlsAlpnResponder final : public ChallengeResponder {
 public:
  TlsAlpnResponder(std::shared_ptr<net::TlsAlpnChallenges> table, Clock* clock = Clock::Real())
      : table_(std::move(table)), clock_(clock) {}
  ChallengeType type() const override { return ChallengeType::kTlsAlpn01; }
  Status Present(const std::string& domain, const std::string& token,
                 const std::string& key_authorization) override;
  void CleanUp(const std::string& token) override;
  const std::shared_ptr<net::TlsAlpnChallenges>& table() const { return table_; }

 private:
  std::shared_ptr<net::TlsAlpnChallenges> table_;
  Clock* clock_;
  std::mutex mu_;
  std::map<std::string, std::string> domains_;  // token → domain, while presented
};

// A TLS-ALPN-01 responder of its own, for `slipway certs issue --challenge tls-alpn-01`: a
// TLS listener on host:port (the CA connects to :443 of each name) that answers only
// validation handshakes (ALPN acme-tls/1, SNI a pending name) through a TlsAlpnResponder,
// with a self-signed placeholder as its default certificate; every other handshake fails.
// Nothing but the handshake is served; each connection is closed after it (RFC 8737 3).
// Connections are handled one at a time on its own thread, each bounded by 5 s.
//
// Threads: Start/Stop/destructor on the owner's thread; Present/CleanUp from any.
class TlsAlpn01Server final : public ChallengeResponder {
 public:
  TlsAlpn01Server();
  ~TlsAlpn01Server() override;
  TlsAlpn01Server(const TlsAlpn01Server&) = delete;
  TlsAlpn01Server& operator=(const TlsAlpn01Server&) = delete;

  // Listens on host:port (port 0: any free port, see port()) and serves on a new thread.
  Status Start(const std::string& host, int port);
  void Stop();
  int port() const { return port_; }

  ChallengeType type() const override { return ChallengeType::kTlsAlpn01; }
  Status Present(const std::string& domain, const std::string& token,
                 const std::string& key_authorization) override {
    return responder_.Present(domain, token, key_authorization);
  }
  void CleanUp(const std::string& token) override { responder_.CleanUp(token); }

 private:
  void Serve();

  TlsAlpnResponder responder_;
  std::shared_ptr<const net::TlsServerContext> ctx_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace slipway::acme
