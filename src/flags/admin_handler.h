// AdminHandler: the admin API of feature flags under /api/v1/flags, used by `slipway flags`.
//
//   GET    /api/v1/flags?env=E                    list (definition + lifecycle per flag)
//   GET    /api/v1/flags/export?env=E             the environment as a flagd document
//   GET    /api/v1/flags/stale?env=E&days=N       flags fully rolled out or unused for N days
//   POST   /api/v1/flags/import    {env, document, replace, comment, actor}
//   GET    /api/v1/flags/KEY?env=E                one flag
//   PUT    /api/v1/flags/KEY       {env, definition, comment, actor}   create or replace
//   DELETE /api/v1/flags/KEY?env=E
//   POST   /api/v1/flags/KEY/enable | /disable   {env, comment, actor}
//   POST   /api/v1/flags/KEY/rollout {env, percent, comment, actor}
//   POST   /api/v1/flags/KEY/target  {env, add: ["attr=value", ...], variant, comment, actor}
//   GET    /api/v1/flags/KEY/history?env=E&limit=N
// Errors are {"error": "...", "exit": 1|2} like the rest of the admin API. The caller (api::Api)
// has already checked the admin token for mutations. `actor` defaults to the
// X-Slipway-Actor header, then "api".
//
// Threads: the control loop's thread.
#pragma once

#include <string>

#include "flags/flag_service.h"
#include "http/server.h"

namespace slipway::flags {

class AdminHandler {
 public:
  AdminHandler(FlagService* service, std::string default_environment);

  static bool Owns(std::string_view path);  // /api/v1/flags and below
  void Handle(const http::Request& req, http::ResponseWriter w);

 private:
  http::Response Route(const http::Request& req);

  FlagService* service_;
  std::string default_env_;
};

Json FlagInfoJson(const FlagInfo& info);
Json AuditJson(const AuditEntry& a);

}  // namespace slipway::flags
