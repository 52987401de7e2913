// Volumes, secrets, configs, builds and x-slipway.runtime, through LoadProject.
#include "config/volumes_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;
using testing::OptionsFor;
using testing::TempDir;

Result<Project> LoadIn(const TempDir& dir, const std::string& compose, LoadOptions o = {}) {
  dir.Write("compose.yaml", compose);
  LoadOptions opts = OptionsFor(dir.path());
  opts.environ = o.environ;
  return LoadProject(opts);
}

TEST(VolumesSettingsTest, ShortSyntax) {
  TempDir dir;
  Result<Project> p = LoadIn(dir, R"(name: shop
services:
  db:
    image: x
    volumes:
      - db-data:/var/lib/data
      - ./conf:/etc/app:ro
      - /abs/path:/abs
      - /anon
      - cache:/cache:rw,nocopy
    tmpfs: [/run, "/tmp:size=64m"]
volumes:
  db-data:
  cache: {name: shared-cache}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->volumes.at("db-data").engine_name, "shop_db-data");
  EXPECT_EQ(p->volumes.at("cache").engine_name, "shared-cache");
  const std::vector<Mount>& m = p->services.at("db").mounts;
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m[0].type, Mount::Type::kVolume);
  EXPECT_EQ(m[0].source, "shop_db-data");
  EXPECT_EQ(m[0].volume, "db-data");
  EXPECT_EQ(m[0].target, "/var/lib/data");
  EXPECT_FALSE(m[0].read_only);
  EXPECT_EQ(m[1].type, Mount::Type::kBind);
  EXPECT_EQ(m[1].source, (dir.path() / "conf").string());
  EXPECT_TRUE(m[1].read_only);
  EXPECT_TRUE(m[1].create_host_path);  // as compose does for the short syntax
  EXPECT_EQ(m[1].key_path, "services.db.volumes[1]");
  EXPECT_EQ(m[1].loc.ToString(), "compose.yaml:7:9");
  EXPECT_EQ(m[2].source, "/abs/path");
  EXPECT_EQ(m[3].type, Mount::Type::kVolume);
  EXPECT_EQ(m[3].source, "");  // anonymous
  EXPECT_EQ(m[4].source, "shared-cache");
  EXPECT_EQ(m[5].type, Mount::Type::kTmpfs);
  EXPECT_EQ(m[5].target, "/run");
  EXPECT_EQ(m[6].target, "/tmp");
  EXPECT_TRUE(p->warnings.empty());
}

TEST(VolumesSettingsTest, LongSyntax) {
  TempDir dir;
  dir.Write("exists/f", "x");
  Result<Project> p = LoadIn(dir, R"(services:
  db:
    image: x
    volumes:
      - {type: volume, source: data, target: /data, read_only: true}
      - type: bind
        source: ./exists
        target: /e
        bind: {create_host_path: false}
      - {type: tmpfs, target: /scratch, tmpfs: {size: 64m}}
      - {type: bind, source: ./made-at-up, target: /m}
volumes:
  data: {external: true}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_TRUE(p->volumes.at("data").external);
  EXPECT_EQ(p->volumes.at("data").engine_name, "data");  // external: the key itself
  const std::vector<Mount>& m = p->services.at("db").mounts;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].source, "data");
  EXPECT_TRUE(m[0].read_only);
  EXPECT_EQ(m[1].source, (dir.path() / "exists").string());
  EXPECT_FALSE(m[1].create_host_path);
  EXPECT_EQ(m[2].type, Mount::Type::kTmpfs);
  EXPECT_EQ(m[2].tmpfs_size, 64LL << 20);
  EXPECT_TRUE(m[3].create_host_path);
}

