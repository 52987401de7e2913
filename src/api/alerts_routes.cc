// Alerting routes: rules and alerts, a rule or expression evaluated now, the detailed health.
#include "alerts/service.h"
#include "api/routes.h"

namespace slipway::api {

namespace {

struct TestQuery {
  std::string expr;
  static Result<TestQuery> Parse(const RouteCall& call) {
    QueryFields q(call.request);
    TestQuery t{q.String("q")};
    RETURN_IF_ERROR(q.status());
    if (t.expr.empty())
      return InvalidInput("q: is missing (expected a rule name or an expression)");
    if (t.expr.size() > 16 * 1024) return InvalidInput("q: longer than 16 KiB");
    return t;
  }
};

}  // namespace

void RegisterAlertsRoutes(Router& r, const RouteDeps& d) {
  alerts::AlertingService* a = d.alerting;
  r.Add<NoInput>({Method::kGet, "/api/v1/alerts", Access::kRead},
                 [a](NoInput, Reply reply) { reply.Json(200, a->AlertsJson()); });
  r.Add<TestQuery>({Method::kGet, "/api/v1/alerts/test", Access::kRead},
                   [a](TestQuery t, Reply reply) {
                     auto v = a->Test(t.expr);
                     v.ok() ? reply.Json(200, *v) : reply.Error(v.status());
                   });
  r.Add<NoInput>({Method::kGet, "/health/detailed", Access::kRead}, [a](NoInput, Reply reply) {
    auto [status, body] = a->HealthDetailed();
    reply.Json(status, body);
  });
}

}  // namespace slipway::api
