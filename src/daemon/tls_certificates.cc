#include "daemon/tls_certificates.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/file_signature.h"
#include "base/log.h"

namespace slipway::daemon {
namespace {

// What the certificate files are now: a change means a reload.
std::string FilesSignature(const std::vector<config::TlsCertificateSettings>& files) {
  std::string sig;
  for (const auto& f : files) sig += FileSignature(f.cert) + ";" + FileSignature(f.key) + ";";
  return sig;
}

}  // namespace

Status TlsCertificates::Load(const config::TlsSettings& s,
                             std::vector<net::TlsServerContext::CertificatePaths> issued,
                             std::string placeholder) {
  attempted_signature_ = FilesSignature(s.certificates);
  placeholder_ = std::move(placeholder);
  if (!s.enabled() && issued.empty()) {
    ctx_.reset();
    files_.clear();
    issued_.clear();
    return Status::OK();
  }
  std::vector<net::TlsServerContext::CertificatePaths> paths;
  for (const auto& c : s.certificates) paths.push_back({c.cert, c.key});
  // LoadCertificate checks each key against its leaf before anything is swapped in.
  paths.insert(paths.end(), issued.begin(), issued.end());
  Result<std::shared_ptr<const net::TlsServerContext>> ctx =
      net::TlsServerContext::Create(paths, tickets_, Clock::Real()->WallMillis() / 1000);
  files_ = s.certificates;  // tried: the poll retries when they change again
  issued_ = std::move(issued);
  if (!ctx.ok()) return ctx.status();
  if (alpn_challenges_) RETURN_IF_ERROR(net::AnswerAlpnChallenges(**ctx, alpn_challenges_));
  ctx_ = std::move(ctx).value();
  UpdateExpiry();
  return Status::OK();
}

bool TlsCertificates::Serves(
    const std::vector<config::TlsCertificateSettings>& files,
    const std::vector<net::TlsServerContext::CertificatePaths>& issued) const {
  if (files.size() != files_.size() || issued.size() != issued_.size()) return false;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].cert != files_[i].cert || files[i].key != files_[i].key) return false;
  }
  for (size_t i = 0; i < issued.size(); ++i) {
    if (issued[i].cert != issued_[i].cert || issued[i].key != issued_[i].key) return false;
  }
  return true;
}

bool TlsCertificates::FilesChanged() const {
  return !files_.empty() && FilesSignature(files_) != attempted_signature_;
}

void TlsCertificates::UpdateExpiry() {
  if (!ctx_ || !registry_) return;
  const int64_t now_s = Clock::Real()->WallMillis() / 1000;
  for (const net::CertificateInfo& c : ctx_->certificates()) {
    if (!placeholder_.empty() && c.cert_path == placeholder_) continue;
    const int64_t left = c.not_after - now_s;
    registry_
        ->GetGauge("slipway_tls_cert_expiry_seconds",
                   "Seconds until a served TLS certificate expires (negative once expired).",
                   {"name"}, {c.label()})
        ->Set(0, left);
    if (left >= 14 * 86400 || !expiry_warned_.insert({c.label(), c.not_after}).second) continue;
    store::Event ev;
    ev.kind = "tls-cert-expiring";
    ev.message = fmt::format("certificate {} ({}) expires on {}", c.label(), c.cert_path,
                             net::FormatUtc(c.not_after));
    logging::Warn("slipwayd", "tls: " + ev.message);
    if (store_) {
      if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) {
        logging::Info("slipwayd", "events: " + st.message());
      }
    }
  }
}

}  // namespace slipway::daemon
