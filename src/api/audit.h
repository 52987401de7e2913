// AuditLog: the trail of every mutation made through the admin API — by the CLI, a script or
// the dashboard — as the router reports it (api::AuditEntry): who (a token's name, a session's
// user, "local cli"), what (method and route), its target (the route's captures and the naming
// fields of the body, never values), the HTTP status and "ok" or the error, and when. Bodies
// are never recorded (deploy environments and flag documents hold secrets); the daemon scrubs
// the error text with its Redactor before it gets here.
//
// Kept in the state database (table `audit`, the "access" module's step 2, api/tokens.h), at
// most kMaxRows rows: the oldest are dropped as new ones come.
//
// Ownership: the daemon owns it; it borrows the store. Threads: the control loop only.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/router.h"
#include "base/clock.h"
#include "base/status.h"

namespace slipway::store {
class Store;
}

namespace slipway::api {

struct AuditRow {
  int64_t id = 0;
  int64_t time_ms = 0;
  AuditEntry entry;

  nlohmann::json ToJson()
      const;  // id, time (RFC 3339 UTC), time_ms, who, action, target, status, result
};

struct AuditQuery {
  int64_t after_id = 0;  // rows with a larger id only
  int64_t limit = 100;   // the newest `limit` of them, oldest first
  std::string who;       // "" = anyone
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(store::Store* store, Clock* clock);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  Status Append(const AuditEntry& e);
  Result<std::vector<AuditRow>> List(const AuditQuery& q) const;

  static constexpr int64_t kMaxRows = 100000;

 private:
  AuditLog(store::Store* store, Clock* clock) : store_(store), clock_(clock) {}

  store::Store* store_;
  Clock* clock_;
  int64_t appended_ = 0;
};

}  // namespace slipway::api
