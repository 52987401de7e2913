// End-to-end tests of volumes, tmpfs, secrets and configs for host processes (their private
// mount namespace, runtime/host_mounts.h), of `up --containers`, and of examples/stack (the
// `make demo` stack: PostgreSQL as a host process in a named volume, an API reaching it as
// db:5432, a built container reading a secret). Through the real binary; the mount tests need
// root (they skip, saying so, without it), the container ones podman and busybox-static, the
// example PostgreSQL's server binaries and the postgres user.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "migrate/pg_test_server.h"
#include "podman_storage.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

#define SKIP_WITHOUT_ROOT()                                                              \
  do {                                                                                   \
    if (geteuid() != 0) GTEST_SKIP() << "mount namespaces for host processes need root"; \
  } while (0)

// Every file slipway wrote under the project (logs, store, events), secrets' own files aside.
std::string EverythingSlipwayWrote(const fs::path& dir) {
  std::string all;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir / ".slipway", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    if (p.string().find("/secrets") != std::string::npos ||
        p.string().find("/volumes") != std::string::npos) {
      continue;
    }
    if (it->is_regular_file(ec)) all += ReadFile(p);
  }
  return all;
}

TEST(HostMountsTest, BindVolumeTmpfsReadOnlyAndSecretsForAHostProcess) {
  SKIP_WITHOUT_ROOT();
  Project p("services: {}\n");
  const fs::path d = p.dir();
  for (const char* t : {"t-bind", "t-ro", "t-vol", "t-tmp"}) fs::create_directories(d / t);
  fs::create_directories(d / "src");
  p.Write("src/hello", "from the host folder");
  p.Write("pw.txt", "s3cret-from-file");
  const std::string script =
      "cat t-bind/hello > bind.out; "
      "(echo x > t-ro/hello) 2>/dev/null && echo writable > ro.out || echo refused > ro.out; "
      "echo run >> t-vol/runs; wc -l < t-vol/runs > vol.out; "
      "stat -f -c %T t-tmp > tmp.out; "
      "cat /run/secrets/pw /run/secrets/sub/tok > secret.out; "
      "(echo x > /run/secrets/pw) 2>/dev/null && echo writable > secret-ro.out || "
      "echo refused > secret-ro.out; "
      "echo $$SLIPWAY_SECRETS_DIR > dir.out; exec sleep 600";
  // Targets are absolute: the project folder's own (they must exist on the host).
  p.Write("compose.yaml", "name: hostmounts\nservices:\n  app:\n    command: [\"sh\", \"-c\", \"" +
                              script + "\"]\n    volumes:\n      - ./src:" +
                              (d / "t-bind").string() + "\n      - ./src:" + (d / "t-ro").string() +
                              ":ro\n      - data:" + (d / "t-vol").string() +
                              "\n      - {type: tmpfs, target: " + (d / "t-tmp").string() +
                              "}\n    secrets: [pw, {source: tok, target: sub/tok}]\n"
                              "volumes:\n  data:\nsecrets:\n  pw: {file: ./pw.txt}\n"
                              "  tok: {environment: HM_TOKEN}\n");
  const std::vector<std::string> env = {"HM_TOKEN=tok-from-env"};
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s, env);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return fs::exists(d / "dir.out"); }, 20s))
      << p.Slipway({"logs", "app"}).out;
  EXPECT_EQ(ReadFile(d / "bind.out"), "from the host folder");
  EXPECT_EQ(ReadFile(d / "ro.out"), "refused\n");
  EXPECT_EQ(ReadFile(d / "vol.out"), "1\n");
  EXPECT_EQ(ReadFile(d / "tmp.out"), "tmpfs\n");
  EXPECT_EQ(ReadFile(d / "secret.out"), "s3cret-from-filetok-from-env");
  EXPECT_EQ(ReadFile(d / "secret-ro.out"), "refused\n");
  EXPECT_EQ(ReadFile(d / "dir.out"), "/run/secrets\n");
  // The mounts live in the process's namespace only: the host's folders are untouched.
  EXPECT_TRUE(fs::is_empty(d / "t-bind"));
  EXPECT_TRUE(fs::is_empty(d / "t-vol"));
  EXPECT_FALSE(fs::exists("/run/secrets/pw"));
  // The named volume is a project folder, kept by down.
  const fs::path vol = d / ".slipway" / "volumes" / "data";
  EXPECT_EQ(ReadFile(vol / "runs"), "run\n");
  ASSERT_EQ(p.Slipway({"down"}, 60s).rc, 0);
  fs::remove(d / "dir.out");
  up = p.Slipway({"up", "-d", "--wait"}, 60s, env);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return fs::exists(d / "dir.out"); }, 20s));
  EXPECT_EQ(ReadFile(d / "vol.out"), "2\n") << "the volume survives down/up";
  // Secret values appear in no log line, event or file slipway wrote.
  CmdResult logs = p.Slipway({"logs", "app"});
  CmdResult events = p.Slipway({"events"});
  for (const std::string v : {"s3cret-from-file", "tok-from-env"}) {
    EXPECT_EQ((up.out + up.err + logs.out + logs.err + events.out).find(v), std::string::npos);
    EXPECT_EQ(EverythingSlipwayWrote(d).find(v), std::string::npos) << v;
  }
  // down -v removes the volume folder; the next up starts it empty.
  CmdResult down = p.Slipway({"down", "-v"}, 60s);
  ASSERT_EQ(down.rc, 0) << down.out << down.err;
  EXPECT_NE(down.out.find("removed volume data"), std::string::npos) << down.out;
  EXPECT_FALSE(fs::exists(vol));
}

