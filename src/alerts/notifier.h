// Notifier: routes alerts to receivers the way Alertmanager does, and delivers with retries.
//
// Update() takes the evaluator's notify set (every firing alert, plus alerts resolved in the
// last round). Each alert walks the routing tree (config::RouteSpec: match / match_re,
// `continue`, children inherit group_by and the intervals) and lands in an aggregation group
// keyed by the route and the alert's values of the route's group_by labels. A group is sent
// `group_wait` after it was created, then at most every `group_interval` when alerts were
// added or resolved, and again every `repeat_interval` while something fires. Resolved
// alerts are sent once and dropped from the group.
//
// Each receiver has a bounded queue (max_queue notifications; the oldest is dropped, and
// counted, when full) and one delivery in flight. A failed delivery is retried with
// exponential back-off (1 s doubling up to 5 min). Counters
// slipway_notifications_total{receiver, result=sent|failed|dropped} and the gauge
// slipway_notification_queue_length{receiver} show it; Status() too.
//
// Silences (silences.h, borrowed through Options): when a group is flushed, its alerts that
// match a live silence are left out of the notification (firing and resolved alike) and
// counted in slipway_alerts_silenced_total (one per alert per notification held back). When
// such a silence ends while the alert still fires, the group counts as changed: the alert is
// sent at the next group_interval. A notification already queued is checked again before each
// attempt: alerts silenced since are taken out (the body rendered again without them; nothing
// sent when none is left) and counted the same way.
//
// Transport: http:// URLs go through the loop's own HTTP client; https:// URLs through
// tlsclient::HttpsClient (libcurl; the system CA store or the receiver's ca_file, and its
// client certificate) on a worker thread the notifier owns, whose results come back to the
// loop through EventLoop::Post. Errors never show the URL's path or query (they carry tokens).
//
// Payloads: webhook = Alertmanager's webhook JSON (version 4); slack = an incoming-webhook
// {"text": ...}; alertmanager = POST <url>/api/v2/alerts with the alerts as a JSON list.
// Deploy events go through the same routes with SendEvent().
//
// Threads: the control loop's thread only; Tick() is called every second or so.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "alerts/rules.h"
#include "alerts/silences.h"
#include "base/clock.h"
#include "base/status.h"
#include "config/alerts_settings.h"
#include "net/event_loop.h"
#include "telemetry/metrics.h"
#include "tlsclient/https_client.h"

namespace slipway::tlsclient {
class AsyncHttps;
}

namespace slipway::alerts {

// One HTTP POST to make.
struct Delivery {
  std::string receiver;
  std::string url;  // full http:// or https:// URL
  std::string body;
  int attempts = 0;
  int64_t next_ms = 0;
  Duration timeout{10'000};  // the receiver's `timeout`: an attempt without an answer fails
  tlsclient::TlsClientOptions tls{};  // https:// only: the receiver's CA and client certificate
  // An alert notification: the alerts its body was rendered from and its group's key, so a
  // silence made while it waits in the queue holds its alerts back at delivery too (empty
  // for nothing to check again).
  std::vector<Alert> alerts{};
  std::string group{};     // the group's key in the notifier
  std::string route_id{};  // its route in the tree
  std::map<std::string, std::string> group_labels{};
};

class Notifier {
 public:
  using SendFn = std::function<void(const Delivery&, std::function<void(Status)> done)>;

  struct Options {
    Clock* clock = Clock::Real();
    net::EventLoop* loop = nullptr;           // for the default HTTP sender
    telemetry::Registry* registry = nullptr;  // optional metrics
    SendFn send;                              // default: HTTP POST on `loop`
    std::string external_url;                 // generatorURL / links, e.g. the API address
    const Silences* silences = nullptr;       // alerts they match are not sent (nullptr: none)
  };

  static Result<std::unique_ptr<Notifier>> Create(const config::NotificationSettings& settings,
                                                  Options opts);
  ~Notifier();

  void Update(const std::vector<Alert>& alerts);
  // A one-off notification (deploy, rollback) routed by `labels` like an alert.
  void SendEvent(const std::map<std::string, std::string>& labels, const std::string& summary);
  // The same with any annotations (summary, description, ...).
  void SendEvent(const std::map<std::string, std::string>& labels,
                 std::map<std::string, std::string> annotations);
  void Tick();

  // Per receiver: queue length, sent, failed, dropped, last error; plus group count.
  nlohmann::json Status() const;

  struct Route;  // a resolved node of the routing tree (public for the tree builder)

 private:
  struct Group;
  struct Receiver;
  explicit Notifier(Options opts);
  void Match(const Route& r, const std::map<std::string, std::string>& labels,
             std::vector<const Route*>* out) const;
  void Flush(Group& g, int64_t now);
  // The receiver's payload (body, URL path) for `alerts` of a group (its route, its labels).
  std::pair<std::string, std::string> Render(const Receiver& rcv, const std::string& route_id,
                                             const std::map<std::string, std::string>& labels,
                                             const std::vector<Alert>& alerts) const;
  // Takes the alerts a live silence matches out of a queued notification; false when none
  // is left to send.
  bool RecheckSilences(const Receiver& rcv, Delivery& d, int64_t now);
  void Enqueue(Receiver& r, std::string body, const std::string& path, Delivery from = {});
  void Pump(Receiver& r, int64_t now);

  Options opts_;
  std::unique_ptr<tlsclient::AsyncHttps> https_;  // the default sender's HTTPS worker
  std::unique_ptr<Route> root_;
  std::map<std::string, std::unique_ptr<Receiver>> receivers_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
  uint64_t silenced_ = 0;                     // alert notifications held back by a silence
  telemetry::Counter* m_silenced_ = nullptr;  // slipway_alerts_silenced_total
  uint64_t event_seq_ = 0;  // keeps two events of the same labels and millisecond apart
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// RFC 3339 UTC with milliseconds: 2026-01-02T03:04:05.678Z.
std::string Rfc3339(int64_t wall_ms);

}  // namespace slipway::alerts
