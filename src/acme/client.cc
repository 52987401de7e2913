#include "acme/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <thread>

#include "acme/jws.h"

namespace slipway::acme {

namespace {

using nlohmann::json;

constexpr std::string_view kErrorPrefix = "urn:ietf:params:acme:error:";

std::string ShortType(const std::string& type) {
  if (type.rfind(kErrorPrefix, 0) == 0) return type.substr(kErrorPrefix.size());
  return type;
}

// One line: no newlines from a server's detail, and a bounded length.
std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > 400) s = s.substr(0, 400) + "...";
  return s;
}

Problem ProblemOf(const json& j, int status) {
  Problem p;
  p.status = status;
  if (j.is_object()) {
    if (j.contains("type") && j["type"].is_string()) p.type = j["type"].get<std::string>();
    if (j.contains("detail") && j["detail"].is_string()) p.detail = j["detail"].get<std::string>();
    // Subproblems (RFC 8555 6.7.1) say which identifier failed.
    if (j.contains("subproblems") && j["subproblems"].is_array()) {
      for (const json& sp : j["subproblems"]) {
        if (!sp.is_object() || !sp.contains("detail") || !sp["detail"].is_string()) continue;
        p.detail += "; " + sp["detail"].get<std::string>();
      }
    }
  }
  return p;
}

std::string Str(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
}

Duration ParseRetryAfter(const std::string* v) {
  if (!v || v->empty()) return Duration(0);
  char* end = nullptr;
  long s = std::strtol(v->c_str(), &end, 10);
  if (end == v->c_str() || s < 0) return Duration(0);  // an HTTP-date: use our own interval
  return Duration(std::min<long>(s, 86400) * 1000);
}

}  // namespace

std::string Problem::ToString() const {
  std::string out = detail.empty() ? "no detail given" : detail;
  if (!type.empty()) out += " (" + ShortType(type) + ")";
  return OneLine(out);
}

AcmeClient::AcmeClient(AcmeOptions options, EcKey account_key)
    : opts_(std::move(options)), account_key_(std::move(account_key)), http_(opts_.tls) {
  injected_sleep_ = static_cast<bool>(opts_.sleep);
  if (!opts_.sleep) opts_.sleep = [](Duration d) { std::this_thread::sleep_for(d); };
  if (!opts_.clock) opts_.clock = Clock::Real();
}

std::string AcmeClient::Origin() const { return tlsclient::OriginOf(opts_.directory_url); }

void AcmeClient::Sleep(Duration d) {
  if (!opts_.cancel) {
    opts_.sleep(d);
    return;
  }
  // Woken by the raise itself.
  if (!injected_sleep_) {
    opts_.cancel->WaitFor(d);
    return;
  }
  // A test's sleep (it may advance a fake clock): in slices, a cancellation seen within one.
  constexpr Duration kSlice{100};
  while (d.count() > 0 && !Cancelled()) {
    const Duration step = std::min(d, kSlice);
    opts_.sleep(step);
    d -= step;
  }
}

Status AcmeClient::CancelledStatus() const {
  return Aborted(fmt::format("ACME ({}): cancelled (stopping)", Origin()));
}

Status AcmeClient::LoadDirectory() {
  if (Cancelled()) return CancelledStatus();
  tlsclient::HttpsRequest req;
  req.url = opts_.directory_url;
  req.timeout = opts_.request_timeout;
  req.cancel = opts_.cancel.get();
  auto r = http_.Do(req);
  if (!r.ok()) return r.status().WithContext("ACME directory");
  const std::string where = "ACME directory " + Origin();
  if (r->status != 200) {
    return Unavailable(fmt::format("{}: HTTP {} instead of a directory", where, r->status));
  }
  json dir = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!dir.is_object() || Str(dir, "newNonce").empty() || Str(dir, "newAccount").empty() ||
      Str(dir, "newOrder").empty()) {
    return Unavailable(where +
                       ": the answer is not an ACME directory (no newNonce/newAccount/newOrder)");
  }
  directory_ = std::move(dir);
  return Status::OK();
}

