#include "ui/assets.h"

namespace slipway::ui {

namespace {

std::string_view View(const unsigned char* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

}  // namespace

const std::vector<Asset>& Assets() {
  static const std::vector<Asset> assets = [] {
    std::vector<Asset> out;
    for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
      const EmbeddedAsset& e = kEmbeddedAssets[i];
      out.push_back(
          {e.name, e.content_type, e.etag, View(e.data, e.size), View(e.gzip, e.gzip_size)});
    }
    return out;
  }();
  return assets;
}

const Asset* FindAsset(std::string_view name) {
  for (const Asset& a : Assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

size_t CompressedBundleSize() {
  size_t n = 0;
  for (const Asset& a : Assets()) n += a.gzip.empty() ? a.body.size() : a.gzip.size();
  return n;
}

}  // namespace slipway::ui
