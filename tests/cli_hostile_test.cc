// Every option of the command line refuses hostile values before anything starts: in a project
// folder with no daemon, each row of the table runs one command with one bad value (malformed,
// negative, zero where not allowed, overflowing, 64 KiB, the wrong type, an unknown word,
// missing) and expects exit 2, exactly one line on stderr starting `slipway:` and naming the
// option, nothing on stdout, and no daemon or `.slipway/` afterwards (or `.slipway/` as it
// was). A second test walks the CLI11 app (cli::BuildApp) and fails for any option that takes
// a value and has no row here, or a row whose option no longer exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/context.h"
#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kHuge(64 * 1024, 'a');
const std::string kOverflow = "99999999999999999999";
const std::string kControl = std::string("bad\x01value");

// Hostile values by the option's domain.
const std::vector<std::string> kCount = {"abc", "-5", "0", kOverflow, kHuge, "1.5", "true", ""};
const std::vector<std::string> kCount0 = {"abc", "-5", kOverflow, kHuge, "1.5", "true", ""};
const std::vector<std::string> kDuration = {"abc", "-5s", kOverflow + "h", kHuge, "5", ""};
const std::vector<std::string> kWord = {"nosuch", kHuge, "", "JSON"};
const std::vector<std::string> kName = {"bad name!", kHuge, "", "a/b", kControl};
const std::vector<std::string> kPath = {"", kHuge, kControl};
const std::vector<std::string> kText = {kHuge, kControl};

struct Row {
  // What it covers: the command's words, then the option's name as CLI11 gives it ("--file"
  // for the root's -f,--file; the positional's name, e.g. "services").
  std::string option;
  // The command line after `slipway`; "{}" is where each value goes.
  std::vector<std::string> args;
  std::vector<std::string> values;
};

