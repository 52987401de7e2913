#include "alerts/notifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "http/client.h"
#include "promql/regex.h"
#include "tlsclient/async_https.h"
#include "tlsclient/https_client.h"

namespace slipway::alerts {

using nlohmann::json;

std::string Rfc3339(int64_t wall_ms) {
  time_t secs = static_cast<time_t>(wall_ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, wall_ms % 1000);
}

struct Notifier::Route {
  std::string receiver;
  std::vector<std::string> group_by;
  int64_t group_wait = 30'000, group_interval = 300'000, repeat_interval = 4 * 3'600'000;
  std::map<std::string, std::string> match;
  std::vector<std::pair<std::string, std::shared_ptr<const promql::Regex>>> match_re;  // anchored
  bool continue_matching = false;
  std::vector<std::unique_ptr<Route>> children;
  std::string id;  // path in the tree, part of group keys
};

struct Notifier::Group {
  const Route* route = nullptr;
  std::string key;                            // in groups_
  std::map<std::string, std::string> labels;  // the group_by values
  std::map<std::string, Alert> alerts;        // by fingerprint
  int64_t created_ms = 0;
  int64_t last_flush_ms = 0;
  bool flushed = false;
  bool dirty = false;
  std::set<std::string> silenced;  // fingerprints held back by a silence at the last flush
};

struct Notifier::Receiver {
  config::ReceiverSpec spec;
  std::deque<Delivery> queue;
  bool in_flight = false;
  uint64_t sent = 0, failed = 0, dropped = 0;
  std::string last_error;
  int64_t last_error_ms = 0;
  telemetry::Counter* m_sent = nullptr;
  telemetry::Counter* m_failed = nullptr;
  telemetry::Counter* m_dropped = nullptr;
  telemetry::Gauge* m_queue = nullptr;
};

namespace {
Result<std::unique_ptr<Notifier::Route>> BuildRoute(const config::RouteSpec& spec,
                                                    const Notifier::Route* parent, std::string id);
}  // namespace

Notifier::Notifier(Options opts) : opts_(std::move(opts)) {}
Notifier::~Notifier() { *alive_ = false; }

namespace {

// Splits http://host:port/path into an endpoint and a target.
bool SplitUrl(const std::string& url, http::Endpoint* ep, std::string* target) {
  if (url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  *target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  ep->host = hostport.substr(0, colon);
  ep->port = colon == std::string::npos ? 80 : std::atoi(hostport.c_str() + colon + 1);
  if (ep->host.size() > 2 && ep->host.front() == '[')
    ep->host = ep->host.substr(1, ep->host.size() - 2);
  return !ep->host.empty() && ep->port > 0;
}

}  // namespace

Result<std::unique_ptr<Notifier>> Notifier::Create(const config::NotificationSettings& settings,
                                                   Options opts) {
  std::unique_ptr<Notifier> n(new Notifier(std::move(opts)));
  if (!n->opts_.send) {
    net::EventLoop* loop = n->opts_.loop;
    if (!loop) return InvalidInput("notifier: an event loop or a send function is needed");
    n->https_ = std::make_unique<tlsclient::AsyncHttps>(
        [loop](std::function<void()> fn) { loop->Post(std::move(fn)); });
    tlsclient::AsyncHttps* https = n->https_.get();
    n->opts_.send = [loop, https](const Delivery& d, std::function<void(slipway::Status)> done) {
      if (d.url.rfind("https://", 0) == 0) {
        tlsclient::HttpsRequest req;
        req.method = "POST";
        req.url = d.url;
        req.body = d.body;
        req.timeout = d.timeout;
        req.headers.emplace_back("Content-Type", "application/json");
        https->Submit(tlsclient::HttpsClient(d.tls), std::move(req),
                      [done](Result<tlsclient::HttpsResponse> r) {
                        if (!r.ok()) return done(r.status());
                        if (r->status / 100 != 2) {
                          return done(Unavailable(
                              fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 200))));
                        }
                        done(slipway::Status::OK());
                      });
        return;
      }
      http::Endpoint ep;
      http::Request req;
      if (!SplitUrl(d.url, &ep, &req.target)) {
        done(InvalidInput("bad URL " + tlsclient::OriginOf(d.url)));
        return;
      }
      req.method = "POST";
      req.body = d.body;
      req.headers.emplace_back("Content-Type", "application/json");
      req.headers.emplace_back("User-Agent", "slipway");
      http::FetchAsync(loop, ep, req, d.timeout, [done](Result<http::ClientResponse> r) {
        if (!r.ok()) return done(r.status());
        if (r->status / 100 != 2) {
          return done(Unavailable(fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 200))));
        }
        done(slipway::Status::OK());
      });
    };
  }
  for (const config::ReceiverSpec& spec : settings.receivers) {
    auto r = std::make_unique<Receiver>();
    r->spec = spec;
    if (telemetry::Registry* reg = n->opts_.registry) {
      const char* help = "Notifications by receiver and outcome.";
      r->m_sent = reg->GetCounter("slipway_notifications_total", help, {"receiver", "result"},
                                  {spec.name, "sent"});
      r->m_failed = reg->GetCounter("slipway_notifications_total", help, {"receiver", "result"},
                                    {spec.name, "failed"});
      r->m_dropped = reg->GetCounter("slipway_notifications_total", help, {"receiver", "result"},
                                     {spec.name, "dropped"});
      r->m_queue = reg->GetGauge("slipway_notification_queue_length",
                                 "Notifications waiting for delivery.", {"receiver"}, {spec.name});
    }
    n->receivers_[spec.name] = std::move(r);
  }
  if (telemetry::Registry* reg = n->opts_.registry) {
    n->m_silenced_ = reg->GetCounter("slipway_alerts_silenced_total",
                                     "Alert notifications held back by a silence.");
  }
  if (!settings.route.receiver.empty()) {
    ASSIGN_OR_RETURN(n->root_, BuildRoute(settings.route, nullptr, "0"));
  }
  return n;
}

