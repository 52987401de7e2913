// AutoCert: the daemon's side of `x-slipway.tls.acme`. It runs an acme::CertManager for the
// names the project orders (issuing on the manager's worker thread), turns each attempt into
// a log line and a `cert-issued` / `cert-renewed` / `cert-issue-failed` event, and tells the
// daemon when the certificates it serves changed so the TLS context is rebuilt through the
// usual reload path.
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
#include "net/tls_context.h"
#include "store/store.h"

namespace slipway::daemon {

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

  // Whether a plain listener answers the challenges now: issuing starts once it does (an
  // attempt before would fail and wait out the back-off). `anything_published`: the proxy
  // listens at all (services run), so a missing challenge listener is worth a warning.
  void SetServing(bool serving, bool anything_published);

  // Renews `name` now (NotFound when it is not ordered).
  Status RenewNow(const std::string& name) { return manager_->RenewNow(name); }

  bool active() const { return manager_ != nullptr; }
  const acme::CertManager* manager() const { return manager_.get(); }
  // The table plain listeners answer HTTP-01 from (null when inactive).
  std::shared_ptr<const acme::ChallengeTable> challenges() const;
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
  std::string settings_key_;  // directory, contact, trust: a change makes a new manager
  std::vector<std::string> names_;
  bool have_placeholder_ = false;
  bool serving_ = false;
  bool warned_unserved_ = false;
  std::shared_ptr<const config::Node> followed_model_;  // the project Follow() last read
  // Cleared on destruction: posted events that arrive later are dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::daemon
