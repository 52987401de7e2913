#include "alerts/rules.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "alerts/builtin.h"
#include "base/test_require.h"
#include "telemetry/metrics.h"

namespace slipway::alerts {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-alerts-XXXXXX").string();
    SLIPWAY_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

config::AlertRuleSpec Spec(std::string name, std::string expr, int64_t for_ms) {
  config::AlertRuleSpec r;
  r.name = std::move(name);
  r.expr = std::move(expr);
  r.for_duration = Duration(for_ms);
  r.labels["severity"] = "critical";
  r.annotations["summary"] = "{{ $labels.service }} down ({{ $value }})";
  return r;
}

struct Fixture {
  FakeClock clock;
  telemetry::Registry reg{1};
  telemetry::Gauge* api = reg.GetGauge("healthy", "h", {"service"}, {"api"});
  telemetry::Gauge* db = reg.GetGauge("healthy", "h", {"service"}, {"db"});

  RuleEvaluator::Options Opts(store::Store* store = nullptr) {
    RuleEvaluator::Options o;
    o.clock = &clock;
    o.store = store;
    o.scrape = [this] { return reg.RenderPrometheus(); };
    return o;
  }
};

const Alert* Find(const std::vector<Alert>& v, const std::string& service) {
  for (const Alert& a : v) {
    if (a.labels.count("service") && a.labels.at("service") == service) return &a;
  }
  return nullptr;
}

TEST(RuleEvaluator, PendingThenFiringThenResolved) {
  Fixture f;
  f.api->Set(0, 1);
  f.db->Set(0, 1);
  auto ev = RuleEvaluator::Create({Spec("Down", "healthy == 0", 60'000)}, {false}, f.Opts());
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  RuleEvaluator& e = **ev;
  ASSERT_TRUE(e.Tick().ok());
  EXPECT_TRUE(e.Alerts().empty());
  EXPECT_EQ(e.rules()[0].state, AlertState::kInactive);

  f.db->Set(0, 0);
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE(e.Tick().ok());
  auto alerts = e.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].labels.at("alertname"), "Down");
  EXPECT_EQ(alerts[0].labels.at("severity"), "critical");
  EXPECT_EQ(alerts[0].annotations.at("summary"), "db down (0)");
  EXPECT_EQ(e.rules()[0].state, AlertState::kPending);
  EXPECT_TRUE(e.notify_set().empty());

  // 45 s later: still pending (for = 60 s).
  for (int i = 0; i < 3; ++i) {
    f.clock.AdvanceForTest(Duration(15'000));
    ASSERT_TRUE(e.Tick().ok());
  }
  EXPECT_EQ(e.Alerts()[0].state, AlertState::kPending);
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE(e.Tick().ok());
  EXPECT_EQ(e.Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(e.rules()[0].state, AlertState::kFiring);
  ASSERT_EQ(e.notify_set().size(), 1u);

  f.db->Set(0, 1);
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE(e.Tick().ok());
  alerts = e.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kResolved);
  ASSERT_EQ(e.notify_set().size(), 1u);
  EXPECT_EQ(e.notify_set()[0].state, AlertState::kResolved);
  EXPECT_EQ(e.rules()[0].state, AlertState::kInactive);

  // Forgotten after the resolved retention.
  f.clock.AdvanceForTest(Duration(16 * 60'000));
  ASSERT_TRUE(e.Tick().ok());
  EXPECT_TRUE(e.Alerts().empty());

  auto h = e.History(10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].state, "pending");
  EXPECT_EQ((*h)[1].state, "firing");
  EXPECT_EQ((*h)[2].state, "resolved");
}

TEST(RuleEvaluator, PendingThatClearsLeavesNoAlertAndZeroForFiresAtOnce) {
  Fixture f;
  auto ev = RuleEvaluator::Create(
      {Spec("Slow", "healthy == 0", 60'000), Spec("Now", "healthy{service=\"api\"} == 0", 0)},
      {false, false}, f.Opts());
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE((*ev)->Tick().ok());
  auto alerts = (*ev)->Alerts();
  ASSERT_EQ(alerts.size(), 3u);  // api+db pending for Slow, api firing for Now
  EXPECT_EQ(alerts[0].rule, "Now");
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  f.api->Set(0, 1);
  f.db->Set(0, 1);
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE((*ev)->Tick().ok());
  alerts = (*ev)->Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kResolved);
}

TEST(RuleEvaluator, StateSurvivesARestart) {
  TempDir dir;
  Fixture f;
  f.db->Set(0, 0);
  f.api->Set(0, 1);
  {
    auto st = store::Store::Open(dir.path() / "state.db", &f.clock);
    ASSERT_TRUE(st.ok()) << st.status().message();
    auto ev =
        RuleEvaluator::Create({Spec("Down", "healthy == 0", 60'000)}, {false}, f.Opts(st->get()));
    ASSERT_TRUE(ev.ok()) << ev.status().message();
    ASSERT_TRUE((*ev)->Tick().ok());
    f.clock.AdvanceForTest(Duration(30'000));
    ASSERT_TRUE((*ev)->Tick().ok());
    EXPECT_EQ((*ev)->Alerts()[0].state, AlertState::kPending);
  }
  // The daemon restarts 30 s later: the pending timer continues, it fires at 60 s.
  f.clock.AdvanceForTest(Duration(30'000));
  auto st = store::Store::Open(dir.path() / "state.db", &f.clock);
  ASSERT_TRUE(st.ok());
  auto ev =
      RuleEvaluator::Create({Spec("Down", "healthy == 0", 60'000)}, {false}, f.Opts(st->get()));
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  ASSERT_EQ((*ev)->Alerts().size(), 1u);
  EXPECT_EQ((*ev)->Alerts()[0].state, AlertState::kPending);
  ASSERT_TRUE((*ev)->Tick().ok());
  EXPECT_EQ((*ev)->Alerts()[0].state, AlertState::kFiring);
  auto h = (*ev)->History(10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[1].state, "firing");
  nlohmann::json j = (*ev)->ToJson();
  EXPECT_EQ(j["alerts"][0]["state"], "firing");
  EXPECT_EQ(j["rules"][0]["name"], "Down");
}

// Another connection's count of `table`'s rows (what a CLI process reading the file sees).
int64_t CountRows(const std::filesystem::path& db, const std::string& table) {
  sqlite3* other = nullptr;
  if (sqlite3_open(db.c_str(), &other) != SQLITE_OK) {
    sqlite3_close(other);
    return -1;
  }
  sqlite3_stmt* q = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(other, ("SELECT count(*) FROM " + table).c_str(), -1, &q, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW) {
    n = sqlite3_column_int64(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close(other);
  return n;
}

TEST(RuleEvaluator, EachRoundCommitsItsWrites) {
  // A round's writes are one transaction: committed when Tick() returns (another connection
  // sees them), and the next round can begin its own.
  TempDir dir;
  Fixture f;
  f.db->Set(0, 0);
  f.api->Set(0, 0);
  auto st = store::Store::Open(dir.path() / "state.db", &f.clock);
  ASSERT_TRUE(st.ok()) << st.status().message();
  auto ev = RuleEvaluator::Create({Spec("Down", "healthy == 0", 0)}, {false}, f.Opts(st->get()));
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  ASSERT_TRUE((*ev)->Tick().ok());
  EXPECT_EQ(CountRows(dir.path() / "state.db", "alert_state"), 2);
  EXPECT_EQ(CountRows(dir.path() / "state.db", "alert_history"), 2);  // both fired
  EXPECT_EQ(sqlite3_get_autocommit((*st)->db()), 1);                  // no transaction left open
  f.api->Set(0, 1);
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE((*ev)->Tick().ok());
  EXPECT_EQ(CountRows(dir.path() / "state.db", "alert_history"), 3);  // api resolved
  EXPECT_EQ(sqlite3_get_autocommit((*st)->db()), 1);
  // Past the resolved retention the resolved alert is forgotten, in that round's transaction.
  f.clock.AdvanceForTest(Duration(16 * 60'000));
  ASSERT_TRUE((*ev)->Tick().ok());
  EXPECT_EQ(CountRows(dir.path() / "state.db", "alert_state"), 1);
}

// The states of `table`'s rows for `fingerprint`, in rowid order, as another connection sees.
std::vector<std::string> States(const std::filesystem::path& db, const std::string& table,
                                const std::string& fingerprint) {
  std::vector<std::string> out;
  sqlite3* other = nullptr;
  if (sqlite3_open(db.c_str(), &other) != SQLITE_OK) {
    sqlite3_close(other);
    return {"open failed"};
  }
  sqlite3_stmt* q = nullptr;
  std::string sql = "SELECT state FROM " + table + " WHERE fingerprint = ? ORDER BY rowid";
  if (sqlite3_prepare_v2(other, sql.c_str(), -1, &q, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, fingerprint.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(q) == SQLITE_ROW) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
    }
  }
  sqlite3_finalize(q);
  sqlite3_close(other);
  return out;
}

// Another process's connection holding the database's write lock (BEGIN IMMEDIATE) until
// Release() or destruction.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::filesystem::path& db) {
    if (sqlite3_open(db.c_str(), &db_) == SQLITE_OK) {
      held_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
  }
  ~WriteLockHolder() {
    Release();
    sqlite3_close(db_);
  }
  bool held() const { return held_; }
  void Release() {
    if (held_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    held_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

// The fingerprint of the "Down" alert of `service` (Spec's labels).
std::string DownFingerprint(const std::string& service) {
  return Fingerprint({{"alertname", "Down"}, {"service", service}, {"severity", "critical"}});
}

TEST(RuleEvaluator, ResolutionDuringAHeldWriteLockIsWrittenOnceItIsFree) {
  // Another process holds the write lock past the busy timeout: BEGIN fails, and so does the
  // first write of the round. The resolution of that round and its history row reach the
  // database in the first round after the lock is released.
  TempDir dir;
  Fixture f;
  f.api->Set(0, 0);
  f.db->Set(0, 1);
  const auto path = dir.path() / "state.db";
  auto st = store::Store::Open(path, &f.clock);
  ASSERT_TRUE(st.ok()) << st.status().message();
  sqlite3_busy_timeout((*st)->db(), 20);  // the daemon waits 5 s; the test need not
  auto ev = RuleEvaluator::Create({Spec("Down", "healthy == 0", 0)}, {false}, f.Opts(st->get()));
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  ASSERT_TRUE((*ev)->Tick().ok());
  const std::string fp = DownFingerprint("api");
  ASSERT_EQ(States(path, "alert_history", fp), std::vector<std::string>{"firing"});
  {
    WriteLockHolder lock(path);
    ASSERT_TRUE(lock.held());
    f.api->Set(0, 1);  // resolves while the lock is held
    f.clock.AdvanceForTest(Duration(15'000));
    Status tick = (*ev)->Tick();
    EXPECT_FALSE(tick.ok());
    EXPECT_EQ((*ev)->Alerts()[0].state, AlertState::kResolved);
    EXPECT_EQ((*ev)->kept_writes(), 2u);  // the state row and the history row
    EXPECT_EQ(States(path, "alert_history", fp), std::vector<std::string>{"firing"});
    // A second round under the lock writes nothing new for the alert and keeps the rows.
    f.clock.AdvanceForTest(Duration(15'000));
    EXPECT_FALSE((*ev)->Tick().ok());
    EXPECT_EQ((*ev)->kept_writes(), 2u);
  }
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE((*ev)->Tick().ok());
  EXPECT_EQ((*ev)->kept_writes(), 0u);
  EXPECT_EQ(States(path, "alert_history", fp), (std::vector<std::string>{"firing", "resolved"}));
  EXPECT_EQ(States(path, "alert_state", fp), std::vector<std::string>{"resolved"});
  EXPECT_EQ(sqlite3_get_autocommit((*st)->db()), 1);
  auto h = (*ev)->History(10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  // The history row keeps the time of the round that made it, not of the one that wrote it.
  EXPECT_EQ((*h)[1].wall_ms - (*h)[0].wall_ms, 15'000);
  EXPECT_EQ((*ev)->dropped_writes(), 0u);
}

int FailCommit(void* fail) { return *static_cast<bool*>(fail) ? 1 : 0; }

TEST(RuleEvaluator, RoundWhoseCommitFailsIsWrittenByTheNextRound) {
  // SQLite turns a COMMIT into a ROLLBACK when the commit hook says so: a real failed COMMIT.
  TempDir dir;
  Fixture f;
  f.api->Set(0, 0);
  f.db->Set(0, 0);
  const auto path = dir.path() / "state.db";
  auto st = store::Store::Open(path, &f.clock);
  ASSERT_TRUE(st.ok()) << st.status().message();
  auto ev = RuleEvaluator::Create({Spec("Down", "healthy == 0", 0)}, {false}, f.Opts(st->get()));
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  ASSERT_TRUE((*ev)->Tick().ok());
  bool fail = true;
  sqlite3_commit_hook((*st)->db(), FailCommit, &fail);
  f.api->Set(0, 1);
  f.clock.AdvanceForTest(Duration(15'000));
  EXPECT_FALSE((*ev)->Tick().ok());
  EXPECT_EQ(sqlite3_get_autocommit((*st)->db()), 1);
  EXPECT_EQ(States(path, "alert_state", DownFingerprint("api")),
            std::vector<std::string>{"firing"});
  fail = false;
  f.clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE((*ev)->Tick().ok());
  sqlite3_commit_hook((*st)->db(), nullptr, nullptr);
  EXPECT_EQ(States(path, "alert_history", DownFingerprint("api")),
            (std::vector<std::string>{"firing", "resolved"}));
  EXPECT_EQ(States(path, "alert_state", DownFingerprint("api")),
            std::vector<std::string>{"resolved"});
  EXPECT_EQ(States(path, "alert_history", DownFingerprint("db")),
            std::vector<std::string>{"firing"});
  EXPECT_EQ(States(path, "alert_state", DownFingerprint("db")), std::vector<std::string>{"firing"});
  EXPECT_EQ((*ev)->kept_writes(), 0u);
}

// Holds the write lock for `rounds` rounds in which db stays down (its firing alert's state
// row is rewritten every round; only the latest is kept) and api flaps (a history row every
// round), then releases it. Answers the most writes kept after a round.
size_t RunUnderLock(Fixture& f, const std::filesystem::path& path, RuleEvaluator& ev, int rounds) {
  size_t most = 0;
  WriteLockHolder lock(path);
  EXPECT_TRUE(lock.held());
  for (int i = 0; i < rounds; ++i) {
    f.api->Set(0, i % 2);
    f.clock.AdvanceForTest(Duration(15'000));
    EXPECT_FALSE(ev.Tick().ok());
    most = std::max(most, ev.kept_writes());
  }
  return most;
}

TEST(RuleEvaluator, KeptWritesAreBoundedAndTheDropsCounted) {
  for (bool by_rows : {true, false}) {
    SCOPED_TRACE(by_rows ? "rows bound" : "rounds bound");
    TempDir dir;
    Fixture f;
    const auto path = dir.path() / "state.db";
    auto st = store::Store::Open(path, &f.clock);
    ASSERT_TRUE(st.ok()) << st.status().message();
    sqlite3_busy_timeout((*st)->db(), 10);
    RuleEvaluator::Options o = f.Opts(st->get());
    o.max_kept_rounds = by_rows ? 1000 : 3;
    o.max_kept_writes = by_rows ? 4 : 1000;
    o.registry = &f.reg;
    f.db->Set(0, 0);
    auto ev = RuleEvaluator::Create({Spec("Down", "healthy == 0", 0)}, {false}, o);
    ASSERT_TRUE(ev.ok()) << ev.status().message();
    ASSERT_TRUE((*ev)->Tick().ok());  // api and db fire
    const size_t most = RunUnderLock(f, path, **ev, 12);
    // Kept: the latest state row of each alert (api's and db's), and history rows: api
    // changes in each round but the first (11 rows), the newest 2 (rows bound 4) or those of
    // the last 3 rounds (rounds bound) kept. Superseded state rows are not counted as drops.
    EXPECT_LE(most, by_rows ? 4u : 5u);
    ASSERT_GE((*ev)->kept_writes(), 2u);
    const size_t kept_history = (*ev)->kept_writes() - 2;
    EXPECT_EQ(kept_history, by_rows ? 2u : 3u);
    EXPECT_EQ((*ev)->dropped_writes(), 11u - kept_history);
    EXPECT_EQ(f.reg.GetCounter("slipway_alert_writes_dropped_total", "")->Value(),
              (*ev)->dropped_writes());
    EXPECT_EQ(f.reg.GetGauge("slipway_alert_writes_kept", "")->Value(),
              static_cast<int64_t>((*ev)->kept_writes()));
    f.clock.AdvanceForTest(Duration(15'000));
    ASSERT_TRUE((*ev)->Tick().ok());  // api stays resolved: nothing new for it
    EXPECT_EQ((*ev)->kept_writes(), 0u);
    EXPECT_EQ(f.reg.GetGauge("slipway_alert_writes_kept", "")->Value(), 0);
    // The first round's row, then the kept ones in order, ending with the last change.
    auto api = States(path, "alert_history", DownFingerprint("api"));
    ASSERT_EQ(api.size(), 1 + kept_history);
    EXPECT_EQ(api.front(), "firing");
    EXPECT_EQ(api.back(), "resolved");
    for (size_t i = 2; i < api.size(); ++i) EXPECT_NE(api[i], api[i - 1]) << i;
    EXPECT_EQ(States(path, "alert_state", DownFingerprint("db")),
              std::vector<std::string>{"firing"});
    EXPECT_EQ(States(path, "alert_state", DownFingerprint("api")),
              std::vector<std::string>{"resolved"});
  }
}

TEST(RuleEvaluator, EvaluateNowAndRuleErrors) {
  Fixture f;
  auto ev = RuleEvaluator::Create({Spec("Bad", "healthy / on(x) healthy", 0)}, {false}, f.Opts());
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE((*ev)->Tick().ok());
  EXPECT_NE((*ev)->rules()[0].last_error.find("many-to-many"), std::string::npos);
  auto v = (*ev)->EvaluateNow("sum(healthy)");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->vector.size(), 1u);
  EXPECT_FALSE((*ev)->EvaluateNow("sum(").ok());
  EXPECT_FALSE((*ev)->EvaluateNow("Bad").ok());
}

TEST(Builtin, RulesParseEvaluateAndExportForPromtool) {
  config::AlertsSettings s;
  s.builtin_disabled.insert("SlipwayRestartLoop");
  s.rules.push_back(Spec("Custom", "sum by (service) (healthy) < 1", 120'000));
  std::vector<bool> builtin;
  auto rules = ProjectRules(s, &builtin);
  ASSERT_EQ(rules.size(), BuiltinRules().size());  // one disabled, one custom
  EXPECT_TRUE(builtin.front());
  EXPECT_FALSE(builtin.back());

  FakeClock clock;
  telemetry::Registry reg(1);
  using State = ServiceInstanceRow::State;
  UpdateServiceMetrics(&reg, {{"api", State::kRunning, /*healthy=*/true, /*restarts=*/2},
                              {"api", State::kRunning, /*healthy=*/false, /*restarts=*/3},
                              {"db", State::kRunning, /*healthy=*/true, /*restarts=*/0},
                              {"init", State::kCompleted, /*healthy=*/true, /*restarts=*/0},
                              {"seed", State::kDown, /*healthy=*/true, /*restarts=*/0}});
  TempDir dir;
  UpdateDiskMetrics(&reg, dir.path());
  std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("slipway_service_healthy{service=\"api\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_service_healthy{service=\"db\"} 1"), std::string::npos);
  // A finished one-shot job is completed, never unhealthy; a failed one is unhealthy.
  EXPECT_NE(text.find("slipway_service_healthy{service=\"init\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_service_completed{service=\"init\"} 1"), std::string::npos);
  EXPECT_NE(text.find("slipway_service_healthy{service=\"seed\"} 0"), std::string::npos);
  EXPECT_NE(text.find("slipway_service_completed{service=\"api\"} 0"), std::string::npos);
  EXPECT_NE(text.find("slipway_service_restarts_total{service=\"api\"} 5"), std::string::npos);
  EXPECT_NE(text.find("slipway_state_disk_size_bytes"), std::string::npos);

  RuleEvaluator::Options o;
  o.clock = &clock;
  o.scrape = [&] { return reg.RenderPrometheus(); };
  auto ev = RuleEvaluator::Create(rules, builtin, o);
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*ev)->Tick().ok());
    clock.AdvanceForTest(Duration(15'000));
  }
  for (const RuleStatus& r : (*ev)->rules()) EXPECT_EQ(r.last_error, "") << r.spec.name;
  const std::vector<Alert> all = (*ev)->Alerts();
  const Alert* unhealthy = Find(all, "api");
  ASSERT_NE(unhealthy, nullptr);
  EXPECT_EQ(unhealthy->rule, "SlipwayServiceUnhealthy");
  EXPECT_EQ(unhealthy->state, AlertState::kFiring);
  EXPECT_EQ(unhealthy->annotations.at("summary"), "api is unhealthy");

  std::string yaml = ExportPrometheusRules(rules, s);
  EXPECT_NE(yaml.find("alert: \"SlipwayServiceUnhealthy\""), std::string::npos);
  EXPECT_NE(yaml.find("for: 2m"), std::string::npos);
  SLIPWAY_REQUIRE(::access("/usr/bin/promtool", X_OK) == 0, "promtool (Debian prometheus)");
  std::filesystem::path file = dir.path() / "rules.yml";
  std::ofstream(file) << yaml;
  std::string cmd = "/usr/bin/promtool check rules " + file.string() + " >" +
                    (dir.path() / "out.txt").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(dir.path() / "out.txt");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out << "\n" << yaml;
  EXPECT_NE(out.find("SUCCESS: " + std::to_string(rules.size()) + " rules found"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace slipway::alerts
