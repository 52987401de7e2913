// CertManager: keeps one certificate per configured host name issued and renewed from an ACME
// CA, free of any daemon type so any owner (the project daemon today, a host-wide ingress
// later) can run it.
//
// It answers the challenge CertManagerOptions::challenge names: http-01 through the
// ChallengeTable the owner's plain HTTP listeners answer /.well-known/acme-challenge/ from
// (challenges()), or tls-alpn-01 through the TlsAlpnChallenges table the owner's TLS
// listeners read (tls_alpn_challenges(), net/tls_alpn_challenges.h). It owns one worker thread that
// does all the blocking work: for each name, PlanRenewal (renewal.h) says when; when due, a fresh
// P-256 key is generated, the Issuer is asked (AcmeClient in production), the chain is checked
// against the key (LeafMatchesKey) and saved through CertStore (0600). Every attempt, good or bad,
// is reported as a CertEvent through `post` (the owner's "run this on my thread"), never with a key
// in it. Failures feed the back-off of PlanRenewal. Names a certificate file covers are never
// ordered; only the names given are ever ordered.
//
// Stopping cancels an attempt under way (Issuer::SetCancel, a CancelSignal): a stop returns at
// once even while the CA does not answer or the attempt sleeps between polls (the raise wakes
// both), and the cut attempt is neither an event nor a failure.
//
// Threads: Start/Stop/Cancel/SetNames/RenewNow/Rows from the owner's thread (Rows from any).
// Issuer::Issue runs on the worker thread only. RunDue() is the worker's step, public so tests
// drive it with a fake clock and no thread. The ChallengeTable is safe from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "acme/challenge.h"
#include "acme/client.h"
#include "acme/renewal.h"
#include "acme/store.h"
#include "acme/tls_alpn.h"
#include "base/cancel.h"
#include "base/clock.h"
#include "base/status.h"

namespace slipway::acme {

// What obtains a certificate for names and a key. Blocking; called on the worker thread.
class Issuer {
 public:
  virtual ~Issuer() = default;
  virtual Result<IssuedCert> Issue(const std::vector<std::string>& names, const EcKey& cert_key,
                                   ChallengeResponder* responder) = 0;
  // The flag the manager raises when it stops: an Issue() under way should end soon after
  // (kAborted). Called once, before the worker starts. Default: ignored.
  virtual void SetCancel(std::shared_ptr<const CancelSignal> /*flag*/) {}
};

// The production issuer: an AcmeClient per attempt, the account key kept in the store.
class AcmeIssuer final : public Issuer {
 public:
  AcmeIssuer(AcmeOptions options, CertStore store)
      : options_(std::move(options)), store_(std::move(store)) {}
  Result<IssuedCert> Issue(const std::vector<std::string>& names, const EcKey& cert_key,
                           ChallengeResponder* responder) override;
  void SetCancel(std::shared_ptr<const CancelSignal> flag) override {
    options_.cancel = std::move(flag);
  }

