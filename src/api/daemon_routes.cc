// The daemon itself: GET /api/v1/daemon (who serves, since when, from which binary) and
// POST /api/v1/daemon/restart (a zero-downtime handover to a successor; docs/architecture.md,
// "Keeper").
#include <limits>

#include "api/routes.h"

namespace slipway::api {

namespace {

constexpr int64_t kDefaultDrainMs = 30'000;
constexpr int64_t kMaxDrainMs = 3'600'000;

struct RestartBody {
  Duration drain_timeout{kDefaultDrainMs};

  static Result<RestartBody> Parse(const RouteCall& call) {
    ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(call.request.body));
    BodyFields f(body);
    RestartBody b;
    b.drain_timeout = Duration(f.Int("drain_timeout_ms", kDefaultDrainMs, 0, kMaxDrainMs,
                                     "milliseconds the old daemon waits for open connections"));
    RETURN_IF_ERROR(f.Finish());
    return b;
  }
};

}  // namespace

nlohmann::json DaemonInfoJson(const DaemonInfo& i) {
  return {{"pid", i.pid},
          {"started_ms", i.started_ms},
          {"generation", i.generation},
          {"start_cause", i.start_cause},
          {"keeper_pid", i.keeper_pid},
          {"keeper_started_ms", i.keeper_started_ms},
          {"binary", i.binary},
          {"binary_mtime_ns", i.binary_mtime_ns},
          {"binary_inode", i.binary_inode},
          {"handing_over", i.handing_over}};
}

Result<DaemonInfo> ParseDaemonInfo(const nlohmann::json& body) {
  if (!body.is_object()) return InvalidInput("daemon info: expected an object");
  BodyFields f(body, "daemon.");
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  DaemonInfo i;
  i.pid = f.Int("pid", 0, 0, kMax, "a process id");
  i.started_ms = f.Int("started_ms", 0, 0, kMax, "Unix milliseconds");
  i.generation = static_cast<int>(f.Int("generation", 0, 0, 1 << 30, "a count"));
  i.start_cause = f.String("start_cause", "a start cause");
  i.keeper_pid = f.Int("keeper_pid", 0, 0, kMax, "a process id");
  i.keeper_started_ms = f.Int("keeper_started_ms", 0, 0, kMax, "Unix milliseconds");
  i.binary = f.String("binary", "a file path");
  i.binary_mtime_ns =
      f.Int("binary_mtime_ns", 0, std::numeric_limits<int64_t>::min(), kMax, "nanoseconds");
  i.binary_inode = static_cast<uint64_t>(f.Int("binary_inode", 0, 0, kMax, "an inode number"));
  i.handing_over = f.Bool("handing_over", false);
  RETURN_IF_ERROR(f.status());
  return i;
}

void RegisterDaemonRoutes(Router& r, const RouteDeps& d) {
  DaemonControl* daemon = d.daemon;
  r.Add<NoInput>({Method::kGet, "/api/v1/daemon", Access::kRead}, [daemon](NoInput, Reply reply) {
    if (daemon == nullptr) return reply.Error(Unavailable("no daemon control here"));
    reply.Json(200, DaemonInfoJson(daemon->Info()));
  });
  r.Add<RestartBody>({Method::kPost, "/api/v1/daemon/restart", Access::kAdmin, kSmallBody},
                     [daemon](RestartBody b, Reply reply) {
                       if (daemon == nullptr)
                         return reply.Error(Unavailable("no daemon control here"));
                       if (Status st = daemon->Restart(b.drain_timeout); !st.ok()) {
                         return reply.Error(st);
                       }
                       // 202: the successor takes over after this answer has left.
                       reply.Json(202, {{"handing_over", true},
                                        {"pid", daemon->Info().pid},
                                        {"drain_timeout_ms", b.drain_timeout.count()}});
                     });
}

}  // namespace slipway::api