TEST(VolumesSettingsTest, BadVolumesAreOneLineWithTheirPlace) {
  TempDir dir;
  auto err = [&](const std::string& vols, const std::string& top = "") {
    return ErrorOf(LoadIn(dir, "services:\n  db:\n    image: x\n    volumes:\n" + vols + top));
  };
  EXPECT_EQ(err("      - nope:/data\n"),
            "compose.yaml:5:9: services.db.volumes[0]: volume \"nope\" is not declared (expected "
            "a top-level volumes: entry, or a path starting with ./ or /)");
  EXPECT_EQ(err("      - ./x:relative\n"),
            "compose.yaml:5:9: services.db.volumes[0]: \"relative\" is not an absolute path in the "
            "container (expected a path starting with '/', e.g. /var/lib/data)");
  EXPECT_EQ(err("      - ./x:/a:rx\n"),
            "compose.yaml:5:9: services.db.volumes[0]: mode \"rx\" is not a volume mode "
            "(expected ro or rw (and z, Z, nocopy, propagation))");
  EXPECT_EQ(err("      - a:b:c:d\n"),
            "compose.yaml:5:9: services.db.volumes[0]: \"a:b:c:d\" is not a volume (expected "
            "[SOURCE:]TARGET[:MODE], e.g. \"db-data:/var/lib/data\" or \"./conf:/etc/app:ro\")");
  EXPECT_EQ(err("      - \"./a,b:/x\"\n"),
            "compose.yaml:5:9: services.db.volumes[0]: \"" + (dir.path() / "a,b").string() +
                "\" has a comma, which the container engine's --mount cannot carry (expected a "
                "path without ',')");
  EXPECT_EQ(err("      - type: bind\n        source: ./missing\n        target: /m\n"
                "        bind: {create_host_path: false}\n"),
            "compose.yaml:6:9: services.db.volumes[0].source: host path \"./missing\" does not "
            "exist (expected an existing path, or bind.create_host_path: true)");
  EXPECT_EQ(err("      - {type: nfs, target: /x}\n"),
            "compose.yaml:5:10: services.db.volumes[0].type: \"nfs\" is not allowed (expected "
            "volume, bind or tmpfs)");
  EXPECT_THAT(err("      - {source: a, target: /x}\n"), ::testing::HasSubstr("has no type"));
  EXPECT_THAT(err("      - {type: volume, source: a}\n", "volumes: {a: }\n"),
              ::testing::HasSubstr("has no target (expected target: /path/in/container)"));
  EXPECT_THAT(err("      - {type: tmpfs, source: a, target: /x}\n"),
              ::testing::HasSubstr("a tmpfs has no source"));
  EXPECT_THAT(err("      - {type: tmpfs, target: /x, tmpfs: {size: lots}}\n"),
              ::testing::HasSubstr("\"lots\" is not a size"));
  EXPECT_THAT(err("      - [a]\n"), ::testing::HasSubstr("services.db.volumes[0]: is a list"));
  EXPECT_THAT(err("      - /a\n      - ./b:/a\n"),
              ::testing::HasSubstr("target \"/a\" is mounted twice"));
  EXPECT_THAT(err("      - /a\n", "volumes: [a]\n"),
              ::testing::HasSubstr("volumes: is a list (expected a mapping of volume names"));
  EXPECT_THAT(err("      - /a\n", "volumes: {\"bad name\": }\n"),
              ::testing::HasSubstr("is not a valid volume name"));
  EXPECT_THAT(ErrorOf(LoadIn(dir, "services:\n  db:\n    image: x\n    volumes: /a\n")),
              ::testing::HasSubstr("services.db.volumes: is \"/a\" (expected a list of volumes"));
  EXPECT_THAT(ErrorOf(LoadIn(dir, "services:\n  db:\n    image: x\n    tmpfs: run\n")),
              ::testing::HasSubstr("\"run\" is not an absolute path"));
  // Oversized input is one line too.
  EXPECT_THAT(err("      - ./" + std::string(5000, 'a') + ":/x\n"),
              ::testing::HasSubstr("is longer than 4096 bytes"));
}

TEST(VolumesSettingsTest, SecretsAndConfigsBecomeReadOnlyMounts) {
  TempDir dir;
  dir.Write("db_password.txt", "s3cret\n");
  LoadOptions o;
  o.environ = {{"API_TOKEN", "tok-123"}};
  Result<Project> p = LoadIn(dir, R"(services:
  api:
    image: x
    secrets:
      - db_password
      - {source: token, target: /etc/token}
      - engine_held
    configs:
      - app_conf
      - {source: inline, target: conf.d/inline.conf}
secrets:
  db_password: {file: ./db_password.txt}
  token: {environment: API_TOKEN}
  engine_held: {external: true, name: prod_db_password}
configs:
  app_conf: {file: ./app.conf}
  inline:
    content: |
      listen 80
)",
                             o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->secrets.at("token").environment_value, "tok-123");
  EXPECT_EQ(p->configs.at("inline").content, "listen 80\n");
  EXPECT_EQ(p->configs.at("app_conf").file, dir.path() / "app.conf");
  const Service& s = p->services.at("api");
  ASSERT_EQ(s.mounts.size(), 4u);
  EXPECT_EQ(s.mounts[0].source, (dir.path() / "db_password.txt").string());
  EXPECT_EQ(s.mounts[0].target, "/run/secrets/db_password");
  EXPECT_TRUE(s.mounts[0].read_only);
  EXPECT_EQ(s.mounts[0].secret, "secrets.db_password");
  EXPECT_EQ(s.mounts[0].key_path, "secrets.db_password.file");
  EXPECT_EQ(s.mounts[0].loc.ToString(), "compose.yaml:12:17");
  EXPECT_EQ(s.mounts[1].source, SecretFilePath(dir.path(), false, "token").string());
  EXPECT_EQ(s.mounts[1].target, "/etc/token");
  EXPECT_EQ(s.mounts[2].target, "/app_conf");  // compose's default for configs
  EXPECT_EQ(s.mounts[3].source, SecretFilePath(dir.path(), true, "inline").string());
  EXPECT_EQ(s.mounts[3].target, "/conf.d/inline.conf");
  ASSERT_EQ(s.engine_secrets.size(), 1u);
  EXPECT_EQ(s.engine_secrets[0].name, "prod_db_password");
  EXPECT_EQ(s.engine_secrets[0].target, "engine_held");
  EXPECT_EQ(SecretFilePath("/p", false, "x"), "/p/.slipway/secrets/secret.x");
}

