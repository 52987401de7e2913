// DatabaseProber: is each database under `x-slipway.databases` answering? For
// /health/detailed and the slipway_database_up gauge.
//
// A worker thread probes every database in turn (`SELECT 1`: PostgreSQL through
// migrate::Driver with libpq's connect_timeout, SQLite opened read-only so a probe never
// creates a file or a folder, plus a read of sqlite_master so the file's header is checked),
// then sleeps `interval`. Readers get the last results from
// Snapshot() without waiting: the control loop never blocks on a database. A probe still
// running after `timeout` is reported down ("no answer within ...") even before the driver
// gives up, so a hung server shows as down while its probe is stuck.
//
// Ownership: the AlertingService owns the prober; the prober owns its thread (joined by the
// destructor, which waits at most for the probe in progress: libpq's connect_timeout).
// Threads: Start(), Snapshot(), ProbeOnceForTest() and the destructor from any one thread;
// the probes run on the worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::alerts {

struct DatabaseProbeTarget {
  std::string name;  // the key under x-slipway.databases
  std::string url;   // postgres://... | sqlite:path
};

// The outcome of one probe; plain data.
struct DatabaseHealth {
  std::string name;
  std::string kind;    // "postgres" | "sqlite" | "" (URL does not parse)
  std::string target;  // the URL for messages, password masked
  std::string status;  // "ok" | "down" | "unknown" (never probed yet)
  std::string error;   // why it is down
  double latency_ms = 0;
  int64_t checked_ms = 0;  // wall clock of the last finished probe (0: none yet)
};

// One blocking probe (what the worker runs). `base_dir` anchors relative SQLite paths.
DatabaseHealth ProbeDatabase(const DatabaseProbeTarget& t, const std::filesystem::path& base_dir,
                             Duration timeout);

class DatabaseProber {
 public:
  struct Options {
    std::filesystem::path base_dir;  // the project's folder
    Duration timeout{3000};          // per probe
    Duration interval{5000};         // pause between rounds
    Clock* clock = Clock::Real();
  };

  DatabaseProber(std::vector<DatabaseProbeTarget> targets, Options opts);
  ~DatabaseProber();
  DatabaseProber(const DatabaseProber&) = delete;
  DatabaseProber& operator=(const DatabaseProber&) = delete;

  // Starts the worker (first round at once). Idempotent.
  void Start();
  // The latest result per database, in configuration order; probes stuck past the timeout
  // count as down.
  std::vector<DatabaseHealth> Snapshot() const;
  // Rounds finished so far (tests poll it).
  uint64_t rounds() const;
  // One round on the calling thread, without the worker.
  void ProbeOnceForTest();

  bool empty() const { return targets_.empty(); }

 private:
  void Run();
  void Round();

  const std::vector<DatabaseProbeTarget> targets_;
  const Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t rounds_ = 0;
  std::vector<DatabaseHealth> results_;
  size_t probing_ = SIZE_MAX;  // index of the probe in progress
  int64_t probing_since_ms_ = 0;
  std::thread worker_;
};

// {"main": {"status", "kind", "target", "latency_ms", "error", "checked_ms"}, ...}
nlohmann::json DatabasesJson(const std::vector<DatabaseHealth>& dbs);

}  // namespace slipway::alerts
