#include "config/loader.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;
using testing::LoadText;
using testing::OptionsFor;
using testing::TempDir;

fs::path TestData(const std::string& rel) {
  return fs::path(SLIPWAY_SOURCE_DIR) / "src/config/testdata" / rel;
}

TEST(LoaderDiscoveryTest, PrefersComposeYaml) {
  Result<Project> p = LoadProject(OptionsFor(TestData("discovery/prefer")));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.count("chosen"), 1u);
  EXPECT_EQ(p->services.count("not_chosen"), 0u);
  EXPECT_EQ(p->name, "prefer");
  ASSERT_EQ(p->files.size(), 1u);
  EXPECT_EQ(p->files[0].filename(), "compose.yaml");
  EXPECT_EQ(p->dir, TestData("discovery/prefer").lexically_normal());
}

TEST(LoaderDiscoveryTest, EachNameInOrder) {
  const std::vector<std::string> names = ComposeFileNames();
  ASSERT_EQ(names, (std::vector<std::string>{"compose.yaml", "compose.yml", "docker-compose.yml",
                                             "docker-compose.yaml"}));
  for (size_t i = 0; i < names.size(); ++i) {
    TempDir dir;
    for (size_t j = i; j < names.size(); ++j) {
      std::string text = "services:\n  s";
      text += std::to_string(j);
      text += ":\n    image: x\n";
      dir.Write("p/" + names[j], text);
    }
    Result<Project> p = LoadProject(OptionsFor(dir.path() / "p"));
    ASSERT_TRUE(p.ok()) << ErrorOf(p);
    std::string want = "s";
    want += std::to_string(i);
    EXPECT_EQ(p->services.begin()->first, want) << names[i];
  }
}

TEST(LoaderDiscoveryTest, AppliesTheMatchingOverride) {
  Result<Project> p = LoadProject(OptionsFor(TestData("discovery/override")));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  ASSERT_EQ(p->files.size(), 2u);
  EXPECT_EQ(p->files[1].filename(), "docker-compose.override.yml");
  const Service& web = p->services.at("web");
  EXPECT_EQ(web.command, (std::vector<std::string>{"nginx-debug"}));  // replaced
  EXPECT_EQ(web.environment.at("MODE"), "override");                  // by key
  EXPECT_EQ(web.environment.at("KEEP"), "1");
  ASSERT_EQ(web.ports.size(), 2u);  // 8080:80 de-duplicated
  EXPECT_EQ(web.ports[0].published, 8080);
  EXPECT_EQ(web.ports[1].published, 8443);
}

TEST(LoaderDiscoveryTest, SearchesParentFolders) {
  Result<Project> p = LoadProject(OptionsFor(TestData("discovery/nested/sub/deeper")));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->name, "nestedproject");
  EXPECT_EQ(p->dir, TestData("discovery/nested").lexically_normal());
}

TEST(LoaderDiscoveryTest, NothingFound) {
  TempDir dir;
  fs::create_directories(dir.path() / "empty");
  Result<Project> p = LoadProject(OptionsFor(dir.path() / "empty"));
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(p), "no compose file found in " + (dir.path() / "empty").string() +
                            " or its parent folders (expected one of compose.yaml, compose.yml, "
                            "docker-compose.yml, docker-compose.yaml, or -f FILE)");
}

TEST(LoaderFilesTest, MissingFileNamedAsGiven) {
  TempDir dir;
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"nope.yaml"};
  EXPECT_EQ(ErrorOf(LoadProject(o)), "nope.yaml: file not found (expected a compose file)");
}

TEST(LoaderFilesTest, YamlSyntaxErrorIsOneLine) {
  TempDir dir;
  dir.Write("compose.yaml", "services:\n  api:\n    image: [a,\n  b: }\n");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"compose.yaml"};
  EXPECT_EQ(ErrorOf(LoadProject(o)), "compose.yaml:4:6: invalid YAML: illegal flow end");
}

