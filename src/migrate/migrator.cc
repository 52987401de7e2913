#include "migrate/migrator.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/log.h"
#include "migrate/sql_split.h"

namespace slipway::migrate {
namespace {

std::string Label(const std::string& version, const std::string& name) {
  return name.empty() ? version : version + "_" + name;
}

std::string Short(const std::string& checksum) { return checksum.substr(0, 12); }

int64_t ToInt(const std::optional<std::string>& v) {
  if (!v) return 0;
  try {
    return std::stoll(*v);
  } catch (...) {
    return 0;
  }
}

}  // namespace

std::string_view StateName(MigrationState s) {
  switch (s) {
    case MigrationState::kApplied:
      return "applied";
    case MigrationState::kPending:
      return "pending";
    case MigrationState::kDirty:
      return "dirty";
    case MigrationState::kChanged:
      return "changed";
    case MigrationState::kMissingFile:
      return "missing-file";
    case MigrationState::kOutOfOrder:
      return "out-of-order";
  }
  return "?";
}

Result<std::unique_ptr<Migrator>> Migrator::Open(const Target& target, Options options) {
  ASSIGN_OR_RETURN(Source src, LoadSource(options.dir, options.format));
  if (options.who.empty()) options.who = DefaultAppliedBy();
  if (options.clock == nullptr) options.clock = Clock::Real();
  ASSIGN_OR_RETURN(auto driver, Driver::Open(target, "slipway migrate (" + options.who + " pid " +
                                                         std::to_string(::getpid()) + ")"));
  return std::unique_ptr<Migrator>(
      new Migrator(std::move(driver), std::move(src), std::move(options)));
}

Migrator::~Migrator() { Unlock(); }

Status Migrator::Lock() {
  MonoTime deadline = options_.clock->Now() + options_.lock_timeout;
  bool announced = false;
  while (true) {
    ASSIGN_OR_RETURN(bool got, driver_->TryLock());
    if (got) {
      locked_ = true;
      return Status::OK();
    }
    std::string holder = driver_->LockHolder();
    if (!announced) {
      Log("waiting for the migration lock on " + driver_->target().Display() +
          (holder.empty() ? "" : ", held by " + holder));
      announced = true;
    }
    if (options_.clock->Now() >= deadline) {
      return DeadlineExceeded("migration lock on " + driver_->target().Display() +
                              " not acquired within " +
                              std::to_string(options_.lock_timeout.count()) + " ms; held by " +
                              (holder.empty() ? "an unknown session" : holder));
    }
    std::this_thread::sleep_for(options_.lock_poll);
  }
}

void Migrator::Unlock() {
  if (!locked_) return;
  locked_ = false;
  // The session ending releases the lock anyway: worth a warning, not a failure.
  if (Status s = driver_->Unlock(); !s.ok()) logging::Warn("migrate", "unlock: " + s.message());
}

Status Migrator::EnsureTable() {
  return driver_->Exec(std::string("CREATE TABLE IF NOT EXISTS ") + kHistoryTable +
                       " (version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
                       "applied_at BIGINT NOT NULL, duration_ms BIGINT NOT NULL, "
                       "applied_by TEXT NOT NULL, dirty INTEGER NOT NULL DEFAULT 0)");
}

Result<std::vector<Applied>> Migrator::History() {
  ASSIGN_OR_RETURN(bool exists, driver_->TableExists(kHistoryTable));
  std::vector<Applied> out;
  if (!exists) return out;
  ASSIGN_OR_RETURN(auto rows,
                   driver_->Query(std::string("SELECT version, name, checksum, applied_at, "
                                              "duration_ms, applied_by, dirty FROM ") +
                                  kHistoryTable));
  for (const Row& r : rows) {
    Applied a;
    a.version = r[0].value_or("");
    a.name = r[1].value_or("");
    a.checksum = r[2].value_or("");
    a.applied_ms = ToInt(r[3]);
    a.duration_ms = ToInt(r[4]);
    a.applied_by = r[5].value_or("");
    a.dirty = ToInt(r[6]) != 0;
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const Applied& a, const Applied& b) {
    return CompareVersions(a.version, b.version) < 0;
  });
  return out;
}

