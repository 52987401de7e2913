#include "daemon/autocert.h"

#include <fmt/format.h>
#include <unistd.h>

#include <functional>

#include "acme/key.h"
#include "acme/tls_alpn.h"
#include "base/log.h"
#include "config/acme_settings.h"

namespace slipway::daemon {

namespace {

void Log(const std::string& msg, logging::Level level = logging::Level::kInfo) {
  logging::Log(level, "slipwayd", msg);
}

}  // namespace

AutoCert::AutoCert(net::EventLoop* loop, store::Store* store, std::filesystem::path state_dir,
                   std::function<void(const std::string&)> changed)
    : loop_(loop), store_(store), state_dir_(std::move(state_dir)), changed_(std::move(changed)) {}

AutoCert::~AutoCert() {
  *alive_ = false;
  if (manager_) manager_->Stop();
}

std::shared_ptr<const acme::ChallengeTable> AutoCert::challenges() const {
  if (!manager_ || challenge_ != acme::ChallengeType::kHttp01) return nullptr;
  return manager_->challenges();
}

Status AutoCert::MakePlaceholder(const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(acme::EcKey key, acme::EcKey::Generate());
  ASSIGN_OR_RETURN(std::string pem, acme::MakePlaceholderCertificate(
                                        names, key, Clock::Real()->WallMillis() / 1000));
  ASSIGN_OR_RETURN(std::string key_pem, key.PrivatePem());
  // The key first: a reader never sees a certificate without its key.
  RETURN_IF_ERROR(acme::WritePrivateFile((state_dir_ / "placeholder.key").string(), key_pem));
  RETURN_IF_ERROR(acme::WritePrivateFile(placeholder_cert(), pem));
  have_placeholder_ = true;
  return Status::OK();
}

Status AutoCert::Follow(const config::Project& project) {
  // Called before every publish: only a newly loaded project can change the settings.
  if (project.model && project.model == followed_model_) return Status::OK();
  followed_model_ = project.model;
  // Behind the host's ingress, the ingress orders the project's certificates (ingress_link.h).
  const std::optional<config::AcmeSettings>& acme =
      project.ingress ? std::optional<config::AcmeSettings>() : project.tls.acme;
  if (!acme) {
    if (manager_) {
      Log("acme: x-slipway.tls.acme removed; no longer issuing certificates");
      manager_.reset();
      names_.clear();
    }
    return Status::OK();
  }
  const acme::ChallengeType challenge = acme->challenge == config::AcmeChallenge::kTlsAlpn01
                                            ? acme::ChallengeType::kTlsAlpn01
                                            : acme::ChallengeType::kHttp01;
  const std::string key = acme->directory_url + "\n" + acme->email + "\n" + acme->ca_file + "\n" +
                          std::string(acme::ChallengeTypeName(challenge));
  if (manager_ && key == settings_key_ && acme->names == names_) {
    return Status::OK();
  }
  if (!have_placeholder_ || acme->names != names_) RETURN_IF_ERROR(MakePlaceholder(acme->names));
  if (!manager_ || key != settings_key_) {
    if (manager_) manager_->Stop();
    acme::AcmeOptions opts;
    opts.directory_url = acme->directory_url;
    if (!acme->email.empty()) opts.contact.push_back("mailto:" + acme->email);
    opts.tls.ca_file = acme->ca_file;
    // Bounds an attempt, and so how long stopping the daemon may wait for one.
    opts.order_timeout = Duration(60'000);
    acme::CertManagerOptions mopts;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    mopts.seed = std::hash<std::string>{}(std::string(host) + "/" + project.name);
    std::weak_ptr<bool> alive = alive_;
    mopts.post = [loop = loop_, alive](std::function<void()> task) {
      loop->Post([alive, task = std::move(task)] {
        if (auto a = alive.lock(); a && *a) task();
      });
    };
    mopts.on_event = [this](const acme::CertEvent& e) { OnEvent(e); };
    mopts.challenge = challenge;
    mopts.tls_alpn = tls_alpn_;
    acme::CertStore certs(acme::CertStore::DefaultRoot());
    auto issuer = std::make_shared<acme::AcmeIssuer>(std::move(opts), certs);
    manager_ = std::make_unique<acme::CertManager>(std::move(mopts), issuer, certs);
    settings_key_ = key;
    challenge_ = challenge;
    Log(fmt::format("acme: ordering certificates for {} from {} ({})", fmt::join(acme->names, ", "),
                    acme->directory_url, config::AcmeChallengeName(acme->challenge)));
  }
  names_ = acme->names;
  manager_->SetNames(names_);  // config left out the names a certificate file covers
  if (Serving()) manager_->Start();
  return Status::OK();
}

void AutoCert::SetServing(bool http01_answered, bool tls_listening, bool anything_published) {
  const bool was = Serving();
  http01_answered_ = http01_answered;
  tls_listening_ = tls_listening;
  const bool serving = Serving();
  if (serving && !was && manager_) Log("acme: challenges are answered; issuing starts");
  if (!serving && anything_published && manager_ && !warned_unserved_) {
    warned_unserved_ = true;  // once: the table is published again on every topology change
    Log(challenge_ == acme::ChallengeType::kTlsAlpn01
            ? "acme: no HTTPS listener answers the CA's tls-alpn-01 challenges yet (a published "
              "https port on :443); nothing is ordered until one does"
            : "acme: no plain HTTP listener answers the CA's http-01 challenges yet (a route or a "
              "published http port on :80); nothing is ordered until one does",
        logging::Level::kWarn);
  }
  if (serving && manager_) manager_->Start();
}

std::vector<net::TlsServerContext::CertificatePaths> AutoCert::Certificates() const {
  std::vector<net::TlsServerContext::CertificatePaths> out;
  if (!manager_) return out;
  for (const auto& [name, files] : manager_->Certificates()) {
    out.push_back({files.first, files.second});
  }
  if (out.size() < names_.size() && have_placeholder_) {
    out.push_back({placeholder_cert(), (state_dir_ / "placeholder.key").string()});
  }
  return out;
}

void RecordCertEvent(store::Store* store, const acme::CertEvent& e, const std::string& via) {
  store::Event ev;
  ev.kind = std::string(acme::CertEventKindName(e.kind));
  const std::string prefix = via.empty() ? "acme: " : "acme (" + via + "): ";
  if (e.kind == acme::CertEventKind::kFailed) {
    ev.message = fmt::format("{} ({}): {}", fmt::join(e.names, ", "),
                             acme::RenewalReasonName(e.reason), e.error);
    Log(prefix + ev.kind + " " + ev.message, logging::Level::kWarn);
  } else {
    ev.message = fmt::format("{} ({}): valid until {}", fmt::join(e.names, ", "),
                             acme::RenewalReasonName(e.reason),
                             FormatUtc(e.not_after_ms, "%Y-%m-%d %H:%M:%S UTC"));
    Log(prefix + ev.kind + " " + ev.message);
  }
  if (store == nullptr) return;
  if (Status st = store->AppendEvent(std::move(ev)); !st.ok()) Log("events: " + st.message());
}

void AutoCert::OnEvent(const acme::CertEvent& e) {
  RecordCertEvent(store_, e);
  if (e.kind != acme::CertEventKind::kFailed && changed_) {
    changed_(fmt::format("the certificate for {} was {}", e.name,
                         e.kind == acme::CertEventKind::kIssued ? "issued" : "renewed"));
  }
}

}  // namespace slipway::daemon
