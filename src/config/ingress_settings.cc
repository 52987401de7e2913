#include "config/ingress_settings.h"

#include "config/node.h"
#include "config/project.h"
#include "config/values.h"

namespace slipway::config {

bool IngressEnabled(const Project& project) {
  if (!project.model) return false;
  const Node* x = project.model->Find("x-slipway");
  const Node* n = x != nullptr ? x->Find("ingress") : nullptr;
  if (n == nullptr) return false;
  Result<bool> on = ReadBool(*n, "x-slipway.ingress");
  return on.ok() && *on;
}

}  // namespace slipway::config
