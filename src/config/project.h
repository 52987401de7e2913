// Project: the resolved Compose project every other module works from.
//
// Built once by the loader (config/loader.h) from the compose files, .env and
// the environment: interpolated, merged, extended, profile-filtered and
// validated. After that it is immutable plain data; any thread may read a
// const Project. Modules that need their own `x-slipway` settings read them
// from the typed fields here; raw extension nodes are kept for later modules.
#pragma once

#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "config/alerts_settings.h"
#include "config/api_settings.h"
#include "config/dashboard_settings.h"
#include "config/databases_settings.h"
#include "config/deploy_settings.h"
#include "config/deploy_strategy.h"
#include "config/flags_settings.h"
#include "config/metrics_settings.h"
#include "config/ports_settings.h"
#include "config/proxy_settings.h"
#include "config/resources_settings.h"
#include "config/routes_settings.h"
#include "config/tls_settings.h"
#include "config/upstream_settings.h"

namespace slipway::config {

// Where a value came from, for error messages: "file:line:col".
struct SourceLoc {
  std::string file;
  int line = 0;                  // 1-based; 0 when unknown
  int column = 0;                // 1-based
  std::string ToString() const;  // "compose.yaml:14:7" (or just the file)
};

// ports[].protocol (compose: tcp, udp, sctp); names in config/compose_names.h.
enum class TransportProtocol { kTcp, kUdp, kSctp };

struct PortMapping {
  std::string host_ip;  // "" = all interfaces as compose does (Slipway binds 0.0.0.0)
  int published = 0;    // host port; 0 when not published
  int target = 0;       // container port (what the app thinks it listens on)
  // Only tcp loads: udp and sctp are refused (slipway proxies TCP only).
  TransportProtocol protocol = TransportProtocol::kTcp;
  std::string app_protocol;   // compose long syntax `app_protocol` ("http", "postgresql", ...)
  std::string published_var;  // variable that produced `published`, e.g. "API_PORT"
  SourceLoc loc;
};

enum class DependsCondition { kStarted, kHealthy, kCompletedSuccessfully };

struct Dependency {
  std::string service;
  DependsCondition condition = DependsCondition::kStarted;
  bool required = true;
  bool restart = false;
};

struct Healthcheck {
  // kGrpc: grpc.health.v1.Health/Check over HTTP/2 (x-slipway.healthcheck.grpc).
  enum class Kind { kNone, kCmd, kCmdShell, kHttp, kTcp, kGrpc };
  Kind kind = Kind::kNone;        // kNone: no probe (absent, NONE or disable: true)
  std::vector<std::string> test;  // argv for kCmd; one element (shell text) for kCmdShell
  std::string http_path;          // kHttp: "/health"
  // kHttp: the service speaks HTTP/2 only (upstream.protocol: h2), so the probe does too.
  // Derived from upstream.protocol at load, not a key of its own.
  bool http2 = false;
  std::string grpc_service;  // kGrpc: the service asked about; "" = the server as a whole
  int port = 0;              // kHttp/kTcp/kGrpc: 0 = the instance's PORT
  // kHttp/kGrpc over TLS (x-slipway.healthcheck.scheme: https). What is verified: health/probe.h.
  enum class Scheme { kHttp, kHttps };
  Scheme scheme = Scheme::kHttp;
  std::string ca_file;                       // absolute; empty = the system store
  std::string server_name;                   // SNI and the name checked; empty = the host
  std::optional<bool> insecure_skip_verify;  // absent: verify when ca_file or server_name is set
  Duration interval{30'000};
  Duration timeout{30'000};
  int retries = 3;
  Duration start_period{0};
  Duration start_interval{5'000};
};

struct RestartPolicy {
  enum class Mode { kNo, kAlways, kOnFailure, kUnlessStopped };
  Mode mode = Mode::kNo;
  int max_attempts = 0;  // on-failure:N; 0 = unlimited
  Duration delay{0};     // deploy.restart_policy.delay (extra to the backoff)
};

struct UpdateConfig {
  int parallelism = 1;
  Duration delay{0};
  FailureAction failure_action = FailureAction::kPause;
  Duration monitor{0};
  double max_failure_ratio = 0;
  UpdateOrder order = UpdateOrder::kStopFirst;
};

struct BuildSpec {
  std::filesystem::path context;  // absolute
  std::string dockerfile;         // relative to the context ("" = the engine's Dockerfile)
  std::map<std::string, std::string> args;  // build.args (--build-arg)
  std::string target;                       // build.target: the stage to build
};

// Where a service runs: x-slipway.runtime (service, else project), else kAuto (see
// Service::RunsInContainer).
enum class RuntimeChoice { kAuto, kHost, kContainer };

struct SecretRef {
  std::string source;  // top-level secrets (or configs) key
  std::string target;  // file name under /run/secrets (compose) or SLIPWAY_SECRETS_DIR; for
                       // configs, "/<source>" unless given
};

// A top-level `secrets:` or `configs:` entry. Exactly one source is set.
struct Secret {
  std::string name;
  std::filesystem::path file;                    // absolute
  std::string environment;                       // secret from an environment variable, when set
  std::optional<std::string> environment_value;  // that variable's value at load, if set
  std::optional<std::string> content;            // configs only: the inline text
  bool external = false;      // held by the container engine (`podman secret create`)
  std::string external_name;  // the engine's name of an external one (`name:`, else the key)
  SourceLoc loc;              // where the entry starts
  SourceLoc file_loc;         // where `file:` is written, for "not found"
};

// A top-level `volumes:` entry (a named volume of the container engine).
struct NamedVolume {
  std::string name;         // the key
  std::string engine_name;  // `name:`, else "<project>_<key>" as compose names them
  bool external = false;    // created outside slipway: never created nor removed by it
  std::map<std::string, std::string> labels;
  SourceLoc loc;
};

// One mount of a container service: compose `volumes` (short or long syntax), and the
// service's secrets and configs as read-only binds. Resolved at load: sources are absolute
// paths or engine volume names.
struct Mount {
  enum class Type { kBind, kVolume, kTmpfs };
  Type type = Type::kBind;
  std::string source;  // kBind: absolute host path; kVolume: the engine's volume name
  std::string target;  // absolute path in the container
  bool read_only = false;
  bool create_host_path = false;  // kBind: a missing source folder is created (short syntax)
  long long tmpfs_size = 0;       // kTmpfs: bytes, 0 = the engine's default
  std::string volume;             // kVolume: the top-level key ("" for an anonymous volume)
  // Secrets and configs: the top-level entry ("secrets.db_password"), which must exist as a
  // file at up; "" for compose volumes.
  std::string secret;
  std::string key_path;  // "services.db.volumes[0]", for messages
  SourceLoc loc;
};

// A secret the container engine holds (`external: true`), passed with --secret.
struct EngineSecret {
  std::string name;    // the engine's secret name
  std::string target;  // as SecretRef::target
  std::string ref;     // "secrets.<key>", for messages
  SourceLoc loc;
};

struct Service {
  std::string name;
  std::optional<std::vector<std::string>> command;     // compose `command`
  std::optional<std::vector<std::string>> entrypoint;  // compose `entrypoint`
  // x-slipway.command: what to run on the host instead of the container command.
  std::optional<std::vector<std::string>> host_command;
  // x-slipway.image: the image to run where there is no host (`slipway export kubernetes`).
  std::string export_image;
  std::map<std::string, std::string> environment;  // env_file merged, then `environment`
  std::set<std::string> secret_env;                // environment keys that hold secrets
  std::filesystem::path working_dir;               // absolute; host runs start here
  std::string user;
  std::vector<PortMapping> ports;
  std::vector<int> expose;  // compose `expose`: ports other services reach by name only
  // Names other services reach this one by, besides its own (config/service_addresses.h):
  // `hostname`, `container_name`, `networks.<n>.aliases`.
  std::string hostname;
  std::string container_name;
  std::vector<std::string> network_aliases;
  // `links`: (service, alias) — `alias` names `service` (for every service, see
  // config/service_addresses.h).
  std::vector<std::pair<std::string, std::string>> links;
  std::map<int, PortProtocol> port_protocols;  // x-slipway.ports: target → forced protocol
  std::vector<Dependency> depends_on;
  Healthcheck healthcheck;
  RestartPolicy restart;
  int stop_signal = SIGTERM;
  Duration stop_grace_period{10'000};
  int replicas = 1;
  UpdateConfig update_config;
  UpdateConfig rollback_config;
  // deploy.resources: limits applied, reservations reported (config/resources_settings.h).
  ResourceSettings resources;
  std::string image;
  std::optional<BuildSpec> build;
  std::map<std::string, std::string> labels;
  std::vector<SecretRef> secrets;
  std::vector<SecretRef> configs;  // compose `configs` of this service
  // Compose `volumes`, then secrets and configs that are files (read-only binds); filled by
  // the loader (config/volumes_settings.h), used when the service runs in a container.
  std::vector<Mount> mounts;
  std::vector<EngineSecret> engine_secrets;      // external secrets (podman --secret)
  RuntimeChoice runtime = RuntimeChoice::kAuto;  // x-slipway.runtime (or the project's)
  std::vector<std::string> profiles;
  DeploySettings deploy;      // x-slipway.deploy
  UpstreamSettings upstream;  // x-slipway.upstream (config/upstream_settings.h)
  // x-slipway.metrics: scrape each ready instance (config/metrics_settings.h); none: not scraped.
  std::optional<MetricsEndpoint> metrics;
  SourceLoc loc;  // where the service's mapping starts

  // True when the service runs through a container engine. x-slipway.runtime decides when
  // set; else (kAuto) a service runs in a container when it has an image or a build and
  // nothing to run on the host: no x-slipway.command, and no command or entrypoint beside a
  // build (a build with a command runs that command on the host from the build context).
  bool RunsInContainer() const;
  // The image a container service runs: `image`, else "<project>-<service>" for a build (as
  // compose names built images).
  std::string ImageName(const std::string& project) const;
};

struct Node;  // config/node.h

struct Project {
  std::string name;                          // top-level `name`, else the folder's name
  std::filesystem::path dir;                 // project folder (of the first compose file)
  std::vector<std::filesystem::path> files;  // compose files, in merge order (absolute)
  // The environment (`--env NAME` / SLIPWAY_ENV; "" = none), its compose overlay when one was
  // found (also the last of `files`) and the .env files read, in order (absolute).
  std::string env_name;
  std::filesystem::path env_overlay;
  std::vector<std::filesystem::path> env_files;
  std::map<std::string, Service> services;  // only the services active under the profiles
  std::map<std::string, Secret> secrets;
  std::map<std::string, Secret> configs;         // top-level `configs`
  std::map<std::string, NamedVolume> volumes;    // top-level `volumes`
  RuntimeChoice runtime = RuntimeChoice::kAuto;  // x-slipway.runtime: the services' default
  std::vector<std::string> warnings;             // e.g. "services.api.networks: ignored by slipway"
  ApiSettings api;                               // x-slipway.api (config/api_settings.h)
  std::map<std::string, DatabaseSettings> databases;  // x-slipway.databases
  BackupsSettings backups;                            // x-slipway.backups
  AlertsSettings alerts;                              // x-slipway.alerts (config/alerts_settings.h)
  FlagsSettings flags;                                // x-slipway.flags (config/flags_settings.h)
  NotificationSettings notifications;                 // x-slipway.notifications
  std::vector<RouteSettings> routes;                  // x-slipway.routes (config/routes_settings.h)
  ProxySettings proxy;                                // x-slipway.proxy (config/proxy_settings.h)
  TlsSettings tls;                                    // x-slipway.tls (config/tls_settings.h)
  ScrapeSettings scrape;        // x-slipway.scrape (config/metrics_settings.h)
  DashboardSettings dashboard;  // x-slipway.dashboard (config/dashboard_settings.h)
  // x-slipway.ingress: true: routes that name a `host` are served through the host's shared
  // front proxy (src/ingress), which owns :80/:443 for every project that opts in; such routes
  // need no `listen`.
  bool ingress = false;
  // The compose model this project was built from: the files merged, interpolated, extended
  // and normalized, every service (active under the profiles or not) and every `x-*` block as
  // written. What `slipway config` prints (config/render.h); null for a Project built by hand.
  std::shared_ptr<const Node> model;
};

}  // namespace slipway::config
