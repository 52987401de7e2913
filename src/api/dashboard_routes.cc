// Dashboard routes: what the dashboard shows that the project declares for it.
//   GET /api/v1/dashboard   {"panels": [{title, expr, unit}]}, x-slipway.dashboard's panels
//                           (config/dashboard_settings.h) in the order written
#include "api/routes.h"
#include "config/project.h"

namespace slipway::api {

using nlohmann::json;

void RegisterDashboardRoutes(Router& r, const RouteDeps& d) {
  auto project = d.project;
  r.Add<NoInput>(
      {Method::kGet, "/api/v1/dashboard", Access::kRead}, [project](NoInput, Reply reply) {
        json panels = json::array();
        const config::Project* p = project ? project() : nullptr;
        if (p) {
          for (const config::DashboardPanel& panel : p->dashboard.panels) {
            panels.push_back({{"title", panel.title},
                              {"expr", panel.expr},
                              {"unit", std::string(config::kPanelUnitNames.Name(panel.unit))}});
          }
        }
        reply.Json(200, {{"panels", panels}});
      });
}

}  // namespace slipway::api