TEST(HostMountsTest, BadMountsAreOneLineExit2AndStartNothing) {
  SKIP_WITHOUT_ROOT();
  Project p(R"(services:
  first:
    command: ["sh", "-c", "exec sleep 60"]
  app:
    command: ["sh", "-c", "exec sleep 60"]
    depends_on: [first]
    volumes:
      - type: bind
        source: ./nowhere
        target: /tmp
        bind: {create_host_path: false}
)");
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s);
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_EQ(std::count(up.err.begin(), up.err.end(), '\n'), 1) << up.err;
  EXPECT_NE(up.err.find("compose.yaml:9:9: services.app.volumes[0].source: host path "
                        "\"./nowhere\" does not exist"),
            std::string::npos)
      << up.err;
  EXPECT_FALSE(PidAlive(p.DaemonPid())) << "nothing may start";

  // A secret file that is missing: refused before anything starts.
  p.Write("compose.yaml", R"(services:
  first:
    command: ["sh", "-c", "exec sleep 60"]
  app:
    command: ["sh", "-c", "exec sleep 60"]
    secrets: [pw]
    depends_on: [first]
secrets:
  pw: {file: ./missing.txt}
)");
  up = p.Slipway({"up", "-d", "--wait"}, 60s);
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("compose.yaml:9:8: secrets.pw.file: file \"./missing.txt\" not found"),
            std::string::npos)
      << up.err;
  auto ps = p.Ps();
  for (const auto& r : ps) EXPECT_NE(r.value("state", ""), "running") << ps.dump();

  // A mount point the host does not have: slipway makes none outside /run/secrets.
  p.Write("compose.yaml", R"(services:
  app:
    command: ["sh", "-c", "exec sleep 60"]
    volumes: ["./data:/no/such/slipway/folder"]
)");
  up = p.Slipway({"up", "-d", "--wait"}, 60s);
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("compose.yaml:4:15: services.app.volumes[0]: mount point "
                        "\"/no/such/slipway/folder\" does not exist on this host"),
            std::string::npos)
      << up.err;
  EXPECT_FALSE(fs::exists("/no/such/slipway"));
  ps = p.Ps();
  for (const auto& r : ps) EXPECT_NE(r.value("state", ""), "running") << ps.dump();
}

TEST(HostMountsTest, UpContainersRunsEitherWayServicesInContainersForThatUp) {
  PodmanStorage storage("phm");
  REQUIRE_PODMAN(storage);
  Project p(R"(name: upc
services:
  app:
    build: ./ctx
    command: ["sh", "-c", "exec sleep 600"]
    x-slipway:
      command: ["sh", "-c", "echo host > where.out; exec sleep 600"]
      runtime: host
  tool:
    command: ["sh", "-c", "exec sleep 600"]
)");
  WriteBuildContext(p.dir() / "ctx");
  const std::vector<std::string> env = {storage.FlagsEnv()};
  // A service with no image and no build cannot: one line, exit 2, nothing started.
  CmdResult bad = p.Slipway({"up", "-d", "--wait", "--containers"}, 180s, env);
  EXPECT_EQ(bad.rc, 2) << bad.out << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_NE(bad.err.find("compose.yaml:9:3: services.tool: up --containers: tool has no image "
                         "and no build to run as a container"),
            std::string::npos)
      << bad.err;
  EXPECT_FALSE(PidAlive(p.DaemonPid()));

  // Named: the flag wins over x-slipway.runtime: host; the image is built first.
  CmdResult up = p.Slipway({"up", "-d", "--wait", "--containers", "app"}, 180s, env);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  // Running for slipway once `podman run` runs: the container itself follows shortly.
  CmdResult names;
  EXPECT_TRUE(WaitFor(
      [&] {
        names = storage.Podman({"ps", "--format", "{{.Names}}"});
        return names.out.find("slipway-upc-app-1") != std::string::npos;
      },
      30s))
      << names.out << names.err;
  EXPECT_FALSE(fs::exists(p.dir() / "ctx" / "where.out"));
  // The daemon does not remember it: a later up runs the file as written (on the host, from
  // the build context).
  up = p.Slipway({"up", "-d", "--wait"}, 120s, env);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  EXPECT_TRUE(WaitFor([&] { return fs::exists(p.dir() / "ctx" / "where.out"); }, 20s));
  EXPECT_TRUE(WaitFor(
      [&] {
        return storage.Podman({"ps", "--format", "{{.Names}}"}).out.find("slipway-upc-app-1") ==
               std::string::npos;
      },
      30s));
  EXPECT_EQ(p.Slipway({"down"}, 60s, env).rc, 0);
}

