#include "acme/cert_manager.h"

#include <algorithm>
#include <climits>

#include "acme/certs.h"

namespace slipway::acme {

Result<IssuedCert> AcmeIssuer::Issue(const std::vector<std::string>& names, const EcKey& cert_key,
                                     ChallengeResponder* responder) {
  ASSIGN_OR_RETURN(EcKey account,
                   EcKey::LoadOrCreate(store_.AccountKeyPath(options_.directory_url)));
  AcmeClient client(options_, std::move(account));
  return client.Issue(names, cert_key, responder);
}

std::string_view CertEventKindName(CertEventKind k) {
  switch (k) {
    case CertEventKind::kIssued:
      return "cert-issued";
    case CertEventKind::kRenewed:
      return "cert-renewed";
    case CertEventKind::kFailed:
      return "cert-issue-failed";
  }
  return "cert-issue-failed";
}

std::string_view CertStateName(CertState s) {
  switch (s) {
    case CertState::kPending:
      return "pending";
    case CertState::kValid:
      return "valid";
    case CertState::kFailing:
      return "failing";
  }
  return "pending";
}

CertManager::CertManager(CertManagerOptions options, std::shared_ptr<Issuer> issuer,
                         CertStore store)
    : opts_(std::move(options)), issuer_(std::move(issuer)), store_(std::move(store)) {
  if (opts_.http01) challenges_ = opts_.http01;
  if (issuer_) issuer_->SetCancel(cancel_);
  if (opts_.challenge == ChallengeType::kTlsAlpn01) {
    auto table = opts_.tls_alpn ? opts_.tls_alpn : std::make_shared<net::TlsAlpnChallenges>();
    tls_alpn_ = std::make_unique<TlsAlpnResponder>(std::move(table), opts_.clock);
  }
}

CertManager::~CertManager() { Stop(); }

void CertManager::SetNames(const std::vector<std::string>& names) {
  std::map<std::string, Entry> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& n : names) {
      if (next.count(n)) continue;
      if (auto it = entries_.find(n); it != entries_.end()) next.emplace(n, std::move(it->second));
    }
  }
  // New names: what the store already holds (reading files outside the lock).
  for (const std::string& n : names) {
    if (next.count(n)) continue;
    Entry e;
    e.state.wanted_names = {n};
    if (Result<StoredCert> c = store_.Load(n); c.ok()) {
      e.state.have_cert = true;
      e.state.not_before_ms = c->info.not_before_ms;
      e.state.not_after_ms = c->info.not_after_ms;
      e.state.cert_names = c->info.dns_names;
      e.issuer = c->info.issuer;
    }
    next.emplace(n, std::move(e));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries_ = std::move(next);
    wake_ = true;
  }
  cv_.notify_all();
}

void CertManager::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  cancel_->Reset();
  thread_ = std::thread([this] { Loop(); });
}

void CertManager::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cancel_->Raise();
  cv_.notify_all();
}

void CertManager::Stop() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

Status CertManager::RenewNow(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return NotFound("no ACME certificate is managed for " + name);
    it->second.forced = true;
    wake_ = true;
  }
  cv_.notify_all();
  return Status::OK();
}

RenewalPlan CertManager::PlanFor(const std::string& name, const Entry& e, int64_t now) const {
  if (e.forced) return {now, RenewalReason::kDue, "renewal requested"};
  return PlanRenewal(e.state, now, opts_.seed ^ std::hash<std::string>{}(name));
}

int64_t CertManager::RunDue() {
  const int64_t now = opts_.clock->WallMillis();
  std::vector<std::pair<std::string, RenewalReason>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, e] : entries_) {
      RenewalPlan plan = PlanFor(name, e, now);
      if (plan.at_ms <= now) due.emplace_back(name, plan.reason);
    }
  }
  for (const auto& [name, reason] : due) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    Attempt(name, reason);
  }
  int64_t next = INT64_MAX;
  const int64_t after = opts_.clock->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : entries_) next = std::min(next, PlanFor(name, e, after).at_ms);
  return next;
}