TEST(LoaderFilesTest, DuplicateKeysAndNonMappingDocument) {
  EXPECT_EQ(
      ErrorOf(LoadText("services:\n  a:\n    image: x\n    image: y\n")),
      "compose.yaml:4:5: services.a.image: duplicate key (expected each key once per mapping)");
  EXPECT_EQ(ErrorOf(LoadText("- a\n- b\n")),
            "compose.yaml:1:1: the document is a list (expected a mapping with services:)");
  EXPECT_EQ(ErrorOf(LoadText("services: 5\n")),
            "compose.yaml:1:1: services: is \"5\" (expected a mapping of service names to "
            "settings)");
  EXPECT_EQ(ErrorOf(LoadText("name: x\n")),
            "compose.yaml: services: no services defined (expected at least one service under "
            "services:)");
}

TEST(LoaderMergeTest, RepeatedFilesMergePerSpec) {
  TempDir dir;
  dir.Write("base.yaml", R"(services:
  api:
    image: api:1
    command: ["./api", "--base"]
    entrypoint: ["/entry", "a"]
    environment: [A=1, B=2]
    labels: {team: core, tier: back}
    ports: ["8080:80", "9091:90"]
    healthcheck:
      test: ["CMD", "a"]
      interval: 10s
      retries: 5
    deploy:
      replicas: 2
      update_config: {parallelism: 2, order: stop-first}
    profiles: [one]
)");
  dir.Write("prod.yaml", R"(services:
  api:
    image: api:2
    command: ./api --prod
    entrypoint: ["/entry2"]
    environment: {B: "3", C: "4"}
    labels: [tier=front]
    ports:
      - "8080:80"
      - {target: 90, published: 9090, protocol: tcp}
    healthcheck:
      test: ["CMD", "b"]
    deploy:
      update_config: {order: start-first}
    profiles: [two]
  extra:
    image: e
)");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"base.yaml", "prod.yaml"};
  o.profiles = {"two"};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& api = p->services.at("api");
  EXPECT_EQ(api.image, "api:2");
  EXPECT_EQ(api.command, (std::vector<std::string>{"./api", "--prod"}));
  EXPECT_EQ(api.entrypoint, (std::vector<std::string>{"/entry2"}));
  EXPECT_EQ(api.environment,
            (std::map<std::string, std::string>{{"A", "1"}, {"B", "3"}, {"C", "4"}}));
  EXPECT_EQ(api.labels, (std::map<std::string, std::string>{{"team", "core"}, {"tier", "front"}}));
  ASSERT_EQ(api.ports.size(), 3u);  // 8080:80 once; 9091:90 and 9090:90 differ
  EXPECT_EQ(api.ports[1].published, 9091);
  EXPECT_EQ(api.ports[2].published, 9090);
  EXPECT_EQ(api.healthcheck.test, (std::vector<std::string>{"b"}));
  EXPECT_EQ(api.healthcheck.interval, Duration{10'000});
  EXPECT_EQ(api.healthcheck.retries, 5);
  EXPECT_EQ(api.replicas, 2);
  EXPECT_EQ(api.update_config.parallelism, 2);
  EXPECT_EQ(api.update_config.order, UpdateOrder::kStartFirst);
  EXPECT_EQ(api.profiles, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(p->services.count("extra"), 1u);
  EXPECT_EQ(p->files.size(), 2u);
  EXPECT_EQ(p->dir, dir.path());
}

TEST(LoaderMergeTest, ResetAndOverrideTags) {
  TempDir dir;
  dir.Write("a.yaml",
            "services:\n  api:\n    image: a\n    ports: [\"1000:1\"]\n"
            "    environment: {A: '1', B: '2'}\n");
  dir.Write("b.yaml",
            "services:\n  api:\n    ports: !reset []\n"
            "    environment: !override {C: '3'}\n");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"a.yaml", "b.yaml"};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_TRUE(p->services.at("api").ports.empty());
  EXPECT_EQ(p->services.at("api").environment, (std::map<std::string, std::string>{{"C", "3"}}));
}

// `!reset` and `!override` on every kind of value, as compose-go applies them: lists that
// normalizing turns into mappings (depends_on, environment), mappings, scalars, whole
// services and top-level keys; in an overlay and in a service that extends another.
TEST(LoaderMergeTest, ResetAndOverrideOnEveryKindOfValue) {
  TempDir dir;
  dir.Write("a.yaml",
            "services:\n"
            "  api:\n    image: a\n    command: [run, a]\n    depends_on: [db, cache]\n"
            "    labels: [x=1, y=2]\n    environment: [A=1, B=2]\n"
            "    healthcheck: {test: [CMD, a], interval: 5s}\n    user: root\n"
            "  db:\n    image: db\n  cache:\n    image: cache\n  queue:\n    image: q\n"
            "x-extra: {a: 1}\n");
  dir.Write("b.yaml",
            "services:\n"
            "  api:\n    depends_on: !override [queue]\n    labels: !reset []\n"
            "    environment: !override [C=3]\n    command: !reset null\n"
            "    healthcheck: !override {test: [CMD, b]}\n    user: !reset\n"
            "  cache: !reset\n"
            "x-extra: !reset {}\n");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"a.yaml", "b.yaml"};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& api = p->services.at("api");
  ASSERT_EQ(api.depends_on.size(), 1u);
  EXPECT_EQ(api.depends_on[0].service, "queue");
  EXPECT_TRUE(api.labels.empty());
  EXPECT_EQ(api.environment, (std::map<std::string, std::string>{{"C", "3"}}));
  EXPECT_FALSE(api.command.has_value());
  EXPECT_EQ(api.healthcheck.test, (std::vector<std::string>{"b"}));
  EXPECT_EQ(api.healthcheck.interval, Duration(30'000));  // not merged: the default again
  EXPECT_EQ(api.user, "");
  EXPECT_EQ(p->services.count("cache"), 0u);

  // depends_on: !reset [] leaves none.
  dir.Write("c.yaml", "services:\n  api:\n    depends_on: !reset []\n");
  o.files = {"a.yaml", "c.yaml"};
  p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_TRUE(p->services.at("api").depends_on.empty());
  EXPECT_EQ(p->services.count("cache"), 1u);

  // In the first file alone a `!reset` entry is absent and `!override` is the value.
  o.files = {"b.yaml"};
  dir.Write("b.yaml",
            "services:\n  api:\n    image: x\n    user: !reset\n"
            "    environment: !override {A: '1'}\n    ports: !reset [\"80:80\"]\n");
  p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").environment, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_TRUE(p->services.at("api").ports.empty());
}

// Odd placements: a tagged list item is dropped from its own list (compose-go never removes
// base items by position), a tag on the document itself or an unknown tag changes nothing,
// and resetting every service leaves a project without services, which is refused.
TEST(LoaderMergeTest, ResetAndOverrideInOddPlaces) {
  TempDir dir;
  dir.Write("a.yaml", "services:\n  api:\n    image: a\n    ports: [\"1000:1\"]\n");
  dir.Write("b.yaml",
            "!override\nservices:\n  api:\n    ports: [!reset \"2000:2\", \"3000:3\"]\n"
            "    labels: {a: !reset, b: !override x}\n");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"a.yaml", "b.yaml"};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  ASSERT_EQ(p->services.at("api").ports.size(), 2u);
  EXPECT_EQ(p->services.at("api").ports[0].published, 1000);
  EXPECT_EQ(p->services.at("api").ports[1].published, 3000);
  EXPECT_EQ(p->services.at("api").labels, (std::map<std::string, std::string>{{"b", "x"}}));
  dir.Write("c.yaml", "services: !reset\n");
  o.files = {"a.yaml", "c.yaml"};
  EXPECT_EQ(ErrorOf(LoadProject(o)),
            "a.yaml: services: no services defined (expected at least one service under "
            "services:)");
}

TEST(LoaderMergeTest, ResetAndOverrideInExtends) {
  TempDir dir;
  dir.Write("base.yaml",
            "services:\n  init:\n    image: alpine\n    command: sleep infinity\n"
            "    depends_on: [db]\n    environment: {A: '1', B: '2'}\n    ports: [\"81:80\"]\n"
            "  base:\n    extends: {service: init}\n    command: !reset\n"
            "  db:\n    image: db\n");
  dir.Write("compose.yaml",
            "services:\n"
            "  test:\n    extends: {file: base.yaml, service: base}\n"
            "  other:\n    extends: {file: base.yaml, service: init}\n"
            "    depends_on: !reset []\n    environment: !override {C: '3'}\n"
            "    ports: !override [\"82:80\"]\n"
            "  db:\n    image: db\n");
  Result<Project> p = LoadProject(OptionsFor(dir.path()));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_FALSE(p->services.at("test").command.has_value());  // compose-go's reset.yaml case
  const Service& other = p->services.at("other");
  EXPECT_TRUE(other.depends_on.empty());
  EXPECT_EQ(other.environment, (std::map<std::string, std::string>{{"C", "3"}}));
  ASSERT_EQ(other.ports.size(), 1u);
  EXPECT_EQ(other.ports[0].published, 82);
  EXPECT_EQ(other.command, (std::vector<std::string>{"sleep", "infinity"}));
}

TEST(LoaderMergeTest, ErrorsNameTheFileThatHoldsTheValue) {
  TempDir dir;
  dir.Write("a.yaml", "services:\n  api:\n    image: a\n");
  dir.Write("sub/b.yaml", "services:\n  api:\n    healthcheck:\n      interval: 5x\n");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"a.yaml", "sub/b.yaml"};
  EXPECT_EQ(ErrorOf(LoadProject(o)),
            "sub/b.yaml:4:7: services.api.healthcheck.interval: \"5x\" is not a duration "
            "(expected e.g. 10s, 1m30s)");
}

TEST(LoaderEnvTest, EnvironWinsOverDotenvAndFeedsInterpolation) {
  TempDir dir;
  dir.Write("compose.yaml",
            "services:\n  api:\n    image: \"api:${TAG}\"\n"
            "    environment: [\"WHO=${WHO}\", \"ONLY_FILE=${ONLY_FILE}\"]\n");
  dir.Write(".env", "TAG=fromfile\nWHO=file\nONLY_FILE=yes\n");
  LoadOptions o = OptionsFor(dir.path());
  o.environ = {{"WHO", "shell"}};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").image, "api:fromfile");
  EXPECT_EQ(p->services.at("api").environment.at("WHO"), "shell");
  EXPECT_EQ(p->services.at("api").environment.at("ONLY_FILE"), "yes");
}

TEST(LoaderEnvTest, EnvFilesLaterWinAndReplaceDotenv) {
  TempDir dir;
  dir.Write("compose.yaml", "services:\n  api:\n    image: \"${A}-${B}-${C:-none}\"\n");
  dir.Write(".env", "C=dotenv\n");
  dir.Write("one.env", "A=1\nB=1\n");
  dir.Write("two.env", "B=2\nA_COPY=${A}\n");
  LoadOptions o = OptionsFor(dir.path());
  o.env_files = {"one.env", "two.env"};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").image, "1-2-none");

  o.env_files = {"missing.env"};
  EXPECT_EQ(ErrorOf(LoadProject(o)),
            "--env-file: \"missing.env\" not found (expected an existing file)");
}

// Several --env-file share one variable set, in order (compose-go's GetEnvFromFile): a later
// file sees the values of the earlier ones as they stand, the environment first of all. The
// env files of a service do the same, after the project's variables and its `environment`.
TEST(LoaderEnvTest, EnvFilesShareOneVariableSet) {
  TempDir dir;
  dir.Write("compose.yaml",
            "services:\n  api:\n    image: \"${URL}|${FROM_ENV}\"\n"
            "    env_file: [a.env, b.env]\n    environment: {SVC: svc}\n");
  dir.Write("base.env", "HOST=localhost\nURL=http://${HOST}\n");
  dir.Write("dev.env", "HOST=dev.example\nURL=\"http://${HOST}\"\nFROM_ENV=${ENVIRON:-no}\n");
  dir.Write("a.env", "X=1\nY=${X}-${SVC}-${HOST}\n");
  dir.Write("b.env", "X=2\nZ=${X}\n");
  LoadOptions o = OptionsFor(dir.path());
  o.env_files = {"base.env", "dev.env"};
  o.environ = {{"ENVIRON", "yes"}};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").image, "http://dev.example|yes");
  const auto& env = p->services.at("api").environment;
  EXPECT_EQ(env.at("Y"), "1-svc-dev.example");
  EXPECT_EQ(env.at("Z"), "2");
  EXPECT_EQ(env.at("X"), "2");
}

TEST(LoaderEnvTest, DotenvErrorsNameTheFileAndLine) {
  TempDir dir;
  dir.Write("compose.yaml", "services:\n  api:\n    image: x\n");
  dir.Write(".env", "A=1\nB='open\n");
  EXPECT_EQ(ErrorOf(LoadProject(OptionsFor(dir.path()))),
            ".env:2: unterminated quoted value \"'open\" (expected a closing ')");
}

TEST(LoaderEnvTest, UnsetVariablesWarnOnceWithLocation) {
  Result<Project> p = LoadText("services:\n  api:\n    image: \"x:${TAG}\"\n    user: $TAG\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_EQ(p->warnings[0],
            "compose.yaml:3:5: services.api.image: variable \"TAG\" is not set, using an empty "
            "string");
}

TEST(LoaderEnvTest, RequiredVariableError) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  api:\n    image: \"${TAG:?set TAG to a release}\"\n")),
            "compose.yaml:3:5: services.api.image: required variable TAG is missing a value: set "
            "TAG to a release (expected TAG to be set in the environment or the .env file)");
}

