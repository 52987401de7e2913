#include "deploy/releases.h"

#include <fmt/format.h>

#include <algorithm>

namespace slipway::deploy {

using nlohmann::json;

std::string_view ReleaseStatusName(ReleaseStatus s) {
  switch (s) {
    case ReleaseStatus::kRunning:
      return "running";
    case ReleaseStatus::kSucceeded:
      return "succeeded";
    case ReleaseStatus::kFailed:
      return "failed";
    case ReleaseStatus::kRolledBack:
      return "rolled-back";
  }
  return "failed";
}

ReleaseStatus ParseReleaseStatus(std::string_view text) {
  for (ReleaseStatus s : {ReleaseStatus::kRunning, ReleaseStatus::kSucceeded,
                          ReleaseStatus::kFailed, ReleaseStatus::kRolledBack}) {
    if (ReleaseStatusName(s) == text) return s;
  }
  return ReleaseStatus::kFailed;
}

namespace {
constexpr char kColumns[] =
    "number, service, version, spec_hash, spec, strategy, created_ms, finished_ms, status, "
    "reason, numbers, base_hash";
}

std::string ReleaseStrategyName(const std::optional<config::DeployStrategy>& s) {
  return s ? std::string(config::DeployStrategyName(*s)) : "up";
}

json Release::ToJson() const {
  return {{"number", number},
          {"service", service},
          {"version", version},
          {"spec_hash", spec_hash},
          {"strategy", ReleaseStrategyName(strategy)},
          {"created_ms", created_ms},
          {"finished_ms", finished_ms},
          {"status", std::string(ReleaseStatusName(status))},
          {"reason", reason},
          {"numbers", numbers},
          {"spec", spec},
          {"base_hash", base_hash}};
}

namespace {

// Append new steps at the end; never edit a released one.
constexpr store::SchemaStep kReleasesSteps[] = {
    {1, "releases",
     "CREATE TABLE releases(id INTEGER PRIMARY KEY, service TEXT NOT NULL, "
     "number INTEGER NOT NULL, version TEXT NOT NULL DEFAULT '', spec_hash TEXT NOT NULL, "
     "spec TEXT NOT NULL, strategy TEXT NOT NULL, created_ms INTEGER NOT NULL, "
     "finished_ms INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, "
     "reason TEXT NOT NULL DEFAULT '', numbers TEXT NOT NULL DEFAULT '{}', "
     "UNIQUE(service, number));",
     5},
    {2, "releases remember the compose file's spec they came from",
     "ALTER TABLE releases ADD COLUMN base_hash TEXT NOT NULL DEFAULT '';", 7},
};
constexpr store::ModuleSchema kReleasesSchema{"deploy", kReleasesSteps};

}  // namespace

const store::ModuleSchema& ReleasesSchema() { return kReleasesSchema; }

Result<std::unique_ptr<ReleaseStore>> ReleaseStore::Open(store::Store* store, Clock* clock) {
  RETURN_IF_ERROR(store->Apply(kReleasesSchema));
  std::unique_ptr<ReleaseStore> rs(new ReleaseStore(clock));
  sqlite3* db = store->db();
  ASSIGN_OR_RETURN(
      rs->insert_,
      store::Statement::Prepare(
          db,
          "INSERT INTO releases(number, service, version, spec_hash, spec, strategy, "
          "created_ms, status, reason, numbers, base_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
          "add release"));
  ASSIGN_OR_RETURN(rs->next_number_,
                   store::Statement::Prepare(
                       db, "SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE service = ?",
                       "number release"));
  ASSIGN_OR_RETURN(rs->finish_,
                   store::Statement::Prepare(db,
                                             "UPDATE releases SET status = ?, reason = ?, "
                                             "numbers = ?, finished_ms = ? WHERE service = ? AND "
                                             "number = ?",
                                             "finish release"));
  ASSIGN_OR_RETURN(
      rs->list_all_,
      store::Statement::Prepare(
          db, std::string("SELECT ") + kColumns + " FROM releases ORDER BY id DESC LIMIT ?",
          "list releases"));
  ASSIGN_OR_RETURN(rs->list_service_,
                   store::Statement::Prepare(db,
                                             std::string("SELECT ") + kColumns +
                                                 " FROM releases WHERE service = ? ORDER BY "
                                                 "number DESC LIMIT ?",
                                             "list releases"));
  ASSIGN_OR_RETURN(rs->recent_,
                   store::Statement::Prepare(
                       db,
                       std::string("SELECT ") + kColumns +
                           " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY service ORDER BY "
                           "number DESC) AS nth FROM releases) WHERE nth <= ? ORDER BY service, "
                           "number DESC",
                       "list recent releases"));
  ASSIGN_OR_RETURN(
      rs->get_,
      store::Statement::Prepare(
          db, std::string("SELECT ") + kColumns + " FROM releases WHERE service = ? AND number = ?",
          "get release"));
  return rs;
}

Result<Release> ReleaseStore::Create(Release r) {
  next_number_->Reset();
  RETURN_IF_ERROR(next_number_->BindText(1, r.service));
  ASSIGN_OR_RETURN(bool row, next_number_->Step());
  r.number = row ? next_number_->ColumnInt64(0) : 1;
  next_number_->Reset();
  r.created_ms = clock_->WallMillis();
  insert_->Reset();
  RETURN_IF_ERROR(insert_->BindInt64(1, r.number));
  RETURN_IF_ERROR(insert_->BindText(2, r.service));
  RETURN_IF_ERROR(insert_->BindText(3, r.version));
  RETURN_IF_ERROR(insert_->BindText(4, r.spec_hash));
  RETURN_IF_ERROR(insert_->BindText(5, r.spec.is_null() ? "{}" : r.spec.dump()));
  RETURN_IF_ERROR(insert_->BindText(6, ReleaseStrategyName(r.strategy)));
  RETURN_IF_ERROR(insert_->BindInt64(7, r.created_ms));
  RETURN_IF_ERROR(insert_->BindText(8, std::string(ReleaseStatusName(r.status))));
  RETURN_IF_ERROR(insert_->BindText(9, r.reason));
  RETURN_IF_ERROR(insert_->BindText(10, r.numbers.dump()));
  RETURN_IF_ERROR(insert_->BindText(11, r.base_hash));
  RETURN_IF_ERROR(insert_->Run());
  return r;
}

Status ReleaseStore::Finish(const std::string& service, int64_t number, ReleaseStatus status,
                            const std::string& reason, const json& numbers) {
  finish_->Reset();
  RETURN_IF_ERROR(finish_->BindText(1, std::string(ReleaseStatusName(status))));
  RETURN_IF_ERROR(finish_->BindText(2, reason));
  RETURN_IF_ERROR(finish_->BindText(3, numbers.dump()));
  RETURN_IF_ERROR(finish_->BindInt64(4, clock_->WallMillis()));
  RETURN_IF_ERROR(finish_->BindText(5, service));
  RETURN_IF_ERROR(finish_->BindInt64(6, number));
  return finish_->Run();
}

Result<std::vector<Release>> ReleaseStore::Read(store::Statement& st) const {
  std::vector<Release> out;
  while (true) {
    auto row = st.Step();
    if (!row.ok()) {
      st.Reset();
      return row.status();
    }
    if (!*row) break;
    Release r;
    r.number = st.ColumnInt64(0);
    r.service = st.ColumnText(1);
    r.version = st.ColumnText(2);
    r.spec_hash = st.ColumnText(3);
    r.spec = json::parse(st.ColumnText(4), nullptr, false);
    const std::string strategy = st.ColumnText(5);
    if (strategy != "up") {
      r.strategy = config::ParseDeployStrategy(strategy);
      if (!r.strategy) {
        st.Reset();
        return Internal(
            fmt::format("releases: {} r{}: strategy \"{}\" is not known (expected up, {})",
                        r.service, r.number, strategy, config::kDeployStrategyNames.List()));
      }
    }
    r.created_ms = st.ColumnInt64(6);
    r.finished_ms = st.ColumnInt64(7);
    r.status = ParseReleaseStatus(st.ColumnText(8));
    r.reason = st.ColumnText(9);
    r.numbers = json::parse(st.ColumnText(10), nullptr, false);
    r.base_hash = st.ColumnText(11);
    if (r.numbers.is_discarded()) r.numbers = json::object();
    if (r.spec.is_discarded()) r.spec = json::object();
    out.push_back(std::move(r));
  }
  st.Reset();
  return out;
}

Result<std::vector<Release>> ReleaseStore::List(const std::string& service, size_t limit) const {
  int64_t lim = limit == 0 ? -1 : static_cast<int64_t>(limit);
  if (service.empty()) {
    list_all_->Reset();
    RETURN_IF_ERROR(list_all_->BindInt64(1, lim));
    return Read(*list_all_);
  }
  list_service_->Reset();
  RETURN_IF_ERROR(list_service_->BindText(1, service));
  RETURN_IF_ERROR(list_service_->BindInt64(2, lim));
  return Read(*list_service_);
}

Result<std::vector<Release>> ReleaseStore::Recent(size_t per_service) const {
  recent_->Reset();
  RETURN_IF_ERROR(recent_->BindInt64(1, static_cast<int64_t>(std::max<size_t>(per_service, 1))));
  return Read(*recent_);
}

Result<std::optional<Release>> ReleaseStore::Get(const std::string& service, int64_t number) const {
  get_->Reset();
  RETURN_IF_ERROR(get_->BindText(1, service));
  RETURN_IF_ERROR(get_->BindInt64(2, number));
  ASSIGN_OR_RETURN(auto rows, Read(*get_));
  if (rows.empty()) return std::optional<Release>();
  return std::optional<Release>(std::move(rows[0]));
}

}  // namespace slipway::deploy
