// Migrator: applies, rolls back and reports schema migrations for one database.
//
// A Migrator pairs a migrations folder (source.h) with a database (driver.h)
// and the history table `slipway_migrations` in that database (version, name,
// checksum, applied_at ms, duration_ms, applied_by, dirty). Every command that
// writes takes the migration lock first (PostgreSQL advisory try-lock polled
// until `lock_timeout`, SQLite flock), so concurrent runs serialize: the second
// waits, then finds nothing pending.
//
// Each migration runs in its own transaction together with its history row;
// a failure rolls both back. A non-transactional migration is recorded dirty
// before it runs and clean after; a failure leaves the dirty row, which blocks
// `up`/`down` until resolved with Stamp(). An applied migration whose file
// changed (checksum drift) blocks `up` and is shown by GetStatus().
//
// A Migrator owns its connection; one thread uses it at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "migrate/driver.h"
#include "migrate/source.h"
#include "migrate/target.h"

namespace slipway::migrate {

// "user@host" of this process: what the history records as applied_by when a caller names
// nobody.
std::string DefaultAppliedBy();

inline constexpr char kHistoryTable[] = "slipway_migrations";

struct Options {
  std::filesystem::path dir;  // migrations folder
  Format format = Format::kAuto;
  Duration lock_timeout{60'000};
  Duration lock_poll{100};
  Clock* clock = Clock::Real();
  std::string who;  // recorded as applied_by; "" = user@host
  // Progress lines ("applied 0002_users (14 ms)"); may be empty.
  std::function<void(const std::string&)> log;
};

struct Applied {
  std::string version;
  std::string name;
  std::string checksum;
  int64_t applied_ms = 0;  // Unix ms
  int64_t duration_ms = 0;
  std::string applied_by;
  bool dirty = false;
};

enum class MigrationState { kApplied, kPending, kDirty, kChanged, kMissingFile, kOutOfOrder };
std::string_view StateName(MigrationState s);

struct StatusRow {
  std::string version;
  std::string name;
  MigrationState state = MigrationState::kPending;
  std::optional<Applied> applied;
};

struct StatusReport {
  std::vector<StatusRow> rows;  // ascending version
  int pending = 0;
  // Why `up` would refuse to run ("" when it would run): dirty, drift, out of order.
  std::string blocked;
};

struct VerifyReport {
  bool ok = false;
  int migrations = 0;
  std::string problem;  // what differed or failed ("" when ok)
};

class Migrator {
 public:
  static Result<std::unique_ptr<Migrator>> Open(const Target& target, Options options);
  ~Migrator();

  const Source& source() const { return source_; }
  Driver& driver() { return *driver_; }

  Result<StatusReport> GetStatus();
  // The history table's rows, in version order (empty when there is none yet).
  Result<std::vector<Applied>> History();

  // Applies pending migrations up to `to` ("" = all). Returns the versions applied.
  Result<std::vector<std::string>> Up(const std::string& to = "");
  // Rolls back the newest `steps` applied migrations, or (when `to` is set)
  // every applied migration newer than `to`. Returns the versions rolled back.
  Result<std::vector<std::string>> Down(int steps, const std::string& to = "");
  // Records the database as being at `version` ("0" = nothing applied) without
  // running SQL: rows for versions <= `version` are (re)written with the files'
  // current checksums and clean state; newer rows are removed.
  Status Stamp(const std::string& version);
  // The SQL `up` (or `down`) would run, with a header per migration; runs nothing.
  Result<std::string> Plan(bool up, const std::string& to = "", int steps = 1);

 private:
  Migrator(std::unique_ptr<Driver> driver, Source source, Options options)
      : driver_(std::move(driver)), source_(std::move(source)), options_(std::move(options)) {}

  Status Lock();
  void Unlock();
  Status EnsureTable();
  Status Blocked(const StatusReport& r, bool for_up);
  Status Apply(const Migration& m);
  Status Revert(const Migration& m);
  Status RunScript(const Script& s, const Migration& m, const char* what);
  // BEGIN, `body`, COMMIT; ROLLBACK when any of it fails (the first error is returned).
  Status InTransaction(const std::function<Status()>& body);
  Result<std::vector<const Migration*>> PendingUpTo(const StatusReport& r, const std::string& to);
  Result<std::vector<const Migration*>> ToRevert(const StatusReport& r, int steps,
                                                 const std::string& to);
  const Migration* Find(const std::string& version) const;
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  std::unique_ptr<Driver> driver_;
  Source source_;
  Options options_;
  bool locked_ = false;
};

// Entry points for other modules (deploy hooks, CLI).
// Applies all pending migrations (or up to `to`); the versions applied.
Result<std::vector<std::string>> Up(const Target& target, const Options& options,
                                    const std::string& to = "");
// True when `up` would apply something (no lock taken, nothing written).
Result<bool> HasPending(const Target& target, const Options& options);
// On a scratch database beside `like`: up, down to zero, up again; the schema
// after the round trip must equal the schema after the first up, and the
// schema after the full down must be empty again.
Result<VerifyReport> Verify(const Target& like, const Options& options);

}  // namespace slipway::migrate