TEST(LoaderEnvTest, PublishedVarIsRecorded) {
  LoadOptions o;
  o.environ = {{"API_PORT", "9001"}};
  Result<Project> p = LoadText(R"(services:
  api:
    image: x
    ports:
      - "127.0.0.1:${API_PORT:-8000}:80"
      - "${WEB_PORT:-8001}:81"
      - "1${LITERAL:-2}:82"
      - target: 83
        published: ${ADMIN_PORT:-8003}
      - "8004:84"
)",
                               o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const auto& ports = p->services.at("api").ports;
  ASSERT_EQ(ports.size(), 5u);
  EXPECT_EQ(ports[0].published, 9001);
  EXPECT_EQ(ports[0].host_ip, "127.0.0.1");
  EXPECT_EQ(ports[0].published_var, "API_PORT");
  EXPECT_EQ(ports[1].published_var, "WEB_PORT");
  EXPECT_EQ(ports[2].published, 12);
  EXPECT_EQ(ports[2].published_var, "");  // not from one variable alone
  EXPECT_EQ(ports[3].published_var, "ADMIN_PORT");
  EXPECT_EQ(ports[4].published_var, "");
}

TEST(LoaderNameTest, Precedence) {
  TempDir dir;
  dir.Write("My Project!/compose.yaml", "services:\n  a:\n    image: x\n");
  LoadOptions o = OptionsFor(dir.path() / "My Project!");
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->name, "myproject");

  dir.Write("My Project!/compose.yaml", "name: fromfile\nservices:\n  a:\n    image: x\n");
  EXPECT_EQ(LoadProject(o)->name, "fromfile");
  o.environ = {{"COMPOSE_PROJECT_NAME", "fromenv"}};
  EXPECT_EQ(LoadProject(o)->name, "fromenv");
  o.project_name = "fromflag";
  EXPECT_EQ(LoadProject(o)->name, "fromflag");
  o.project_name = "Bad Name";
  EXPECT_EQ(ErrorOf(LoadProject(o)),
            "-p: \"Bad Name\" is not a valid project name (expected lowercase letters, digits, "
            "'-' and '_', starting with a letter or digit)");
}

