#include "config/image_ref.h"

namespace slipway::config {

std::string ImageTag(std::string_view image) {
  std::string_view name = image.substr(0, image.find('@'));  // the digest has colons too
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    return "";
  }
  return std::string(name.substr(colon + 1));
}

}  // namespace slipway::config
