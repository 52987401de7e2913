#include "store/write_health.h"

#include <unordered_map>

namespace slipway::store {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex* mu = new std::mutex();  // leaked: used until the process ends
  return *mu;
}

std::unordered_map<sqlite3*, WriteHealth*>& Registry() {
  static auto* map = new std::unordered_map<sqlite3*, WriteHealth*>();
  return *map;
}

}  // namespace

bool IsStorageFault(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:      // disk (or max_page_count) full
    case SQLITE_IOERR:     // read/write/fsync failed
    case SQLITE_READONLY:  // file or connection not writable
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:  // e.g. the WAL or a journal cannot be created
    case SQLITE_PERM:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_BUSY:  // the write lock not obtained within the busy timeout
    case SQLITE_LOCKED:
      return true;
    default:
      return false;
  }
}

void WriteHealth::RecordFailure(std::string_view error) {
  const int64_t now = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  ++s_.write_errors_total;
  s_.last_error.assign(error.substr(0, 1024));  // an error text is one bounded line
  s_.last_error_ms = now;
  if (!s_.degraded) {
    s_.degraded = true;
    s_.degraded_since_ms = now;
  }
}

void WriteHealth::RecordSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  s_.degraded = false;
  s_.degraded_since_ms = 0;
}

WriteHealthSnapshot WriteHealth::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return s_;
}

void RegisterWriteHealth(sqlite3* db, WriteHealth* health) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[db] = health;
}

void UnregisterWriteHealth(sqlite3* db) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().erase(db);
}

WriteHealth* WriteHealthOf(sqlite3* db) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto it = Registry().find(db);
  return it == Registry().end() ? nullptr : it->second;
}

}  // namespace slipway::store