namespace {

Result<std::unique_ptr<Notifier::Route>> BuildRoute(const config::RouteSpec& spec,
                                                    const Notifier::Route* parent, std::string id) {
  auto r = std::make_unique<Notifier::Route>();
  r->id = id;
  if (parent) {
    r->receiver = parent->receiver;
    r->group_by = parent->group_by;
    r->group_wait = parent->group_wait;
    r->group_interval = parent->group_interval;
    r->repeat_interval = parent->repeat_interval;
  } else {
    r->group_by = {"alertname"};
  }
  if (!spec.receiver.empty()) r->receiver = spec.receiver;
  if (spec.group_by) r->group_by = *spec.group_by;
  if (spec.group_wait) r->group_wait = spec.group_wait->count();
  if (spec.group_interval) r->group_interval = spec.group_interval->count();
  if (spec.repeat_interval) r->repeat_interval = spec.repeat_interval->count();
  r->match = spec.match;
  for (const auto& [k, v] : spec.match_re) {
    auto re = promql::Regex::Compile(v, promql::Regex::Dialect::kAlertmanager);
    if (!re.ok()) return InvalidInput("route match_re " + k + ": " + re.status().message());
    r->match_re.emplace_back(k, std::move(re).value());
  }
  r->continue_matching = spec.continue_matching;
  for (size_t i = 0; i < spec.routes.size(); ++i) {
    ASSIGN_OR_RETURN(auto child, BuildRoute(spec.routes[i], r.get(), id + "." + std::to_string(i)));
    r->children.push_back(std::move(child));
  }
  return r;
}

bool RouteMatches(const Notifier::Route& r, const std::map<std::string, std::string>& labels) {
  auto get = [&](const std::string& k) {
    auto it = labels.find(k);
    return it == labels.end() ? std::string() : it->second;
  };
  for (const auto& [k, v] : r.match) {
    if (get(k) != v) return false;
  }
  for (const auto& [k, re] : r.match_re) {
    if (!re->FullMatch(get(k))) return false;
  }
  return true;
}

}  // namespace

void Notifier::Match(const Route& r, const std::map<std::string, std::string>& labels,
                     std::vector<const Route*>* out) const {
  size_t before = out->size();
  for (const auto& child : r.children) {
    if (!RouteMatches(*child, labels)) continue;
    Match(*child, labels, out);
    if (!child->continue_matching) break;
  }
  if (out->size() == before) out->push_back(&r);
}

