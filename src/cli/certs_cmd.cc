#include "cli/certs_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "acme/client.h"
#include "acme/directory.h"
#include "acme/renewal.h"
#include "acme/store.h"
#include "acme/tls_alpn.h"
#include "cli/checks.h"
#include "cli/output.h"

namespace slipway::cli {

namespace {

struct IssueArgs {
  std::vector<std::string> names;
  std::string directory = "letsencrypt";
  std::vector<std::string> emails;
  std::string ca_file;
  std::string challenge = "http-01";
  std::string http_address = "0.0.0.0";
  int http_port = 80;
  std::string tls_address = "0.0.0.0";
  int tls_port = 443;
  std::string state_dir;
  int timeout_s = 180;
};

std::string StoreRoot(const std::string& state_dir) {
  return state_dir.empty() ? acme::CertStore::DefaultRoot() : state_dir + "/certs";
}

Status Issue(const IssueArgs& a) {
  ASSIGN_OR_RETURN(std::string directory, acme::ResolveDirectory(a.directory));
  acme::CertStore store(StoreRoot(a.state_dir));
  ASSIGN_OR_RETURN(acme::EcKey account, acme::EcKey::LoadOrCreate(store.AccountKeyPath(directory)));
  acme::AcmeOptions opts;
  opts.directory_url = directory;
  for (const std::string& e : a.emails) {
    if (e.find('@') == std::string::npos || e.find_first_of(" ,\n") != std::string::npos) {
      return InvalidInput("--email \"" + e + "\" is not an e-mail address");
    }
    opts.contact.push_back("mailto:" + e);
  }
  opts.tls.ca_file = a.ca_file;
  if (a.timeout_s <= 0 || a.timeout_s > 3600) return InvalidInput("--timeout must be 1 to 3600");
  opts.order_timeout = Duration(int64_t{a.timeout_s} * 1000);
  // The challenge decides who answers the CA: an HTTP server on :80 (HTTP-01) or a TLS server
  // on :443 that answers only ALPN acme-tls/1 validations (TLS-ALPN-01, RFC 8737).
  std::unique_ptr<acme::Http01Server> http01;
  std::unique_ptr<acme::TlsAlpn01Server> tls_alpn;
  acme::ChallengeResponder* responder = nullptr;
  if (a.challenge == "tls-alpn-01") {
    tls_alpn = std::make_unique<acme::TlsAlpn01Server>();
    Status started = tls_alpn->Start(a.tls_address, a.tls_port);
    if (!started.ok()) return started.WithContext("TLS-ALPN-01 responder");
    responder = tls_alpn.get();
  } else {
    http01 = std::make_unique<acme::Http01Server>();
    Status started = http01->Start(a.http_address, a.http_port);
    if (!started.ok()) return started.WithContext("HTTP-01 responder");
    responder = http01.get();
  }
  ASSIGN_OR_RETURN(acme::EcKey key, acme::EcKey::Generate());
  acme::AcmeClient client(opts, std::move(account));
  Result<acme::IssuedCert> cert = client.Issue(a.names, key, responder);
  if (http01) http01->Stop();
  if (tls_alpn) tls_alpn->Stop();
  if (!cert.ok()) return cert.status();
  RETURN_IF_ERROR(store.Save(a.names, cert->chain_pem, key));
  std::string joined;
  for (const std::string& n : a.names) joined += (joined.empty() ? "" : ", ") + n;
  std::printf("issued %s: valid until %s, stored in %s\n", joined.c_str(),
              Utc(cert->info.not_after_ms).c_str(), store.FolderFor(a.names[0]).c_str());
  return Status::OK();
}

Status PrintStatus(const std::vector<std::string>& names, const std::string& state_dir) {
  acme::CertStore store(StoreRoot(state_dir));
  std::vector<std::vector<std::string>> rows;
  const int64_t now = Clock::Real()->WallMillis();
  for (const std::string& n : names) {
    Result<acme::StoredCert> c = store.Load(n);
    acme::RenewalState st;
    st.wanted_names = {n};
    if (c.ok()) {
      st.have_cert = true;
      st.not_before_ms = c->info.not_before_ms;
      st.not_after_ms = c->info.not_after_ms;
      st.cert_names = c->info.dns_names;
      st.wanted_names = c->info.dns_names;
    } else if (c.status().code() != StatusCode::kNotFound) {
      return c.status();
    }
    acme::RenewalPlan plan = acme::PlanRenewal(st, now, std::hash<std::string>{}(n));
    rows.push_back({n, c.ok() ? Utc(c->info.not_after_ms) : "-",
                    std::string(acme::RenewalReasonName(plan.reason)), Utc(plan.at_ms),
                    plan.detail});
  }
  PrintTable({"NAME", "EXPIRES", "PLAN", "AT", "DETAIL"}, rows);
  return Status::OK();
}

// The daemon's view (GET /api/v1/certs): the names the project orders, their state and plan.
int DaemonStatus(CliContext& ctx, const std::string& format) {
  Result<nlohmann::json> r = ctx.Call("GET", "/api/v1/certs");
  if (!r.ok()) return CliContext::Fail(r.status(), "certs status");
  if (format == "json") {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  api::BodyFields answer(*r);
  const bool acme = answer.Bool("acme", false);
  const nlohmann::json* certs = answer.Raw("certificates");
  if (!r->is_object() || !answer.status().ok()) {
    return FailAnswer(r->is_object() ? answer.status()
                                     : InvalidInput(fmt::format("expected an object, got {}",
                                                                api::JsonTypeName(*r))),
                      "certs status");
  }
  if (!acme) {
    std::printf("this project orders no certificates (no x-slipway.tls.acme)\n");
    return 0;
  }
  if (certs == nullptr || (certs->is_array() && certs->empty())) {
    std::printf("no certificate reported yet (the first attempt is under way)\n");
    return 0;
  }
  auto rows = AnswerRows(
      *certs,
      [](api::BodyFields& c) -> std::vector<std::string> {
        const int64_t not_after =
            c.Int("not_after_ms", 0, 0, INT64_MAX, "a time in Unix milliseconds");
        const int64_t last_attempt =
            c.Int("last_attempt_ms", 0, 0, INT64_MAX, "a time in Unix milliseconds");
        std::string detail = c.String("detail", "a detail");
        const std::string last_error = c.String("last_error", "an error");
        if (!last_error.empty() && detail.find(last_error) == std::string::npos) {
          detail += "; last error: " + last_error;
        }
        return {c.String("name", "a name"),
                c.String("state", "a state"),
                c.String("issuer", "an issuer", "-"),
                not_after > 0 ? Utc(not_after) : "-",
                last_attempt > 0 ? Utc(last_attempt) : "-",
                c.String("plan", "a plan"),
                Utc(c.Int("next_attempt_ms", 0, 0, INT64_MAX, "a time in Unix milliseconds")),
                detail};
      },
      "certificates");
  if (!rows.ok()) return FailAnswer(rows.status(), "certs status");
  PrintTable({"NAME", "STATE", "ISSUER", "EXPIRES", "LAST ATTEMPT", "PLAN", "NEXT", "DETAIL"},
             *rows);
  return 0;
}

// A host name or address: 1 to 253 of letters, digits, '-', '.', '_' (IPv6 also ':').
CLI::Validator HostName() {
  return Check("HOST", [](const std::string& v) {
    const bool ok = !v.empty() && v.size() <= 253 && v[0] != '-' && v[0] != '.' &&
                    std::all_of(v.begin(), v.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                             c == '_' || c == ':';
                    });
    return ok ? std::string() : std::string("a host name (1 to 253 of letters, digits, '-', '.')");
  });
}

}  // namespace

void AddCertsCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* cmd = app.add_subcommand("certs", "TLS certificates from an ACME CA (Let's Encrypt)");
  cmd->require_subcommand(1);

