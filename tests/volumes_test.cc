// End-to-end tests of volumes, secrets, configs and builds for container services, through
// the real binary and a real podman with a private storage (handed to the daemon through
// SLIPWAY_CONTAINER_FLAGS). Images are built FROM scratch from busybox-static (there is no
// registry here). Fails, saying why, where podman or busybox is missing or `podman info` fails
// (tests/podman_storage.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"
#include "podman_storage.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(VolumesTest, BuiltImageKeepsItsNamedVolumeAcrossDownUpReadsSecretsAndDownVRemovesIt) {
  PodmanStorage storage("pmv");
  REQUIRE_PODMAN(storage);
  Project p(R"(name: voltest
services:
  db:
    build: ./ctx
    command: ["/bin/sh", "-c", "exec sleep 600"]
    volumes:
      - data:/data
      - ./host-dir:/host:ro
      - {type: tmpfs, target: /scratch}
    secrets: [db_password, {source: token, target: /etc/token}]
    configs: [{source: app_conf, target: /etc/app.conf}]
    x-slipway: {runtime: container}
volumes:
  data:
secrets:
  db_password: {file: ./db_password.txt}
  token: {environment: VOLTEST_TOKEN}
configs:
  app_conf: {content: "listen 80"}
)");
  WriteBuildContext(p.dir() / "ctx");
  p.Write("db_password.txt", "pw-from-file");
  const std::vector<std::string> env = {storage.FlagsEnv(), "VOLTEST_TOKEN=tok-from-env"};

  auto t0 = std::chrono::steady_clock::now();
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 180s, env);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  std::cout << "[ measure ] up -d --wait with a build (cold) and a volume: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms\n";
  EXPECT_NE(up.err.find("built voltest-db"), std::string::npos) << up.err;
  // Secrets and configs, read-only, never echoed by slipway itself.
  CmdResult read = p.Slipway(
      {"exec", "db", "cat", "/run/secrets/db_password", "/etc/token", "/etc/app.conf"}, 60s, env);
  ASSERT_EQ(read.rc, 0) << read.out << read.err;
  EXPECT_EQ(read.out, "pw-from-filetok-from-envlisten 80");
  CmdResult ro =
      p.Slipway({"exec", "db", "sh", "-c", "echo x > /run/secrets/db_password"}, 60s, env);
  EXPECT_NE(ro.rc, 0) << "a secret must be read-only";
  EXPECT_EQ(up.out.find("pw-from-file"), std::string::npos);
  EXPECT_EQ(up.err.find("tok-from-env"), std::string::npos);
  // The short syntax created the missing bind folder, as compose does.
  EXPECT_TRUE(fs::is_directory(p.dir() / "host-dir"));
  // The written secret is private.
  fs::path written = p.dir() / ".slipway" / "secrets" / "secret.token";
  EXPECT_EQ(fs::status(written).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(written.parent_path()).permissions() & fs::perms::all, fs::perms::owner_all);

  // Data written into the named volume survives down/up (the container itself is --rm).
  CmdResult write = p.Slipway({"exec", "db", "sh", "-c", "echo kept > /data/f"}, 60s, env);
  ASSERT_EQ(write.rc, 0) << write.out << write.err;
  ASSERT_EQ(p.Slipway({"down"}, 60s, env).rc, 0);
  CmdResult up2 = p.Slipway({"up", "-d", "--wait"}, 120s, env);
  ASSERT_EQ(up2.rc, 0) << up2.out << up2.err;
  EXPECT_EQ(up2.err.find("building"), std::string::npos) << "the image exists: no rebuild";
  CmdResult again = p.Slipway({"exec", "db", "cat", "/data/f"}, 60s, env);
  EXPECT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(again.out, "kept\n");
  // exec's exit code is the command's.
  EXPECT_EQ(p.Slipway({"exec", "db", "sh", "-c", "exit 7"}, 60s, env).rc, 7);

  // down -v removes the project's volume; a new up starts empty.
  CmdResult down = p.Slipway({"down", "-v"}, 60s, env);
  ASSERT_EQ(down.rc, 0) << down.out << down.err;
  EXPECT_NE(down.out.find("removed volume voltest_data"), std::string::npos) << down.out;
  CmdResult vols = storage.Podman({"volume", "ls", "--format", "{{.Name}}"});
  EXPECT_EQ(vols.out.find("voltest_data"), std::string::npos) << vols.out;
}