void Notifier::Update(const std::vector<Alert>& alerts) {
  if (!root_) return;
  const int64_t now = opts_.clock->WallMillis();
  for (const Alert& a : alerts) {
    std::vector<const Route*> routes;
    Match(*root_, a.labels, &routes);
    for (const Route* r : routes) {
      std::map<std::string, std::string> glabels;
      bool all = std::find(r->group_by.begin(), r->group_by.end(), "...") != r->group_by.end();
      for (const auto& [k, v] : a.labels) {
        if (all || std::find(r->group_by.begin(), r->group_by.end(), k) != r->group_by.end()) {
          glabels[k] = v;
        }
      }
      std::string key = r->id + "|" + json(glabels).dump();
      auto& slot = groups_[key];
      if (!slot) {
        slot = std::make_unique<Group>();
        slot->route = r;
        slot->key = key;
        slot->labels = glabels;
        slot->created_ms = now;
      }
      auto it = slot->alerts.find(a.fingerprint);
      if (it == slot->alerts.end() || it->second.state != a.state) slot->dirty = true;
      slot->alerts[a.fingerprint] = a;
    }
  }
}

void Notifier::SendEvent(const std::map<std::string, std::string>& labels,
                         const std::string& summary) {
  SendEvent(labels, std::map<std::string, std::string>{{"summary", summary}});
}

void Notifier::SendEvent(const std::map<std::string, std::string>& labels,
                         std::map<std::string, std::string> annotations) {
  Alert a;
  a.rule = labels.count("alertname") ? labels.at("alertname") : "SlipwayEvent";
  a.labels = labels;
  a.labels["alertname"] = a.rule;
  a.annotations = std::move(annotations);
  a.state = AlertState::kResolved;  // an event is not ongoing: sent once
  a.active_ms = a.resolved_ms = opts_.clock->WallMillis();
  a.fingerprint = Fingerprint(a.labels) + "-" + std::to_string(a.active_ms) + "-" +
                  std::to_string(++event_seq_);
  Update({a});
}

void Notifier::Tick() {
  const int64_t now = opts_.clock->WallMillis();
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = *it->second;
    const Route& r = *g.route;
    bool firing = false;
    for (const auto& [fp, a] : g.alerts) firing |= a.state == AlertState::kFiring;
    bool due = false;
    if (!g.flushed) {
      due = now >= g.created_ms + r.group_wait;
    } else if (g.dirty) {
      due = now >= g.last_flush_ms + r.group_interval;
    } else if (firing) {
      due = now >= g.last_flush_ms + r.repeat_interval;
    }
    // A silence that ended lets its alerts through at the next group_interval, as a change.
    if (g.flushed && !g.dirty && opts_.silences) {
      for (const std::string& fp : g.silenced) {
        auto a = g.alerts.find(fp);
        if (a != g.alerts.end() && opts_.silences->Active(a->second.labels, now).empty()) {
          g.dirty = true;
          break;
        }
      }
      if (g.dirty) due = now >= g.last_flush_ms + r.group_interval;
    }
    if (due) Flush(g, now);
    if (g.flushed && g.alerts.empty()) {
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, r] : receivers_) Pump(*r, now);
}

void Notifier::Flush(Group& g, int64_t now) {
  g.flushed = true;
  g.dirty = false;
  g.last_flush_ms = now;
  auto rit = receivers_.find(g.route->receiver);
  std::vector<Alert> alerts;
  g.silenced.clear();
  for (const auto& [fp, a] : g.alerts) {
    // A silenced alert is held back, resolved or firing (Alertmanager's way).
    if (opts_.silences && !opts_.silences->Active(a.labels, now).empty()) {
      g.silenced.insert(fp);
      ++silenced_;
      if (m_silenced_) m_silenced_->Add(0);
      continue;
    }
    alerts.push_back(a);
  }
  // Resolved alerts are told once.
  for (auto it = g.alerts.begin(); it != g.alerts.end();) {
    it = it->second.state == AlertState::kResolved ? g.alerts.erase(it) : std::next(it);
  }
  if (rit == receivers_.end() || alerts.empty()) return;
  Receiver& rcv = *rit->second;
  auto [body, path] = Render(rcv, g.route->id, g.labels, alerts);
  Delivery from;
  from.group = g.key;
  from.route_id = g.route->id;
  from.group_labels = g.labels;
  from.alerts = std::move(alerts);
  Enqueue(rcv, std::move(body), path, std::move(from));
}

