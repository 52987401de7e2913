#include "scrape/scraper.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "base/fnv.h"
#include "http/client.h"

namespace slipway::scrape {

namespace {

bool HasLabel(const promql::Labels& l, std::string_view name) {
  return std::any_of(l.begin(), l.end(), [&](const auto& p) { return p.first == name; });
}

promql::ExpositionSample Synthetic(const promql::Labels& target, std::string name, double v) {
  promql::ExpositionSample s{target, v};
  s.labels.emplace_back("__name__", std::move(name));
  std::sort(s.labels.begin(), s.labels.end());
  return s;
}

}  // namespace

void AddTargetLabels(const promql::Labels& target, std::vector<promql::ExpositionSample>* samples) {
  for (promql::ExpositionSample& s : *samples) {
    for (const auto& [name, value] : target) {
      for (auto& [k, v] : s.labels) {
        if (k != name) continue;
        std::string renamed = "exported_" + k;
        while (HasLabel(s.labels, renamed)) renamed = "exported_" + renamed;
        k = std::move(renamed);
        break;
      }
      s.labels.emplace_back(name, value);
    }
    std::sort(s.labels.begin(), s.labels.end());
  }
}

Scraper::Scraper(Options opts) : opts_(std::move(opts)) {
  telemetry::Registry* reg = opts_.registry;
  if (!reg) return;
  metrics_.series =
      reg->GetGauge("slipway_tsdb_series", "Series held by the in-memory series store.");
  metrics_.bytes =
      reg->GetGauge("slipway_tsdb_bytes", "Bytes the series store holds (chunks, labels, index).");
  metrics_.budget_bytes =
      reg->GetGauge("slipway_tsdb_budget_bytes", "The series store's memory budget.");
  metrics_.samples = reg->GetGauge("slipway_tsdb_samples", "Samples the series store holds.");
  metrics_.targets = reg->GetGauge("slipway_scrape_targets", "Metrics targets scraped.");
  metrics_.evicted_chunks = reg->GetCounter(
      "slipway_tsdb_evicted_chunks_total",
      "Chunks dropped, oldest first, because the series store was over its memory budget.");
  metrics_.evicted_samples = reg->GetCounter(
      "slipway_tsdb_evicted_samples_total",
      "Samples dropped with those chunks (data lost before the retention ran out).");
  metrics_.out_of_order =
      reg->GetCounter("slipway_tsdb_out_of_order_samples_total",
                      "Samples not newer than their series' last one, skipped.");
}
Scraper::~Scraper() { *alive_ = false; }

void Scraper::Refresh() {
  const int64_t now = opts_.clock->WallMillis();
  last_refresh_ms_ = now;
  changed_ = false;
  const config::Project& project = opts_.project();
  opts_.store->EnsureRetention(project.scrape.retention_ms);
  opts_.store->set_budget_bytes(project.scrape.memory_limit);
  std::map<std::string, std::shared_ptr<Target>> next;
  auto keep = [&](std::shared_ptr<Target> t) {
    auto it = targets_.find(t->key);
    if (it != targets_.end() && it->second->path == t->path &&
        it->second->interval == t->interval && it->second->timeout == t->timeout &&
        it->second->labels == t->labels) {
      next[t->key] = it->second;  // unchanged: keep its schedule and last result
      return;
    }
    // A stable offset for each target inside its interval, as Prometheus spreads them.
    const int64_t iv = t->interval.count();
    t->next_ms = now + static_cast<int64_t>(Fnv1a64Of(t->key) % static_cast<uint64_t>(iv));
    next[t->key] = std::move(t);
  };
  for (const config::ScrapeTarget& st : project.scrape.targets) {
    auto t = std::make_shared<Target>();
    t->ep.host = st.host;
    t->ep.port = st.port;
    t->path = st.path;
    t->interval = st.interval;
    t->timeout = st.timeout;
    t->labels = {{"instance", t->ep.ToString()}, {"job", st.name}};  // [v6]:port
    t->key = "static/" + st.name;
    keep(std::move(t));
  }
  if (opts_.endpoints) {
    for (const engine::ServiceEndpoints& ep : opts_.endpoints()) {
      auto svc = project.services.find(ep.service);
      if (svc == project.services.end() || !svc->second.metrics) continue;
      const config::MetricsEndpoint& m = *svc->second.metrics;
      for (const engine::GroupEndpoints& g : ep.groups) {
        for (const auto& [id, port] : g.instances) {
          auto t = std::make_shared<Target>();
          t->ep.host = "127.0.0.1";
          t->ep.port = m.port != 0 ? m.port : port;
          t->path = m.path;
          t->interval = m.interval;
          t->timeout = m.timeout;
          t->labels = {
              {"instance", t->ep.ToString()}, {"job", ep.service}, {"service", ep.service}};
          if (g.release > 0) t->labels.emplace_back("release", std::to_string(g.release));
          std::sort(t->labels.begin(), t->labels.end());
          t->key = fmt::format("service/{}/{}/{}", ep.service, id, t->ep.port);
          keep(std::move(t));
        }
      }
    }
  }
  for (const auto& [key, t] : targets_) {
    if (next.count(key) == 0 || next[key] != t) {
      opts_.store->MarkStale(key, now);  // a target that left: its series end now
      opts_.store->DropSource(key);
    }
  }
  targets_ = std::move(next);
  ExportStoreMetrics();
}

void Scraper::Start() {
  Refresh();
  Arm();
}

void Scraper::Arm() {
  std::weak_ptr<bool> alive = alive_;
  opts_.loop->RunAfter(opts_.tick, [this, alive] {
    if (alive.expired()) return;
    Tick();
    Arm();
  });
}

void Scraper::Tick() {
  if (changed_ || opts_.clock->WallMillis() - last_refresh_ms_ >= 5000) Refresh();
  const int64_t now = opts_.clock->WallMillis();
  for (auto& [key, t] : targets_) {
    if (t->in_flight || now < t->next_ms) continue;
    // The next slot on the target's grid (a late tick does not shift the grid).
    const int64_t iv = t->interval.count();
    t->next_ms += ((now - t->next_ms) / iv + 1) * iv;
    Scrape(t, now);
  }
}

void Scraper::Scrape(const std::shared_ptr<Target>& t, int64_t now) {
  t->in_flight = true;
  http::Request req;
  req.target = t->path;
  req.headers.emplace_back("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1");
  req.headers.emplace_back("User-Agent", "slipway-scraper");
  req.headers.emplace_back("X-Prometheus-Scrape-Timeout-Seconds",
                           fmt::format("{}", static_cast<double>(t->timeout.count()) / 1000.0));
  std::weak_ptr<bool> alive = alive_;
  const auto started = std::chrono::steady_clock::now();
  http::FetchBoundedAsync(
      opts_.loop, t->ep, req, t->timeout, opts_.max_body,
      [this, alive, t, now, started](Result<http::ClientResponse> r) {
        if (alive.expired()) return;
        t->last_duration_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (!r.ok()) {
          Finish(t, now, r.status());
        } else if (r->status != 200) {
          Finish(t, now, Unavailable(fmt::format("server returned HTTP status {}", r->status)));
        } else {
          Finish(t, now, std::move(r->body));
        }
      });
}

void Scraper::Finish(const std::shared_ptr<Target>& t, int64_t start_ms, Result<std::string> body) {
  t->in_flight = false;
  // A target that left while its scrape ran: its series were already marked stale.
  auto it = targets_.find(t->key);
  if (it == targets_.end() || it->second != t) return;
  std::vector<promql::ExpositionSample> samples;
  Status st = body.status();
  if (st.ok()) {
    auto parsed = promql::ParseExposition(*body, opts_.limits);
    if (parsed.ok()) {
      samples = std::move(parsed).value();
    } else {
      st = parsed.status();
    }
  }
  const double scraped = static_cast<double>(samples.size());
  AddTargetLabels(t->labels, &samples);
  samples.push_back(Synthetic(t->labels, "up", st.ok() ? 1 : 0));
  samples.push_back(Synthetic(t->labels, "scrape_duration_seconds", t->last_duration_s));
  samples.push_back(Synthetic(t->labels, "scrape_samples_scraped", scraped));
  opts_.store->Ingest(start_ms, std::move(samples), t->key);
  ExportStoreMetrics();
  t->last_ms = start_ms;
  t->up = st.ok();
  t->scraped = true;
  t->last_error = st.ok() ? "" : st.message();
  if (opts_.registry) {
    const std::string job(promql::LabelValue(t->labels, "job"));
    opts_.registry
        ->GetCounter("slipway_scrapes_total", "Scrapes of metrics targets, by job and result.",
                     {"job", "result"}, {job, st.ok() ? "ok" : "failed"})
        ->Add(0);
  }
}

void Scraper::ExportStoreMetrics() {
  if (!opts_.registry) return;
  const promql::SeriesStore& s = *opts_.store;
  metrics_.series->Set(0, static_cast<int64_t>(s.series_count()));
  metrics_.bytes->Set(0, static_cast<int64_t>(s.bytes()));
  metrics_.budget_bytes->Set(0, static_cast<int64_t>(s.budget_bytes()));
  metrics_.samples->Set(0, static_cast<int64_t>(s.stored_samples()));
  metrics_.targets->Set(0, static_cast<int64_t>(targets_.size()));
  // The store counts from its start; the counters take what is new since the last export.
  auto add = [](telemetry::Counter* c, uint64_t now, uint64_t* exported) {
    c->Add(0, now - *exported);
    *exported = now;
  };
  add(metrics_.evicted_chunks, s.evicted_chunks(), &exported_evicted_chunks_);
  add(metrics_.evicted_samples, s.evicted_samples(), &exported_evicted_samples_);
  add(metrics_.out_of_order, s.out_of_order(), &exported_ooo_);
}

nlohmann::json Scraper::TargetsJson() const {
  nlohmann::json active = nlohmann::json::array();
  for (const auto& [key, t] : targets_) {
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [k, v] : t->labels) labels[k] = v;
    active.push_back({
        {"labels", labels},
        {"scrapePool", std::string(promql::LabelValue(t->labels, "job"))},
        {"scrapeUrl",
         fmt::format("http://{}{}", promql::LabelValue(t->labels, "instance"), t->path)},
        {"health", !t->scraped ? "unknown"
                   : t->up     ? "up"
                               : "down"},
        {"lastError", t->last_error},
        {"lastScrape", t->last_ms},
        {"lastScrapeDuration", t->last_duration_s},
        {"scrapeInterval", fmt::format("{}s", t->interval.count() / 1000.0)},
        {"scrapeTimeout", fmt::format("{}s", t->timeout.count() / 1000.0)},
    });
  }
  return {{"activeTargets", active}, {"droppedTargets", nlohmann::json::array()}};
}

}  // namespace slipway::scrape