 private:
  AcmeOptions options_;
  CertStore store_;
};

enum class CertEventKind { kIssued, kRenewed, kFailed };
std::string_view CertEventKindName(CertEventKind k);  // cert-issued | cert-renewed | ...

struct CertEvent {
  CertEventKind kind = CertEventKind::kIssued;
  std::string name;  // the certificate's (first) name
  std::vector<std::string> names;
  RenewalReason reason = RenewalReason::kNoCertificate;  // why it was attempted
  std::string error;                                     // kFailed: the CA's detail
  int64_t not_after_ms = 0;                              // issued/renewed
  std::string cert_path;                                 // issued/renewed: cert.pem, key.pem
  std::string key_path;
};

enum class CertState { kPending, kValid, kFailing };
std::string_view CertStateName(CertState s);  // pending | valid | failing

// One row of `slipway certs status`.
struct CertStatusRow {
  std::string name;
  CertState state = CertState::kPending;
  int64_t not_before_ms = 0;  // 0 without a certificate
  int64_t not_after_ms = 0;
  std::string issuer;
  RenewalReason plan = RenewalReason::kNoCertificate;
  int64_t next_attempt_ms = 0;
  std::string detail;  // the plan's one line
  int consecutive_failures = 0;
  int64_t last_attempt_ms = 0;
  std::string last_error;
};

struct CertManagerOptions {
  Clock* clock = Clock::Real();
  uint64_t seed = 0;  // renewal jitter; the owner picks one per host
  // Runs a task on the owner's thread. Required.
  std::function<void(std::function<void()>)> post;
  // Called (through `post`) after every attempt.
  std::function<void(const CertEvent&)> on_event;
  // The longest the worker sleeps before looking at the clock again.
  Duration max_sleep{60'000};
  // Which challenge of each authorization is answered.
  ChallengeType challenge = ChallengeType::kHttp01;
  // tls-alpn-01: the table validation certificates are put in (the owner's TLS listeners
  // read it; an owner keeps one across managers). Null: the manager makes its own.
  std::shared_ptr<net::TlsAlpnChallenges> tls_alpn;
  // http-01: the table key authorizations are put in (an owner running one manager per CA
  // account, as the host's ingress does, shares one table across them, since tokens are
  // unique). Null: the manager makes its own.
  std::shared_ptr<ChallengeTable> http01;
};

class CertManager {
 public:
  CertManager(CertManagerOptions options, std::shared_ptr<Issuer> issuer, CertStore store);
  ~CertManager();  // Stop()s
  CertManager(const CertManager&) = delete;
  CertManager& operator=(const CertManager&) = delete;

  // The names to keep certificates for (config::ResolveAcmeNames has left out those a
  // certificate file covers). Certificates already in the store are picked up. Names no
  // longer listed are forgotten (their files stay).
  void SetNames(const std::vector<std::string>& names);
  // Starts the worker thread. Idempotent.
  void Start();
  // Asks the worker to stop and the attempt under way to end (the issuer's cancel flag),
  // without waiting; Stop() or the destructor joins. An attempt cut so is not reported.
  void Cancel();
  // Cancel(), then waits for the worker: milliseconds with AcmeIssuer (acme/client.h).
  void Stop();
  // Renews `name` at the next step regardless of its plan (an operator's forced renewal).
  // NotFound when the name is not managed.
  Status RenewNow(const std::string& name);

  // Issues what is due now; returns when the next attempt is due (Unix ms; INT64_MAX: never).
  int64_t RunDue();

  std::vector<CertStatusRow> Rows() const;
  // The certificates held now: name → (cert.pem, key.pem) paths in the store.
  std::map<std::string, std::pair<std::string, std::string>> Certificates() const;

  std::shared_ptr<const ChallengeTable> challenges() const { return challenges_; }
  std::shared_ptr<const net::TlsAlpnChallenges> tls_alpn_challenges() const {
    return tls_alpn_ ? tls_alpn_->table() : nullptr;
  }
  const CertStore& store() const { return store_; }

 private:
  struct Entry {
    RenewalState state;
    std::string issuer;
    bool forced = false;
    int64_t last_attempt_ms = 0;
  };
  RenewalPlan PlanFor(const std::string& name, const Entry& e, int64_t now) const;
  void Attempt(const std::string& name, RenewalReason reason);
  void Loop();

  CertManagerOptions opts_;
  std::shared_ptr<Issuer> issuer_;
  CertStore store_;
  std::shared_ptr<ChallengeTable> challenges_ = std::make_shared<ChallengeTable>();
  std::unique_ptr<TlsAlpnResponder> tls_alpn_;  // with ChallengeType::kTlsAlpn01

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
  bool stop_ = false;
  bool wake_ = false;
  // Raised by Cancel()/Stop(), read by the issuer on the worker thread.
  std::shared_ptr<CancelSignal> cancel_ = std::make_shared<CancelSignal>();
  std::thread thread_;
};

}  // namespace slipway::acme