Status AcmeClient::RefreshNonce() {
  if (Cancelled()) return CancelledStatus();
  tlsclient::HttpsRequest req;
  req.method = "HEAD";
  req.url = Str(directory_, "newNonce");
  req.timeout = opts_.request_timeout;
  req.cancel = opts_.cancel.get();
  auto r = http_.Do(req);
  if (!r.ok()) return r.status().WithContext("ACME newNonce");
  const std::string* n = r->Header("Replay-Nonce");
  if (!n || n->empty()) {
    return Unavailable(
        fmt::format("ACME newNonce {}: no Replay-Nonce (HTTP {})", Origin(), r->status));
  }
  nonce_ = *n;
  return Status::OK();
}

Result<AcmeClient::Reply> AcmeClient::Post(const std::string& url, const std::string& payload,
                                           const std::string& step, const std::string& accept) {
  for (int attempt = 0;; ++attempt) {
    if (Cancelled()) return CancelledStatus();
    if (nonce_.empty()) RETURN_IF_ERROR(RefreshNonce());
    ASSIGN_OR_RETURN(json jws, SignJws(account_key_, kid_, nonce_, url, payload));
    nonce_.clear();  // a nonce is good for one request
    tlsclient::HttpsRequest req;
    req.method = "POST";
    req.url = url;
    req.body = jws.dump();
    req.timeout = opts_.request_timeout;
    req.cancel = opts_.cancel.get();
    req.headers.emplace_back("Content-Type", "application/jose+json");
    if (!accept.empty()) req.headers.emplace_back("Accept", accept);
    auto r = http_.Do(req);
    if (!r.ok()) return r.status().WithContext("ACME " + step);
    if (const std::string* n = r->Header("Replay-Nonce")) nonce_ = *n;
    Reply reply;
    reply.status = r->status;
    reply.raw = std::move(r->body);
    if (const std::string* loc = r->Header("Location")) reply.location = *loc;
    reply.retry_after = ParseRetryAfter(r->Header("Retry-After"));
    const std::string* ct = r->Header("Content-Type");
    if (ct && ct->find("json") != std::string::npos) {
      reply.body = json::parse(reply.raw, nullptr, /*allow_exceptions=*/false);
      if (reply.body.is_discarded()) reply.body = nullptr;
    }
    if (reply.status / 100 == 2) return reply;
    Problem p = ProblemOf(reply.body, reply.status);
    if (p.type == std::string(kErrorPrefix) + "badNonce" && attempt < opts_.max_bad_nonce_retries) {
      ++bad_nonce_retries_;
      continue;  // the rejection carried a fresh nonce (or the next loop fetches one)
    }
    if (p.type.empty() && p.detail.empty()) p.detail = OneLine(reply.raw.substr(0, 200));
    return Unavailable(
        fmt::format("ACME {} ({}): HTTP {}: {}", step, Origin(), reply.status, p.ToString()));
  }
}

Status AcmeClient::Account() {
  json payload = {{"termsOfServiceAgreed", true}};
  if (!opts_.contact.empty()) payload["contact"] = opts_.contact;
  kid_.clear();  // newAccount is signed with the JWK
  ASSIGN_OR_RETURN(Reply r, Post(Str(directory_, "newAccount"), payload.dump(), "newAccount"));
  if (r.location.empty()) {
    return Unavailable(fmt::format("ACME newAccount ({}): no account URL in the answer", Origin()));
  }
  const std::string status = Str(r.body, "status");
  if (!status.empty() && status != "valid") {
    return FailedPrecondition(
        fmt::format("ACME newAccount ({}): the account is {}", Origin(), OneLine(status)));
  }
  kid_ = r.location;
  return Status::OK();
}