const Migration* Migrator::Find(const std::string& version) const {
  for (const Migration& m : source_.migrations) {
    if (CompareVersions(m.version, version) == 0) return &m;
  }
  return nullptr;
}

Result<StatusReport> Migrator::GetStatus() {
  ASSIGN_OR_RETURN(std::vector<Applied> history, History());
  StatusReport rep;
  std::string max_applied;
  for (const Applied& a : history) {
    StatusRow row;
    row.version = a.version;
    row.name = a.name;
    row.applied = a;
    const Migration* m = Find(a.version);
    if (a.dirty) {
      row.state = MigrationState::kDirty;
    } else if (m == nullptr) {
      row.state = MigrationState::kMissingFile;
    } else if (m->checksum != a.checksum) {
      row.state = MigrationState::kChanged;
    } else {
      row.state = MigrationState::kApplied;
    }
    if (max_applied.empty() || CompareVersions(a.version, max_applied) > 0) max_applied = a.version;
    rep.rows.push_back(std::move(row));
  }
  for (const Migration& m : source_.migrations) {
    bool applied = std::any_of(history.begin(), history.end(), [&](const Applied& a) {
      return CompareVersions(a.version, m.version) == 0;
    });
    if (applied) continue;
    StatusRow row;
    row.version = m.version;
    row.name = m.name;
    row.state = !max_applied.empty() && CompareVersions(m.version, max_applied) < 0
                    ? MigrationState::kOutOfOrder
                    : MigrationState::kPending;
    ++rep.pending;
    rep.rows.push_back(std::move(row));
  }
  std::sort(rep.rows.begin(), rep.rows.end(), [](const StatusRow& a, const StatusRow& b) {
    return CompareVersions(a.version, b.version) < 0;
  });
  for (const StatusRow& r : rep.rows) {
    if (!rep.blocked.empty()) break;
    switch (r.state) {
      case MigrationState::kDirty:
        rep.blocked = "migration " + Label(r.version, r.name) +
                      " is dirty: it ran outside a transaction and failed part-way. Repair the "
                      "database by hand, then run `slipway migrate stamp " +
                      r.version + "` if it completed or `stamp` the previous version if it did not";
        break;
      case MigrationState::kChanged: {
        const Migration* m = Find(r.version);
        rep.blocked = "applied migration " + Label(r.version, r.name) + " changed since it was " +
                      "applied (" + m->up.file.string() + ": recorded checksum " +
                      Short(r.applied->checksum) + ", file now " + Short(m->checksum) +
                      "); restore the file, or accept it with `slipway migrate stamp`";
        break;
      }
      case MigrationState::kOutOfOrder:
        rep.blocked = "pending migration " + Label(r.version, r.name) +
                      " is older than the newest applied one; renumber it after the newest "
                      "applied version";
        break;
      default:
        break;
    }
  }
  return rep;
}

Status Migrator::Blocked(const StatusReport& r, bool for_up) {
  if (r.blocked.empty()) return Status::OK();
  bool dirty = std::any_of(r.rows.begin(), r.rows.end(),
                           [](const StatusRow& x) { return x.state == MigrationState::kDirty; });
  if (!for_up && !dirty) return Status::OK();
  return FailedPrecondition(r.blocked);
}

Status Migrator::RunScript(const Script& s, const Migration& m, const char* what) {
  ScriptError err;
  Status st = driver_->ExecScript(s.sql, &err);
  if (st.ok()) return st;
  return Internal(FormatScriptError(err, s.file.string(), s.first_line, s.sql));
}

