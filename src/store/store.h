// Store: the project's persistent state in SQLite at `.slipway/state.db`.
//
// Opening the store creates the file (and its folder) if needed, turns on WAL
// journaling, a busy timeout and foreign keys, and brings the store's own tables up
// to the version this binary knows (schema.h), one transaction per step; other
// modules bring theirs with Apply() before they use them. A database written by a
// newer binary is refused rather than guessed at.
//
// The Store owns its connection and its prepared statements, and the connection's
// WriteHealth (write_health.h): every write on the connection, the Store's own and other
// modules' statements on db(), marks the store degraded when it fails with a storage fault
// and healthy again when a later one succeeds; write_health() tells (the /health/detailed
// store section, the slipway_store_* metrics and the SlipwayStoreDegraded alert read it).
// It is single-threaded: only the daemon's control loop calls it (write_health() may be
// read from any thread). Other processes (a CLI command's own reads and writes, such as
// backups or migration runs) may open the same file at the same time; WAL lets readers
// proceed while the daemon writes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/schema.h"
#include "store/statement.h"
#include "store/write_health.h"

namespace slipway::store {

struct Event {
  int64_t id = 0;       // assigned by the store; increasing
  int64_t wall_ms = 0;  // Unix milliseconds
  std::string service;
  int instance = 0;
  std::string kind;  // started, exited, healthy, unhealthy, restarted, stopped, ...
  std::string message;
};

// How the project was last loaded (`up`, or the daemon's start): what every later command
// loads it with when it names no files itself. Paths are absolute. `files` are the compose
// files before the environment's overlay (named with -f, or found); `env_files` the ones named
// with --env-file (empty: the project's .env); `loaded_*` every file read, in order.
struct ProjectLoad {
  std::string working_dir;
  std::vector<std::string> files;
  std::vector<std::string> env_files;
  std::vector<std::string> profiles;
  std::string env;           // the environment name, "" for none
  std::string project_name;  // -p, "" when not given
  std::vector<std::string> loaded_files;
  std::vector<std::string> loaded_env_files;
  int64_t updated_ms = 0;  // Unix ms; set by SetProjectLoad
};

class Store {
 public:
  // Opens (creating if missing) the database at `path` and applies pending
  // schema steps. `clock` stamps events and must outlive the Store.
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& path, Clock* clock);

  // Same, with a caller-given step list, so tests can exercise upgrades.
  static Result<std::unique_ptr<Store>> OpenWithStepsForTest(const std::filesystem::path& path,
                                                             Clock* clock,
                                                             std::span<const SchemaStep> steps);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Appends one event; `wall_ms` is taken from the clock when 0. `id` is ignored.
  Status AppendEvent(Event e);

  // Events with wall_ms >= since_ms, of the given services (empty = all), in
  // id order. When more than `limit` match, the newest `limit` are returned
  // (like `tail`); limit 0 means no limit.
  Result<std::vector<Event>> Events(int64_t since_ms, const std::vector<std::string>& services,
                                    size_t limit) const;

  // Key/value settings that must survive restarts (e.g. the API port).
  Status SetMeta(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> GetMeta(const std::string& key) const;

  // The one remembered ProjectLoad (replaced on each call); nullopt before the first.
  Status SetProjectLoad(const ProjectLoad& load);
  Result<std::optional<ProjectLoad>> GetProjectLoad() const;

  // The version of the store's own tables in the open database (its highest applied step).
  int SchemaVersion() const { return schema_version_; }

  // Applies a module's pending schema steps (schema.h): each module calls it before it first
  // uses its tables. A module this Store already applied with the same steps returns at once,
  // so callers need not remember it (steps a newer binary adds meanwhile are refused on the
  // next open, not here).
  Status Apply(const ModuleSchema& schema);

  // The connection, for later modules' own statements (use on the same thread).
  sqlite3* db() { return db_; }

  const std::filesystem::path& path() const { return path_; }

  // Whether writes currently fail, how many failed, and the last error (with its time).
  WriteHealthSnapshot write_health() const { return write_health_.Snapshot(); }

 private:
  Store(sqlite3* db, std::filesystem::path path, Clock* clock)
      : db_(db), path_(std::move(path)), clock_(clock), write_health_(clock) {}

  Status Configure();
  Status PrepareStatements();
  // ApplySchema, then remembers the module as applied; answers its version.
  Result<int> ApplyAndRemember(const ModuleSchema& schema);

  sqlite3* db_;  // owned; closed in the destructor after the statements
  std::filesystem::path path_;
  Clock* clock_;
  int schema_version_ = 0;
  // Modules applied on this connection, with how many steps they had then; a shorter list
  // (an older binary's) is checked again so it is refused.
  std::map<std::string, size_t> applied_;
  WriteHealth write_health_;  // registered for db_ from the end of Open() to the destructor
  std::unique_ptr<Statement> append_event_;
  std::unique_ptr<Statement> events_;
  std::unique_ptr<Statement> set_meta_;
  std::unique_ptr<Statement> get_meta_;
};

}  // namespace slipway::store
