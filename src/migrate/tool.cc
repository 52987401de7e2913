#include "migrate/tool.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "base/log.h"
#include "config/migration_tool_names.h"
#include "migrate/driver.h"
#include "promql/regex.h"
#include "runtime/one_off.h"
#include "store/statement.h"

namespace slipway::migrate {
namespace {

constexpr size_t kOutputTail = 4096;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

// The last non-empty line: where tools (and Python tracebacks) say what went wrong.
std::string LastLine(const std::string& text) {
  std::vector<std::string> lines = Lines(text);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->find_first_not_of(" \t") != std::string::npos) {
      std::string l = it->substr(it->find_first_not_of(" \t"));
      return l.size() > 300 ? l.substr(0, 300) + "..." : l;
    }
  }
  return "";
}

// The line that says what went wrong: the last one naming an error (a Python traceback ends
// with hints after its `...Error: ...` line), else the last line.
std::string WhyLine(const std::string& text) {
  std::vector<std::string> lines = Lines(text);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    const std::string& l = *it;
    if (l.find("Error:") != std::string::npos || l.find("Exception:") != std::string::npos ||
        l.find("error:") != std::string::npos || l.find("ERROR") != std::string::npos) {
      return LastLine(l);
    }
  }
  return LastLine(text);
}

std::string Tail(const std::string& text) {
  return text.size() <= kOutputTail ? text : text.substr(text.size() - kOutputTail);
}

std::string Joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

int64_t NowMs() { return Clock::Real()->WallMillis(); }

}  // namespace

std::vector<std::string> AlembicRevisions(const std::string& out) {
  std::vector<std::string> revs;
  for (const std::string& line : Lines(out)) {
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    size_t e = line.find_first_of(" \t", b);
    revs.push_back(line.substr(b, e == std::string::npos ? std::string::npos : e - b));
  }
  return revs;
}

ToolRunner::~ToolRunner() { Unlock(); }

Result<ToolOutput> ToolRunner::Run(const std::string& line) {
  const std::vector<std::string> argv = {"/bin/sh", "-c", line};
  const std::map<std::string, std::string> extra = {{"SLIPWAY_DATABASE_URL", ctx_.url}};
  runtime::ProcessSpec spec;
  const config::Service* owner = nullptr;
  if (ctx_.project != nullptr && !ctx_.service.empty()) {
    auto it = ctx_.project->services.find(ctx_.service);
    if (it == ctx_.project->services.end()) {
      return InvalidInput(fmt::format(
          "{}: the owning service \"{}\" does not exist (x-slipway.databases.{}.service)",
          ctx_.database, ctx_.service, ctx_.database));
    }
    owner = &it->second;
  }
  if (owner != nullptr) {
    config::Service s = *owner;
    s.entrypoint.reset();  // the shell line is the whole command
    ASSIGN_OR_RETURN(spec, runtime::OneOffSpec(*ctx_.project, s, argv,
                                               fmt::format("migrate{}", ::getpid()), extra));
  } else {
    spec.argv = argv;
    spec.env = runtime::CurrentEnvironment();
    for (const auto& [k, v] : extra) spec.env[k] = v;
    spec.cwd = ctx_.project_dir;
  }
  // `dir` moves a host one-off (a container's working folder is the image's).
  if (!ctx_.settings.dir.empty() && (owner == nullptr || !owner->RunsInContainer())) {
    std::filesystem::path d(ctx_.settings.dir);
    spec.cwd = d.is_relative() ? ctx_.project_dir / d : d;
  }
  if (!spec.cwd.empty() && !std::filesystem::is_directory(spec.cwd)) {
    return InvalidInput(fmt::format("{}: the migration tool's folder {} does not exist",
                                    ctx_.database, spec.cwd.string()));
  }
  ToolOutput o;
  ASSIGN_OR_RETURN(runtime::ExitStatus st,
                   runtime::RunCapture(spec, ctx_.settings.timeout, &o.out, &o.err));
  if (st.success()) return o;
  std::string why = WhyLine(o.err);
  if (why.empty()) why = WhyLine(o.out);
  if (!st.signaled && st.code == 127) {
    std::string word = line.substr(0, line.find(' '));
    return NotFound(fmt::format(
        "{}: `{}`: {} is not installed or not on the PATH of {} ({})", ctx_.database, line, word,
        owner != nullptr ? "service " + owner->name : "slipway's environment", why));
  }
  return FailedPrecondition(fmt::format("{}: `{}` {}{}", ctx_.database, line, st.ToString(),
                                        why.empty() ? "" : ": " + why));
}

