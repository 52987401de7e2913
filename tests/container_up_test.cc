// End-to-end test of an image-only service through the real binary and a real podman: a
// private podman storage (global flags handed to the daemon through SLIPWAY_CONTAINER_FLAGS),
// a 2 MB image imported from busybox-static, a CMD healthcheck that can only pass inside the
// container, a host service gated on it, the proxy in front, and `down` removing the container.
// Fails, saying why, where podman or busybox is missing or `podman info` fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
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

constexpr const char* kImage = "slipwaytest:1";

// rootfs: /bin/busybox with a relative link per applet, and /www/index.html, which exists only
// inside the image; imported into `storage` as kImage.
CmdResult ImportBusyboxImage(PodmanStorage& storage) {
  fs::path rootfs = storage.dir() / "rootfs";
  fs::create_directories(rootfs / "www");
  std::ofstream(rootfs / "www" / "index.html") << "served from the container\n";
  std::vector<std::string> argv = {
      "/bin/sh",
      "-c",
      "set -e; root=$1; shift; mkdir -p \"$root/bin\"; cp /bin/busybox \"$root/bin/busybox\"; "
      "for a in $(/bin/busybox --list); do [ \"$a\" = busybox ] || "
      "ln -s busybox \"$root/bin/$a\"; done; tar -C \"$root\" -c . | \"$@\" import - " +
          std::string(kImage),
      "sh",
      rootfs.string(),
      storage.podman()};
  argv.insert(argv.end(), storage.flags().begin(), storage.flags().end());
  CmdResult r = RunCmd(argv, storage.dir(), {}, 60s);
  fs::remove_all(rootfs);
  return r;
}

TEST(ContainerUpTest, ImageServiceHealthCheckedInsideGatesAHostServiceAndDownRemovesIt) {
  PodmanStorage storage("pmit");  // declared first: outlives the project (`down` runs first)
  REQUIRE_PODMAN(storage);
  CmdResult imported = ImportBusyboxImage(storage);
  ASSERT_EQ(imported.rc, 0) << imported.out << imported.err;
  // The probe's file must not exist on the host: a probe run there would fail.
  ASSERT_FALSE(fs::exists("/www/index.html"));

  int web_port = FreePort();
  // `$$PORT` is compose's escape for a literal `$PORT`, which the container's shell expands
  // from the PORT slipway passes with -e.
  Project p(R"(services:
  web:
    image: )" +
            std::string(kImage) + R"(
    command: ["/bin/sh", "-c", "exec /bin/httpd -f -p 127.0.0.1:$$PORT -h /www"]
    ports: ["127.0.0.1:)" +
            std::to_string(web_port) + R"(:80"]
    healthcheck:
      test: ["CMD", "test", "-f", "/www/index.html"]
      interval: 10s
      timeout: 10s
      retries: 3
      start_period: 30s
      start_interval: 200ms
    x-slipway:
      deploy: {strategy: blue-green, monitor: 300ms, drain: 100ms, health_timeout: 60s}
  app:
    command: ["sh", "-c", "echo app up; exec sleep 60"]
    depends_on:
      web: {condition: service_healthy}
)");
  auto t0 = std::chrono::steady_clock::now();
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 120s, {storage.FlagsEnv()});
  auto up_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  std::cout << "[ measure ] up -d --wait with a podman service: " << up_ms << " ms\n";

  auto ev = p.Events();
  int web_started = EventIndex(ev, "web", "started");
  int web_healthy = EventIndex(ev, "web", "healthy");
  int app_started = EventIndex(ev, "app", "started");
  ASSERT_GE(web_started, 0) << ev.dump();
  ASSERT_GE(web_healthy, 0) << ev.dump();
  ASSERT_GE(app_started, 0) << ev.dump();
  EXPECT_LT(web_started, web_healthy);
  EXPECT_LT(web_healthy, app_started) << "app must wait for web to be healthy";

  // The published port is the proxy's, which routes to the container's PORT on the host
  // network.
  std::string body;
  EXPECT_EQ(HttpGet(web_port, "/index.html", &body), 200);
  EXPECT_EQ(body, "served from the container\n");

  CmdResult ps = storage.Podman({"ps", "-a", "--format", "{{.Names}}"});
  EXPECT_NE(ps.out.find("slipway-"), std::string::npos) << ps.out << ps.err;

  // A blue-green deploy runs the new release's container beside the old one (kept warm for
  // rollbacks): their names must differ.
  CmdResult deploy = p.Slipway({"deploy", "web", "--env", "RELEASE_MARK=2"}, 120s);
  ASSERT_EQ(deploy.rc, 0) << deploy.out << deploy.err;
  CmdResult both = storage.Podman({"ps", "--format", "{{.Names}}"});
  EXPECT_NE(both.out.find("-web-1\n"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("-web-r2-1\n"), std::string::npos) << both.out;
  EXPECT_EQ(HttpGet(web_port, "/index.html", &body), 200);

  CmdResult down = p.Slipway({"down"}, 60s);
  EXPECT_EQ(down.rc, 0) << down.out << down.err;
  // `down` returns once the `podman run` client exited; --rm removes the container with it.
  bool gone = WaitFor(
      [&] {
        CmdResult r = storage.Podman({"ps", "-a", "--format", "{{.Names}}"});
        return r.rc == 0 && r.out.find("slipway-") == std::string::npos;
      },
      20s);
  EXPECT_TRUE(gone) << storage.Podman({"ps", "-a"}).out;
}