Result<AcmeClient::Reply> AcmeClient::PollUntil(const std::string& url,
                                                const std::vector<std::string>& done,
                                                const std::string& step) {
  const MonoTime deadline = opts_.clock->Now() + opts_.order_timeout;
  for (;;) {
    ASSIGN_OR_RETURN(Reply r, Post(url, "", step));
    const std::string status = Str(r.body, "status");
    if (std::find(done.begin(), done.end(), status) != done.end() || status == "invalid") {
      return r;
    }
    const MonoTime now = opts_.clock->Now();
    if (now >= deadline) {
      return DeadlineExceeded(fmt::format("ACME {} ({}): still \"{}\" after {} s", step, Origin(),
                                          OneLine(status), opts_.order_timeout.count() / 1000));
    }
    Duration wait = r.retry_after.count() > 0 ? r.retry_after : opts_.poll_interval;
    wait = std::min(wait, opts_.max_poll_interval);
    wait = std::min(wait, std::chrono::duration_cast<Duration>(deadline - now) + Duration(1));
    Sleep(wait);
    if (Cancelled()) return CancelledStatus();
  }
}

Status AcmeClient::Authorize(const std::string& authz_url, ChallengeResponder* responder) {
  ASSIGN_OR_RETURN(Reply authz, Post(authz_url, "", "authorization"));
  const std::string status = Str(authz.body, "status");
  const std::string domain = authz.body.is_object() && authz.body.contains("identifier")
                                 ? Str(authz.body["identifier"], "value")
                                 : "";
  if (status == "valid") return Status::OK();  // reused from an earlier order
  if (status != "pending") {
    return FailedPrecondition(
        fmt::format("ACME authorization for {} ({}) is \"{}\"", domain, Origin(), OneLine(status)));
  }
  // The challenge of the responder's type (RFC 8555 8: the client picks one of those offered).
  const std::string type(ChallengeTypeName(responder->type()));
  const json* challenge = nullptr;
  if (authz.body.contains("challenges") && authz.body["challenges"].is_array()) {
    for (const json& c : authz.body["challenges"]) {
      if (Str(c, "type") == type) challenge = &c;
    }
  }
  if (!challenge) {
    return FailedPrecondition(fmt::format("ACME authorization for {} ({}) offers no {} challenge",
                                          domain, Origin(), type));
  }
  const std::string token = Str(*challenge, "token");
  const std::string chall_url = Str(*challenge, "url");
  if (token.empty() || chall_url.empty()) {
    return Unavailable(fmt::format("ACME {} challenge for {} has no token or url", type, domain));
  }
  RETURN_IF_ERROR(responder->Present(domain, token, KeyAuthorization(account_key_, token)));
  // Whatever happens next, the token is not served any longer than needed.
  struct CleanUp {
    ChallengeResponder* r;
    std::string token;
    ~CleanUp() { r->CleanUp(token); }
  } cleanup{responder, token};

  RETURN_IF_ERROR(Post(chall_url, "{}", "challenge " + domain).status());
  ASSIGN_OR_RETURN(Reply done, PollUntil(authz_url, {"valid"}, "authorization " + domain));
  if (Str(done.body, "status") == "valid") return Status::OK();
  // The challenge object holds the CA's reason (RFC 8555 7.1.5 `error`).
  Problem p;
  p.detail = "the authorization is " + Str(done.body, "status");
  if (done.body.contains("challenges") && done.body["challenges"].is_array()) {
    for (const json& c : done.body["challenges"]) {
      if (Str(c, "type") == type && c.contains("error")) p = ProblemOf(c["error"], 0);
    }
  }
  return FailedPrecondition(fmt::format("ACME {} challenge for {} failed ({}): {}", type, domain,
                                        Origin(), p.ToString()));
}