Status Migrator::Apply(const Migration& m) {
  const std::string label = Label(m.version, m.name);
  MonoTime start = options_.clock->Now();
  const std::string insert = std::string("INSERT INTO ") + kHistoryTable +
                             " (version, name, checksum, applied_at, duration_ms, applied_by, "
                             "dirty) VALUES ($1, $2, $3, $4, $5, $6, $7)";
  auto params = [&](int64_t duration, bool dirty) {
    return std::vector<std::string>{m.version,
                                    m.name,
                                    m.checksum,
                                    std::to_string(options_.clock->WallMillis()),
                                    std::to_string(duration),
                                    options_.who,
                                    dirty ? "1" : "0"};
  };
  auto elapsed = [&] {
    return std::chrono::duration_cast<Duration>(options_.clock->Now() - start).count();
  };
  if (m.up.transactional) {
    Status st = InTransaction([&] {
      RETURN_IF_ERROR(RunScript(m.up, m, "up"));
      return driver_->Exec(insert, params(elapsed(), false));
    });
    if (!st.ok()) {
      return Status(st.code(),
                    "migration " + label + " failed and was rolled back: " + st.message());
    }
  } else {
    RETURN_IF_ERROR(driver_->Exec(insert, params(0, true)));
    Status st = RunScript(m.up, m, "up");
    if (!st.ok()) {
      return Status(st.code(), "migration " + label +
                                   " (non-transactional) failed; the database is marked dirty "
                                   "at this version: " +
                                   st.message());
    }
    RETURN_IF_ERROR(driver_->Exec(std::string("UPDATE ") + kHistoryTable +
                                      " SET dirty = 0, duration_ms = $2 WHERE version = $1",
                                  {m.version, std::to_string(elapsed())}));
  }
  Log("applied " + label + " (" + std::to_string(elapsed()) + " ms)");
  return Status::OK();
}

Status Migrator::InTransaction(const std::function<Status()>& body) {
  RETURN_IF_ERROR(driver_->Exec("BEGIN"));
  Status st = body();
  if (st.ok()) st = driver_->Exec("COMMIT");
  if (!st.ok()) {
    // The original error is the one returned; a failed rollback is logged beside it.
    if (Status rb = driver_->Exec("ROLLBACK"); !rb.ok()) {
      logging::Warn("migrate", "rollback: " + rb.message());
    }
  }
  return st;
}

Status Migrator::Revert(const Migration& m) {
  const std::string label = Label(m.version, m.name);
  MonoTime start = options_.clock->Now();
  const std::string del = std::string("DELETE FROM ") + kHistoryTable + " WHERE version = $1";
  // The history row may spell the version differently ("2" vs "0002").
  std::string recorded = m.version;
  ASSIGN_OR_RETURN(auto history, History());
  for (const Applied& a : history) {
    if (CompareVersions(a.version, m.version) == 0) recorded = a.version;
  }
  if (m.down.transactional) {
    Status st = InTransaction([&] {
      RETURN_IF_ERROR(RunScript(m.down, m, "down"));
      return driver_->Exec(del, {recorded});
    });
    if (!st.ok()) {
      return Status(st.code(), "rollback of " + label + " failed and was undone: " + st.message());
    }
  } else {
    RETURN_IF_ERROR(driver_->Exec(
        std::string("UPDATE ") + kHistoryTable + " SET dirty = 1 WHERE version = $1", {recorded}));
    Status st = RunScript(m.down, m, "down");
    if (!st.ok()) {
      return Status(st.code(), "rollback of " + label +
                                   " (non-transactional) failed; the database is marked dirty "
                                   "at this version: " +
                                   st.message());
    }
    RETURN_IF_ERROR(driver_->Exec(del, {recorded}));
  }
  auto ms = std::chrono::duration_cast<Duration>(options_.clock->Now() - start).count();
  Log("rolled back " + label + " (" + std::to_string(ms) + " ms)");
  return Status::OK();
}

Result<std::vector<const Migration*>> Migrator::PendingUpTo(const StatusReport& r,
                                                            const std::string& to) {
  if (!to.empty() && Find(to) == nullptr) {
    return InvalidInput("--to " + to + ": no migration file has that version");
  }
  std::vector<const Migration*> out;
  for (const StatusRow& row : r.rows) {
    if (row.state != MigrationState::kPending && row.state != MigrationState::kOutOfOrder) continue;
    if (!to.empty() && CompareVersions(row.version, to) > 0) continue;
    out.push_back(Find(row.version));
  }
  return out;
}