// examples/stack, as `make demo` runs it: up --wait, psql through the published port, the
// API answering from the database, the report container reading its secret and the API by
// name; down, up, the data still there; down -v.
TEST(HostMountsTest, TheStackExampleEndToEnd) {
  SKIP_WITHOUT_ROOT();
  PodmanStorage storage("phm");
  REQUIRE_PODMAN(storage);
  if (migrate::testing::FindPgBin().empty() || getpwnam("postgres") == nullptr ||
      !fs::is_directory("/var/lib/postgresql")) {
    GTEST_SKIP() << "needs PostgreSQL's server binaries, the postgres user and its home";
  }
  const fs::path example = fs::path(SLIPWAY_SOURCE_DIR) / "examples" / "stack";
  Project p("services: {}\n");
  for (const auto& e : fs::directory_iterator(example)) {
    if (e.path().filename() == ".slipway") continue;  // a `make demo` of the source tree
    fs::copy(e.path(), p.dir() / e.path().filename(),
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }
  fs::copy_file("/bin/busybox", p.dir() / "report" / "busybox",
                fs::copy_options::overwrite_existing);
  const int db_port = FreePort(), api_port = FreePort(), report_port = FreePort();
  const std::vector<std::string> env = {storage.FlagsEnv(), "DB_PORT=" + std::to_string(db_port),
                                        "API_PORT=" + std::to_string(api_port),
                                        "REPORT_PORT=" + std::to_string(report_port)};
  const std::vector<std::string> project = {"-p", "stack-it-" + std::to_string(getpid())};
  auto slipway = [&](std::vector<std::string> args, std::chrono::milliseconds t) {
    args.insert(args.begin(), project.begin(), project.end());
    return p.Slipway(args, t, env);
  };
  auto psql = [&](const std::string& sql) {
    return RunCmd({"/usr/bin/psql", "-h", "127.0.0.1", "-p", std::to_string(db_port), "-U", "app",
                   "-d", "app", "-tAc", sql},
                  p.dir(), {"PGPASSWORD=demo-password", "PGCONNECT_TIMEOUT=5"}, 30s);
  };

  auto t0 = std::chrono::steady_clock::now();
  CmdResult up = slipway({"up", "-d", "--wait"}, 180s);
  ASSERT_EQ(up.rc, 0) << up.out << up.err << slipway({"logs"}, 30s).out;
  std::cout << "[ measure ] examples/stack up -d --wait (cold build, initdb): "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms\n";
  std::string body;
  ASSERT_EQ(HttpGet(api_port, "/", &body), 200) << body;
  EXPECT_NE(body.find("\"visits\": 1"), std::string::npos) << body;
  ASSERT_EQ(HttpGet(api_port, "/", &body), 200) << body;
  CmdResult q = psql("select n from visits");
  EXPECT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(q.out, "2\n");
  // The report refreshes every second.
  EXPECT_TRUE(WaitFor(
      [&] {
        return HttpGet(report_port, "/report.txt", &body) == 200 &&
               body.find("api says: {\"visits\": 2}") != std::string::npos;
      },
      15s))
      << body;
  EXPECT_NE(body.find("secret report_token: 16 characters"), std::string::npos) << body;
  CmdResult logs = slipway({"logs"}, 30s);
  EXPECT_EQ(logs.out.find("demo-password"), std::string::npos);
  EXPECT_EQ(logs.out.find("report-token-123"), std::string::npos);

  ASSERT_EQ(slipway({"down"}, 60s).rc, 0);
  up = slipway({"up", "-d", "--wait"}, 120s);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_EQ(HttpGet(api_port, "/stats", &body), 200) << body;
  EXPECT_NE(body.find("\"visits\": 2"), std::string::npos) << "the volume kept the data: " << body;
  CmdResult down = slipway({"down", "-v"}, 60s);
  EXPECT_EQ(down.rc, 0) << down.out << down.err;
  EXPECT_FALSE(fs::exists(p.dir() / ".slipway" / "volumes" / "pgdata"));
}

}  // namespace
}  // namespace slipway::testing
