// ImageTag: the tag of a container image reference, as the OCI distribution reference grammar
// splits it: [registry[:port]/]path[:tag][@digest]. A colon is a tag separator only after the
// last '/', so a registry port ("localhost:5000/app") is not mistaken for one.
//
// The deployer labels a release with its image's tag when `deploy --version` is not given, so
// `VERSION=1.2.0 slipway deploy api` over `image: shop/api:${VERSION}` lists as 1.2.0.
//
// Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

namespace slipway::config {

// "" when the reference has no tag (a bare name, or a digest only).
std::string ImageTag(std::string_view image);

}  // namespace slipway::config