TEST(LoaderNameTest, InvalidTopLevelNameAndNormalization) {
  EXPECT_EQ(ErrorOf(LoadText("name: Shop\nservices:\n  a:\n    image: x\n")),
            "compose.yaml:1:1: name: \"Shop\" is not a valid project name (expected lowercase "
            "letters, digits, '-' and '_', starting with a letter or digit)");
  EXPECT_EQ(NormalizeProjectName("My_App-2.0"), "my_app-20");
  EXPECT_EQ(NormalizeProjectName("__x"), "x");
  EXPECT_EQ(NormalizeProjectName("..."), "");
}

TEST(LoaderProfilesTest, ActivationRules) {
  const std::string compose = R"(services:
  api:
    image: api
    depends_on:
      cache: {condition: service_started, required: false}
  debug:
    image: dbg
    profiles: [debug]
  cache:
    image: redis
    profiles: [cache, full]
)";
  Result<Project> p = LoadText(compose);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.size(), 1u);
  EXPECT_TRUE(p->services.at("api").depends_on.empty());  // optional, inactive: dropped

  LoadOptions o;
  o.profiles = {"full"};
  p = LoadText(compose, o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.size(), 2u);
  EXPECT_EQ(p->services.at("api").depends_on.size(), 1u);

  o.profiles = {};
  o.environ = {{"COMPOSE_PROFILES", "debug, cache"}};
  p = LoadText(compose, o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.size(), 3u);

  o.environ = {{"COMPOSE_PROFILES", "*"}};
  EXPECT_EQ(LoadText(compose, o)->services.size(), 3u);
}