  auto args = std::make_shared<IssueArgs>();
  auto* issue = cmd->add_subcommand(
      "issue",
      "Issue a certificate for NAME... now (HTTP-01 answered on --http-port, or TLS-ALPN-01 on "
      "--tls-port)");
  issue->add_option("names", args->names, "Host names (the first names the stored folder)")
      ->required()
      ->check(HostName());
  issue
      ->add_option("--directory", args->directory,
                   "letsencrypt, letsencrypt-staging or an ACME directory URL (https://)")
      ->check(Check("DIRECTORY", [](const std::string& v) {
        return !v.empty() && v.size() <= 2048 && acme::ResolveDirectory(v).ok()
                   ? std::string()
                   : std::string("letsencrypt, letsencrypt-staging or an https:// URL");
      }));
  issue->add_option("--email", args->emails, "Contact address for the account (repeatable)")
      ->check(Check("EMAIL", [](const std::string& v) {
        return v.size() <= 254 && v.find('@') != std::string::npos &&
                       v.find_first_of(" ,\n") == std::string::npos
                   ? std::string()
                   : std::string("an e-mail address");
      }));
  issue
      ->add_option("--ca-file", args->ca_file,
                   "PEM CAs trusted for the CA's HTTPS (default: the system store)")
      ->check(Path());
  issue->add_option("--challenge", args->challenge, "http-01 (default) or tls-alpn-01")
      ->check(OneOf({"http-01", "tls-alpn-01"}));
  issue->add_option("--http-address", args->http_address, "Address of the HTTP-01 responder")
      ->check(HostName());
  issue
      ->add_option("--http-port", args->http_port,
                   "Port of the HTTP-01 responder (the CA asks :80)")
      ->check(Whole(1, 65'535, "a port"));
  issue->add_option("--tls-address", args->tls_address, "Address of the TLS-ALPN-01 responder")
      ->check(HostName());
  issue
      ->add_option("--tls-port", args->tls_port,
                   "Port of the TLS-ALPN-01 responder (the CA asks :443)")
      ->check(Whole(1, 65'535, "a port"));
  issue
      ->add_option("--state-dir", args->state_dir,
                   "State folder (default: $SLIPWAY_STATE_DIR, else /var/lib/slipway)")
      ->check(Path());
  issue->add_option("--timeout", args->timeout_s, "Seconds to wait for validation and issuance")
      ->check(Whole(1, 3'600, "a number of seconds"));
  issue->callback([args, rc] {
    Status st = Issue(*args);
    *rc = st.ok() ? 0 : CliContext::Fail(st, "certs issue");
  });

  auto renew_name = std::make_shared<std::string>();
  auto* renew = cmd->add_subcommand(
      "renew", "Renew NAME now through the daemon, whatever its plan (the outcome is an event)");
  renew->add_option("name", *renew_name, "A host name the project orders")
      ->required()
      ->check(HostName());
  renew->callback([&ctx, renew_name, rc] {
    Result<nlohmann::json> r =
        ctx.Call("POST", "/api/v1/certs/renew", nlohmann::json{{"name", *renew_name}});
    if (!r.ok()) {
      *rc = CliContext::Fail(r.status(), "certs renew");
      return;
    }
    std::printf("renewing %s (see slipway events)\n", renew_name->c_str());
    *rc = 0;
  });

  auto names = std::make_shared<std::vector<std::string>>();
  auto state_dir = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  auto* status = cmd->add_subcommand(
      "status",
      "The project's certificates as its daemon manages them; with NAME..., what the store holds");
  status->add_option("names", *names, "Host names (read from the store, no daemon needed)")
      ->check(HostName());
  status->add_option("--state-dir", *state_dir, "State folder (with NAME...)")->check(Path());
  status->add_option("--format", *format, "table or json (from the daemon)")
      ->check(OneOf({"table", "json"}));
  status->callback([&ctx, names, state_dir, format, rc] {
    if (names->empty()) {
      if (!ctx.DaemonRunning()) {
        *rc = CliContext::Fail(
            FailedPrecondition("no daemon runs this project (name the hosts to read the store)"),
            "certs status");
        return;
      }
      *rc = DaemonStatus(ctx, *format);
      return;
    }
    Status st = PrintStatus(*names, *state_dir);
    *rc = st.ok() ? 0 : CliContext::Fail(st, "certs status");
  });
}

}  // namespace slipway::cli
