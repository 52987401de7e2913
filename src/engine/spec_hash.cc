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
  // Where a service that could run either way runs is not in the rendered form (up
  // --containers chooses it outside the file): a change recreates it.
  const bool either =
      service.host_command || (service.build && (service.command || service.entrypoint));
  if (either && service.runtime == config::RuntimeChoice::kContainer) {
    text += std::string("\0runtime=container", 18);
  }
  return fmt::format("{:016x}", XXH64(text.data(), text.size(), 0));
}

}  // namespace slipway::engine
