// MigrationRunner: one database's migrations behind one interface, with two implementations:
// the built-in runner over a folder of SQL files (migrator.h), and a team's own migration tool
// (alembic, django, prisma, rails, knex or explicit commands; tool.h). The deploy's database
// step and `slipway migrate` use it to ask what is pending, apply and roll back, so both
// kinds get pending detection, the backup before migrating and the migration lock.
//
// A runner owns what it opens; one thread uses it at a time. Every call blocks.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "migrate/migrator.h"

namespace slipway::migrate {

struct PendingReport {
  bool pending = false;
  std::vector<std::string> items;  // what is pending (versions, revisions, names) when known
  std::string current;             // the database's state as the runner sees it ("" = none)
};

class MigrationRunner {
 public:
  virtual ~MigrationRunner() = default;
  // "sql" for the built-in runner, else the tool's name ("alembic", "commands", ...).
  virtual std::string_view Kind() const = 0;
  // What `Up` would apply; takes no lock and writes nothing.
  virtual Result<PendingReport> Pending() = 0;
  // Applies everything pending under the migration lock. A one-line summary.
  virtual Result<std::string> Up() = 0;
  // Rolls back the newest `steps` migrations under the migration lock. A one-line summary.
  virtual Result<std::string> Down(int steps) = 0;
};

// The built-in runner over `options.dir` (SQL files) on `target`.
std::unique_ptr<MigrationRunner> NewSqlRunner(Target target, Options options);

}  // namespace slipway::migrate
