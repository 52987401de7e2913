// Service keys, their defaults and every type/value error, through LoadProject.
#include "config/service_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/test_support.h"
#include "net/tls_test_certs.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

// Loads one service `api` whose body is `body` (indented by 4).
Result<Project> LoadApi(const std::string& body, LoadOptions o = {}) {
  return LoadText("services:\n  api:\n" + body, o);
}

TEST(ServiceParserTest, Defaults) {
  Result<Project> p = LoadApi("    image: x\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& s = p->services.at("api");
  EXPECT_EQ(s.name, "api");
  EXPECT_EQ(s.healthcheck.kind, Healthcheck::Kind::kNone);
  EXPECT_EQ(s.healthcheck.interval, Duration{30'000});
  EXPECT_EQ(s.healthcheck.timeout, Duration{30'000});
  EXPECT_EQ(s.healthcheck.retries, 3);
  EXPECT_EQ(s.healthcheck.start_period, Duration{0});
  EXPECT_EQ(s.healthcheck.start_interval, Duration{5'000});
  EXPECT_EQ(s.stop_grace_period, Duration{10'000});
  EXPECT_EQ(s.stop_signal, SIGTERM);
  EXPECT_EQ(s.restart.mode, RestartPolicy::Mode::kNo);
  EXPECT_EQ(s.replicas, 1);
  EXPECT_EQ(s.working_dir, p->dir);
  EXPECT_EQ(s.loc.ToString(), "compose.yaml:2:3");
  EXPECT_TRUE(s.RunsInContainer());
  EXPECT_EQ(p->api.listen, "127.0.0.1:0");
  EXPECT_EQ(p->name, "app");
}

TEST(ServiceParserTest, CommandAndEntrypoint) {
  Result<Project> p =
      LoadApi("    command: sh -c 'echo \"hi there\"'\n    entrypoint: [\"/bin/tini\", \"--\"]\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").command,
            (std::vector<std::string>{"sh", "-c", "echo \"hi there\""}));
  EXPECT_EQ(p->services.at("api").entrypoint, (std::vector<std::string>{"/bin/tini", "--"}));
  EXPECT_EQ(ErrorOf(LoadApi("    command: \"echo 'a\"\n")),
            "compose.yaml:3:5: services.api.command: \"echo 'a\" has an unclosed quote or a "
            "trailing backslash (expected balanced quotes, or a list of arguments)");
  EXPECT_EQ(ErrorOf(LoadApi("    command: {a: 1}\n")),
            "compose.yaml:3:5: services.api.command: is a mapping (expected a string or a list of "
            "arguments)");
  EXPECT_EQ(ErrorOf(LoadApi("    command: [a, [b]]\n")),
            "compose.yaml:3:18: services.api.command[1]: is a list (expected a string)");
}

TEST(ServiceParserTest, EnvironmentForms) {
  LoadOptions o;
  o.environ = {{"FROM_SHELL", "shell"}};
  Result<Project> p = LoadText(R"(services:
  a:
    image: x
    environment:
      PLAIN: value
      NUM: 5
      BOOL: true
      FROM_SHELL:
      ABSENT:
  b:
    image: x
    environment:
      - K=V=W
      - FROM_SHELL
      - ABSENT
      - EMPTY=
)",
                               o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  using Env = std::map<std::string, std::string>;
  EXPECT_EQ(p->services.at("a").environment,
            (Env{{"PLAIN", "value"}, {"NUM", "5"}, {"BOOL", "true"}, {"FROM_SHELL", "shell"}}));
  EXPECT_EQ(p->services.at("b").environment,
            (Env{{"K", "V=W"}, {"FROM_SHELL", "shell"}, {"EMPTY", ""}}));
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    environment: 5\n")),
            "compose.yaml:4:5: services.api.environment: is \"5\" (expected a mapping or a list "
            "of KEY=VALUE strings)");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    environment: [\"=x\"]\n")),
            "compose.yaml:4:19: services.api.environment[0]: \"=x\" has no key (expected a "
            "KEY=VALUE string)");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    environment: {A: [1]}\n")),
            "compose.yaml:4:19: services.api.environment.A: is a list (expected a string, number "
            "or boolean value)");
}

TEST(ServiceParserTest, EnvFileForms) {
  testing::TempDir dir;
  dir.Write("app/compose.yaml", R"(services:
  a:
    image: x
    env_file: a.env
    environment: {OVER: compose}
  b:
    image: x
    env_file:
      - a.env
      - path: ./b.env
      - path: missing.env
        required: false
)");
  dir.Write("app/a.env", "A=1\nOVER=file\nREF=${FROM_SHELL}\nFROM_SHELL\n");
  dir.Write("app/b.env", "A=2\n");
  LoadOptions o;
  o.working_dir = dir.path() / "app";
  o.environ = {{"FROM_SHELL", "sh"}};
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  using Env = std::map<std::string, std::string>;
  EXPECT_EQ(p->services.at("a").environment,
            (Env{{"A", "1"}, {"OVER", "compose"}, {"REF", "sh"}, {"FROM_SHELL", "sh"}}));
  EXPECT_EQ(p->services.at("b").environment.at("A"), "2");

  dir.Write("app/compose.yaml", "services:\n  a:\n    image: x\n    env_file: [nope.env]\n");
  EXPECT_EQ(ErrorOf(LoadProject(o)),
            "compose.yaml:4:16: services.a.env_file[0]: file \"nope.env\" not found (expected an "
            "existing file, or required: false)");
  dir.Write("app/compose.yaml", "services:\n  a:\n    image: x\n    env_file: bad.env\n");
  dir.Write("app/bad.env", "OK=1\nthis is bad\n");
  EXPECT_EQ(ErrorOf(LoadProject(o)),
            "bad.env:2: key cannot contain a space: \"this is bad\" (expected KEY=VALUE, or KEY "
            "alone to take it from the environment)");
}

TEST(ServiceParserTest, WorkingDirUserImageBuild) {
  Result<Project> p = LoadText(R"(services:
  a:
    image: x
    working_dir: ./srv
    user: "1000:1000"
  b:
    build: ./b
  c:
    build:
      context: ctx
      dockerfile: Dockerfile.dev
      args: {A: 1}
    working_dir: /abs
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("a").working_dir, p->dir / "srv");
  EXPECT_EQ(p->services.at("a").user, "1000:1000");
  EXPECT_EQ(p->services.at("b").build->context, p->dir / "b");
  EXPECT_EQ(p->services.at("b").working_dir, p->dir / "b");
  // A build with nothing to run on the host runs in a container (of the built image).
  EXPECT_TRUE(p->services.at("b").RunsInContainer());
  EXPECT_EQ(p->services.at("b").ImageName("app"), "app-b");
  EXPECT_EQ(p->services.at("c").build->dockerfile, "Dockerfile.dev");
  EXPECT_EQ(p->services.at("c").build->args, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(p->services.at("c").working_dir, "/abs");
  EXPECT_TRUE(p->warnings.empty());
}

TEST(ServiceParserTest, PortsShortAndLong) {
  Result<Project> p = LoadApi(R"(    image: x
    ports:
      - 80
      - "8080:80"
      - "127.0.0.1:8081:81"
      - "127.0.0.1::82"
      - "8083:83/tcp"
      - "[::1]:8084:84"
      - target: 85
        published: "8085"
        host_ip: 0.0.0.0
        protocol: tcp
        app_protocol: http
        mode: host
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const auto& ports = p->services.at("api").ports;
  ASSERT_EQ(ports.size(), 7u);
  EXPECT_EQ(ports[0].target, 80);
  EXPECT_EQ(ports[0].published, 0);
  EXPECT_EQ(ports[1].published, 8080);
  EXPECT_EQ(ports[2].host_ip, "127.0.0.1");
  EXPECT_EQ(ports[2].published, 8081);
  EXPECT_EQ(ports[3].published, 0);
  EXPECT_EQ(ports[3].target, 82);
  EXPECT_EQ(ports[4].protocol, TransportProtocol::kTcp);
  EXPECT_EQ(ports[4].published, 8083);
  EXPECT_EQ(ports[5].host_ip, "::1");
  EXPECT_EQ(ports[5].published, 8084);
  EXPECT_EQ(ports[6].published, 8085);
  EXPECT_EQ(ports[6].protocol, TransportProtocol::kTcp);
  EXPECT_EQ(ports[6].app_protocol, "http");
  EXPECT_EQ(ports[6].loc.ToString(), "compose.yaml:11:9");
}

TEST(ServiceParserTest, PortErrors) {
  auto err = [](const std::string& port) {
    return ErrorOf(LoadApi("    image: x\n    ports:\n      - " + port + "\n"));
  };
  EXPECT_EQ(err("\"70000:80\""),
            "compose.yaml:5:9: services.api.ports[0]: port 70000 is out of range (expected a "
            "number from 1 to 65535)");
  EXPECT_EQ(err("\"8080:0\""),
            "compose.yaml:5:9: services.api.ports[0]: port 0 is out of range (expected a number "
            "from 1 to 65535)");
  EXPECT_EQ(err("\"abc:80\""),
            "compose.yaml:5:9: services.api.ports[0]: \"abc\" is not a port number (expected a "
            "number from 1 to 65535)");
  EXPECT_EQ(err("\"80/sctp\""),
            "compose.yaml:5:9: services.api.ports[0]: protocol \"sctp\" is not supported "
            "(expected tcp)");
  EXPECT_EQ(err("\"1:2:3:4\""),
            "compose.yaml:5:9: services.api.ports[0]: \"1:2:3:4\" is not a valid port (expected "
            "[host_ip:][published:]target[/protocol], e.g. \"127.0.0.1:8080:80\")");
  EXPECT_EQ(err("{published: 80}"),
            "compose.yaml:5:9: services.api.ports[0]: has no target (expected target: <container "
            "port>)");
  EXPECT_EQ(err("[1]"),
            "compose.yaml:5:9: services.api.ports[0]: is a list (expected a port like \"8080:80\" "
            "or a mapping with target, published)");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    ports: 5\n")),
            "compose.yaml:4:5: services.api.ports: is \"5\" (expected a list of ports, e.g. "
            "[\"8080:80\"])");
  EXPECT_EQ(
      ErrorOf(LoadApi("    image: x\n    ports:\n      - target: 80\n        published: 99999\n")),
      "compose.yaml:6:9: services.api.ports[0].published: port 99999 is out of range "
      "(expected a number from 1 to 65535)");
}

TEST(ServiceParserTest, DependsOn) {
  Result<Project> p = LoadText(R"(services:
  a:
    image: x
    depends_on:
      b: {condition: service_healthy, restart: true}
      c: {condition: service_completed_successfully, required: true}
      d:
  b: {image: x}
  c: {image: x}
  d: {image: x}
  e:
    image: x
    depends_on: [b]
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const auto& deps = p->services.at("a").depends_on;
  ASSERT_EQ(deps.size(), 3u);
  EXPECT_EQ(deps[0].service, "b");
  EXPECT_EQ(deps[0].condition, DependsCondition::kHealthy);
  EXPECT_TRUE(deps[0].restart);
  EXPECT_EQ(deps[1].condition, DependsCondition::kCompletedSuccessfully);
  EXPECT_EQ(deps[2].condition, DependsCondition::kStarted);
  EXPECT_TRUE(deps[2].required);
  EXPECT_EQ(p->services.at("e").depends_on[0].condition, DependsCondition::kStarted);
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    image: x\n    depends_on:\n      b: "
                             "{condition: healthy}\n  b: {image: x}\n")),
            "compose.yaml:5:11: services.a.depends_on.b.condition: \"healthy\" is not allowed "
            "(expected service_started, service_healthy or service_completed_successfully)");
  EXPECT_EQ(ErrorOf(LoadText("services:\n  a:\n    image: x\n    depends_on:\n      b: "
                             "{required: maybe}\n  b: {image: x}\n")),
            "compose.yaml:5:11: services.a.depends_on.b.required: \"maybe\" is not a boolean "
            "(expected true or false)");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    depends_on: 3\n")),
            "compose.yaml:4:5: services.api.depends_on: is \"3\" (expected a list of service "
            "names or a mapping)");
}

TEST(ServiceParserTest, Healthcheck) {
  auto hc = [](const std::string& body) {
    return LoadApi("    image: x\n    healthcheck:\n" + body);
  };
  Result<Project> p =
      hc("      test: [\"CMD\", \"curl\", \"-f\", \"http://x\"]\n      interval: "
         "1m30s\n      timeout: 1.5s\n      retries: 7\n      start_period: "
         "500ms\n      start_interval: 2h\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Healthcheck& h = p->services.at("api").healthcheck;
  EXPECT_EQ(h.kind, Healthcheck::Kind::kCmd);
  EXPECT_EQ(h.test, (std::vector<std::string>{"curl", "-f", "http://x"}));
  EXPECT_EQ(h.interval, Duration{90'000});
  EXPECT_EQ(h.timeout, Duration{1'500});
  EXPECT_EQ(h.retries, 7);
  EXPECT_EQ(h.start_period, Duration{500});
  EXPECT_EQ(h.start_interval, Duration{7'200'000});

  p = hc("      test: curl -f http://x || exit 1\n");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->services.at("api").healthcheck.kind, Healthcheck::Kind::kCmdShell);
  EXPECT_EQ(p->services.at("api").healthcheck.test,
            (std::vector<std::string>{"curl -f http://x || exit 1"}));
  p = hc("      test: [\"CMD-SHELL\", \"pg_isready\"]\n");
  EXPECT_EQ(p->services.at("api").healthcheck.test, (std::vector<std::string>{"pg_isready"}));
  EXPECT_EQ(hc("      test: [\"NONE\"]\n")->services.at("api").healthcheck.kind,
            Healthcheck::Kind::kNone);
  EXPECT_EQ(hc("      test: [\"CMD\", \"x\"]\n      disable: true\n")
                ->services.at("api")
                .healthcheck.kind,
            Healthcheck::Kind::kNone);

  EXPECT_EQ(ErrorOf(hc("      interval: 30\n")),
            "compose.yaml:5:7: services.api.healthcheck.interval: \"30\" has no unit (expected a "
            "duration with a unit, e.g. 30s)");
  EXPECT_EQ(ErrorOf(hc("      timeout: 5x\n")),
            "compose.yaml:5:7: services.api.healthcheck.timeout: \"5x\" is not a duration "
            "(expected e.g. 10s, 1m30s)");
  EXPECT_EQ(ErrorOf(hc("      retries: three\n")),
            "compose.yaml:5:7: services.api.healthcheck.retries: \"three\" is not a whole number "
            "(expected e.g. 3)");
  EXPECT_EQ(ErrorOf(hc("      test: [\"RUN\", \"x\"]\n")),
            "compose.yaml:5:7: services.api.healthcheck.test: starts with \"RUN\" (expected "
            "[\"CMD\", args...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"])");
  EXPECT_EQ(ErrorOf(hc("      test: []\n")),
            "compose.yaml:5:7: services.api.healthcheck.test: is an empty list (expected "
            "[\"CMD\", args...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"])");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    healthcheck: yes\n")),
            "compose.yaml:4:5: services.api.healthcheck: is \"yes\" (expected a mapping with "
            "test, interval, timeout, retries)");
}

TEST(ServiceParserTest, RestartStopAndDeploy) {
  Result<Project> p = LoadText(R"(services:
  a: {image: x, restart: always, stop_signal: SIGINT, stop_grace_period: 1m}
  b: {image: x, restart: "on-failure:5", stop_signal: HUP}
  c: {image: x, restart: unless-stopped, stop_signal: "9"}
  d: {image: x, restart: on-failure}
  e:
    image: x
    restart: always
    deploy:
      replicas: 0
      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 1m}
      update_config: {parallelism: 2, delay: 10s, failure_action: rollback, monitor: 30s,
                      max_failure_ratio: 0.25, order: start-first}
      rollback_config: {parallelism: 0, failure_action: continue, order: stop-first}
  f:
    image: x
    deploy: {restart_policy: {}}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("a").restart.mode, RestartPolicy::Mode::kAlways);
  EXPECT_EQ(p->services.at("a").stop_signal, SIGINT);
  EXPECT_EQ(p->services.at("a").stop_grace_period, Duration{60'000});
  EXPECT_EQ(p->services.at("b").restart.mode, RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(p->services.at("b").restart.max_attempts, 5);
  EXPECT_EQ(p->services.at("b").stop_signal, SIGHUP);
  EXPECT_EQ(p->services.at("c").restart.mode, RestartPolicy::Mode::kUnlessStopped);
  EXPECT_EQ(p->services.at("c").stop_signal, 9);
  EXPECT_EQ(p->services.at("d").restart.max_attempts, 0);
  const Service& e = p->services.at("e");
  EXPECT_EQ(e.replicas, 0);
  EXPECT_EQ(e.restart.mode, RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(e.restart.delay, Duration{5'000});
  EXPECT_EQ(e.restart.max_attempts, 3);
  EXPECT_EQ(e.update_config.parallelism, 2);
  EXPECT_EQ(e.update_config.delay, Duration{10'000});
  EXPECT_EQ(e.update_config.failure_action, FailureAction::kRollback);
  EXPECT_EQ(e.update_config.monitor, Duration{30'000});
  EXPECT_DOUBLE_EQ(e.update_config.max_failure_ratio, 0.25);
  EXPECT_EQ(e.update_config.order, UpdateOrder::kStartFirst);
  EXPECT_EQ(e.rollback_config.parallelism, 0);
  EXPECT_EQ(e.rollback_config.failure_action, FailureAction::kContinue);
  EXPECT_EQ(p->services.at("f").restart.mode, RestartPolicy::Mode::kAlways);  // condition: any
  EXPECT_EQ(
      p->warnings,
      (std::vector<std::string>{"services.e.deploy.restart_policy.window: ignored by slipway"}));
}

TEST(ServiceParserTest, RestartStopAndDeployErrors) {
  auto err = [](const std::string& body) { return ErrorOf(LoadApi("    image: x\n" + body)); };
  EXPECT_EQ(err("    restart: sometimes\n"),
            "compose.yaml:4:5: services.api.restart: \"sometimes\" is not a restart policy "
            "(expected no, always, on-failure, on-failure:N or unless-stopped)");
  EXPECT_EQ(err("    restart: on-failure:x\n"),
            "compose.yaml:4:5: services.api.restart: \"on-failure:x\" has no valid retry count "
            "(expected no, always, on-failure, on-failure:N or unless-stopped)");
  EXPECT_EQ(err("    stop_signal: SIGNOPE\n"),
            "compose.yaml:4:5: services.api.stop_signal: \"SIGNOPE\" is not a signal (expected "
            "e.g. SIGTERM, TERM or 15)");
  EXPECT_EQ(err("    stop_grace_period: 10\n"),
            "compose.yaml:4:5: services.api.stop_grace_period: \"10\" has no unit (expected a "
            "duration with a unit, e.g. 10s)");
  EXPECT_EQ(err("    deploy:\n      replicas: \"x\"\n"),
            "compose.yaml:5:7: services.api.deploy.replicas: \"x\" is not a whole number "
            "(expected e.g. 3)");
  EXPECT_EQ(err("    deploy:\n      replicas: -1\n"),
            "compose.yaml:5:7: services.api.deploy.replicas: replicas -1 is negative (expected 0 "
            "or more)");
  EXPECT_EQ(err("    deploy:\n      restart_policy: {condition: sometimes}\n"),
            "compose.yaml:5:24: services.api.deploy.restart_policy.condition: \"sometimes\" is not "
            "allowed (expected none, on-failure or any)");
  EXPECT_EQ(err("    deploy:\n      update_config: {order: random}\n"),
            "compose.yaml:5:23: services.api.deploy.update_config.order: \"random\" is not allowed "
            "(expected stop-first or start-first)");
  EXPECT_EQ(err("    deploy:\n      rollback_config: {failure_action: rollback}\n"),
            "compose.yaml:5:25: services.api.deploy.rollback_config.failure_action: \"rollback\" "
            "is not allowed (expected continue or pause)");
  EXPECT_EQ(err("    deploy:\n      update_config: {max_failure_ratio: 2}\n"),
            "compose.yaml:5:23: services.api.deploy.update_config.max_failure_ratio: \"2\" is out "
            "of range (expected a ratio from 0 to 1)");
  EXPECT_EQ(err("    deploy:\n      update_config: {delay: soon}\n"),
            "compose.yaml:5:23: services.api.deploy.update_config.delay: \"soon\" is not a "
            "duration (expected e.g. 10s, 1m30s)");
}

TEST(ServiceParserTest, InterpolatedNumbersAreTyped) {
  LoadOptions o;
  o.environ = {{"N", "4"}, {"BAD", "x"}};
  Result<Project> p = LoadApi("    image: x\n    deploy:\n      replicas: ${N}\n", o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").replicas, 4);
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    deploy:\n      replicas: ${BAD}\n", o)),
            "compose.yaml:5:7: services.api.deploy.replicas: \"x\" is not a whole number "
            "(expected e.g. 3)");
}

TEST(ServiceParserTest, LabelsAndProfiles) {
  Result<Project> p = LoadText(R"(services:
  a:
    image: x
    labels: {com.example.team: core, version: 2}
  b:
    image: x
    labels: [a=1, "b=two words", c]
    profiles: [web, debug.1]
)",
                               [] {
                                 LoadOptions o;
                                 o.profiles = {"web"};
                                 return o;
                               }());
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  using Labels = std::map<std::string, std::string>;
  EXPECT_EQ(p->services.at("a").labels, (Labels{{"com.example.team", "core"}, {"version", "2"}}));
  EXPECT_EQ(p->services.at("b").labels, (Labels{{"a", "1"}, {"b", "two words"}, {"c", ""}}));
  EXPECT_EQ(p->services.at("b").profiles, (std::vector<std::string>{"web", "debug.1"}));
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    profiles: [\"bad name\"]\n")),
            "compose.yaml:4:16: services.api.profiles[0]: \"bad name\" is not a valid profile name "
            "(expected letters, digits, '_', '.', '-', starting with a letter or digit)");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    profiles: web\n")),
            "compose.yaml:4:5: services.api.profiles: is \"web\" (expected a list of strings)");
}

TEST(ServiceParserTest, Secrets) {
  LoadOptions o;
  o.environ = {{"DB_PASS", "s3cret"}, {"OTHER", "plain"}};
  Result<Project> p = LoadText(R"(services:
  api:
    image: x
    secrets:
      - db_file
      - source: db_env
        target: password
        mode: 0400
    environment:
      PGPASSWORD: ${DB_PASS}
      DB_PASS:
      NOT_SECRET: ${OTHER}
      PARTIAL: "x${DB_PASS}"
secrets:
  db_file: {file: ./secrets/db.txt}
  db_env: {environment: DB_PASS}
)",
                               o);
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  ASSERT_EQ(p->secrets.size(), 2u);
  EXPECT_EQ(p->secrets.at("db_file").file, p->dir / "secrets/db.txt");
  EXPECT_EQ(p->secrets.at("db_env").environment, "DB_PASS");
  const Service& api = p->services.at("api");
  ASSERT_EQ(api.secrets.size(), 2u);
  EXPECT_EQ(api.secrets[0].source, "db_file");
  EXPECT_EQ(api.secrets[0].target, "db_file");
  EXPECT_EQ(api.secrets[1].target, "password");
  EXPECT_EQ(api.secret_env, (std::set<std::string>{"DB_PASS", "PGPASSWORD"}));
  EXPECT_EQ(p->warnings,
            (std::vector<std::string>{"services.api.secrets[1].mode: ignored by slipway"}));

  EXPECT_EQ(ErrorOf(LoadApi("    image: x\n    secrets: [nope]\nsecrets:\n  a: {file: x}\n")),
            "compose.yaml:4:15: services.api.secrets[0]: secret \"nope\" is not declared "
            "(expected one of the top-level secrets: a)");
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\nsecrets:\n  a: {name: x}\n")),
            "compose.yaml:5:3: secrets.a: has no source (expected one of file, environment or "
            "external: true)");
}

TEST(ServiceParserTest, SlipwayExtension) {
  Result<Project> p = LoadText(R"(services:
  a:
    image: x
    x-slipway:
      command: ./run --dev
      healthcheck: {http: /health, port: 8080}
  b:
    image: x
    healthcheck: {interval: 2s, retries: 9, test: ["CMD", "x"]}
    x-slipway:
      command: ["./run", "b"]
      healthcheck: {tcp: true}
  c:
    x-slipway: {command: ./c}
x-slipway:
  api: {listen: "127.0.0.1:8700"}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& a = p->services.at("a");
  EXPECT_EQ(a.host_command, (std::vector<std::string>{"./run", "--dev"}));
  EXPECT_EQ(a.healthcheck.kind, Healthcheck::Kind::kHttp);
  EXPECT_EQ(a.healthcheck.http_path, "/health");
  EXPECT_EQ(a.healthcheck.port, 8080);
  EXPECT_EQ(a.healthcheck.interval, Duration{30'000});  // compose defaults
  EXPECT_FALSE(a.RunsInContainer());
  const Service& b = p->services.at("b");
  EXPECT_EQ(b.healthcheck.kind, Healthcheck::Kind::kTcp);
  EXPECT_EQ(b.healthcheck.port, 0);
  EXPECT_EQ(b.healthcheck.interval, Duration{2'000});  // from the compose healthcheck
  EXPECT_EQ(b.healthcheck.retries, 9);
  EXPECT_TRUE(b.healthcheck.test.empty());
  EXPECT_EQ(p->services.at("c").host_command, (std::vector<std::string>{"./c"}));
  EXPECT_EQ(p->api.listen, "127.0.0.1:8700");

  auto err = [](const std::string& x) {
    return ErrorOf(LoadApi("    image: x\n    x-slipway:\n" + x));
  };
  EXPECT_EQ(err("      comand: ./x\n"),
            "compose.yaml:5:7: services.api.x-slipway.comand: unknown key \"comand\" (expected "
            "one of command, deploy, healthcheck, image, metrics, ports, runtime, upstream)");
  EXPECT_EQ(err("      healthcheck: {http: /h, tcp: true}\n"),
            "compose.yaml:5:7: services.api.x-slipway.healthcheck: has both http and tcp "
            "(expected {http: /path, port: N}, {tcp: true, port: N} or {grpc: service, port: "
            "N})");
  EXPECT_EQ(err("      healthcheck: {port: 1}\n"),
            "compose.yaml:5:7: services.api.x-slipway.healthcheck: has none of http, tcp and "
            "grpc (expected {http: /path, port: N}, {tcp: true, port: N} or {grpc: service, "
            "port: N})");
  EXPECT_EQ(err("      healthcheck: {http: health}\n"),
            "compose.yaml:5:21: services.api.x-slipway.healthcheck.http: \"health\" is not a path "
            "(expected e.g. /health)");
  EXPECT_EQ(err("      healthcheck: {tcp: true, prot: 1}\n"),
            "compose.yaml:5:32: services.api.x-slipway.healthcheck.prot: unknown key \"prot\" "
            "(expected one of http, tcp, grpc, port, scheme, ca_file, server_name, "
            "insecure_skip_verify)");
  // The list of known keys grows with each x-slipway section; the message names them all.
  EXPECT_THAT(ErrorOf(LoadApi("    image: x\nx-slipway:\n  apii: {}\n")),
              ::testing::StartsWith("compose.yaml:5:3: x-slipway.apii: unknown key \"apii\" "
                                    "(expected one of api, "));
  EXPECT_EQ(ErrorOf(LoadApi("    image: x\nx-slipway:\n  api: {listen: nowhere}\n")),
            "compose.yaml:5:9: x-slipway.api.listen: \"nowhere\" is not an address (expected "
            "host:port, e.g. 127.0.0.1:8700 (port 0 picks one))");
  // A port out of range or signed, and an unbracketed IPv6 host, are refused at load rather
  // than when the daemon binds.
  for (const char* bad : {"127.0.0.1:99999", "127.0.0.1:+80", "::1:8700", "[::1:8700"}) {
    EXPECT_THAT(ErrorOf(LoadApi(std::string("    image: x\nx-slipway:\n  api: {listen: \"") + bad +
                                "\"}\n")),
                ::testing::HasSubstr(std::string("x-slipway.api.listen: \"") + bad +
                                     "\" is not an address"))
        << bad;
  }
}

TEST(ServiceParserTest, YamlMergeKeysAndAnchors) {
  Result<Project> p = LoadText(R"(x-defaults: &defaults
  image: base
  restart: always
  environment: {A: "1"}
services:
  a:
    <<: *defaults
    image: own
  b:
    <<: [*defaults]
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("a").image, "own");
  EXPECT_EQ(p->services.at("a").restart.mode, RestartPolicy::Mode::kAlways);
  EXPECT_EQ(p->services.at("b").image, "base");
  EXPECT_EQ(p->services.at("b").environment.at("A"), "1");
}

TEST(ServiceParserTest, InvalidServiceName) {
  EXPECT_EQ(ErrorOf(LoadText("services:\n  \"bad name\":\n    image: x\n")),
            "compose.yaml:2:3: services.bad name: \"bad name\" is not a valid service name "
            "(expected letters, digits, '-', '_' and '.')");
}

TEST(ServiceParserTest, HttpsHealthcheckKeysAndTheirErrors) {
  testing::TempDir dir;
  auto ca = net::testing::MakeTestCert({"app.internal"});
  dir.Write("app/ca.pem", ca.cert_pem);
  dir.Write("app/junk.pem", "not a certificate\n");
  auto load = [&](const std::string& hc) {
    dir.Write("app/compose.yaml",
              "services:\n  api:\n    image: x\n    x-slipway:\n      healthcheck: " + hc + "\n");
    return LoadProject(testing::OptionsFor(dir.path() / "app"));
  };
  auto p = load("{http: /health, scheme: https, ca_file: ca.pem, server_name: app.internal}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Healthcheck& h = p->services.at("api").healthcheck;
  EXPECT_EQ(h.scheme, Healthcheck::Scheme::kHttps);
  EXPECT_EQ(h.ca_file, (dir.path() / "app/ca.pem").string());
  EXPECT_EQ(h.server_name, "app.internal");
  EXPECT_FALSE(h.insecure_skip_verify.has_value());
  p = load("{http: /health, scheme: https, insecure_skip_verify: false}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").healthcheck.insecure_skip_verify, std::optional<bool>(false));
  p = load("{http: /health}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").healthcheck.scheme, Healthcheck::Scheme::kHttp);

  auto err = [&](const std::string& hc) { return ErrorOf(load(hc)); };
  // Columns depend on the flow mapping's layout: the line, key and reason are what matter.
  auto has = [](const std::string& e, const std::string& want) {
    return e.find(want) != std::string::npos && e.rfind("compose.yaml:5:", 0) == 0 &&
           e.find('\n') == std::string::npos;
  };
  EXPECT_PRED2(has, err("{http: /h, scheme: ftp}"),
               "services.api.x-slipway.healthcheck.scheme: \"ftp\" is not a scheme (expected "
               "http or https)");
  EXPECT_PRED2(has, err("{tcp: true, scheme: https}"),
               "services.api.x-slipway.healthcheck.scheme: applies to http probes only (expected "
               "http: /path with scheme: https)");
  EXPECT_PRED2(has, err("{http: /h, ca_file: ca.pem}"),
               "services.api.x-slipway.healthcheck.ca_file: applies to https probes only "
               "(expected scheme: https beside it)");
  EXPECT_PRED2(has, err("{http: /h, scheme: http, insecure_skip_verify: true}"),
               "services.api.x-slipway.healthcheck.insecure_skip_verify: applies to https probes "
               "only (expected scheme: https beside it)");
  std::string e = err("{http: /h, scheme: https, ca_file: missing.pem}");
  EXPECT_PRED2(has, e, "services.api.x-slipway.healthcheck.ca_file: ");
  EXPECT_NE(e.find("missing.pem: cannot read"), std::string::npos) << e;
  e = err("{http: /h, scheme: https, ca_file: junk.pem}");
  EXPECT_NE(e.find("not a PEM certificate bundle"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  e = err("{http: /h, scheme: https, ca_file: \"\"}");
  EXPECT_NE(e.find("healthcheck.ca_file: is empty"), std::string::npos) << e;
  e = err("{http: /h, scheme: https, server_name: \"https://x:1\"}");
  EXPECT_NE(e.find("healthcheck.server_name: \"https://x:1\" is not a server name"),
            std::string::npos)
      << e;
  e = err("{http: /h, scheme: https, insecure_skip_verify: maybe}");
  EXPECT_NE(e.find("healthcheck.insecure_skip_verify"), std::string::npos) << e;
  e = err("{http: /h, scheme: https, ca_file: ca.pem, insecure_skip_verify: true}");
  EXPECT_NE(e.find("healthcheck.insecure_skip_verify: contradicts ca_file"), std::string::npos)
      << e;
  e = err("{http: /h, scheme: [https]}");
  EXPECT_NE(e.find("healthcheck.scheme"), std::string::npos) << e;
}

TEST(ServiceParserTest, GrpcHealthcheckAndItsErrors) {
  testing::TempDir dir;
  auto ca = net::testing::MakeTestCert({"app.internal"});
  dir.Write("app/ca.pem", ca.cert_pem);
  auto load = [&](const std::string& x) {
    dir.Write("app/compose.yaml", "services:\n  api:\n    image: x\n    x-slipway:\n" + x);
    return LoadProject(testing::OptionsFor(dir.path() / "app"));
  };
  auto hc = [&](const std::string& h) { return load("      healthcheck: " + h + "\n"); };
  auto p = hc("{grpc: \"\"}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Healthcheck* h = &p->services.at("api").healthcheck;
  EXPECT_EQ(h->kind, Healthcheck::Kind::kGrpc);
  EXPECT_EQ(h->grpc_service, "");
  EXPECT_EQ(h->port, 0);
  p = hc("{grpc: true, port: 50051}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  h = &p->services.at("api").healthcheck;
  EXPECT_EQ(h->kind, Healthcheck::Kind::kGrpc);
  EXPECT_EQ(h->grpc_service, "");
  EXPECT_EQ(h->port, 50051);
  // A quoted "true" is a name, as YAML says.
  p = hc("{grpc: \"true\"}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").healthcheck.grpc_service, "true");
  p = hc("{grpc: shop.Orders, scheme: https, ca_file: ca.pem, server_name: app.internal}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  h = &p->services.at("api").healthcheck;
  EXPECT_EQ(h->grpc_service, "shop.Orders");
  EXPECT_EQ(h->scheme, Healthcheck::Scheme::kHttps);
  EXPECT_EQ(h->ca_file, (dir.path() / "app/ca.pem").string());
  EXPECT_EQ(h->server_name, "app.internal");
  p = hc("{grpc: \"" + std::string(1024, 'a') + "\"}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_FALSE(p->services.at("api").healthcheck.http2);

  // Every refusal is one line naming the file, the line and the key.
  auto err = [&](const std::string& h) { return ErrorOf(hc(h)); };
  auto has = [](const std::string& e, const std::string& want) {
    return e.find(want) != std::string::npos && e.rfind("compose.yaml:5:", 0) == 0 &&
           e.find('\n') == std::string::npos;
  };
  EXPECT_PRED2(has, err("{grpc: \"\", http: /h}"),
               "services.api.x-slipway.healthcheck: has both http and grpc");
  EXPECT_PRED2(has, err("{grpc: \"\", tcp: true}"),
               "services.api.x-slipway.healthcheck: has both tcp and grpc");
  const std::string expected =
      "(expected a service name such as pkg.Service, \"\" or true for the server)";
  EXPECT_PRED2(has, err("{grpc: [a]}"),
               "services.api.x-slipway.healthcheck.grpc: is a list " + expected);
  EXPECT_PRED2(has, err("{grpc: {a: 1}}"),
               "services.api.x-slipway.healthcheck.grpc: is a mapping " + expected);
  EXPECT_PRED2(has, err("{grpc: 5}"),
               "services.api.x-slipway.healthcheck.grpc: is the number 5 " + expected);
  EXPECT_PRED2(has, err("{grpc: -1.5}"),
               "services.api.x-slipway.healthcheck.grpc: is the number -1.5 " + expected);
  EXPECT_PRED2(has, err("{grpc: false}"), "services.api.x-slipway.healthcheck.grpc: is false");
  EXPECT_PRED2(has, err("{grpc: }"), "services.api.x-slipway.healthcheck.grpc: is ");
  EXPECT_PRED2(has, err("{grpc: \"" + std::string(1025, 'a') + "\"}"),
               "services.api.x-slipway.healthcheck.grpc: is 1025 bytes long (expected at most "
               "1024)");
  EXPECT_PRED2(has, err("{grpc: \"a\\nb\"}"),
               "services.api.x-slipway.healthcheck.grpc: has a control character");
  EXPECT_PRED2(has, err("{grpc: \"a\\tb\"}"),
               "services.api.x-slipway.healthcheck.grpc: has a control character");
  EXPECT_PRED2(has, err("{grpc: \"a\\x7Fb\"}"),
               "services.api.x-slipway.healthcheck.grpc: has a control character");
  EXPECT_PRED2(has, err("{grpc: \"\", ca_file: ca.pem}"),
               "services.api.x-slipway.healthcheck.ca_file: applies to https probes only");

  // In clear against a TLS upstream: refused as for http.
  std::string e = ErrorOf(load("      upstream: {scheme: https}\n      healthcheck: {grpc: x}\n"));
  EXPECT_NE(e.find("services.api.x-slipway.healthcheck.grpc: probes in clear"), std::string::npos)
      << e;
  EXPECT_TRUE(load("      upstream: {scheme: https}\n      healthcheck: {grpc: x, scheme: "
                   "https}\n")
                  .ok());
}

TEST(ServiceParserTest, HttpHealthcheckOfAnH2UpstreamSpeaksHttp2) {
  auto load = [](const std::string& x) { return LoadApi("    image: x\n    x-slipway:\n" + x); };
  // Either order of the keys: upstream is known when the service is done.
  for (const std::string x : {"      healthcheck: {http: /h}\n      upstream: {protocol: h2}\n",
                              "      upstream: {protocol: h2}\n      healthcheck: {http: /h}\n"}) {
    auto p = load(x);
    ASSERT_TRUE(p.ok()) << ErrorOf(p);
    EXPECT_TRUE(p->services.at("api").healthcheck.http2) << x;
  }
  auto p = load("      healthcheck: {http: /h}\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_FALSE(p->services.at("api").healthcheck.http2);
  p = load("      healthcheck: {http: /h}\n      upstream: {protocol: http1}\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_FALSE(p->services.at("api").healthcheck.http2);
}

}  // namespace
}  // namespace slipway::config
