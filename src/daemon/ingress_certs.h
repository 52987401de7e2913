// IngressCerts: a project's view of the certificates the host's ingress orders for it
// (`x-slipway.ingress: true` with `x-slipway.tls.acme`), learnt from the ingress's answer to
// each registration (ingress/cert_report.h; IngressLink hands the parsed report over every
// 2 s). It makes them project facts as a project-owned CertManager's are (autocert.h):
//   - rows for GET /api/v1/certs and `slipway certs status`;
//   - each attempt recorded once as a project event of the same kind (cert-issued,
//     cert-renewed, cert-issue-failed), so alerts and `slipway events` treat both alike;
//   - slipway_tls_cert_expiry_seconds{name} in the project's metrics (the built-in
//     SlipwayTlsCertExpiring alert reads it) and a tls-cert-expiring event once under 14 days.
//
// Recorded once: the cursor is (epoch, seq) of the ingress's numbering, kept in the store's
// meta table (`ingress_cert_cursor`) so a daemon that restarts neither records an event again
// nor misses one. Every event of an ingress run not seen before (an ingress that restarted
// numbers from 1 again) is new.
//
// Ownership: the daemon owns it; the store and the registry are borrowed (either may be
// null: no events, no gauge). Threads: the control loop only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "acme/cert_manager.h"
#include "base/clock.h"
#include "ingress/cert_report.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace slipway::daemon {

class IngressCerts {
 public:
  // Reads the cursor from `store`.
  IngressCerts(store::Store* store, telemetry::Registry* registry, Clock* clock = Clock::Real());

  // A report from the ingress (only the project's own names: cert_report.h filtered it).
  void Apply(const ingress::CertReport& report);
  // The project no longer orders through the ingress: no rows, no gauges.
  void Clear();
  // nullopt until a report arrived.
  const std::optional<std::vector<acme::CertStatusRow>>& rows() const { return rows_; }
  // Refreshes the expiry gauges from the last rows (seconds left fall with time).
  void UpdateExpiry();

 private:
  store::Store* store_;
  telemetry::Registry* registry_;
  Clock* clock_;
  int64_t epoch_ = 0;
  uint64_t seq_ = 0;
  std::optional<std::vector<acme::CertStatusRow>> rows_;
  std::set<std::string> gauged_;                             // names with an expiry gauge
  std::set<std::pair<std::string, int64_t>> expiry_warned_;  // (name, not_after)
};

}  // namespace slipway::daemon
