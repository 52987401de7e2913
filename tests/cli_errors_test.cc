// Every error a command prints after argv is parsed is one line of the CLI's one form
// (CliContext::ErrorLine): `slipway: COMMAND: why` with the command named once, or the file
// location first (`compose.yaml:4:14: ...`) when a file is wrong. A table of commands that fail
// for a reason the parser cannot see: no daemon, no databases, no images to export, a broken
// compose file, an unknown service, and, with a daemon up, the daemon's own refusals (the API's
// field names in its messages keep their text, prefixed). Each row also pins the exit code.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

struct Row {
  std::vector<std::string> args;  // after `slipway`
  // How the line starts: "slipway: COMMAND: ", or a file location for a file's errors.
  std::string starts;
  int rc;
  std::string says;  // a part of the reason that must be there ("" = any)
};

std::string Words(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Runs every row in `p` and checks the one line each prints.
void ExpectLines(Project& p, const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    CmdResult r = p.Slipway(row.args, 30s);
    const std::string what = "slipway " + Words(row.args) + "\n" + r.err.substr(0, 600);
    EXPECT_EQ(r.rc, row.rc) << what;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what;
    if (r.err.empty()) continue;
    EXPECT_EQ(r.err.back(), '\n') << what;
    EXPECT_EQ(r.err.rfind(row.starts, 0), 0u) << what;
    EXPECT_LE(r.err.size(), 1000u) << what;
    if (!row.says.empty()) {
      EXPECT_NE(r.err.find(row.says), std::string::npos) << what;
    }
    if (row.starts.rfind("slipway: ", 0) != 0) continue;
    // Named once: what follows the prefix neither repeats the command (or its first word)
    // nor carries another `slipway:`.
    const std::string command = row.starts.substr(9, row.starts.size() - 11);
    const std::string rest = r.err.substr(std::min(r.err.size(), row.starts.size()));
    const std::string first = command.substr(0, command.find(' '));
    EXPECT_NE(rest.rfind(first + ":", 0), 0u) << what;
    EXPECT_NE(rest.rfind(first + " ", 0), 0u) << what;
    EXPECT_EQ(rest.find("slipway:"), std::string::npos) << what;
  }
}

const char* kCompose = R"(services:
  web:
    command: ["sleep", "300"]
)";

TEST(CliErrorsTest, WithoutADaemonEachFailureIsOneLineNamingItsCommand) {
  Project p(kCompose);
  ExpectLines(
      p, {
             // `ps`, `logs web`, `backup list` succeed without a daemon (the project's state
             // folder answers): not rows here.
             {{"deploy", "web"}, "slipway: deploy: ", 1, "nothing is running"},
             {{"flags", "list"}, "slipway: flags list: ", 1, "not running"},
             {{"query", "up"}, "slipway: query: ", 1, "not running"},
             {{"stop", "web"}, "slipway: stop: ", 1, "not running"},
             {{"status"}, "slipway: status: ", 1, "not running"},
             {{"tokens", "list"}, "slipway: tokens list: ", 1, "no daemon"},
             {{"migrate", "status"}, "slipway: migrate status: ", 2, "no databases configured"},
             {{"flags", "check"}, "slipway: flags check: ", 2, "no x-slipway.flags"},
             {{"export", "kubernetes"}, "slipway: export kubernetes: ", 2, "has no image"},
             {{"logs", "nosuch"}, "slipway: logs: ", 2, "no such service: \"nosuch\""},
             {{"deploy", "nosuch"}, "slipway: deploy: ", 1, "nothing is running"},
             {{"alerts", "test", "a.yml", "b"}, "slipway: alerts test: ", 2, "expected test"},
         });
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway" / "daemon.pid"));
}

// A compose file's error keeps its location first, as editors and the docs read it.
TEST(CliErrorsTest, AComposeFileErrorStartsWithItsLocation) {
  Project p(R"(services:
  web:
    command: ["sleep", "300"]
    restart: sometimes
)");
  ExpectLines(p, {
                     {{"ps"}, "compose.yaml:4:", 2, "restart"},
                     {{"logs", "web"}, "compose.yaml:4:", 2, "restart"},
                     {{"export", "kubernetes"}, "compose.yaml:4:", 2, "restart"},
                     {{"migrate", "status"}, "compose.yaml:4:", 2, "restart"},
                 });
}

constexpr const char* kFlags = R"({
  "flags": {
    "color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"},
              "defaultVariant": "red"}
  }
})";

// With the daemon up, what it refuses reaches the user in the same form, its text kept.
TEST(CliErrorsTest, TheDaemonsRefusalsAreOneLineNamingTheCommand) {
  Project p(R"(services:
  idle:
    command: ["sleep", "300"]
x-slipway:
  flags: flags.json
)");
  p.Write("flags.json", kFlags);
  CmdResult up = p.Slipway({"up", "-d"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ExpectLines(p, {
                     {{"flags", "get", "nope"}, "slipway: flags get: ", 1, "nope"},
                     {{"flags", "target", "color", "--add", "email=x", "--variant", "purple"},
                      "slipway: flags target: ",
                      2,
                      "purple"},
                     {{"flags", "set", "color", "--json", R"({"state":"ON","variants":{"a":1}})"},
                      "slipway: flags set: ",
                      2,
                      "state"},
                     {{"logs", "nosuch"}, "slipway: logs: ", 2, "nosuch"},
                     {{"deploy", "nosuch"}, "slipway: deploy: ", 2, "nosuch"},
                 });
}

}  // namespace
}  // namespace slipway::testing
