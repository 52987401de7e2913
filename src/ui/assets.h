// The dashboard's files (src/ui/web), embedded in the binary at build time by
// tools/embed_assets (a CMake step): the daemon serves them at /ui/ from memory, never from
// disk. Each file has its Content-Type, a strong ETag and, when it compresses, a gzip copy
// made at build time.
//
// Ownership: static data of the program. Threads: any (read-only).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace slipway::ui {

// One file as the generator writes it (plain data, so the table needs no initialiser code).
struct EmbeddedAsset {
  const char* name;          // base name: "index.html", "app.js"
  const char* content_type;  // "text/javascript; charset=utf-8"
  const char* etag;          // "\"0123456789abcdef\"" (quoted, as sent)
  const unsigned char* data;
  size_t size;
  const unsigned char* gzip;  // the gzip copy (gzip_size 0: none, serve `data`)
  size_t gzip_size;
};

extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

struct Asset {
  std::string_view name;
  std::string_view content_type;
  std::string_view etag;
  std::string_view body;
  std::string_view gzip;  // empty: no compressed copy
};

// The asset called `name` exactly (no folders, no normalisation: "../x" is simply unknown),
// or nullptr.
const Asset* FindAsset(std::string_view name);
// Every asset, in build order.
const std::vector<Asset>& Assets();
// What a browser downloads for the whole dashboard, each file compressed when it can be.
size_t CompressedBundleSize();

}  // namespace slipway::ui
