// Maintenance mode: a service's requests answered 503 with a message while it is worked on.
#include "api/routes.h"

namespace slipway::api {

namespace {

struct MaintenanceBody {
  std::string service;
  bool on = false;
  std::string message;

  static Result<MaintenanceBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    MaintenanceBody m;
    m.service = f.RequiredString("service", "a service name");
    if (!f.Has("on")) f.Fail("on", "is missing (expected true or false)");
    m.on = f.Bool("on", false);
    m.message = f.String("message", "a message for the service's callers");
    RETURN_IF_ERROR(f.Finish());
    if (m.message.size() > 4096) return InvalidInput("message: longer than 4096 bytes");
    return m;
  }
};

}  // namespace

void RegisterMaintenanceRoutes(Router& r, const RouteDeps& d) {
  MaintenanceControl* m = d.maintenance;
  r.Add<NoInput>({Method::kGet, "/api/v1/maintenance", Access::kRead}, [m](NoInput, Reply reply) {
    reply.Json(200, nlohmann::json(m->MaintenanceMessages()));
  });
  r.Add<MaintenanceBody>({Method::kPost, "/api/v1/maintenance", Access::kAdmin, kSmallBody},
                         [m](MaintenanceBody b, Reply reply) {
                           if (Status st = m->SetMaintenance(b.service, b.on, b.message);
                               !st.ok()) {
                             return reply.Error(st);
                           }
                           nlohmann::json out = {{"service", b.service}, {"maintenance", b.on}};
                           auto it = m->MaintenanceMessages().find(b.service);
                           if (it != m->MaintenanceMessages().end()) out["message"] = it->second;
                           reply.Json(200, out);
                         });
}

}  // namespace slipway::api
