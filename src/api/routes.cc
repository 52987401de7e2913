#include "api/routes.h"

namespace slipway::api {

void RegisterRoutes(Router& router, const RouteDeps& deps) {
  RegisterProjectRoutes(router, deps);
  RegisterDeployRoutes(router, deps);
  RegisterFlagsRoutes(router, deps);
  RegisterAlertsRoutes(router, deps);
  RegisterMaintenanceRoutes(router, deps);
  RegisterDaemonRoutes(router, deps);
  RegisterCertsRoutes(router, deps);
  RegisterQueryRoutes(router, deps);
  RegisterUiRoutes(router, deps);
  RegisterAccessRoutes(router, deps);
  RegisterDashboardRoutes(router, deps);
  RegisterDatabasesRoutes(router, deps);
  // The table itself, for scripts and for the tests that walk every route.
  router.Add<NoInput>({Method::kGet, "/api/v1/routes", Access::kRead},
                      [&router](NoInput, Reply reply) {
                        nlohmann::json rows = nlohmann::json::array();
                        for (const Route& r : router.routes()) {
                          rows.push_back({{"method", MethodName(r.spec.method)},
                                          {"path", r.pattern},
                                          {"access", AccessName(r.spec.access)},
                                          {"max_body", r.spec.max_body}});
                        }
                        reply.Json(200, rows);
                      });
}

}  // namespace slipway::api