std::pair<std::string, std::string> Notifier::Render(
    const Receiver& rcv, const std::string& route_id,
    const std::map<std::string, std::string>& labels, const std::vector<Alert>& alerts) const {
  size_t firing = 0;
  for (const Alert& a : alerts) firing += a.state == AlertState::kFiring;
  const std::string status = firing > 0 ? "firing" : "resolved";
  // Labels and annotations shared by every alert of the group.
  auto common = [&](auto member) {
    std::map<std::string, std::string> c = alerts[0].*member;
    for (const Alert& a : alerts) {
      for (auto it = c.begin(); it != c.end();) {
        auto f = (a.*member).find(it->first);
        it = (f == (a.*member).end() || f->second != it->second) ? c.erase(it) : std::next(it);
      }
    }
    return c;
  };
  auto alert_json = [&](const Alert& a) {
    json j = {{"labels", a.labels},
              {"annotations", a.annotations},
              {"startsAt", Rfc3339(a.active_ms)},
              {"generatorURL", opts_.external_url}};
    if (a.state == AlertState::kResolved) j["endsAt"] = Rfc3339(a.resolved_ms);
    return j;
  };
  std::string body, path;
  switch (rcv.spec.kind) {
    case config::ReceiverSpec::Kind::kAlertmanager: {
      json list = json::array();
      for (const Alert& a : alerts) list.push_back(alert_json(a));
      body = list.dump();
      path = "/api/v2/alerts";
      break;
    }
    case config::ReceiverSpec::Kind::kWebhook: {
      json list = json::array();
      for (const Alert& a : alerts) {
        json j = alert_json(a);
        j["status"] = a.state == AlertState::kFiring ? "firing" : "resolved";
        j["fingerprint"] = a.fingerprint;
        if (!j.contains("endsAt")) j["endsAt"] = "0001-01-01T00:00:00Z";
        list.push_back(std::move(j));
      }
      body = json{
          {"version", "4"},
          {"groupKey", route_id + ":" + json(labels).dump()},
          {"status", status},
          {"receiver", rcv.spec.name},
          {"groupLabels", labels},
          {"commonLabels", common(&Alert::labels)},
          {"commonAnnotations", common(&Alert::annotations)},
          {"externalURL", opts_.external_url},
          {"truncatedAlerts", 0},
          {"alerts",
           list}}.dump();
      break;
    }
    case config::ReceiverSpec::Kind::kSlack: {
      // The group's alertname, else the first alert's, else its rule (never a throwing at()).
      std::string name = alerts[0].rule;
      if (auto it = labels.find("alertname"); it != labels.end()) {
        name = it->second;
      } else if (auto a0 = alerts[0].labels.find("alertname"); a0 != alerts[0].labels.end()) {
        name = a0->second;
      }
      std::string text = fmt::format("[{}{}] {}", status == "firing" ? "FIRING:" : "RESOLVED",
                                     status == "firing" ? std::to_string(firing) : "", name);
      // One-shot events (SendEvent: resolved without ever firing) read as news, not recovery.
      bool events = std::all_of(alerts.begin(), alerts.end(), [](const Alert& a) {
        return a.state == AlertState::kResolved && a.fired_ms == 0;
      });
      if (events) {
        text = name;
        for (const Alert& a : alerts) {
          auto s = a.annotations.find("summary");
          text += "\n• " + (s != a.annotations.end() ? s->second : a.rule);
        }
        body = json{{"text", text}}.dump();
        break;
      }
      for (const Alert& a : alerts) {
        auto s = a.annotations.find("summary");
        text += fmt::format("\n• {} {}", a.state == AlertState::kFiring ? "firing" : "resolved",
                            s != a.annotations.end() ? s->second : a.rule);
      }
      body = json{{"text", text}}.dump();
      break;
    }
  }
  return {body, path};
}

