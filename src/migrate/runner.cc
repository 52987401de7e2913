#include "migrate/runner.h"

#include <fmt/format.h>

#include "config/databases_settings.h"

namespace slipway::migrate {
namespace {

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

class SqlRunner : public MigrationRunner {
 public:
  SqlRunner(Target target, Options options)
      : target_(std::move(target)), options_(std::move(options)) {}

  std::string_view Kind() const override {
    return config::MigrationToolName(config::MigrationTool::kNone);
  }

  Result<PendingReport> Pending() override {
    ASSIGN_OR_RETURN(auto m, Migrator::Open(target_, options_));
    ASSIGN_OR_RETURN(StatusReport r, m->GetStatus());
    PendingReport out;
    for (const StatusRow& row : r.rows) {
      if (row.state == MigrationState::kPending) out.items.push_back(row.version);
      if (row.state == MigrationState::kApplied) out.current = row.version;
    }
    out.pending = r.pending > 0;
    return out;
  }

  Result<std::string> Up() override {
    ASSIGN_OR_RETURN(std::vector<std::string> applied, migrate::Up(target_, options_));
    if (applied.empty()) return std::string("no pending migration");
    return fmt::format("applied {} migration{} ({})", applied.size(),
                       applied.size() == 1 ? "" : "s", Joined(applied));
  }

  Result<std::string> Down(int steps) override {
    ASSIGN_OR_RETURN(auto m, Migrator::Open(target_, options_));
    ASSIGN_OR_RETURN(std::vector<std::string> done, m->Down(steps));
    if (done.empty()) return std::string("nothing to roll back");
    return fmt::format("rolled back {} migration{} ({})", done.size(), done.size() == 1 ? "" : "s",
                       Joined(done));
  }

 private:
  Target target_;
  Options options_;
};

}  // namespace

std::unique_ptr<MigrationRunner> NewSqlRunner(Target target, Options options) {
  return std::make_unique<SqlRunner>(std::move(target), std::move(options));
}

}  // namespace slipway::migrate