TEST(VolumesTest, AFailedBuildIsOneLineExit1AndStartsNothing) {
  PodmanStorage storage("pmv");
  REQUIRE_PODMAN(storage);
  Project p(R"(services:
  app:
    command: ["sh", "-c", "exec sleep 60"]
  web:
    build: ./ctx
    depends_on: [app]
)");
  WriteBuildContext(p.dir() / "ctx", "RUN [\"/bin/sh\", \"-c\", \"echo no such step; exit 3\"]\n");
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 180s, {storage.FlagsEnv()});
  EXPECT_EQ(up.rc, 1) << up.out << up.err;
  std::string last = up.err.substr(up.err.rfind("slipway: up:"));
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << up.err;
  EXPECT_NE(last.find("build web: podman build: exited with code 3: Error: building at STEP"),
            std::string::npos)
      << up.err;
  EXPECT_FALSE(fs::exists(p.dir() / ".slipway" / "daemon.pid")) << "nothing may start";
  // `slipway build` says the same.
  CmdResult build = p.Slipway({"build", "web"}, 180s, {storage.FlagsEnv()});
  EXPECT_EQ(build.rc, 1);
  EXPECT_NE(build.err.find("slipway: build: build web:"), std::string::npos) << build.err;
  EXPECT_EQ(p.Slipway({"build", "app"}, 60s, {storage.FlagsEnv()}).rc, 2);
}

TEST(VolumesTest, MissingSecretsAreRefusedBeforeAnythingStarts) {
  PodmanStorage storage("pmv");
  REQUIRE_PODMAN(storage);
  Project p(R"(services:
  first:
    command: ["sh", "-c", "exec sleep 60"]
  web:
    build: ./ctx
    command: ["/bin/sleep", "60"]
    secrets: [pw]
    depends_on: [first]
    x-slipway: {runtime: container}
secrets:
  pw: {file: ./missing.txt}
)");
  WriteBuildContext(p.dir() / "ctx");
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 180s, {storage.FlagsEnv()});
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("compose.yaml:11:8: secrets.pw.file: file \"./missing.txt\" not found"),
            std::string::npos)
      << up.err;
  auto ps = p.Ps();
  for (const auto& r : ps) EXPECT_NE(r.value("state", ""), "running") << ps.dump();

  // An external secret the engine does not hold: refused, saying how to provide it.
  p.Write("compose.yaml", R"(services:
  web:
    build: ./ctx
    command: ["/bin/sh", "-c", "cat /run/secrets/api_key; exec sleep 60"]
    secrets: [api_key]
    x-slipway: {runtime: container}
secrets:
  api_key: {external: true}
)");
  up = p.Slipway({"up", "-d", "--wait"}, 120s, {storage.FlagsEnv()});
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("external secret \"api_key\" is not in podman (expected it created first: "
                        "`podman secret create api_key FILE`"),
            std::string::npos)
      << up.err;
  // Once the engine holds it, the container reads it at /run/secrets.
  p.Write("key.txt", "engine-held-key");
  ASSERT_EQ(storage.Podman({"secret", "create", "api_key", (p.dir() / "key.txt").string()}).rc, 0);
  up = p.Slipway({"up", "-d", "--wait"}, 120s, {storage.FlagsEnv()});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  CmdResult read =
      p.Slipway({"exec", "web", "cat", "/run/secrets/api_key"}, 60s, {storage.FlagsEnv()});
  EXPECT_EQ(read.out, "engine-held-key") << read.err;
  EXPECT_EQ(p.Slipway({"down"}, 60s).rc, 0);
}

}  // namespace
}  // namespace slipway::testing
