// Catalog: the backups table of the state store (schema step 3).
//
// One row per completed backup: a row is written only after the file is
// complete on disk, fsynced and its checksum computed, so every listed backup
// is whole. `verified_ms`/`verify_status` record the last `backup verify`.
//
// The Catalog borrows the Store's connection and must be used on the thread
// that uses the Store. It must be destroyed before the Store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/schema.h"
#include "store/store.h"

namespace slipway::backup {

// The backups table's schema steps (store/schema.h); each Catalog call applies them
// (store::Store::Apply returns at once after the first).
const store::ModuleSchema& CatalogSchema();

struct BackupRecord {
  int64_t id = 0;
  std::string database;       // the configured name (x-slipway.databases key) or the db's name
  int64_t created_ms = 0;     // Unix ms
  int64_t size = 0;           // bytes on disk
  std::string sha256;         // hex, of the file on disk
  std::string kind;           // "pg_dump-custom" | "sqlite-zstd"
  std::string path;           // absolute path of the file
  int64_t verified_ms = 0;    // last verify (0 = never)
  std::string verify_status;  // "ok" or "failed: why" ("" = never verified)

  bool Verified() const { return verified_ms > 0 && verify_status == "ok"; }
};

class Catalog {
 public:
  explicit Catalog(store::Store* store) : store_(store) {}

  // Inserts and returns the record with its new id.
  Result<BackupRecord> Add(BackupRecord r);
  // All backups (of `database`, or all when empty), newest first.
  Result<std::vector<BackupRecord>> List(const std::string& database = "");
  Result<BackupRecord> Get(int64_t id);
  Status SetVerified(int64_t id, int64_t when_ms, const std::string& status);
  Status Remove(int64_t id);

  // The store the catalog lives in (migration tool runs are recorded beside it).
  store::Store* store() const { return store_; }

 private:
  store::Store* store_;
};

}  // namespace slipway::backup
