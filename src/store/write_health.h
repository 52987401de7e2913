// WriteHealth: whether the writes of one SQLite connection currently succeed.
//
// A write that fails with a storage fault (disk full, I/O error, read-only file or
// connection, corrupt file, lock not obtained within the busy timeout, ...) marks the
// connection degraded, with the error text and time, until a later write on it succeeds;
// every such failure counts. Without this a full disk under `.slipway` lost events
// silently while the daemon reported the store as fine. Constraint violations and SQL
// errors are bugs or bad input, not storage faults, and do not count; neither do failed
// reads (nothing is lost).
//
// Statement and Exec (statement.h) report to the WriteHealth registered for their
// connection, so every table owner's writes count without doing anything. The Store
// registers one for its connection once it is open (a fault while opening is Open's own
// error) and unregisters it before closing.
//
// Threads: a WriteHealth may be read from any thread while its connection's thread writes
// (a mutex guards it); the registry is process-wide and locked.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace slipway::store {

struct WriteHealthSnapshot {
  bool degraded = false;
  uint64_t write_errors_total = 0;  // failed writes since the connection opened
  std::string last_error;           // the last failure's text ("" = none yet)
  int64_t last_error_ms = 0;        // Unix ms of the last failure (0 = none)
  int64_t degraded_since_ms = 0;    // first failure of the current degraded spell (0 = ok)
};

// True for the result codes that mean the storage failed a write (see the header comment).
bool IsStorageFault(int rc);

class WriteHealth {
 public:
  explicit WriteHealth(Clock* clock) : clock_(clock) {}

  void RecordFailure(std::string_view error);
  void RecordSuccess();
  WriteHealthSnapshot Snapshot() const;

 private:
  Clock* clock_;
  mutable std::mutex mu_;
  WriteHealthSnapshot s_;  // guarded by mu_
};

// The registry: which WriteHealth a connection reports to. `health` must outlive the
// registration; unregister before sqlite3_close (a later connection may reuse the address).
void RegisterWriteHealth(sqlite3* db, WriteHealth* health);
void UnregisterWriteHealth(sqlite3* db);
// nullptr when none is registered (a connection the Store does not own: tools, tests).
WriteHealth* WriteHealthOf(sqlite3* db);

}  // namespace slipway::store