Result<PendingReport> ToolRunner::Pending() {
  const config::MigrationToolSettings& s = ctx_.settings;
  PendingReport r;
  ASSIGN_OR_RETURN(ToolOutput p, Run(s.pending));
  switch (s.pending_rule) {
    case config::PendingRule::kLines:
      for (const std::string& l : Lines(p.out)) {
        if (l.find_first_not_of(" \t") != std::string::npos) r.items.push_back(l);
      }
      break;
    case config::PendingRule::kMatch: {
      // RE2 (Go's syntax): linear in the line, whatever the pattern or the tool prints.
      auto re = promql::Regex::Compile(s.pending_match, promql::Regex::Dialect::kSearch);
      if (!re.ok()) {
        return InvalidInput(ctx_.database + ": pending-match: " + re.status().message());
      }
      std::vector<std::string_view> m;
      for (const std::string& l : Lines(p.out)) {
        if ((*re)->Find(l, &m)) {
          r.items.push_back(m.size() > 1 && m[1].data() != nullptr ? std::string(m[1]) : l);
        }
      }
      break;
    }
    case config::PendingRule::kCurrentVsHeads: {
      std::vector<std::string> heads = AlembicRevisions(p.out);
      if (s.status.empty()) return InvalidInput(ctx_.database + ": needs a status command");
      ASSIGN_OR_RETURN(ToolOutput c, Run(s.status));
      std::vector<std::string> current = AlembicRevisions(c.out);
      std::set<std::string> at(current.begin(), current.end());
      for (const std::string& h : heads) {
        if (!at.count(h)) r.items.push_back(h);
      }
      r.current = Joined(current);
      break;
    }
  }
  if (r.current.empty() && s.pending_rule != config::PendingRule::kCurrentVsHeads &&
      !s.status.empty() && s.status != s.pending) {
    ASSIGN_OR_RETURN(ToolOutput c, Run(s.status));
    r.current = LastLine(c.out);
  }
  r.pending = !r.items.empty();
  answered_ = true;
  return r;
}

std::string ToolRunner::StateText(const PendingReport& r) const {
  std::string at = r.current.empty() ? "" : "at " + r.current + ", ";
  return at + (r.items.empty() ? "nothing pending"
                               : fmt::format("{} pending ({})", r.items.size(), Joined(r.items)));
}

Status ToolRunner::Lock() {
  if (locked_) return Status::OK();
  if (!lock_driver_) {
    ASSIGN_OR_RETURN(lock_driver_,
                     Driver::Open(ctx_.target, "slipway migrate " + std::string(Kind())));
  }
  auto deadline = std::chrono::steady_clock::now() + ctx_.lock_timeout;
  bool announced = false;
  while (true) {
    ASSIGN_OR_RETURN(bool got, lock_driver_->TryLock());
    if (got) {
      locked_ = true;
      return Status::OK();
    }
    std::string holder = lock_driver_->LockHolder();
    if (!announced) {
      Log("waiting for the migration lock on " + ctx_.target.Display() +
          (holder.empty() ? "" : ", held by " + holder));
      announced = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceeded(
          fmt::format("{}: migration lock on {} not acquired within {} ms; held by {}",
                      ctx_.database, ctx_.target.Display(), ctx_.lock_timeout.count(),
                      holder.empty() ? "an unknown session" : holder));
    }
    std::this_thread::sleep_for(ctx_.lock_poll);
  }
}

