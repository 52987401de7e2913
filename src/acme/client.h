// AcmeClient: issues a certificate from an ACME CA (RFC 8555) with the challenge its
// ChallengeResponder answers (HTTP-01 or TLS-ALPN-01, acme/challenge.h).
//
// One Issue() call: fetch the directory, register (or find) the account for the account key
// (newAccount with `jwk`, every later request signed with `kid`), newOrder for exactly the
// given names, for each pending authorization present the key authorization through the
// ChallengeResponder and ask the CA to validate, poll (honouring Retry-After, bounded by
// order_timeout), finalize with a CSR for a fresh P-256 key, poll until the certificate is
// ready, download the PEM chain and check that it names the names and matches the key.
//
// Nonces: every response's Replay-Nonce is kept for the next request; a badNonce rejection is
// retried with the fresh nonce up to max_bad_nonce_retries times (CAs may reject any nonce).
// Failures are one line: which step, the CA's origin, and the server's problem detail
// (type and detail; for a failed challenge the challenge's own error), never a secret.
//
// Threads: blocking; one Issue() at a time per client, on any one thread. It sleeps while
// polling through Options::sleep (tests may inject one).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acme/certs.h"
#include "acme/challenge.h"
#include "acme/key.h"
#include "base/cancel.h"
#include "base/clock.h"
#include "base/status.h"
#include "tlsclient/https_client.h"

namespace slipway::acme {

struct AcmeOptions {
  std::string directory_url;           // see directory.h for presets
  std::vector<std::string> contact;    // e.g. "mailto:ops@example.org"; may be empty
  tlsclient::TlsClientOptions tls;     // trust for the CA's HTTPS (default: system store)
  Duration request_timeout{30'000};    // each HTTP exchange
  Duration order_timeout{180'000};     // polling for one authorization / the order, each
  Duration poll_interval{1'000};       // when the CA sends no Retry-After
  Duration max_poll_interval{10'000};  // a larger Retry-After is capped to this
  int max_bad_nonce_retries = 10;
  Clock* clock = Clock::Real();
  std::function<void(Duration)> sleep;  // default: this thread sleeps
  // Raised by another thread (the owner stopping): Issue() returns kAborted at once — checked
  // between steps; a poll sleep waits on it, and each HTTP exchange wakes on it
  // (tlsclient::HttpsRequest::cancel). With an injected `sleep` the sleep is cut in 100 ms
  // slices instead, checked between them. Null: never.
  std::shared_ptr<const CancelSignal> cancel;
};

// An RFC 7807 problem document from the CA.
struct Problem {
  std::string type;  // e.g. urn:ietf:params:acme:error:unauthorized
  std::string detail;
  int status = 0;
  std::string ToString() const;  // "detail (unauthorized)"
};

struct IssuedCert {
  std::string chain_pem;
  CertInfo info;
  std::string order_url;
};

class AcmeClient {
 public:
  // The account key is the caller's (see CertStore::AccountKeyPath, EcKey::LoadOrCreate).
  AcmeClient(AcmeOptions options, EcKey account_key);

  // Issues a certificate for `names` (1 to 100 distinct host names) whose key is `cert_key`.
  Result<IssuedCert> Issue(const std::vector<std::string>& names, const EcKey& cert_key,
                           ChallengeResponder* responder);

  // The account URL once known (after a successful newAccount).
  const std::string& account_url() const { return kid_; }
  // badNonce rejections retried so far (for tests and logs).
  int bad_nonce_retries() const { return bad_nonce_retries_; }

 private:
  struct Reply {
    int status = 0;
    nlohmann::json body;  // parsed JSON body, or null
    std::string raw;      // the body as received
    std::string location;
    Duration retry_after{0};  // 0 when absent
  };
  Status LoadDirectory();
  Status RefreshNonce();
  // A signed POST (empty payload = POST-as-GET); non-2xx answers become the problem's Status.
  Result<Reply> Post(const std::string& url, const std::string& payload, const std::string& step,
                     const std::string& accept = "");
  Status Account();
  Status Authorize(const std::string& authz_url, ChallengeResponder* responder);
  // Polls `url` (POST-as-GET) until its status is one of `done` or "invalid"/deadline.
  Result<Reply> PollUntil(const std::string& url, const std::vector<std::string>& done,
                          const std::string& step);
  void Sleep(Duration d);
  bool Cancelled() const { return opts_.cancel && opts_.cancel->raised(); }
  Status CancelledStatus() const;
  std::string Origin() const;

  AcmeOptions opts_;
  EcKey account_key_;
  tlsclient::HttpsClient http_;
  nlohmann::json directory_;
  std::string nonce_;
  std::string kid_;
  int bad_nonce_retries_ = 0;
  bool injected_sleep_ = false;  // Options::sleep was given (a test's clock)
};

}  // namespace slipway::acme