// A malformed SLIPWAY_CONTAINER_FLAGS is bad input: `up` refuses with one line naming the
// variable and exit code 2, before any service (here a host one listed first) starts. Needs no
// container engine: the value is parsed before one is asked.
TEST(ContainerUpTest, AnUnclosedQuoteInTheEngineFlagsIsRefusedBeforeAnythingStarts) {
  Project p(R"(services:
  app:
    command: ["sh", "-c", "echo app up; exec sleep 60"]
  web:
    image: docker.io/library/busybox:1
    command: ["sleep", "60"]
    depends_on: [app]
)");
  CmdResult up =
      p.Slipway({"up", "-d", "--wait"}, 60s, {"SLIPWAY_CONTAINER_FLAGS=--root '/tmp/never closed"});
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("SLIPWAY_CONTAINER_FLAGS"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("quote"), std::string::npos) << up.err;
  EXPECT_EQ(std::count(up.err.begin(), up.err.end(), '\n'), 1) << up.err;
  EXPECT_EQ(EventIndex(p.Events(), "app", "started"), -1) << p.Events().dump();
}

// A daemon killed with SIGKILL cannot stop its containers: the one it ran keeps its name. The
// next `up` must still start the service (the leftover is replaced), and `down` must leave
// nothing behind.
TEST(ContainerUpTest, AContainerLeftByAKilledDaemonIsReplacedAtTheNextUp) {
  PodmanStorage storage("pmit");
  REQUIRE_PODMAN(storage);
  CmdResult imported = ImportBusyboxImage(storage);
  ASSERT_EQ(imported.rc, 0) << imported.out << imported.err;

  const int web_port = FreePort();
  Project p(R"(services:
  web:
    image: )" +
            std::string(kImage) + R"(
    command: ["/bin/sh", "-c", "exec /bin/httpd -f -p 127.0.0.1:$$PORT -h /www"]
    ports: ["127.0.0.1:)" +
            std::to_string(web_port) + R"(:80"]
    healthcheck:
      test: ["CMD", "test", "-f", "/www/index.html"]
      interval: 10s
      start_period: 30s
      start_interval: 200ms
)");
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 120s, {storage.FlagsEnv()});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  auto running = [&] {
    CmdResult r = storage.Podman({"ps", "--format", "{{.Names}}"});
    return r.rc == 0 && r.out.find("slipway-") != std::string::npos;
  };
  ASSERT_TRUE(running());

  const pid_t daemon = p.DaemonPid();
  ASSERT_TRUE(PidAlive(daemon));
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(daemon); }, 10s));
  // The daemon's `podman run` client may die with it; the container lives on under conmon.
  ASSERT_TRUE(running()) << storage.Podman({"ps", "-a"}).out;

  CmdResult again = p.Slipway({"up", "-d", "--wait"}, 120s, {storage.FlagsEnv()});
  ASSERT_EQ(again.rc, 0) << again.out << again.err;
  std::string body;
  EXPECT_TRUE(WaitFor([&] { return HttpGet(web_port, "/index.html", &body) == 200; }, 10s));
  EXPECT_EQ(body, "served from the container\n");
  CmdResult names = storage.Podman({"ps", "-a", "--format", "{{.Names}}"});
  EXPECT_EQ(std::count(names.out.begin(), names.out.end(), '\n'), 1) << names.out;

  CmdResult down = p.Slipway({"down"}, 60s);
  EXPECT_EQ(down.rc, 0) << down.out << down.err;
  EXPECT_TRUE(WaitFor(
      [&] {
        CmdResult r = storage.Podman({"ps", "-a", "--format", "{{.Names}}"});
        return r.rc == 0 && r.out.find("slipway-") == std::string::npos;
      },
      20s))
      << storage.Podman({"ps", "-a"}).out;
}

}  // namespace
}  // namespace slipway::testing