void ToolRunner::Unlock() {
  if (!locked_) return;
  locked_ = false;
  // Closing the connection releases the lock anyway: worth a warning, not a failure.
  if (Status s = lock_driver_->Unlock(); !s.ok()) {
    logging::Warn("migrate", "unlock: " + s.message());
  }
  lock_driver_.reset();
}

Result<std::string> ToolRunner::Up() {
  // First without the lock: a tool that is missing or failing changes nothing, not even the
  // lock's files.
  // (Skipped when the caller has just asked, as the deploy step does before its backup.)
  if (!answered_) {
    ASSIGN_OR_RETURN(PendingReport first, Pending());
    if (!first.pending) return fmt::format("no pending migration ({})", StateText(first));
  }
  RETURN_IF_ERROR(Lock());
  // Under the lock: another migrator may have applied everything meanwhile.
  ASSIGN_OR_RETURN(PendingReport before, Pending());
  if (!before.pending) {
    Unlock();
    return fmt::format("no pending migration ({})", StateText(before));
  }
  ToolRun run;
  run.direction = ToolDirection::kUp;
  run.tool = ctx_.settings.tool;
  run.command = ctx_.settings.up;
  run.before = StateText(before);
  run.started_ms = NowMs();
  Log(fmt::format("{}: {} ({})", ctx_.database, ctx_.settings.up, run.before));
  auto t0 = std::chrono::steady_clock::now();
  Result<ToolOutput> o = Run(ctx_.settings.up);
  run.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (o.ok()) run.output = Tail(o->out + o->err);
  Result<PendingReport> after = Pending();
  run.after = after.ok() ? StateText(*after) : "unknown: " + after.status().message();
  run.ok = o.ok() && after.ok() && !after->pending;
  if (!o.ok()) run.output = o.status().message();
  Status rec = Record(run);
  Unlock();
  if (!o.ok()) return o.status();
  if (!after.ok()) return after.status();
  RETURN_IF_ERROR(rec);
  if (after->pending) {
    return FailedPrecondition(fmt::format("{}: `{}` succeeded but {} still pending ({})",
                                          ctx_.database, ctx_.settings.up, after->items.size(),
                                          Joined(after->items)));
  }
  return fmt::format("{}: {} -> {} in {} ms", ctx_.settings.up, run.before, run.after,
                     run.duration_ms);
}

Result<std::string> ToolRunner::Down(int steps) {
  if (ctx_.settings.down.empty()) {
    return FailedPrecondition(
        fmt::format("{}: {} has no down command (set x-slipway.databases.{}.migrations.down)",
                    ctx_.database, Kind(), ctx_.database));
  }
  if (steps < 1) return InvalidInput("down: expected a number of steps >= 1");
  RETURN_IF_ERROR(Lock());
  ASSIGN_OR_RETURN(PendingReport before, Pending());
  ToolRun run;
  run.direction = ToolDirection::kDown;
  run.tool = ctx_.settings.tool;
  run.command = ctx_.settings.down + (steps > 1 ? fmt::format(" (x{})", steps) : "");
  run.before = StateText(before);
  run.started_ms = NowMs();
  auto t0 = std::chrono::steady_clock::now();
  Status st;
  std::string output;
  for (int i = 0; i < steps && st.ok(); ++i) {
    Log(fmt::format("{}: {}", ctx_.database, ctx_.settings.down));
    Result<ToolOutput> o = Run(ctx_.settings.down);
    if (o.ok()) {
      output += o->out + o->err;
    } else {
      st = o.status();
      output += st.message();
    }
  }
  run.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  run.output = Tail(output);
  Result<PendingReport> after = Pending();
  run.after = after.ok() ? StateText(*after) : "unknown: " + after.status().message();
  run.ok = st.ok();
  Status rec = Record(run);
  Unlock();
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(rec);
  return fmt::format("{}: {} -> {} in {} ms", run.command, run.before, run.after, run.duration_ms);
}

