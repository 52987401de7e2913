#include "backup/catalog.h"

#include "store/statement.h"

namespace slipway::backup {
namespace {

constexpr char kColumns[] =
    "id, database, created_ms, size, sha256, kind, path, verified_ms, verify_status";

BackupRecord FromRow(const store::Statement& s) {
  BackupRecord r;
  r.id = s.ColumnInt64(0);
  r.database = s.ColumnText(1);
  r.created_ms = s.ColumnInt64(2);
  r.size = s.ColumnInt64(3);
  r.sha256 = s.ColumnText(4);
  r.kind = s.ColumnText(5);
  r.path = s.ColumnText(6);
  r.verified_ms = s.ColumnInt64(7);
  r.verify_status = s.ColumnText(8);
  return r;
}

}  // namespace

namespace {

// Append new steps at the end; never edit a released one.
constexpr store::SchemaStep kCatalogSteps[] = {
    {1, "backups catalog",
     "CREATE TABLE backups(id INTEGER PRIMARY KEY, database TEXT NOT NULL, "
     "created_ms INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, "
     "kind TEXT NOT NULL, path TEXT NOT NULL, verified_ms INTEGER NOT NULL DEFAULT 0, "
     "verify_status TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX backups_database ON backups(database, created_ms);",
     3},
};
constexpr store::ModuleSchema kCatalogSchema{"backup", kCatalogSteps};

}  // namespace

const store::ModuleSchema& CatalogSchema() { return kCatalogSchema; }

Result<BackupRecord> Catalog::Add(BackupRecord r) {
  RETURN_IF_ERROR(store_->Apply(kCatalogSchema));
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                store_->db(),
                                "INSERT INTO backups(database, created_ms, size, sha256, kind, "
                                "path, verified_ms, verify_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                "add backup"));
  RETURN_IF_ERROR(st->BindText(1, r.database));
  RETURN_IF_ERROR(st->BindInt64(2, r.created_ms));
  RETURN_IF_ERROR(st->BindInt64(3, r.size));
  RETURN_IF_ERROR(st->BindText(4, r.sha256));
  RETURN_IF_ERROR(st->BindText(5, r.kind));
  RETURN_IF_ERROR(st->BindText(6, r.path));
  RETURN_IF_ERROR(st->BindInt64(7, r.verified_ms));
  RETURN_IF_ERROR(st->BindText(8, r.verify_status));
  RETURN_IF_ERROR(st->Run());
  r.id = sqlite3_last_insert_rowid(store_->db());
  return r;
}

Result<std::vector<BackupRecord>> Catalog::List(const std::string& database) {
  RETURN_IF_ERROR(store_->Apply(kCatalogSchema));
  std::string sql = std::string("SELECT ") + kColumns + " FROM backups" +
                    (database.empty() ? "" : " WHERE database = ?") +
                    " ORDER BY created_ms DESC, id DESC";
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(store_->db(), sql, "list backups"));
  if (!database.empty()) RETURN_IF_ERROR(st->BindText(1, database));
  std::vector<BackupRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(FromRow(*st));
  }
  return out;
}

Result<BackupRecord> Catalog::Get(int64_t id) {
  RETURN_IF_ERROR(store_->Apply(kCatalogSchema));
  ASSIGN_OR_RETURN(
      auto st, store::Statement::Prepare(
                   store_->db(), std::string("SELECT ") + kColumns + " FROM backups WHERE id = ?",
                   "get backup"));
  RETURN_IF_ERROR(st->BindInt64(1, id));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return NotFound("no backup with id " + std::to_string(id));
  return FromRow(*st);
}

Status Catalog::SetVerified(int64_t id, int64_t when_ms, const std::string& status) {
  RETURN_IF_ERROR(store_->Apply(kCatalogSchema));
  ASSIGN_OR_RETURN(
      auto st,
      store::Statement::Prepare(
          store_->db(), "UPDATE backups SET verified_ms = ?, verify_status = ? WHERE id = ?",
          "mark backup verified"));
  RETURN_IF_ERROR(st->BindInt64(1, when_ms));
  RETURN_IF_ERROR(st->BindText(2, status));
  RETURN_IF_ERROR(st->BindInt64(3, id));
  return st->Run();
}

Status Catalog::Remove(int64_t id) {
  RETURN_IF_ERROR(store_->Apply(kCatalogSchema));
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                store_->db(), "DELETE FROM backups WHERE id = ?", "remove backup"));
  RETURN_IF_ERROR(st->BindInt64(1, id));
  return st->Run();
}

}  // namespace slipway::backup
