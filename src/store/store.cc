#include "store/store.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>
#include <utility>

namespace slipway::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr int kWalRetryMs = 2;

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& path, Clock* clock) {
  return OpenWithStepsForTest(path, clock, StoreSchema().steps);
}

Result<std::unique_ptr<Store>> Store::OpenWithStepsForTest(const std::filesystem::path& path,
                                                           Clock* clock,
                                                           std::span<const SchemaStep> steps) {
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return IoError("store: cannot create " + path.parent_path().string() + ": " + ec.message());
    }
  }
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(raw, rc, "open " + path.string());
    sqlite3_close(raw);
    return s;
  }
  std::unique_ptr<Store> store(new Store(raw, path, clock));
  const std::string where = path.string();
  if (Status s = store->Configure(); !s.ok()) return s.WithContext(where);
  Result<int> version = store->ApplyAndRemember({StoreSchema().module, steps});
  if (!version.ok()) return version.status().WithContext(where);
  store->schema_version_ = *version;
  // From here on writes are tracked; a fault while configuring or migrating is Open's own
  // error (and the first open's WAL switch may meet SQLITE_BUSY by design).
  RegisterWriteHealth(store->db_, &store->write_health_);
  if (Status s = store->PrepareStatements(); !s.ok()) return s.WithContext(where);
  return store;
}

Store::~Store() {
  // Statements first: sqlite3_close refuses a connection with live statements.
  append_event_.reset();
  events_.reset();
  set_meta_.reset();
  get_meta_.reset();
  UnregisterWriteHealth(db_);
  sqlite3_close(db_);
}

Status Store::Configure() {
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db_, 1);
  // journal_mode answers with the mode actually in effect; WAL can be refused
  // (e.g. on some network file systems), and we want to know. Switching a fresh
  // file to WAL needs an exclusive lock, and when two connections race for it
  // SQLite answers SQLITE_BUSY at once instead of calling the busy handler (it
  // would deadlock), so the switch is retried here, bounded like the handler.
  std::string mode;
  for (int waited_ms = 0;; waited_ms += kWalRetryMs) {
    ASSIGN_OR_RETURN(auto wal, Statement::Prepare(db_, "PRAGMA journal_mode=WAL", "enable WAL"));
    Result<bool> row = wal->Step();
    if (row.ok()) {
      mode = *row ? wal->ColumnText(0) : "";
      break;
    }
    if (row.status().code() != StatusCode::kUnavailable || waited_ms >= kBusyTimeoutMs) {
      return row.status();
    }
    wal.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(kWalRetryMs));
  }
  if (mode != "wal") {
    return IoError("store: enable WAL: journal mode is \"" + mode + "\", expected \"wal\"");
  }
  // NORMAL is durable across application crashes in WAL mode and avoids an
  // fsync per event.
  return Exec(db_, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", "configure connection");
}

Status Store::Apply(const ModuleSchema& schema) {
  auto it = applied_.find(schema.module);
  if (it != applied_.end() && it->second == schema.steps.size()) return Status::OK();
  return ApplyAndRemember(schema).status();
}

Result<int> Store::ApplyAndRemember(const ModuleSchema& schema) {
  ASSIGN_OR_RETURN(int version, ApplySchema(db_, schema, clock_));
  applied_[schema.module] = schema.steps.size();
  return version;
}

Status Store::PrepareStatements() {
  ASSIGN_OR_RETURN(append_event_,
                   Statement::Prepare(db_,
                                      "INSERT INTO events(wall_ms, service, instance, kind, "
                                      "message) VALUES (?1, ?2, ?3, ?4, ?5)",
                                      "append event"));
  // Newest `limit` first in the inner query, then back to id order. A NULL
  // service list means all services; otherwise it is a JSON array of names,
  // which keeps this a single prepared statement for any number of names.
  ASSIGN_OR_RETURN(events_,
                   Statement::Prepare(db_,
                                      "SELECT id, wall_ms, service, instance, kind, message "
                                      "FROM (SELECT * FROM events WHERE wall_ms >= ?1 AND "
                                      "(?2 IS NULL OR service IN (SELECT value FROM "
                                      "json_each(?2))) ORDER BY id DESC LIMIT ?3) ORDER BY id",
                                      "read events"));
  ASSIGN_OR_RETURN(set_meta_, Statement::Prepare(db_,
                                                 "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                                                 "ON CONFLICT(key) DO UPDATE SET value = ?2",
                                                 "set meta"));
  ASSIGN_OR_RETURN(get_meta_,
                   Statement::Prepare(db_, "SELECT value FROM meta WHERE key = ?1", "get meta"));
  return Status::OK();
}

Status Store::AppendEvent(Event e) {
  if (e.wall_ms == 0) e.wall_ms = clock_->WallMillis();
  Statement& st = *append_event_;
  st.Reset();
  RETURN_IF_ERROR(st.BindInt64(1, e.wall_ms));
  RETURN_IF_ERROR(st.BindText(2, e.service));
  RETURN_IF_ERROR(st.BindInt64(3, e.instance));
  RETURN_IF_ERROR(st.BindText(4, e.kind));
  RETURN_IF_ERROR(st.BindText(5, e.message));
  Status s = st.Run();
  st.Reset();
  return s;
}

