// Database and backup settings: `x-slipway.databases.<name>` and
// `x-slipway.backups`, parsed and validated at load time (values are already
// interpolated, so `url: ${DATABASE_URL}` from .env works).
//
//   x-slipway:
//     databases:
//       main:
//         url: ${DATABASE_URL}        # postgres://... | sqlite:path (required)
//         migrations: ./migrations    # folder, relative to the project (default "migrations")
//         format: auto                # auto | slipway | golang-migrate | dbmate | flyway
//         check: SELECT count(*) FROM users   # backup verify's check query
//         lock-timeout: 60s
//         service: api                # whose image runs migrations and backups in a
//                                     # cluster (default: the service whose environment
//                                     # holds the url)
//     backups:
//       dir: .slipway/backups         # relative to the project
//       schedule: "0 3 * * *"         # cron (UTC); omitted = no scheduled backups
//       databases: [main]             # default: every database
//       catch-up: true                # run once at daemon start after missed runs
//       retention: {keep-last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 2}
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::config {

struct Node;  // config/node.h (which includes project.h, which includes this)

struct DatabaseSettings {
  std::string name;
  std::string url;
  std::string migrations = "migrations";  // as written; resolve against Project::dir
  std::string format = "auto";
  std::string check;  // "" = count of user tables must be > 0
  Duration lock_timeout{60'000};
  std::string service;  // "" = the service whose environment holds the url
  std::string where;  // "file:line:col" of the entry, for later messages
};

struct RetentionSettings {
  int keep_last = 0;  // -1 = unlimited, for every count
  int hourly = 0;
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  int yearly = 0;
};

struct BackupsSettings {
  std::string dir = ".slipway/backups";
  std::string schedule;                // cron; "" = none
  std::vector<std::string> databases;  // empty = all
  bool catch_up = true;
  RetentionSettings retention;
};

Status ParseDatabasesSettings(const Node& n, const std::string& path,
                              std::map<std::string, DatabaseSettings>* out);
Status ParseBackupsSettings(const Node& n, const std::string& path, BackupsSettings* out);

}  // namespace slipway::config
