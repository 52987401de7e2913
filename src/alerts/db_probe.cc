#include "alerts/db_probe.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "migrate/driver.h"
#include "migrate/target.h"

namespace slipway::alerts {

using nlohmann::json;

namespace {

// SQLite: read-only, no create, so a wrong path is reported instead of becoming a new file.
Status ProbeSqlite(const std::filesystem::path& path, Duration timeout) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Unavailable(msg);
  }
  sqlite3_busy_timeout(db, static_cast<int>(timeout.count()));
  // Opening is lazy and `SELECT 1` alone never touches the file: reading the schema table
  // does, so a file that is not a database (or is unreadable) fails here.
  char* err = nullptr;
  rc = sqlite3_exec(db, "SELECT 1; SELECT count(*) FROM sqlite_master", nullptr, nullptr, &err);
  Status st = Status::OK();
  if (rc != SQLITE_OK) {
    st = Unavailable(err != nullptr ? err : sqlite3_errstr(rc));
  }
  sqlite3_free(err);
  sqlite3_close_v2(db);
  return st;
}

Status ProbePostgres(migrate::Target target, Duration timeout) {
  // libpq counts whole seconds and treats anything under 2 as 2.
  int64_t secs = std::max<int64_t>(2, (timeout.count() + 999) / 1000);
  target.pg_params["connect_timeout"] = std::to_string(secs);
  ASSIGN_OR_RETURN(auto driver, migrate::Driver::Open(target, "slipway-health"));
  return driver->Exec("SELECT 1");
}

}  // namespace

DatabaseHealth ProbeDatabase(const DatabaseProbeTarget& t, const std::filesystem::path& base_dir,
                             Duration timeout) {
  DatabaseHealth h;
  h.name = t.name;
  h.checked_ms = Clock::Real()->WallMillis();
  auto target = migrate::ParseTarget(t.url, base_dir);
  if (!target.ok()) {
    h.status = "down";
    h.error = target.status().message();
    return h;
  }
  h.kind = target->IsPostgres() ? "postgres" : "sqlite";
  h.target = target->Display();
  auto t0 = std::chrono::steady_clock::now();
  Status st = target->IsPostgres() ? ProbePostgres(*target, timeout)
                                   : ProbeSqlite(target->sqlite_path, timeout);
  h.latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  h.checked_ms = Clock::Real()->WallMillis();
  if (st.ok() && h.latency_ms > static_cast<double>(timeout.count())) {
    st = DeadlineExceeded(
        fmt::format("answered after {:.0f} ms (timeout {} ms)", h.latency_ms, timeout.count()));
  }
  h.status = st.ok() ? "ok" : "down";
  if (!st.ok()) {
    // The driver's message repeats the target (shown beside it) and libpq's has tabs.
    h.error = st.message();
    const std::string prefix = "cannot connect to " + h.target + ": ";
    if (h.error.rfind(prefix, 0) == 0) h.error = "cannot connect: " + h.error.substr(prefix.size());
    std::string clean;
    for (char c : h.error) {
      if (c == '\t' || c == '\n') c = ' ';
      if (c == ' ' && !clean.empty() && clean.back() == ' ') continue;
      clean += c;
    }
    h.error = clean;
  }
  return h;
}

DatabaseProber::DatabaseProber(std::vector<DatabaseProbeTarget> targets, Options opts)
    : targets_(std::move(targets)), opts_(std::move(opts)) {
  for (const auto& t : targets_) {
    DatabaseHealth h;
    h.name = t.name;
    h.status = "unknown";
    results_.push_back(h);
  }
}

DatabaseProber::~DatabaseProber() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void DatabaseProber::Start() {
  if (worker_.joinable() || targets_.empty()) return;
  worker_ = std::thread([this] { Run(); });
}

void DatabaseProber::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    Round();
    l.lock();
    cv_.wait_for(l, opts_.interval, [this] { return stop_; });
  }
}

void DatabaseProber::Round() {
  for (size_t i = 0; i < targets_.size(); ++i) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
      probing_ = i;
      probing_since_ms_ =
          std::chrono::duration_cast<Duration>(opts_.clock->Now().time_since_epoch()).count();
    }
    DatabaseHealth h = ProbeDatabase(targets_[i], opts_.base_dir, opts_.timeout);
    std::lock_guard<std::mutex> l(mu_);
    results_[i] = std::move(h);
    probing_ = SIZE_MAX;
  }
  std::lock_guard<std::mutex> l(mu_);
  ++rounds_;
}

void DatabaseProber::ProbeOnceForTest() { Round(); }

uint64_t DatabaseProber::rounds() const {
  std::lock_guard<std::mutex> l(mu_);
  return rounds_;
}

std::vector<DatabaseHealth> DatabaseProber::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<DatabaseHealth> out = results_;
  if (probing_ < out.size()) {
    int64_t now =
        std::chrono::duration_cast<Duration>(opts_.clock->Now().time_since_epoch()).count();
    int64_t waited = now - probing_since_ms_;
    if (waited > opts_.timeout.count()) {
      out[probing_].status = "down";
      out[probing_].error = fmt::format("no answer within {} ms", opts_.timeout.count());
    }
  }
  return out;
}

json DatabasesJson(const std::vector<DatabaseHealth>& dbs) {
  json out = json::object();
  for (const DatabaseHealth& h : dbs) {
    json j = {{"status", h.status}, {"kind", h.kind}, {"target", h.target}};
    if (h.checked_ms > 0) {
      j["latency_ms"] = std::round(h.latency_ms * 100) / 100;
      j["checked_ms"] = h.checked_ms;
    }
    if (!h.error.empty()) j["error"] = h.error;
    out[h.name] = std::move(j);
  }
  return out;
}

}  // namespace slipway::alerts
