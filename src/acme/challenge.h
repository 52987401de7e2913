// Challenge answering: HTTP-01 (RFC 8555 8.3) here, TLS-ALPN-01 (RFC 8737) in tls_alpn.h.
//
// ChallengeResponder is the seam between the ACME client and whatever answers the CA: its
// type() says which challenge of an authorization the client takes; the client calls
// Present() before telling the CA to validate and CleanUp() when the authorization is
// settled. For HTTP-01, whatever serves GET /.well-known/acme-challenge/<token> on port 80.
// ChallengeTable is the thread-safe token -> key authorization map a server consults (the proxy
// will hold one and answer from it ahead of its routes). Http01Server is a self-contained
// responder: a ChallengeTable served by an HttpServer on its own thread and loop, used by the tests
// and the manual `slipway certs issue` command.
//
// Threads: ChallengeTable is safe from any thread. Http01Server: Start/Stop/destructor on the
// owner's thread; Present/CleanUp from any thread (they only touch the table).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"

namespace slipway::net {
class EventLoop;
}
namespace slipway::http {
class HttpServer;
}

namespace slipway::acme {

inline constexpr std::string_view kChallengePathPrefix = "/.well-known/acme-challenge/";

enum class ChallengeType { kHttp01, kTlsAlpn01 };
std::string_view ChallengeTypeName(ChallengeType t);  // "http-01" | "tls-alpn-01"

class ChallengeResponder {
 public:
  virtual ~ChallengeResponder() = default;
  // The challenge this responder answers.
  virtual ChallengeType type() const { return ChallengeType::kHttp01; }
  // From now on GET kChallengePathPrefix + token for `domain` answers `key_authorization`.
  virtual Status Present(const std::string& domain, const std::string& token,
                         const std::string& key_authorization) = 0;
  // The token is no longer needed (validated or failed).
  virtual void CleanUp(const std::string& token) = 0;
};

class ChallengeTable final : public ChallengeResponder {
 public:
  Status Present(const std::string& domain, const std::string& token,
                 const std::string& key_authorization) override;
  void CleanUp(const std::string& token) override;
  // The key authorization for a request path, or nullopt when it is not a known challenge.
  std::optional<std::string> Answer(std::string_view path) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> tokens_;
};

class Http01Server final : public ChallengeResponder {
 public:
  Http01Server();
  ~Http01Server() override;
  Http01Server(const Http01Server&) = delete;
  Http01Server& operator=(const Http01Server&) = delete;

  // Listens on host:port (port 0: any free port, see port()) and serves on a new thread.
  Status Start(const std::string& host, int port);
  void Stop();
  int port() const { return port_; }

  Status Present(const std::string& domain, const std::string& token,
                 const std::string& key_authorization) override {
    return table_.Present(domain, token, key_authorization);
  }
  void CleanUp(const std::string& token) override { table_.CleanUp(token); }
  const ChallengeTable& table() const { return table_; }

 private:
  ChallengeTable table_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace slipway::acme