Result<std::vector<Event>> Store::Events(int64_t since_ms, const std::vector<std::string>& services,
                                         size_t limit) const {
  Statement& st = *events_;
  st.Reset();
  RETURN_IF_ERROR(st.BindInt64(1, since_ms));
  if (services.empty()) {
    RETURN_IF_ERROR(st.BindNull(2));
  } else {
    RETURN_IF_ERROR(st.BindText(2, nlohmann::json(services).dump()));
  }
  RETURN_IF_ERROR(st.BindInt64(3, limit == 0 ? -1 : static_cast<int64_t>(limit)));
  std::vector<Event> out;
  while (true) {
    auto row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Event e;
    e.id = st.ColumnInt64(0);
    e.wall_ms = st.ColumnInt64(1);
    e.service = st.ColumnText(2);
    e.instance = static_cast<int>(st.ColumnInt64(3));
    e.kind = st.ColumnText(4);
    e.message = st.ColumnText(5);
    out.push_back(std::move(e));
  }
  st.Reset();  // release the read snapshot
  return out;
}

Status Store::SetMeta(const std::string& key, const std::string& value) {
  Statement& st = *set_meta_;
  st.Reset();
  RETURN_IF_ERROR(st.BindText(1, key));
  RETURN_IF_ERROR(st.BindText(2, value));
  Status s = st.Run();
  st.Reset();
  return s;
}

Result<std::optional<std::string>> Store::GetMeta(const std::string& key) const {
  Statement& st = *get_meta_;
  st.Reset();
  RETURN_IF_ERROR(st.BindText(1, key));
  auto row = st.Step();
  if (!row.ok()) return row.status();
  std::optional<std::string> value;
  if (*row) value = st.ColumnText(0);
  st.Reset();
  return value;
}

namespace {

std::string JsonList(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

// A list column written by SetProjectLoad; anything else (a hand-edited file) is an error
// rather than a guess.
Result<std::vector<std::string>> ParseList(const std::string& text, const char* column) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& e : j) {
      if (!e.is_string()) break;
      out.push_back(e.get<std::string>());
    }
    if (out.size() == j.size()) return out;
  }
  return Internal(std::string("state.db: project_load.") + column +
                  " is not a JSON list of strings");
}

}  // namespace

Status Store::SetProjectLoad(const ProjectLoad& load) {
  ASSIGN_OR_RETURN(auto st,
                   Statement::Prepare(db_,
                                      "INSERT OR REPLACE INTO project_load(id, working_dir, files, "
                                      "env_files, profiles, env, project_name, loaded_files, "
                                      "loaded_env_files, updated_ms) "
                                      "VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                      "remember the project's files"));
  RETURN_IF_ERROR(st->BindText(1, load.working_dir));
  RETURN_IF_ERROR(st->BindText(2, JsonList(load.files)));
  RETURN_IF_ERROR(st->BindText(3, JsonList(load.env_files)));
  RETURN_IF_ERROR(st->BindText(4, JsonList(load.profiles)));
  RETURN_IF_ERROR(st->BindText(5, load.env));
  RETURN_IF_ERROR(st->BindText(6, load.project_name));
  RETURN_IF_ERROR(st->BindText(7, JsonList(load.loaded_files)));
  RETURN_IF_ERROR(st->BindText(8, JsonList(load.loaded_env_files)));
  RETURN_IF_ERROR(st->BindInt64(9, clock_->WallMillis()));
  return st->Run();
}

Result<std::optional<ProjectLoad>> Store::GetProjectLoad() const {
  ASSIGN_OR_RETURN(auto st, Statement::Prepare(db_,
                                               "SELECT working_dir, files, env_files, profiles, "
                                               "env, project_name, loaded_files, "
                                               "loaded_env_files, updated_ms FROM project_load "
                                               "WHERE id = 1",
                                               "read the project's files"));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<ProjectLoad>();
  ProjectLoad l;
  l.working_dir = st->ColumnText(0);
  ASSIGN_OR_RETURN(l.files, ParseList(st->ColumnText(1), "files"));
  ASSIGN_OR_RETURN(l.env_files, ParseList(st->ColumnText(2), "env_files"));
  ASSIGN_OR_RETURN(l.profiles, ParseList(st->ColumnText(3), "profiles"));
  l.env = st->ColumnText(4);
  l.project_name = st->ColumnText(5);
  ASSIGN_OR_RETURN(l.loaded_files, ParseList(st->ColumnText(6), "loaded_files"));
  ASSIGN_OR_RETURN(l.loaded_env_files, ParseList(st->ColumnText(7), "loaded_env_files"));
  l.updated_ms = st->ColumnInt64(8);
  return std::optional<ProjectLoad>(std::move(l));
}

}  // namespace slipway::store