Result<std::vector<const Migration*>> Migrator::ToRevert(const StatusReport& r, int steps,
                                                         const std::string& to) {
  if (steps < 0) return InvalidInput("down: the number of steps must be positive");
  std::vector<const StatusRow*> applied;
  for (const StatusRow& row : r.rows) {
    if (row.applied) applied.push_back(&row);
  }
  std::reverse(applied.begin(), applied.end());
  std::vector<const Migration*> out;
  for (const StatusRow* row : applied) {
    if (!to.empty()) {
      if (to != "0" && CompareVersions(row->version, to) <= 0) break;
    } else if (static_cast<int>(out.size()) >= steps) {
      break;
    }
    const Migration* m = Find(row->version);
    if (m == nullptr) {
      return FailedPrecondition("cannot roll back " + Label(row->version, row->name) +
                                ": its migration file is missing");
    }
    if (!m->has_down) {
      return FailedPrecondition("cannot roll back " + Label(m->version, m->name) +
                                ": it has no down migration");
    }
    out.push_back(m);
  }
  if (!to.empty() && to != "0" && Find(to) == nullptr) {
    return InvalidInput("--to " + to + ": no migration file has that version");
  }
  return out;
}

Result<std::vector<std::string>> Migrator::Up(const std::string& to) {
  RETURN_IF_ERROR(Lock());
  struct Guard {
    Migrator* m;
    ~Guard() { m->Unlock(); }
  } guard{this};
  RETURN_IF_ERROR(EnsureTable());
  ASSIGN_OR_RETURN(StatusReport rep, GetStatus());
  RETURN_IF_ERROR(Blocked(rep, true));
  ASSIGN_OR_RETURN(auto todo, PendingUpTo(rep, to));
  std::vector<std::string> done;
  for (const Migration* m : todo) {
    RETURN_IF_ERROR(Apply(*m));
    done.push_back(m->version);
  }
  return done;
}

Result<std::vector<std::string>> Migrator::Down(int steps, const std::string& to) {
  RETURN_IF_ERROR(Lock());
  struct Guard {
    Migrator* m;
    ~Guard() { m->Unlock(); }
  } guard{this};
  RETURN_IF_ERROR(EnsureTable());
  ASSIGN_OR_RETURN(StatusReport rep, GetStatus());
  RETURN_IF_ERROR(Blocked(rep, false));
  ASSIGN_OR_RETURN(auto todo, ToRevert(rep, steps, to));
  std::vector<std::string> done;
  for (const Migration* m : todo) {
    RETURN_IF_ERROR(Revert(*m));
    done.push_back(m->version);
  }
  return done;
}

Status Migrator::Stamp(const std::string& version) {
  if (version != "0" && Find(version) == nullptr) {
    return InvalidInput("stamp " + version + ": no migration file has that version");
  }
  RETURN_IF_ERROR(Lock());
  struct Guard {
    Migrator* m;
    ~Guard() { m->Unlock(); }
  } guard{this};
  RETURN_IF_ERROR(EnsureTable());
  RETURN_IF_ERROR(InTransaction([&]() -> Status {
    ASSIGN_OR_RETURN(auto history, History());
    for (const Applied& a : history) {
      if (version == "0" || CompareVersions(a.version, version) > 0 || Find(a.version) != nullptr) {
        RETURN_IF_ERROR(driver_->Exec(
            std::string("DELETE FROM ") + kHistoryTable + " WHERE version = $1", {a.version}));
      }
    }
    if (version == "0") return Status::OK();
    for (const Migration& m : source_.migrations) {
      if (CompareVersions(m.version, version) > 0) break;
      int64_t when = options_.clock->WallMillis();
      for (const Applied& a : history) {
        if (CompareVersions(a.version, m.version) == 0) when = a.applied_ms;
      }
      RETURN_IF_ERROR(driver_->Exec(
          std::string("INSERT INTO ") + kHistoryTable +
              " (version, name, checksum, applied_at, duration_ms, applied_by, dirty) "
              "VALUES ($1, $2, $3, $4, 0, $5, 0)",
          {m.version, m.name, m.checksum, std::to_string(when), options_.who + " (stamp)"}));
    }
    return Status::OK();
  }));
  Log("stamped " + driver_->target().Display() + " at version " + version);
  return Status::OK();
}

