#include "engine/spec_hash.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "config/render.h"

namespace slipway::engine {

std::string SpecHash(const config::Service& service) {
  // The rendered form covers every resolved field; secret values are masked there, so the
  // environment is hashed separately in full.
  config::Project one;
  one.services.emplace(service.name, service);
  std::string text = config::RenderJson(one).dump();
  for (const auto& [k, v] : service.environment) {
    text += '\0' + k + '=' + v;
  }
  return fmt::format("{:016x}", XXH64(text.data(), text.size(), 0));
}

}  // namespace slipway::engine
