#include "daemon/state_schemas.h"

#include "alerts/rules.h"
#include "api/tokens.h"
#include "backup/catalog.h"
#include "deploy/releases.h"
#include "flags/flag_service.h"
#include "migrate/tool.h"

namespace slipway::daemon {

std::vector<store::ModuleSchema> StateSchemas() {
  return {store::StoreSchema(),     backup::CatalogSchema(),    flags::FlagsSchema(),
          deploy::ReleasesSchema(), alerts::AlertStateSchema(), migrate::ToolRunsSchema(),
          api::AccessSchema()};
}

Status ApplyStateSchemas(store::Store* store) {
  for (const store::ModuleSchema& schema : StateSchemas()) RETURN_IF_ERROR(store->Apply(schema));
  return Status::OK();
}

}  // namespace slipway::daemon
