#include "api/audit.h"

#include <algorithm>

#include "api/tokens.h"
#include "base/log.h"
#include "store/statement.h"
#include "store/store.h"

namespace slipway::api {

nlohmann::json AuditRow::ToJson() const {
  return {{"id", id},
          {"time", logging::Rfc3339Millis(time_ms)},
          {"time_ms", time_ms},
          {"who", entry.who},
          {"action", entry.action},
          {"target", entry.target},
          {"status", entry.status},
          {"result", entry.result}};
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(store::Store* store, Clock* clock) {
  RETURN_IF_ERROR(store->Apply(AccessSchema()));
  return std::unique_ptr<AuditLog>(new AuditLog(store, clock));
}

Status AuditLog::Append(const AuditEntry& e) {
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                store_->db(),
                                "INSERT INTO audit (time_ms, who, action, target, status, result) "
                                "VALUES (?, ?, ?, ?, ?, ?)",
                                "append audit entry"));
  RETURN_IF_ERROR(st->BindInt64(1, clock_->WallMillis()));
  RETURN_IF_ERROR(st->BindText(2, e.who));
  RETURN_IF_ERROR(st->BindText(3, e.action));
  RETURN_IF_ERROR(st->BindText(4, e.target));
  RETURN_IF_ERROR(st->BindInt64(5, e.status));
  RETURN_IF_ERROR(st->BindText(6, e.result));
  RETURN_IF_ERROR(st->Run());
  // Trim now and then, not on every write: the bound is loose by at most 1000 rows.
  if (++appended_ % 1000 == 1) {
    const int64_t last = sqlite3_last_insert_rowid(store_->db());
    ASSIGN_OR_RETURN(auto trim,
                     store::Statement::Prepare(store_->db(), "DELETE FROM audit WHERE id <= ?",
                                               "trim audit trail"));
    RETURN_IF_ERROR(trim->BindInt64(1, last - kMaxRows));
    RETURN_IF_ERROR(trim->Run());
  }
  return Status::OK();
}

Result<std::vector<AuditRow>> AuditLog::List(const AuditQuery& q) const {
  ASSIGN_OR_RETURN(auto st,
                   store::Statement::Prepare(
                       store_->db(),
                       "SELECT id, time_ms, who, action, target, status, result FROM audit "
                       "WHERE id > ? AND (? = '' OR who = ?) ORDER BY id DESC LIMIT ?",
                       "read audit trail"));
  RETURN_IF_ERROR(st->BindInt64(1, q.after_id));
  RETURN_IF_ERROR(st->BindText(2, q.who));
  RETURN_IF_ERROR(st->BindText(3, q.who));
  RETURN_IF_ERROR(st->BindInt64(4, q.limit));
  std::vector<AuditRow> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    AuditRow r;
    r.id = st->ColumnInt64(0);
    r.time_ms = st->ColumnInt64(1);
    r.entry.who = st->ColumnText(2);
    r.entry.action = st->ColumnText(3);
    r.entry.target = st->ColumnText(4);
    r.entry.status = static_cast<int>(st->ColumnInt64(5));
    r.entry.result = st->ColumnText(6);
    out.push_back(std::move(r));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace slipway::api
