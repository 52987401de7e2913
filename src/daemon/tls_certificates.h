// TlsCertificates: the TLS context the proxy's HTTPS listeners serve (x-slipway.tls) and what
// keeps it honest: which certificate files it came from, whether they changed on disk since
// (inode, size, mtime), the session ticket keys that outlive every reload, and the expiry
// gauge and warnings. The daemon decides when to load (start, SIGHUP, a 5 s poll, a project
// `up` replaced) and publishes the context to the routes; this class only builds and watches.
//
// Ownership: the daemon owns it; the store and the registry are borrowed (either may be null:
// no events, no gauge). Threads: the control loop only.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "config/tls_settings.h"
#include "net/tls_alpn_challenges.h"
#include "net/tls_context.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace slipway::daemon {

class TlsCertificates {
 public:
  // Where the expiring-certificate events go, and the expiry gauge (the registry is created
  // after the first Load(): no gauge until then).
  void SetStore(store::Store* store) { store_ = store; }
  void SetRegistry(telemetry::Registry* registry) { registry_ = registry; }
  // The TLS-ALPN-01 validation certificates every context built from now on answers with
  // (net/tls_alpn_challenges.h); null: none.
  void SetAlpnChallenges(std::shared_ptr<const net::TlsAlpnChallenges> t) {
    alpn_challenges_ = std::move(t);
  }

  // Builds a new context from `s` and the certificates an ACME CA issued (`issued`, after the
  // files, so a file's certificate stays the default; none when both are empty); on failure
  // the current one stays, the files count as tried (the poll retries when they change again)
  // and the error says why. `placeholder` (a certificate served until one is issued) gets no
  // expiry gauge or warning.
  Status Load(const config::TlsSettings& s,
              std::vector<net::TlsServerContext::CertificatePaths> issued = {},
              std::string placeholder = {});

  // The context new connections get (nullptr without TLS).
  const std::shared_ptr<const net::TlsServerContext>& context() const { return ctx_; }

  // Whether `files` (and `issued`) are the ones last loaded or tried.
  bool Serves(const std::vector<config::TlsCertificateSettings>& files,
              const std::vector<net::TlsServerContext::CertificatePaths>& issued = {}) const;

  // Whether a certificate or key file last loaded or tried changed on disk since.
  bool FilesChanged() const;

  // slipway_tls_cert_expiry_seconds{name} (seconds left, negative once expired), and one
  // `tls-cert-expiring` event and warning per certificate once fewer than 14 days are left.
  void UpdateExpiry();

 private:
  store::Store* store_ = nullptr;
  telemetry::Registry* registry_ = nullptr;
  // The keys that seal session tickets: kept across reloads so sessions stay resumable.
  std::shared_ptr<net::TicketKeys> tickets_ = std::make_shared<net::TicketKeys>();
  std::shared_ptr<const net::TlsServerContext> ctx_;
  std::shared_ptr<const net::TlsAlpnChallenges> alpn_challenges_;
  std::vector<config::TlsCertificateSettings> files_;
  std::vector<net::TlsServerContext::CertificatePaths> issued_;
  std::string placeholder_;
  std::string attempted_signature_;
  std::set<std::pair<std::string, int64_t>> expiry_warned_;  // (label, not_after)
};

}  // namespace slipway::daemon