std::vector<std::string> Plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The table: one row (or more) per option that takes a value.
const std::vector<Row>& Table() {
  static const std::vector<Row> rows = {
      // Global options, on the command that would start the daemon.
      {"--file", {"up", "-d", "-f", "{}"}, kPath},
      {"--project-name", {"up", "-d", "-p", "{}"}, Plus(kName, {"UPPER", std::string(300, 'a')})},
      {"--env-file", {"up", "-d", "--env-file", "{}"}, kPath},
      {"--profile", {"up", "-d", "--profile", "{}"}, kName},
      {"--env", {"up", "-d", "--env", "{}"}, Plus(kName, {"../../etc", "Prod"})},
      {"--project-directory",
       {"up", "-d", "--project-directory", "{}"},
       Plus(kPath, {"/nonexistent-slipway-dir"})},
      {"--log-format", {"up", "-d", "--log-format", "{}"}, kWord},
      {"--api",
       {"ps", "--api", "{}"},
       {"", kHuge, "ftp://x:1", "https://", "https://host", "https://host:0", "https://h:99999",
        "https://h:1/path"}},
      {"--cacert", {"ps", "--cacert", "{}"}, Plus(kPath, {"/nonexistent/ca.pem"})},
      {"--token-file", {"ps", "--token-file", "{}"}, Plus(kPath, {"/nonexistent/token"})},
      // Project commands.
      {"up --wait-timeout", {"up", "-d", "--wait-timeout", "{}"}, Plus(kCount, {"86401"})},
      {"up services", {"up", "-d", "{}"}, Plus(kName, {"nosuch"})},
      {"logs --tail", {"logs", "--tail", "{}"}, Plus(kCount0, {"100001"})},
      {"logs --since",
       {"logs", "--since", "{}"},
       {"abc", "-5", "-5m", kOverflow, kHuge, "1.5", ""}},
      {"logs --format", {"logs", "--format", "{}"}, kWord},
      {"logs services", {"logs", "{}"}, kName},
      {"ps --format", {"ps", "--format", "{}"}, kWord},
      {"start services", {"start", "{}"}, kName},
      {"stop services", {"stop", "{}"}, kName},
      {"restart services", {"restart", "{}"}, kName},
      {"events --since", {"events", "--since", "{}"}, {"abc", "-5", kOverflow, kHuge, ""}},
      {"events --format", {"events", "--format", "{}"}, kWord},
      {"events services", {"events", "{}"}, kName},
      {"config --format", {"config", "--format", "{}"}, kWord},
      // Deploys.
      {"deploy services", {"deploy", "{}"}, kName},
      {"deploy --version", {"deploy", "web", "--version", "{}"}, kText},
      {"deploy --strategy", {"deploy", "web", "--strategy", "{}"}, kWord},
      {"deploy --env", {"deploy", "web", "--env", "{}"}, {"staging", "=v", "", kHuge, "K=a\nb"}},
      {"deploy --format", {"deploy", "web", "--format", "{}"}, kWord},
      {"deploy --service", {"deploy", "--service", "{}"}, kName},
      {"deploy --reason", {"deploy", "pause", "web", "--reason", "{}"}, kText},
      {"rollback service", {"rollback", "{}"}, kName},
      {"rollback --to", {"rollback", "web", "--to", "{}"}, kCount},
      {"releases service", {"releases", "{}"}, kName},
      {"releases --format", {"releases", "--format", "{}"}, kWord},
      {"maintenance args", {"maintenance", "on", "{}"}, kName},
      {"maintenance --message", {"maintenance", "on", "web", "--message", "{}"}, kText},
      // Containers.
      {"build services", {"build", "{}"}, kName},
      {"exec --index", {"exec", "--index", "{}", "web", "true"}, Plus(kCount, {"100001"})},
      // Export.
      {"export kubernetes --namespace",
       {"export", "kubernetes", "--namespace", "{}"},
       Plus(kName, {"UPPER", "x-", std::string(64, 'a')})},
      {"export kubernetes --rollouts", {"export", "kubernetes", "--rollouts", "{}"}, kWord},
      {"export kubernetes --image",
       {"export", "kubernetes", "--image", "{}"},
       {"web", "=img", "", kHuge}},
      {"export kubernetes --output", {"export", "kubernetes", "-o", "{}"}, kPath},
      // Migrations.
      {"migrate --db", {"migrate", "--db", "{}", "status"}, kName},
      {"migrate --url",
       {"migrate", "--url", "{}", "status"},
       {"", kHuge, "mysql://x", "sqlite:", "abc"}},
      {"migrate --dir", {"migrate", "--dir", "{}", "status"}, kPath},
      {"migrate --migrations-format", {"migrate", "--migrations-format", "{}", "status"}, kWord},
      {"migrate --lock-timeout", {"migrate", "--lock-timeout", "{}", "status"}, kDuration},
      {"migrate up --to", {"migrate", "up", "--to", "{}"}, kName},
      {"migrate down N", {"migrate", "down", "{}"}, kCount},
      {"migrate down --to", {"migrate", "down", "--to", "{}"}, kName},
      {"migrate status --format", {"migrate", "status", "--format", "{}"}, kWord},
      {"migrate history --format", {"migrate", "history", "--format", "{}"}, kWord},
      {"migrate stamp VERSION", {"migrate", "stamp", "{}"}, kName},
      {"migrate new NAME", {"migrate", "new", "{}"}, kName},
      {"migrate plan --to", {"migrate", "plan", "--to", "{}"}, kName},
      {"migrate plan --steps", {"migrate", "plan", "--down", "--steps", "{}"}, kCount},
      // Backups.
      {"backup --db", {"backup", "--db", "{}", "list"}, kName},
      {"backup --url", {"backup", "--url", "{}", "list"}, {"", kHuge, "mysql://x", "sqlite:"}},
      {"backup create DB", {"backup", "create", "{}"}, kName},
      {"backup list --format", {"backup", "list", "--format", "{}"}, kWord},
      {"backup verify ID", {"backup", "verify", "{}"}, kCount},
      {"backup verify --check", {"backup", "verify", "--check", "{}"}, {std::string(20'000, 'a')}},
      {"backup restore ID", {"backup", "restore", "{}"}, kCount},
      {"backup restore --to",
       {"backup", "restore", "1", "--to", "{}"},
       {"", kHuge, "bad name!", "mysql://x"}},
      {"backup prune --format", {"backup", "prune", "--format", "{}"}, kWord},
      // Alerts and status.
      {"alerts --format", {"alerts", "--format", "{}"}, kWord},
      {"alerts test rule",
       {"alerts", "test", "{}"},
       {kHuge,
        "a\x01"
        "b"}},
      {"alerts silence matcher",
       {"alerts", "silence", "{}", "--for", "1h"},
       {"abc", "", kHuge, "=\"x\""}},
      {"alerts silence --for",
       {"alerts", "silence", "a=\"b\"", "--for", "{}"},
       Plus(kDuration, {"0s", "721h"})},
      {"alerts silence --comment",
       {"alerts", "silence", "a=\"b\"", "--for", "1h", "--comment", "{}"},
       kText},
      {"alerts silence --by", {"alerts", "silence", "a=\"b\"", "--for", "1h", "--by", "{}"}, kText},
      {"alerts silence --replace",
       {"alerts", "silence", "a=\"b\"", "--for", "1h", "--replace", "{}"},
       {"xyz", "", kHuge, "12 34"}},
      {"alerts silences --format", {"alerts", "silences", "--format", "{}"}, kWord},
      {"alerts expire id", {"alerts", "expire", "{}"}, {"xyz", "", kHuge, "../x"}},
      {"status --format", {"status", "--format", "{}"}, kWord},
      // Queries.
      {"query expr", {"query", "{}"}, {kHuge, "up\x01"}},
      {"query --time", {"query", "up", "--time", "{}"}, {"abc", "", kHuge, "-5", "now"}},
      {"query --range", {"query", "up", "--range", "{}"}, {"abc", "", kHuge, "-5m", "0s"}},
      {"query --step",
       {"query", "up", "--range", "1h", "--step", "{}"},
       {"abc", "", kHuge, "-5", "0"}},
      {"query --format", {"query", "up", "--format", "{}"}, kWord},
      // Feature flags.
      {"flags --env", {"flags", "--env", "{}", "list"}, {"a b", "", kHuge, "a/b", "a?b"}},
      {"flags --comment", {"flags", "--comment", "{}", "enable", "k"}, kText},
      {"flags --format", {"flags", "--format", "{}", "list"}, kWord},
      {"flags get KEY", {"flags", "get", "{}"}, {"a b", "", kHuge, "a/b", "a#b"}},
      {"flags set KEY",
       {"flags", "set", "{}", "--json", R"({"state": "ENABLED"})"},
       {"a b", "", kHuge, "a/b"}},
      {"flags set --file", {"flags", "set", "k", "--file", "{}"}, kPath},
      {"flags set --json",
       {"flags", "set", "k", "--json", "{}"},
       {"abc", "", "5", "[1]", "{", kHuge}},
      {"flags enable KEY", {"flags", "enable", "{}"}, {"a b", "", kHuge}},
      {"flags disable KEY", {"flags", "disable", "{}"}, {"a b", "", kHuge}},
      {"flags rollout KEY", {"flags", "rollout", "{}", "50"}, {"a b", "", kHuge}},
      {"flags rollout PERCENT",
       {"flags", "rollout", "k", "{}"},
       {"abc", "-5", "101", kOverflow, kHuge, "1.5", "", "%", "50%%"}},
      {"flags target KEY", {"flags", "target", "{}", "--add", "a=b"}, {"a b", "", kHuge}},
      {"flags target --add", {"flags", "target", "k", "--add", "{}"}, {"ab", "=b", "", kHuge}},
      {"flags target --variant",
       {"flags", "target", "k", "--add", "a=b", "--variant", "{}"},
       kText},
      {"flags history KEY", {"flags", "history", "{}"}, {"a b", "", kHuge}},
      {"flags history --limit", {"flags", "history", "k", "--limit", "{}"}, kCount0},
      {"flags import FILE", {"flags", "import", "{}"}, kPath},
      {"flags export --output", {"flags", "export", "-o", "{}"}, kPath},
      {"flags check FILE", {"flags", "check", "{}"}, kPath},
      {"flags stale --days", {"flags", "stale", "--days", "{}"}, kCount0},
      // Certificates.
      {"certs issue names", {"certs", "issue", "{}"}, {"bad name!", "", kHuge, "a/b", "x y.com"}},
      {"certs issue --directory",
       {"certs", "issue", "a.test", "--directory", "{}"},
       {"nosuch", "", kHuge, "http://x", "https://a b"}},
      {"certs issue --email",
       {"certs", "issue", "a.test", "--email", "{}"},
       {"nobody", "", kHuge, "a b@c", "a@b,c@d"}},
      {"certs issue --ca-file", {"certs", "issue", "a.test", "--ca-file", "{}"}, kPath},
      {"certs issue --challenge", {"certs", "issue", "a.test", "--challenge", "{}"}, kWord},
      {"certs issue --http-address",
       {"certs", "issue", "a.test", "--http-address", "{}"},
       {"bad name!", "", kHuge}},
      {"certs issue --http-port",
       {"certs", "issue", "a.test", "--http-port", "{}"},
       Plus(kCount, {"65536"})},
      {"certs issue --tls-address",
       {"certs", "issue", "a.test", "--tls-address", "{}"},
       {"bad name!", "", kHuge}},
      {"certs issue --tls-port",
       {"certs", "issue", "a.test", "--tls-port", "{}"},
       Plus(kCount, {"65536"})},
      {"certs issue --state-dir", {"certs", "issue", "a.test", "--state-dir", "{}"}, kPath},
      {"certs issue --timeout",
       {"certs", "issue", "a.test", "--timeout", "{}"},
       Plus(kCount, {"3601"})},
      {"certs renew name", {"certs", "renew", "{}"}, {"bad name!", "", kHuge}},
      {"certs status names", {"certs", "status", "{}"}, {"bad name!", "", kHuge}},
      {"certs status --state-dir", {"certs", "status", "a.test", "--state-dir", "{}"}, kPath},
      {"certs status --format", {"certs", "status", "--format", "{}"}, kWord},
      // Access.
      {"tokens create name", {"tokens", "create", "{}"}, {"Bad Name", "", kHuge, ".x", "a/b"}},
      {"tokens create --role", {"tokens", "create", "u", "--role", "{}"}, kWord},
      {"tokens list --format", {"tokens", "list", "--format", "{}"}, kWord},
      {"tokens revoke name", {"tokens", "revoke", "{}"}, {"Bad Name", "", kHuge}},
      {"audit --limit", {"audit", "--limit", "{}"}, Plus(kCount, {"10001"})},
      {"audit --who", {"audit", "--who", "{}"}, kText},
      {"audit --format", {"audit", "--format", "{}"}, kWord},
      // The daemon, its keeper and the host's ingress.
      {"daemon --state-dir", {"daemon", "--state-dir", "{}"}, kPath},
      {"daemon restart --drain-timeout",
       {"daemon", "restart", "--drain-timeout", "{}"},
       Plus(kDuration, {"99999h"})},
      {"daemon restart --timeout",
       {"daemon", "restart", "--timeout", "{}"},
       Plus(kDuration, {"0s", "2h"})},
      {"keeper --state-dir", {"keeper", "--state-dir", "{}"}, kPath},
      {"ingress --http",
       {"ingress", "--no-keeper", "--http", "{}"},
       {"127.0.0.1:http", "", kHuge, "127.0.0.1:99999"}},
      {"ingress --https",
       {"ingress", "--no-keeper", "--https", "{}"},
       {"127.0.0.1:http", "", kHuge}},
      {"ingress --state-dir", {"ingress", "--no-keeper", "--state-dir", "{}"}, kPath},
      {"ingress --workers", {"ingress", "--no-keeper", "--workers", "{}"}, Plus(kCount0, {"257"})},
      {"ingress --drain-timeout",
       {"ingress", "--no-keeper", "--drain-timeout", "{}"},
       Plus(kDuration, {"2h"})},
  };
  return rows;
}

std::string Words(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) {
    out += (out.empty() ? "" : " ") + (a.size() > 40 ? a.substr(0, 20) + "..." : a);
  }
  return out;
}

// Everything under `dir` with its size: what a refused command must leave as it was.
std::map<std::string, uintmax_t> Listing(const std::filesystem::path& dir) {
  std::map<std::string, uintmax_t> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    out[it->path().string()] = it->is_regular_file(ec) ? it->file_size(ec) : 0;
  }
  return out;
}

class CliHostileTest : public ::testing::Test {
 protected:
  // The command `args` with `value` in place of "{}" (left out: the value is missing).
  static std::vector<std::string> With(const std::vector<std::string>& args,
                                       const std::string* value) {
    std::vector<std::string> out;
    for (const std::string& a : args) {
      if (a != "{}") {
        out.push_back(a);
      } else if (value != nullptr) {
        out.push_back(*value);
      }
    }
    return out;
  }

  // Runs every row's values (and, for an option whose value ends the line, no value at all)
  // in `p` and checks each refusal; `before` is what .slipway/ must still be.
  void RunTable(Project& p, const std::map<std::string, uintmax_t>& before,
                const std::function<bool(const Row&)>& only) {
    const std::filesystem::path state = p.dir() / ".slipway";
    int runs = 0;
    for (const Row& row : Table()) {
      if (!only(row)) continue;
      const std::string flag = row.option.substr(row.option.rfind(' ') + 1);
      std::vector<std::vector<std::string>> lines;
      for (const std::string& v : row.values) lines.push_back(With(row.args, &v));
      if (row.args.back() == "{}" && flag.rfind('-', 0) == 0) {
        lines.push_back(With(row.args, nullptr));  // the value is missing
      }
      for (const std::vector<std::string>& args : lines) {
        ++runs;
        CmdResult r = p.Slipway(args, 30s);
        const std::string what = row.option + ": slipway " + Words(args);
        EXPECT_EQ(r.rc, 2) << what << "\n" << r.err.substr(0, 500);
        EXPECT_EQ(r.out, "") << what;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << "\n"
                                                                   << r.err.substr(0, 500);
        EXPECT_EQ(r.err.rfind("slipway: ", 0), 0u) << what << "\n" << r.err.substr(0, 500);
        EXPECT_LE(r.err.size(), 1000u) << what;
        // The line names the option (a positional by its name, or the command's own words
        // where the refusal is the command's: `up: no such service`).
        const std::string cmd = row.option.substr(0, row.option.find(' '));
        EXPECT_TRUE(r.err.find(flag) != std::string::npos ||
                    r.err.find(cmd + ": ") != std::string::npos)
            << what << "\n"
            << r.err.substr(0, 500);
        EXPECT_EQ(Listing(state), before) << what << ": .slipway changed";
        EXPECT_EQ(p.DaemonPid(), 0) << what;
      }
    }
    std::printf("[ cli ] %d hostile command lines refused\n", runs);
  }
};

const char* kCompose = R"(services:
  web:
    command: ["sleep", "300"]
)";