void CertManager::Attempt(const std::string& name, RenewalReason reason) {
  std::vector<std::string> names;
  bool had_cert = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;  // dropped by SetNames meanwhile
    names = it->second.state.wanted_names;
    had_cert = it->second.state.have_cert;
    it->second.forced = false;
    it->second.last_attempt_ms = opts_.clock->WallMillis();
  }
  CertEvent ev;
  ev.name = name;
  ev.names = names;
  ev.reason = reason;
  Result<CertInfo> info = InvalidInput("not attempted");
  {
    Result<EcKey> key = EcKey::Generate();
    ChallengeResponder* responder =
        tls_alpn_ ? static_cast<ChallengeResponder*>(tls_alpn_.get()) : challenges_.get();
    Result<IssuedCert> cert =
        key.ok() ? issuer_->Issue(names, *key, responder) : Result<IssuedCert>(key.status());
    Status saved = cert.status();
    if (cert.ok() && !LeafMatchesKey(cert->chain_pem, *key)) {
      saved = Internal("the CA's certificate is not for the key sent");
    }
    if (saved.ok()) saved = store_.Save(names, cert->chain_pem, *key);
    info = saved.ok() ? InspectLeaf(cert->chain_pem) : Result<CertInfo>(saved);
  }
  // Cut short by Stop(): not the CA's failure, so no back-off and no event.
  if (!info.ok() && cancel_->raised()) return;
  const int64_t now = opts_.clock->WallMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) {
      RenewalState& s = it->second.state;
      if (info.ok()) {
        s.have_cert = true;
        s.not_before_ms = info->not_before_ms;
        s.not_after_ms = info->not_after_ms;
        s.cert_names = info->dns_names;
        s.consecutive_failures = 0;
        s.last_failure_ms = 0;
        s.last_error.clear();
        it->second.issuer = info->issuer;
      } else {
        s.consecutive_failures++;
        s.last_failure_ms = now;
        s.last_error = info.status().message();
      }
    }
  }
  if (info.ok()) {
    ev.kind = had_cert ? CertEventKind::kRenewed : CertEventKind::kIssued;
    ev.not_after_ms = info->not_after_ms;
    ev.cert_path = store_.FolderFor(name) + "/cert.pem";
    ev.key_path = store_.FolderFor(name) + "/key.pem";
  } else {
    ev.kind = CertEventKind::kFailed;
    ev.error = info.status().message();
  }
  if (opts_.post && opts_.on_event) {
    auto on_event = opts_.on_event;
    opts_.post([on_event, ev = std::move(ev)] { on_event(ev); });
  }
}

void CertManager::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_ = false;
    lock.unlock();
    const int64_t next = RunDue();
    lock.lock();
    if (stop_) break;
    if (wake_) continue;
    const int64_t now = opts_.clock->WallMillis();
    Duration wait = opts_.max_sleep;
    if (next != INT64_MAX) wait = std::min(wait, Duration(std::max<int64_t>(next - now, 0)));
    cv_.wait_for(lock, wait, [this] { return stop_ || wake_; });
  }
}

std::vector<CertStatusRow> CertManager::Rows() const {
  const int64_t now = opts_.clock->WallMillis();
  std::vector<CertStatusRow> rows;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : entries_) {
    CertStatusRow r;
    r.name = name;
    const RenewalState& s = e.state;
    r.state = s.consecutive_failures > 0 ? CertState::kFailing
              : s.have_cert              ? CertState::kValid
                                         : CertState::kPending;
    if (s.have_cert) {
      r.not_before_ms = s.not_before_ms;
      r.not_after_ms = s.not_after_ms;
      r.issuer = e.issuer;
    }
    RenewalPlan plan = PlanFor(name, e, now);
    r.plan = plan.reason;
    r.next_attempt_ms = plan.at_ms;
    r.detail = plan.detail;
    r.consecutive_failures = s.consecutive_failures;
    r.last_attempt_ms = e.last_attempt_ms;
    r.last_error = s.last_error;
    rows.push_back(std::move(r));
  }
  return rows;
}

std::map<std::string, std::pair<std::string, std::string>> CertManager::Certificates() const {
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : entries_) {
    if (!e.state.have_cert) continue;
    out[name] = {store_.FolderFor(name) + "/cert.pem", store_.FolderFor(name) + "/key.pem"};
  }
  return out;
}

}  // namespace slipway::acme
