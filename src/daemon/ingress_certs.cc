#include "daemon/ingress_certs.h"

#include <fmt/format.h>

#include <cinttypes>
#include <cstdio>

#include "base/log.h"
#include "daemon/autocert.h"

namespace slipway::daemon {

namespace {

constexpr char kExpiryMetric[] = "slipway_tls_cert_expiry_seconds";
constexpr char kExpiryHelp[] =
    "Seconds until a served TLS certificate expires (negative once expired).";
constexpr int64_t kExpiringMs = 14LL * 86400 * 1000;
constexpr char kCursorKey[] = "ingress_cert_cursor";

}  // namespace

IngressCerts::IngressCerts(store::Store* store, telemetry::Registry* registry, Clock* clock)
    : store_(store), registry_(registry), clock_(clock) {
  if (!store_) return;
  Result<std::optional<std::string>> saved = store_->GetMeta(kCursorKey);
  if (!saved.ok()) {
    logging::Warn("slipwayd", "acme (the host's ingress): reading the event cursor: " +
                                  saved.status().message());
    return;
  }
  // "epoch:seq"; anything else starts afresh.
  if (*saved && std::sscanf((*saved)->c_str(), "%" SCNd64 ":%" SCNu64, &epoch_, &seq_) != 2) {
    epoch_ = 0;
    seq_ = 0;
  }
}

void IngressCerts::Apply(const ingress::CertReport& report) {
  const bool same_run = report.epoch_ms == epoch_;
  uint64_t last = same_run ? seq_ : 0;
  for (const ingress::ReportedCertEvent& e : report.events) {
    if (e.seq <= last) continue;  // recorded already (events come oldest first)
    last = e.seq;
    RecordCertEvent(store_, e.event, "the host's ingress");
  }
  if (report.epoch_ms != epoch_ || last != seq_) {
    epoch_ = report.epoch_ms;
    seq_ = last;
    if (store_) {
      if (Status st = store_->SetMeta(kCursorKey, fmt::format("{}:{}", epoch_, seq_)); !st.ok()) {
        logging::Warn("slipwayd",
                      "acme (the host's ingress): saving the event cursor: " + st.message());
      }
    }
  }
  rows_ = report.certificates;
  UpdateExpiry();
}

void IngressCerts::Clear() {
  rows_.reset();
  if (registry_) {
    for (const std::string& name : gauged_) registry_->Remove(kExpiryMetric, {name});
  }
  gauged_.clear();
}

void IngressCerts::UpdateExpiry() {
  if (!rows_) return;
  const int64_t now = clock_->WallMillis();
  std::set<std::string> now_gauged;
  for (const acme::CertStatusRow& r : *rows_) {
    if (r.not_after_ms <= 0) continue;
    now_gauged.insert(r.name);
    if (registry_) {
      registry_->GetGauge(kExpiryMetric, kExpiryHelp, {"name"}, {r.name})
          ->Set(0, (r.not_after_ms - now) / 1000);
    }
    if (r.not_after_ms - now >= kExpiringMs ||
        !expiry_warned_.insert({r.name, r.not_after_ms}).second) {
      continue;
    }
    // As for the daemon's own certificates (tls_certificates.h): once per certificate.
    store::Event ev;
    ev.kind = "tls-cert-expiring";
    ev.message = fmt::format("certificate {} (ordered by the host's ingress) expires on {}", r.name,
                             FormatUtc(r.not_after_ms, "%Y-%m-%d %H:%M:%S UTC"));
    logging::Warn("slipwayd", "tls: " + ev.message);
    if (store_) {
      if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) {
        logging::Info("slipwayd", "events: " + st.message());
      }
    }
  }
  // Names the ingress no longer reports: no stale gauge to alert on.
  if (registry_) {
    for (const std::string& name : gauged_) {
      if (now_gauged.count(name) == 0) registry_->Remove(kExpiryMetric, {name});
    }
  }
  gauged_ = std::move(now_gauged);
}

}  // namespace slipway::daemon