TEST(LoaderProfilesTest, ActiveServiceNeedsItsRequiredDependency) {
  EXPECT_EQ(ErrorOf(LoadText(R"(services:
  api:
    image: api
    depends_on: [db]
  db:
    image: pg
    profiles: [db, all]
)")),
            "compose.yaml:4:18: services.api.depends_on.db: service \"db\" is not enabled (it "
            "needs profile db or all) (expected --profile db, or required: false on this "
            "dependency)");
}

TEST(LoaderExtendsTest, SameFileAndOtherFile) {
  Result<Project> p = LoadProject(OptionsFor(TestData("extends")));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& web = p->services.at("web");
  EXPECT_EQ(web.command, (std::vector<std::string>{"./serve"}));
  EXPECT_EQ(web.environment.at("ROLE"), "web");
  EXPECT_EQ(web.environment.at("BASE_ONLY"), "yes");
  EXPECT_EQ(web.environment.at("FROM_BASE_ENV"), "1");  // env_file relative to base.yaml
  ASSERT_TRUE(web.build.has_value());
  EXPECT_EQ(web.build->context, TestData("extends/common/app").lexically_normal());
  EXPECT_EQ(web.working_dir, web.build->context);
  EXPECT_EQ(web.healthcheck.kind, Healthcheck::Kind::kCmd);
  EXPECT_EQ(web.healthcheck.interval, Duration{5'000});

  const Service& worker = p->services.at("worker");
  EXPECT_EQ(worker.command, (std::vector<std::string>{"./worker"}));
  EXPECT_EQ(worker.environment.at("ROLE"), "worker");
  EXPECT_EQ(worker.environment.at("BASE_ONLY"), "yes");
}

TEST(LoaderExtendsTest, CyclesAreRejected) {
  EXPECT_EQ(ErrorOf(LoadText(R"(services:
  a:
    extends: b
  b:
    extends: {service: c}
  c:
    image: x
    extends: a
)")),
            "compose.yaml:8:5: services.c.extends: extends cycle a -> b -> c -> a (expected "
            "services that do not extend each other in a loop)");
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    image: x\n    extends: a\n")),
            "compose.yaml:4:5: services.a.extends: extends cycle a -> a (expected services that "
            "do not extend each other in a loop)");
}

TEST(LoaderExtendsTest, CyclesAcrossFiles) {
  TempDir dir;
  dir.Write("compose.yaml", "services:\n  a:\n    extends: {file: other.yaml, service: b}\n");
  dir.Write("other.yaml", "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n");
  EXPECT_EQ(ErrorOf(LoadProject(OptionsFor(dir.path()))),
            "other.yaml:3:5: services.b.extends: extends cycle a -> b (other.yaml) -> a "
            "(expected services that do not extend each other in a loop)");
}

TEST(LoaderExtendsTest, MissingBase) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    extends: nope\n")),
            "compose.yaml:3:5: services.a.extends.service: service \"nope\" not found in "
            "compose.yaml (expected a service defined in that file)");
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    extends: {file: x.yaml, service: s}\n")),
            "compose.yaml:3:15: services.a.extends.file: file \"x.yaml\" not found (expected a "
            "compose file, relative to the file that names it)");
}

