// ReleaseStore: the `releases` table of the state store. A release is one change of one service
// that `up`, `deploy` or `rollback` applied: a per-service number, a version label, the hash and
// a copy of the resolved spec, the strategy, times, status (running, succeeded, failed,
// rolled-back), the reason and the numbers the decision used.
//
// Threads: like store::Store, one thread at a time (the daemon's control loop; the CLI opens its
// own Store to list releases).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/deploy_strategy.h"
#include "store/schema.h"
#include "store/statement.h"
#include "store/store.h"

namespace slipway::deploy {

// The releases table's schema steps (store/schema.h); ReleaseStore::Open applies them.
const store::ModuleSchema& ReleasesSchema();

enum class ReleaseStatus { kRunning, kSucceeded, kFailed, kRolledBack };
// "running", "succeeded", "failed", "rolled-back": the stored and shown text.
std::string_view ReleaseStatusName(ReleaseStatus s);
// A stored text read back; an unknown one (a newer binary's) reads as failed.
ReleaseStatus ParseReleaseStatus(std::string_view text);

// "up" for a release `up` started, else the strategy's name (config::kDeployStrategyNames).
std::string ReleaseStrategyName(const std::optional<config::DeployStrategy>& s);

struct Release {
  int64_t number = 0;  // per service, from 1
  std::string service;
  std::string version;
  std::string spec_hash;
  // The hash of the spec the compose file gave when the release was made, before a deploy's
  // --env values: `up` keeps a deployed release while the file still says this (up_plan.h).
  // Equal to spec_hash for releases `up` made; "" for releases recorded before it existed.
  std::string base_hash;
  nlohmann::json spec;  // the resolved service (secret values masked)
  // How the release came to run: a deploy's strategy, or none for one `up` started (stored and
  // shown as ReleaseStrategyName: the strategy's name, or "up").
  std::optional<config::DeployStrategy> strategy;
  int64_t created_ms = 0;
  int64_t finished_ms = 0;
  ReleaseStatus status = ReleaseStatus::kRunning;
  std::string reason;
  nlohmann::json numbers = nlohmann::json::object();

  nlohmann::json ToJson() const;
};

class ReleaseStore {
 public:
  // `store` and `clock` must outlive the ReleaseStore.
  static Result<std::unique_ptr<ReleaseStore>> Open(store::Store* store, Clock* clock);

  // Adds release number last+1 of `r.service` (number and created_ms are assigned).
  Result<Release> Create(Release r);
  // Sets the final status, reason and numbers (finished_ms = now).
  Status Finish(const std::string& service, int64_t number, ReleaseStatus status,
                const std::string& reason, const nlohmann::json& numbers);
  // Newest first; `service` "" = all; limit 0 = all.
  Result<std::vector<Release>> List(const std::string& service, size_t limit) const;
  // The newest `per_service` (>= 1) releases of every service: by service name, newest first
  // within each. One query for a table of every service (the dashboard's), where asking per
  // service would be a round trip each.
  Result<std::vector<Release>> Recent(size_t per_service) const;
  Result<std::optional<Release>> Get(const std::string& service, int64_t number) const;

 private:
  explicit ReleaseStore(Clock* clock) : clock_(clock) {}
  Result<std::vector<Release>> Read(store::Statement& st) const;

  Clock* clock_;
  std::unique_ptr<store::Statement> insert_;
  std::unique_ptr<store::Statement> next_number_;
  std::unique_ptr<store::Statement> finish_;
  std::unique_ptr<store::Statement> list_all_;
  std::unique_ptr<store::Statement> list_service_;
  std::unique_ptr<store::Statement> recent_;
  std::unique_ptr<store::Statement> get_;
};

}  // namespace slipway::deploy
