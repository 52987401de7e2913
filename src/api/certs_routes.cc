// Certificates from the ACME CA (x-slipway.tls.acme): GET /api/v1/certs answers one row per
// ordered name (state, validity, the renewal plan, the last error), what `slipway certs
// status` prints, never a key or a key path; POST /api/v1/certs/renew {"name"} renews one now
// (`slipway certs renew`), its outcome a cert-renewed or cert-issue-failed event.
#include "acme/cert_manager.h"
#include "api/routes.h"

namespace slipway::api {

namespace {

nlohmann::json CertStatusJson(const acme::CertStatusRow& r) {
  nlohmann::json j = {{"name", r.name},
                      {"state", acme::CertStateName(r.state)},
                      {"plan", acme::RenewalReasonName(r.plan)},
                      {"next_attempt_ms", r.next_attempt_ms},
                      {"detail", r.detail},
                      {"consecutive_failures", r.consecutive_failures}};
  if (r.not_after_ms > 0) {
    j["not_before_ms"] = r.not_before_ms;
    j["not_after_ms"] = r.not_after_ms;
    j["issuer"] = r.issuer;
  }
  if (r.last_attempt_ms > 0) j["last_attempt_ms"] = r.last_attempt_ms;
  if (!r.last_error.empty()) j["last_error"] = r.last_error;
  return j;
}

struct RenewBody {
  std::string name;
  static Result<RenewBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    RenewBody b;
    b.name = f.RequiredString("name", "a host name the project orders a certificate for");
    RETURN_IF_ERROR(f.Finish());
    if (b.name.size() > 253) return InvalidInput("name: longer than 253 characters");
    return b;
  }
};

}  // namespace

void RegisterCertsRoutes(Router& r, const RouteDeps& d) {
  r.Add<NoInput>({Method::kGet, "/api/v1/certs", Access::kRead},
                 [certs = d.certs](NoInput, Reply reply) {
                   nlohmann::json rows = nlohmann::json::array();
                   std::optional<std::vector<acme::CertStatusRow>> now;
                   if (certs) now = certs();
                   if (now) {
                     for (const acme::CertStatusRow& row : *now) {
                       rows.push_back(CertStatusJson(row));
                     }
                   }
                   reply.Json(200, {{"acme", now.has_value()}, {"certificates", rows}});
                 });
  r.Add<RenewBody>({Method::kPost, "/api/v1/certs/renew", Access::kAdmin, kSmallBody},
                   [renew = d.renew_cert](RenewBody b, Reply reply) {
                     if (!renew) {
                       return reply.Error(FailedPrecondition("this daemon orders no certificates"));
                     }
                     // Answered when the renewal has started (through the ingress: when it
                     // answers); the loop serves other requests meanwhile.
                     renew(b.name, [reply, name = b.name](const Status& st) {
                       if (!st.ok()) return reply.Error(st);
                       reply.Json(202, {{"name", name}, {"renewing", true}});
                     });
                   });
}

}  // namespace slipway::api