TEST(VolumesSettingsTest, BadSecretsAndConfigs) {
  TempDir dir;
  auto err = [&](const std::string& text) { return ErrorOf(LoadIn(dir, text)); };
  EXPECT_EQ(err("services:\n  a:\n    image: x\nsecrets:\n  s: {file: a, environment: B}\n"),
            "compose.yaml:5:3: secrets.s: has more than one source (expected one of file, "
            "environment or external: true)");
  EXPECT_EQ(err("services:\n  a:\n    image: x\nsecrets:\n  s: {content: x}\n"),
            "compose.yaml:5:3: secrets.s: has no source (expected one of file, environment or "
            "external: true)");
  EXPECT_EQ(err("services:\n  a:\n    image: x\nconfigs:\n  c: {external: true}\n"),
            "compose.yaml:5:3: configs.c: external configs are not supported by slipway "
            "(expected file, environment or content)");
  EXPECT_EQ(err("services:\n  a:\n    image: x\n    configs: [nope]\n"),
            "compose.yaml:4:15: services.a.configs[0]: config \"nope\" is not declared (expected "
            "a top-level configs: entry)");
  EXPECT_THAT(err("services:\n  a:\n    image: x\nconfigs: [a]\n"),
              ::testing::HasSubstr("configs: is a list (expected a mapping of configs names"));
  EXPECT_THAT(err("services:\n  a:\n    image: x\nsecrets:\n  s: {external: maybe}\n"),
              ::testing::HasSubstr("secrets.s.external:"));
  EXPECT_THAT(err("services:\n  a:\n    image: x\n    secrets: [s, s2]\n"
                  "    volumes: [\"./x:/run/secrets/s\"]\n"
                  "secrets:\n  s: {file: a}\n  s2: {file: b}\n"),
              ::testing::HasSubstr("container path \"/run/secrets/s\" is also mounted by "
                                   "services.a.volumes[0]"));
}

TEST(VolumesSettingsTest, BuildAndRuntimeChoice) {
  TempDir dir;
  LoadOptions o;
  o.environ = {{"B", "2"}};
  Result<Project> p = LoadIn(dir, R"(services:
  both:
    build: {context: ., target: runtime, args: [A=1, B]}
    command: ["./serve"]
  both_in_container:
    build: .
    command: ["./serve"]
    x-slipway: {runtime: container}
  image_on_host:
    image: x
    command: ["./serve"]
    x-slipway: {runtime: host}
  only_build:
    build: .
x-slipway:
  runtime: container
)",
                             o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->runtime, RuntimeChoice::kContainer);
  // The project's default chooses for a service that can run either way.
  EXPECT_TRUE(p->services.at("both").RunsInContainer());
  EXPECT_EQ(p->services.at("both").build->target, "runtime");
  EXPECT_EQ(p->services.at("both").build->args,
            (std::map<std::string, std::string>{{"A", "1"}, {"B", "2"}}));
  EXPECT_TRUE(p->services.at("both_in_container").RunsInContainer());
  EXPECT_FALSE(p->services.at("image_on_host").RunsInContainer());
  EXPECT_TRUE(p->services.at("only_build").RunsInContainer());

  EXPECT_EQ(ErrorOf(LoadIn(dir,
                           "services:\n  a:\n    command: [x]\n    x-slipway: {runtime: "
                           "container}\n")),
            "compose.yaml:4:17: services.a.x-slipway.runtime: service a runs in a container but "
            "has no image or build (expected image: or build:, or runtime: host)");
  EXPECT_EQ(ErrorOf(LoadIn(dir, "services:\n  a:\n    image: x\n    x-slipway: {runtime: host}\n")),
            "compose.yaml:4:17: services.a.x-slipway.runtime: service a runs on the host but has "
            "nothing to run there (expected x-slipway.command, command or entrypoint, or runtime: "
            "container)");
  EXPECT_EQ(ErrorOf(LoadIn(dir, "services:\n  a:\n    image: x\n    x-slipway: {runtime: vm}\n")),
            "compose.yaml:4:17: services.a.x-slipway.runtime: \"vm\" is not allowed (expected host "
            "or container)");
  EXPECT_THAT(ErrorOf(LoadIn(dir, "services:\n  a:\n    image: x\nx-slipway: {runtime: [a]}\n")),
              ::testing::HasSubstr("x-slipway.runtime:"));
}

}  // namespace
}  // namespace slipway::config