void Notifier::Enqueue(Receiver& r, std::string body, const std::string& path, Delivery from) {
  std::string url = r.spec.url;
  if (!path.empty()) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += path;
  }
  while (r.queue.size() >= static_cast<size_t>(r.spec.max_queue)) {
    // Never drop the delivery in flight (the front); drop the oldest waiting one.
    size_t victim = r.in_flight ? 1 : 0;
    if (victim >= r.queue.size()) break;
    r.queue.erase(r.queue.begin() + static_cast<long>(victim));
    ++r.dropped;
    if (r.m_dropped) r.m_dropped->Add(0);
  }
  from.receiver = r.spec.name;
  from.url = std::move(url);
  from.body = std::move(body);
  from.attempts = 0;
  from.next_ms = 0;
  from.timeout = r.spec.timeout;
  from.tls.ca_file = r.spec.ca_file;
  from.tls.client_cert = r.spec.client_cert;
  from.tls.client_key = r.spec.client_key;
  r.queue.push_back(std::move(from));
  if (r.m_queue) r.m_queue->Set(0, static_cast<int64_t>(r.queue.size()));
}

bool Notifier::RecheckSilences(const Receiver& rcv, Delivery& d, int64_t now) {
  if (!opts_.silences || d.alerts.empty()) return true;
  std::vector<Alert> keep;
  std::vector<std::string> held;  // fingerprints
  for (Alert& a : d.alerts) {
    if (opts_.silences->Active(a.labels, now).empty()) {
      keep.push_back(std::move(a));
    } else {
      held.push_back(a.fingerprint);
    }
  }
  d.alerts = std::move(keep);
  if (held.empty()) return true;
  silenced_ += held.size();
  if (m_silenced_) m_silenced_->Add(0, held.size());
  // Still firing in its group: sent again once the silence ends (Tick's check).
  if (auto g = groups_.find(d.group); g != groups_.end()) {
    for (const std::string& fp : held) {
      if (g->second->alerts.count(fp)) g->second->silenced.insert(fp);
    }
  }
  if (d.alerts.empty()) return false;
  d.body = Render(rcv, d.route_id, d.group_labels, d.alerts).first;
  return true;
}

void Notifier::Pump(Receiver& r, int64_t now) {
  // A silence made since a notification was queued holds its alerts back now too.
  while (!r.in_flight && !r.queue.empty() && r.queue.front().next_ms <= now &&
         !RecheckSilences(r, r.queue.front(), now)) {
    r.queue.pop_front();
    if (r.m_queue) r.m_queue->Set(0, static_cast<int64_t>(r.queue.size()));
  }
  if (r.in_flight || r.queue.empty() || r.queue.front().next_ms > now) return;
  r.in_flight = true;
  std::weak_ptr<bool> alive = alive_;
  Receiver* rp = &r;
  opts_.send(r.queue.front(), [this, alive, rp](slipway::Status st) {
    if (alive.expired()) return;
    rp->in_flight = false;
    const int64_t t = opts_.clock->WallMillis();
    if (st.ok()) {
      rp->queue.pop_front();
      ++rp->sent;
      if (rp->m_sent) rp->m_sent->Add(0);
    } else {
      Delivery& d = rp->queue.front();
      ++d.attempts;
      int64_t backoff = std::min<int64_t>(1000LL << std::min(d.attempts - 1, 20), 300'000);
      d.next_ms = t + backoff;
      ++rp->failed;
      rp->last_error = st.message();
      rp->last_error_ms = t;
      if (rp->m_failed) rp->m_failed->Add(0);
    }
    if (rp->m_queue) rp->m_queue->Set(0, static_cast<int64_t>(rp->queue.size()));
  });
}

json Notifier::Status() const {
  json receivers = json::array();
  for (const auto& [name, r] : receivers_) {
    // The origin only: a webhook's path and query carry its token.
    receivers.push_back({{"name", name},
                         {"url", tlsclient::OriginOf(r->spec.url)},
                         {"queue", r->queue.size()},
                         {"sent", r->sent},
                         {"failed", r->failed},
                         {"dropped", r->dropped},
                         {"last_error", r->last_error},
                         {"last_error_ms", r->last_error_ms}});
  }
  return {{"receivers", receivers}, {"groups", groups_.size()}, {"silenced", silenced_}};
}

}  // namespace slipway::alerts