Result<std::string> Migrator::Plan(bool up, const std::string& to, int steps) {
  ASSIGN_OR_RETURN(StatusReport rep, GetStatus());
  std::string out;
  if (!rep.blocked.empty()) out += "-- blocked: " + rep.blocked + "\n";
  std::vector<const Migration*> todo;
  if (up) {
    ASSIGN_OR_RETURN(todo, PendingUpTo(rep, to));
  } else {
    ASSIGN_OR_RETURN(todo, ToRevert(rep, steps, to));
  }
  if (todo.empty()) out += "-- nothing to " + std::string(up ? "apply" : "roll back") + "\n";
  for (const Migration* m : todo) {
    const Script& s = up ? m->up : m->down;
    out += "-- " + std::string(up ? "up " : "down ") + Label(m->version, m->name) + " (" +
           s.file.filename().string() + ", " +
           (s.transactional ? "in a transaction" : "outside a transaction") + ")\n";
    out += s.sql;
    if (!s.sql.empty() && s.sql.back() != '\n') out += "\n";
  }
  return out;
}

Result<std::vector<std::string>> Up(const Target& target, const Options& options,
                                    const std::string& to) {
  ASSIGN_OR_RETURN(auto m, Migrator::Open(target, options));
  return m->Up(to);
}

Result<bool> HasPending(const Target& target, const Options& options) {
  ASSIGN_OR_RETURN(auto m, Migrator::Open(target, options));
  ASSIGN_OR_RETURN(StatusReport rep, m->GetStatus());
  return rep.pending > 0;
}

Result<VerifyReport> Verify(const Target& like, const Options& options) {
  ASSIGN_OR_RETURN(auto scratch, ScratchDatabase::Create(like, "verify"));
  ASSIGN_OR_RETURN(auto m, Migrator::Open(scratch->target(), options));
  VerifyReport rep;
  rep.migrations = static_cast<int>(m->source().migrations.size());
  auto fail = [&](std::string why) {
    rep.ok = false;
    rep.problem = std::move(why);
    return rep;
  };
  ASSIGN_OR_RETURN(std::string empty, m->driver().SchemaFingerprint(kHistoryTable));
  if (auto r = m->Up(); !r.ok()) return fail("first up: " + r.status().message());
  ASSIGN_OR_RETURN(std::string first, m->driver().SchemaFingerprint(kHistoryTable));
  if (auto r = m->Down(0, "0"); !r.ok()) return fail("down: " + r.status().message());
  ASSIGN_OR_RETURN(std::string after_down, m->driver().SchemaFingerprint(kHistoryTable));
  if (after_down != empty) {
    return fail("down did not undo every change; left behind:\n" + after_down);
  }
  if (auto r = m->Up(); !r.ok()) return fail("second up: " + r.status().message());
  ASSIGN_OR_RETURN(std::string second, m->driver().SchemaFingerprint(kHistoryTable));
  if (second != first) {
    return fail("schema after up/down/up differs from the schema after the first up:\nfirst:\n" +
                first + "second:\n" + second);
  }
  rep.ok = true;
  m.reset();  // close the scratch connection before the database is dropped
  return rep;
}

std::string DefaultAppliedBy() {
  std::string user;
  if (const char* u = std::getenv("USER"); u != nullptr && *u) {
    user = u;
  } else if (passwd* pw = ::getpwuid(::geteuid())) {
    user = pw->pw_name;
  }
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return user + "@" + host;
}

}  // namespace slipway::migrate
