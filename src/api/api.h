// Api: the daemon's HTTP admin API, served on `.slipway/api.sock` (the CLI) and on the TCP
// listener in `.slipway/api.addr` (dashboard, scripts).
//
// Routes (JSON in and out; errors are {"error": "...", "exit": 1|2} with 4xx/5xx):
//   GET  /health                       daemon alive
//   GET  /metrics                      Prometheus text exposition
//   GET  /api/v1/ps                    one row per instance
//   POST /api/v1/up      {load, services, wait, timeout_ms}   answers when settled
//   POST /api/v1/stop    {services}    POST /api/v1/start {services}
//   POST /api/v1/restart {services}    POST /api/v1/down  (stops all, then the daemon exits)
//   GET  /api/v1/logs?services=a,b&tail=N&since=MS&follow=1    NDJSON lines, streamed
//   GET  /api/v1/events?services=a,b&since=MS&limit=N
// Over TCP every mutation needs `Authorization: Bearer <token>`; reads need none. The unix
// socket is guarded by its file mode (0600 in a 0700 folder), so it needs no token.
//
// Threads: the control loop's thread only, like the engine it drives.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "config/loader.h"
#include "engine/engine.h"
#include "http/server.h"
#include "runtime/log_store.h"
#include "store/store.h"

namespace slipway::api {

// LoadOptions travel from the CLI to the daemon so `up` can reload the project with the
// caller's files, profiles and environment.
nlohmann::json LoadOptionsToJson(const config::LoadOptions& o);
config::LoadOptions LoadOptionsFromJson(const nlohmann::json& j);

struct ApiHooks {
  std::function<std::string()> metrics;  // Prometheus exposition of the daemon's registry
  std::function<void()> shutdown;        // called after `down` answered
  std::string token;                     // bearer token for mutations over TCP
  // Feature flags: `ofrep` runs before the admin-token check (OFREP has its own read tokens),
  // `flags_admin` after it. Each returns true when it answered.
  std::function<bool(const http::Request&, http::ResponseWriter&)> ofrep;
  std::function<bool(const http::Request&, http::ResponseWriter&)> flags_admin;
  // Adds the proxy's per-service traffic (requests_per_second, error_ratio) to `ps` rows.
  std::function<void(nlohmann::json* rows)> decorate_ps;
  // Routes owned by other modules (deploys): called after the auth check; returns true when it
  // answered the request (it may move the writer out).
  std::function<bool(const http::Request&, http::ResponseWriter&)> extra;
};

class Api {
 public:
  Api(net::EventLoop* loop, engine::Engine* engine, runtime::LogStore* logs, store::Store* store,
      ApiHooks hooks);

  // Entry point for both listeners; `trusted` is true for the unix socket.
  void Handle(const http::Request& req, http::ResponseWriter w, bool trusted);

 private:
  void Up(const nlohmann::json& body, http::ResponseWriter w);
  void Logs(const http::Request& req, http::ResponseWriter w);
  void Events(const http::Request& req, http::ResponseWriter w);

  net::EventLoop* loop_;
  engine::Engine* engine_;
  runtime::LogStore* logs_;
  store::Store* store_;
  ApiHooks hooks_;
};

// {"error": msg, "exit": 1|2} with the status that matches the Status code.
http::Response ErrorResponse(const Status& st);
http::Response JsonResponse(int status, const nlohmann::json& body);

}  // namespace slipway::api
