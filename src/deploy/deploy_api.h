// DeployApi: the admin API routes of deploys, called from api::Api::Handle through
// ApiHooks::extra (the auth check has run before).
//   POST /api/v1/deploy   {load, services, version, strategy, env}  answers when done:
//                         {"ok": true, "releases": [...]} or {"error", "exit": 1}
//   GET  /api/v1/deploy/progress?after=SEQ   progress lines of running and recent deploys
//   POST /api/v1/rollback {service, to}
//   GET  /api/v1/releases?service=S&limit=N  newest first
//
// Threads: the control loop only.
#pragma once

#include "deploy/deployer.h"
#include "deploy/releases.h"
#include "http/server.h"

namespace slipway::deploy {

class DeployApi {
 public:
  DeployApi(Deployer* deployer, ReleaseStore* releases)
      : deployer_(deployer), releases_(releases) {}
  // True when the request was one of these routes (then `w` has been used).
  bool Handle(const http::Request& req, http::ResponseWriter& w);

 private:
  Deployer* deployer_;
  ReleaseStore* releases_;
};

}  // namespace slipway::deploy