Status ToolRunner::Record(ToolRun run) {
  if (ctx_.history == nullptr) return Status::OK();
  RETURN_IF_ERROR(ctx_.history->Apply(ToolRunsSchema()));
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                ctx_.history->db(),
                                "INSERT INTO migration_tool_runs(database, tool, direction, "
                                "command, started_ms, duration_ms, ok, before, after, output, "
                                "applied_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                "record a migration tool run"));
  RETURN_IF_ERROR(st->BindText(1, ctx_.database));
  RETURN_IF_ERROR(st->BindText(2, std::string(config::kMigrationToolNames.Name(run.tool))));
  RETURN_IF_ERROR(st->BindText(3, std::string(kToolDirectionNames.Name(run.direction))));
  RETURN_IF_ERROR(st->BindText(4, run.command));
  RETURN_IF_ERROR(st->BindInt64(5, run.started_ms));
  RETURN_IF_ERROR(st->BindInt64(6, run.duration_ms));
  RETURN_IF_ERROR(st->BindInt64(7, run.ok ? 1 : 0));
  RETURN_IF_ERROR(st->BindText(8, run.before));
  RETURN_IF_ERROR(st->BindText(9, run.after));
  RETURN_IF_ERROR(st->BindText(10, run.output));
  RETURN_IF_ERROR(st->BindText(11, ctx_.who.empty() ? DefaultAppliedBy() : ctx_.who));
  return st->Run();
}

namespace {

// Append new steps at the end; never edit a released one.
constexpr store::SchemaStep kToolRunsSteps[] = {
    {1, "runs of a database's own migration tool (alembic, django, ...)",
     "CREATE TABLE migration_tool_runs(id INTEGER PRIMARY KEY, database TEXT NOT NULL, "
     "tool TEXT NOT NULL, direction TEXT NOT NULL, command TEXT NOT NULL, "
     "started_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL, ok INTEGER NOT NULL, "
     "before TEXT NOT NULL DEFAULT '', after TEXT NOT NULL DEFAULT '', "
     "output TEXT NOT NULL DEFAULT '', applied_by TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX migration_tool_runs_database ON migration_tool_runs(database, id);",
     8},
};
constexpr store::ModuleSchema kToolRunsSchema{"migrate", kToolRunsSteps};

}  // namespace

const store::ModuleSchema& ToolRunsSchema() { return kToolRunsSchema; }

Result<std::vector<ToolRun>> ToolHistory(store::Store* store, const std::string& database,
                                         size_t limit) {
  RETURN_IF_ERROR(store->Apply(kToolRunsSchema));
  std::string sql =
      "SELECT id, database, tool, direction, command, started_ms, duration_ms, ok, before, "
      "after, output, applied_by FROM migration_tool_runs" +
      std::string(database.empty() ? "" : " WHERE database = ?") + " ORDER BY id DESC LIMIT " +
      std::to_string(limit);
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(store->db(), sql, "list migration runs"));
  if (!database.empty()) RETURN_IF_ERROR(st->BindText(1, database));
  std::vector<ToolRun> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    ToolRun r;
    r.id = st->ColumnInt64(0);
    r.database = st->ColumnText(1);
    const std::string tool = st->ColumnText(2);
    const std::string direction = st->ColumnText(3);
    const std::optional<config::MigrationTool> t = config::kMigrationToolNames.Parse(tool);
    const std::optional<ToolDirection> d = kToolDirectionNames.Parse(direction);
    if (!t || !d) {
      return Internal(fmt::format("migration_tool_runs row {}: {} (expected tool {}, direction {})",
                                  r.id,
                                  !t ? "tool \"" + tool + "\" is not known"
                                     : "direction \"" + direction + "\" is not known",
                                  config::kMigrationToolNames.List(), kToolDirectionNames.List()));
    }
    r.tool = *t;
    r.direction = *d;
    r.command = st->ColumnText(4);
    r.started_ms = st->ColumnInt64(5);
    r.duration_ms = st->ColumnInt64(6);
    r.ok = st->ColumnInt64(7) != 0;
    r.before = st->ColumnText(8);
    r.after = st->ColumnText(9);
    r.output = st->ColumnText(10);
    r.applied_by = st->ColumnText(11);
    out.push_back(std::move(r));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace slipway::migrate