TEST_F(CliHostileTest, EveryOptionRefusesHostileValuesBeforeAnythingStarts) {
  Project p(kCompose);
  RunTable(p, {}, [](const Row&) { return true; });
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway"));
}

// A project that ran before keeps its state folder as it was: the commands that write there
// (up, migrate, backup) are refused before they touch it.
TEST_F(CliHostileTest, AnExistingStateFolderIsLeftAsItWas) {
  Project p(kCompose);
  std::filesystem::create_directories(p.dir() / ".slipway" / "logs");
  p.Write(".slipway/logs/web.log", "an old line\n");
  const auto before = Listing(p.dir() / ".slipway");
  ASSERT_EQ(before.size(), 2u);
  RunTable(p, before, [](const Row& row) {
    const std::string& cmd = row.args.front();
    return cmd == "up" || cmd == "migrate" || cmd == "backup" || cmd == "logs";
  });
}

TEST_F(CliHostileTest, UnknownCommandsAreNamed) {
  Project p(kCompose);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"nosuchcmd"}, "slipway: unknown command \"nosuchcmd\""},
           {{"-p", "x", "nosuchcmd"}, "slipway: unknown command \"nosuchcmd\""},
           {{kHuge}, "slipway: unknown command \"aaaa"},
           {{"flags", "nosuch"}, "slipway: flags: unknown command \"nosuch\""},
           {{"migrate", "nosuch"}, "slipway: migrate: unknown command \"nosuch\""},
           {{"export", "nosuch"}, "slipway: export: unknown command \"nosuch\""},
           {{"tokens", "bad\x01"}, "slipway: tokens: unknown command \"bad\\x01\""},
           {{}, "slipway: A subcommand is required"},
       }) {
    CmdResult r = p.Slipway(c.args, 30s);
    const std::string what = "slipway " + Words(c.args);
    EXPECT_EQ(r.rc, 2) << what << ": " << r.err;
    EXPECT_EQ(r.out, "") << what;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
    EXPECT_EQ(r.err.rfind(c.says, 0), 0u) << what << ": " << r.err.substr(0, 300);
    EXPECT_LE(r.err.size(), 300u) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway"));
}

// Every option of every command that takes a value, as "COMMAND WORDS OPTION".
void Options(const CLI::App& app, const std::string& path, std::set<std::string>* out) {
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_type_size_max() == 0 || o->get_items_expected_max() == 0) continue;  // a flag
    out->insert(path + o->get_name());
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    Options(*sub, path + sub->get_name() + " ", out);
  }
}

TEST(CliHostileTableTest, EveryOptionThatTakesAValueHasARow) {
  cli::CliContext ctx;
  int rc = 0;
  char name[] = "slipway";
  char* argv[] = {name, nullptr};
  std::unique_ptr<CLI::App> app = cli::BuildApp(ctx, &rc, 1, argv);
  std::set<std::string> options;
  Options(*app, "", &options);
  ASSERT_GT(options.size(), 50u);
  std::set<std::string> rows;
  for (const Row& row : Table()) rows.insert(row.option);
  for (const std::string& o : options) {
    EXPECT_TRUE(rows.count(o)) << "no hostile-values row for `" << o << "`";
  }
  for (const std::string& r : rows) {
    EXPECT_TRUE(options.count(r)) << "a row for `" << r << "`, which the command line lacks";
  }
}

}  // namespace
}  // namespace slipway::testing
