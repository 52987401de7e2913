#include "migrate/driver.h"

#include "base/log.h"
#include "migrate/pg_driver.h"
#include "migrate/sql_split.h"

namespace slipway::migrate {

Result<std::unique_ptr<Driver>> Driver::Open(const Target& target, const std::string& application) {
  if (target.IsPostgres()) return OpenPostgres(target, application);
  return OpenSqlite(target, application);
}

Result<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(const Target& like,
                                                                 const std::string& hint) {
  ASSIGN_OR_RETURN(auto admin, Driver::Open(like, "slipway scratch"));
  ASSIGN_OR_RETURN(Target scratch, admin->CreateScratchDatabase(hint));
  return std::unique_ptr<ScratchDatabase>(new ScratchDatabase(std::move(admin), scratch));
}

ScratchDatabase::~ScratchDatabase() {
  // Best effort: a leftover scratch database is named slipway_scratch_*, easy to find.
  if (Status s = admin_->DropDatabase(scratch_); !s.ok()) {
    logging::Warn("migrate", "scratch database left behind: " + s.message());
  }
}

std::string FormatScriptError(const ScriptError& e, const std::string& file, int first_line,
                              std::string_view script) {
  size_t at = e.error_offset != std::string::npos ? e.error_offset : e.statement_offset;
  LineCol lc = LineColAt(script, at);
  std::string out = file + ":" + std::to_string(first_line + lc.line - 1) + ":" +
                    std::to_string(lc.column) + ": " + e.message;
  if (!e.sqlstate.empty()) out += " (SQLSTATE " + e.sqlstate + ")";
  if (!e.detail.empty()) out += " [" + e.detail + "]";
  out += " in statement: " + OneLine(e.statement);
  return out;
}

}  // namespace slipway::migrate