TEST(LoaderValidationTest, UnknownDependency) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  api:\n    image: x\n    depends_on:\n      dbb:\n"
                             "        condition: service_healthy\n  db:\n    image: pg\n")),
            "compose.yaml:5:7: services.api.depends_on.dbb: service \"dbb\" is not defined "
            "(expected one of api, db)");
}

TEST(LoaderValidationTest, DependencyCycle) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    image: x\n    depends_on: [b]\n"
                             "  b:\n    image: x\n    depends_on: [a]\n")),
            "compose.yaml:7:18: services.b.depends_on.a: dependency cycle a -> b -> a (expected "
            "services that do not depend on each other in a loop)");
}

TEST(LoaderValidationTest, PublishedPortUsedTwice) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    image: x\n    ports: [\"8080:80\"]\n"
                             "  b:\n    image: x\n    ports:\n      - \"127.0.0.1:8080:81\"\n")),
            "compose.yaml:8:9: services.b.ports[0]: published port 8080/tcp is already used by "
            "services.a.ports[0] (compose.yaml:4:13) (expected each published port once)");
  // Distinct addresses do not clash (UDP is refused at load: slipway proxies TCP only).
  EXPECT_TRUE(
      LoadText("services:\n  a:\n    image: x\n    ports: [\"8080:80\", \"8081:80\"]\n"
               "  b:\n    image: x\n    ports: [\"127.0.0.1:9000:1\", \"127.0.0.2:9000:1\"]\n")
          .ok());
}

