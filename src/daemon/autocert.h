// AutoCert: the daemon's side of `x-slipway.tls.acme`. It runs an acme::CertManager for the
// names the project orders (issuing on the manager's worker thread), turns each attempt into
// a log line and a `cert-issued` / `cert-renewed` / `cert-issue-failed` event, and tells the
// daemon when the certificates it serves changed so the TLS context is rebuilt through the
// usual reload path.
//
// The challenge is the project's (`x-slipway.tls.acme.challenge`): http-01 through the
// manager's ChallengeTable, which the daemon puts on its plain listeners; tls-alpn-01 through
// the TlsAlpnChallenges table this class owns for its whole life (one table across managers,
// so the daemon hands it to its TLS context once), which the HTTPS listeners read.
//
// Until a name has its certificate, HTTPS answers with a self-signed placeholder for the
// ordered names (placeholder.pem in the project's state folder), so a TLS listener can open
// before anything is issued; clients reject it, as they would any certificate they cannot
// verify, and nothing hangs.
//
// Threads: the control loop only; the manager's worker reaches it through loop->Post().
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "acme/cert_manager.h"
#include "base/status.h"
#include "config/project.h"
#include "net/event_loop.h"
#include "net/tls_alpn_challenges.h"
#include "net/tls_context.h"
#include "store/store.h"

namespace slipway::daemon {

// Logs one ACME attempt and appends its project event (cert-issued, cert-renewed or
// cert-issue-failed; `store` may be null), whoever made it: this daemon's CertManager or the
// host's ingress for the project (`via` then names it in the log line).
void RecordCertEvent(store::Store* store, const acme::CertEvent& e, const std::string& via = "");

class AutoCert {
 public:
  // `changed` runs on the loop after a certificate was issued or renewed.
  AutoCert(net::EventLoop* loop, store::Store* store, std::filesystem::path state_dir,
           std::function<void(const std::string& why)> changed);
  ~AutoCert();  // stops the worker
  AutoCert(const AutoCert&) = delete;
  AutoCert& operator=(const AutoCert&) = delete;

  // Follows the project's settings: starts, retargets (names, directory) or stops issuing.
  // Cheap when nothing changed; call before every publish.
  Status Follow(const config::Project& project);

  // What the proxy listens on now: a plain listener answering http-01 challenges, an HTTPS
  // listener (which answers tls-alpn-01). Issuing starts once the project's challenge is
  // answered (an attempt before would fail and wait out the back-off).
  // `anything_published`: the proxy listens at all (services run), so a missing challenge
  // listener is worth a warning.
  void SetServing(bool http01_answered, bool tls_listening, bool anything_published);

  // Renews `name` now (NotFound when it is not ordered).
  Status RenewNow(const std::string& name) { return manager_->RenewNow(name); }

  bool active() const { return manager_ != nullptr; }
  const acme::CertManager* manager() const { return manager_.get(); }
  // The table plain listeners answer HTTP-01 from (null when inactive or with tls-alpn-01).
  std::shared_ptr<const acme::ChallengeTable> challenges() const;
  // The table TLS listeners answer TLS-ALPN-01 from: the same for the object's life, empty
  // unless a tls-alpn-01 authorization is pending.
  std::shared_ptr<const net::TlsAlpnChallenges> tls_alpn_challenges() const { return tls_alpn_; }
  // Issued certificates to serve, then the placeholder when no ordered name has one yet.
  std::vector<net::TlsServerContext::CertificatePaths> Certificates() const;
  // The placeholder's cert.pem (its expiry is not worth an alert).
  std::string placeholder_cert() const { return (state_dir_ / "placeholder.pem").string(); }

 private:
  void OnEvent(const acme::CertEvent& e);
  Status MakePlaceholder(const std::vector<std::string>& names);

  net::EventLoop* loop_;
  store::Store* store_;
  std::filesystem::path state_dir_;
  std::function<void(const std::string&)> changed_;
  std::unique_ptr<acme::CertManager> manager_;
  std::string settings_key_;  // directory, contact, trust, challenge: a change makes a new one
  std::vector<std::string> names_;
  bool have_placeholder_ = false;
  bool Serving() const {
    return challenge_ == acme::ChallengeType::kTlsAlpn01 ? tls_listening_ : http01_answered_;
  }
  acme::ChallengeType challenge_ = acme::ChallengeType::kHttp01;
  std::shared_ptr<net::TlsAlpnChallenges> tls_alpn_ = std::make_shared<net::TlsAlpnChallenges>();
  bool http01_answered_ = false;
  bool tls_listening_ = false;
  bool warned_unserved_ = false;
  std::shared_ptr<const config::Node> followed_model_;  // the project Follow() last read
  // Cleared on destruction: posted events that arrive later are dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::daemon
