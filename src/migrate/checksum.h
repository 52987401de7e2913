// SHA-256 helpers (OpenSSL EVP) for migration file checksums and backup files.
//
// Stateless functions and a small incremental hasher; any thread, each Sha256
// object used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::migrate {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  std::string HexDigest();  // finishes; call once

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);
// Streams the file; IoError when it cannot be read.
Result<std::string> Sha256File(const std::filesystem::path& path);

}  // namespace slipway::migrate