TEST(LoaderValidationTest, ServiceNeedsSomethingToRun) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  api:\n    environment: {A: '1'}\n")),
            "compose.yaml:2:3: services.api: has no command, image, build or x-slipway.command "
            "(expected at least one, so slipway knows what to run)");
  EXPECT_EQ(ErrorOf(LoadText("services:\n  api:\n")),
            "compose.yaml:2:3: services.api: has no command, image, build or x-slipway.command "
            "(expected at least one, so slipway knows what to run)");
}

TEST(LoaderValidationTest, IgnoredKeysWarnOnce) {
  TempDir dir;
  dir.Write("a.yaml", R"(version: "3.9"
services:
  api:
    image: x
    networks: [a]
    cap_add: [NET_ADMIN]
    x-custom: 1
    deploy:
      resources: {limits: {cpus: "1"}}
networks: {a: {}}
volumes: {}
x-anything: {a: 1}
)");
  dir.Write("b.yaml", "services:\n  api:\n    networks: [b]\n");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"a.yaml", "b.yaml"};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->warnings,
            (std::vector<std::string>{"version: ignored by slipway", "networks: ignored by slipway",
                                      "services.api.networks: ignored by slipway",
                                      "services.api.cap_add: ignored by slipway"}));
  EXPECT_EQ(p->services.at("api").resources.cpus, 1.0);  // deploy.resources applies now
}

TEST(LoaderTest, CurrentEnvironReadsTheProcess) {
  ::setenv("SLIPWAY_CONFIG_TEST_VAR", "a=b", 1);
  std::map<std::string, std::string> env = CurrentEnviron();
  EXPECT_EQ(env.at("SLIPWAY_CONFIG_TEST_VAR"), "a=b");
  ::unsetenv("SLIPWAY_CONFIG_TEST_VAR");
}

}  // namespace
}  // namespace slipway::config