Result<IssuedCert> AcmeClient::Issue(const std::vector<std::string>& names, const EcKey& cert_key,
                                     ChallengeResponder* responder) {
  if (names.empty() || names.size() > 100) {
    return InvalidInput("a certificate needs 1 to 100 host names");
  }
  std::set<std::string> distinct;
  for (const std::string& n : names) {
    RETURN_IF_ERROR(ValidateDnsName(n));
    if (!distinct.insert(n).second) return InvalidInput("host name \"" + n + "\" is listed twice");
    if (n.rfind("*.", 0) == 0) {
      return InvalidInput("host name \"" + n + "\": wildcards need DNS-01, which is not supported");
    }
  }
  if (!responder) return InvalidInput("no challenge responder");
  RETURN_IF_ERROR(LoadDirectory());
  RETURN_IF_ERROR(Account());

  json identifiers = json::array();
  for (const std::string& n : names) identifiers.push_back({{"type", "dns"}, {"value", n}});
  ASSIGN_OR_RETURN(Reply order, Post(Str(directory_, "newOrder"),
                                     json{{"identifiers", identifiers}}.dump(), "newOrder"));
  if (order.location.empty()) {
    return Unavailable(fmt::format("ACME newOrder ({}): no order URL in the answer", Origin()));
  }
  const std::string order_url = order.location;
  if (!order.body.contains("authorizations") || !order.body["authorizations"].is_array()) {
    return Unavailable(
        fmt::format("ACME newOrder ({}): the order lists no authorizations", Origin()));
  }
  for (const json& a : order.body["authorizations"]) {
    if (!a.is_string()) return Unavailable("ACME newOrder: an authorization is not a URL");
    RETURN_IF_ERROR(Authorize(a.get<std::string>(), responder));
  }

  ASSIGN_OR_RETURN(Reply ready, PollUntil(order_url, {"ready", "valid", "processing"}, "order"));
  if (Str(ready.body, "status") == "invalid") {
    Problem p = ready.body.contains("error") ? ProblemOf(ready.body["error"], 0) : Problem{};
    return FailedPrecondition(
        fmt::format("ACME order ({}) is invalid: {}", Origin(), p.ToString()));
  }
  if (Str(ready.body, "status") == "ready") {
    const std::string finalize = Str(ready.body, "finalize");
    if (finalize.empty()) return Unavailable("ACME order has no finalize URL");
    ASSIGN_OR_RETURN(std::string csr, MakeCsrDer(names, cert_key));
    RETURN_IF_ERROR(Post(finalize, json{{"csr", Base64Url(csr)}}.dump(), "finalize").status());
  }
  ASSIGN_OR_RETURN(Reply valid, PollUntil(order_url, {"valid"}, "order after finalize"));
  if (Str(valid.body, "status") != "valid") {
    Problem p = valid.body.contains("error") ? ProblemOf(valid.body["error"], 0) : Problem{};
    return FailedPrecondition(
        fmt::format("ACME order ({}) failed at finalize: {}", Origin(), p.ToString()));
  }
  const std::string cert_url = Str(valid.body, "certificate");
  if (cert_url.empty()) return Unavailable("ACME order is valid but names no certificate URL");
  ASSIGN_OR_RETURN(Reply cert,
                   Post(cert_url, "", "certificate download", "application/pem-certificate-chain"));

  IssuedCert out;
  out.chain_pem = std::move(cert.raw);
  out.order_url = order_url;
  Result<CertInfo> info = InspectLeaf(out.chain_pem);
  if (!info.ok()) return info.status().WithContext("ACME certificate download");
  out.info = std::move(info).value();
  if (!LeafMatchesKey(out.chain_pem, cert_key)) {
    return Unavailable("ACME certificate download: the certificate is not for our key");
  }
  std::set<std::string> got(out.info.dns_names.begin(), out.info.dns_names.end());
  if (got != distinct) {
    return Unavailable("ACME certificate download: the certificate names other hosts than ordered");
  }
  return out;
}

}  // namespace slipway::acme
