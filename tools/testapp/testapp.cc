// testapp: a small, fast HTTP service with fault injection, for tests, benchmarks and demos.
//
// Listens on $HOST:$PORT (default 127.0.0.1:8080) with the project's own HttpServer (epoll,
// keep-alive, pipelining). With THREADS=N it runs N loops, each with its own SO_REUSEPORT
// listener. Endpoints:
//   /health        200 "ok" (500 "fail" when HEALTH=fail)
//   /version       $VERSION (default "dev")
//   /echo          the request body, any method
//   /headers       the request's headers as received, one "name: value" line each
//   /              one line naming $SLIPWAY_SERVICE, $SLIPWAY_INSTANCE and the version
//   /status/<code> an empty answer with that status
//   /slow?ms=N     answers after N ms (a timer; the loop keeps serving others)
//   /metrics       Prometheus text: testapp_requests_total{code} (every answer but /metrics and
//                  /health), testapp_request_duration_seconds (a histogram of the delay each
//                  request was given: LATENCY_MS, /slow's ms), testapp_queue_depth (a gauge,
//                  $QUEUE_DEPTH, default 0), testapp_start_time_seconds (a gauge: when the
//                  process started, Unix seconds, for `time() - ...` rules) and
//                  testapp_build_info{version, instance} 1 (its `instance` label is the
//                  instance number: a scraper must keep it apart)
//   /print?line=T  writes T (letters, digits, '-', '_', '.' only; 200 bytes at most) and a
//                  newline to stdout, flushed: output a test can look for in `slipway logs`
// Knobs (env): ERROR_RATE (0-1, share of 500s on non-health paths), LATENCY_MS (added to every
// request, by timer), STARTUP_DELAY_MS (wait before listening), CRASH_AFTER_S (exit 3 after that
// many seconds, fractions allowed), IGNORE_SIGTERM=1, HEALTH=fail. SIGTERM/SIGINT exit 0.
// TLS_CERT=FILE TLS_KEY=FILE: serve HTTPS (PEM chain and key, checked at start: exit 1 with
// the reason when they do not load).
// One-shot mode: `testapp --exit-after-ms N [--exit-code C]` prints a line and exits with C.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "net/tls_context.h"

namespace {

using slipway::Duration;
using slipway::http::Request;
using slipway::http::Response;
using slipway::http::ResponseWriter;

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : fallback;
}

double EnvDouble(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double d = std::strtod(v, &end);
  return (end && *end == '\0') ? d : fallback;
}

// Request metrics, shared by every worker thread.
constexpr double kBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);
struct Metrics {
  std::atomic<uint64_t> by_code[1000] = {};
  std::atomic<uint64_t> buckets[kNumBuckets + 1] = {};  // non-cumulative, +Inf last
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sum_us{0};

  void Observe(int code, long delay_ms) {
    if (code >= 0 && code < 1000) by_code[code].fetch_add(1, std::memory_order_relaxed);
    const double s = static_cast<double>(delay_ms) / 1000.0;
    size_t b = 0;
    while (b < kNumBuckets && s > kBuckets[b]) ++b;
    buckets[b].fetch_add(1, std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<uint64_t>(delay_ms) * 1000, std::memory_order_relaxed);
  }
};
Metrics g_metrics;

struct Config {
  std::string version = Env("VERSION", "dev");
  std::string service = Env("SLIPWAY_SERVICE", "testapp");
  std::string instance = Env("SLIPWAY_INSTANCE", "0");
  double error_rate = EnvDouble("ERROR_RATE", 0);
  long latency_ms = static_cast<long>(EnvDouble("LATENCY_MS", 0));
  bool health_fail = Env("HEALTH", "") == "fail";
  double queue_depth = EnvDouble("QUEUE_DEPTH", 0);
  double start_time_s = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count()) /
                        1000.0;
};

std::string RenderMetrics(const Config& cfg) {
  std::string out =
      "# HELP testapp_requests_total Requests answered, by status code.\n"
      "# TYPE testapp_requests_total counter\n";
  char line[256];
  for (int code = 0; code < 1000; ++code) {
    uint64_t n = g_metrics.by_code[code].load(std::memory_order_relaxed);
    if (n == 0 && code != 200) continue;  // 200 always, so rate() has a series from the start
    std::snprintf(line, sizeof line, "testapp_requests_total{code=\"%d\"} %llu\n", code,
                  static_cast<unsigned long long>(n));
    out += line;
  }
  out +=
      "# HELP testapp_request_duration_seconds Delay given to each request.\n"
      "# TYPE testapp_request_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= kNumBuckets; ++b) {
    cumulative += g_metrics.buckets[b].load(std::memory_order_relaxed);
    if (b < kNumBuckets) {
      std::snprintf(line, sizeof line, "testapp_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                    kBuckets[b], static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(line, sizeof line,
                    "testapp_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                    static_cast<unsigned long long>(cumulative));
    }
    out += line;
  }
  std::snprintf(line, sizeof line,
                "testapp_request_duration_seconds_sum %.6f\n"
                "testapp_request_duration_seconds_count %llu\n",
                static_cast<double>(g_metrics.sum_us.load(std::memory_order_relaxed)) / 1e6,
                static_cast<unsigned long long>(g_metrics.count.load(std::memory_order_relaxed)));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP testapp_queue_depth Items waiting ($QUEUE_DEPTH).\n"
                "# TYPE testapp_queue_depth gauge\n"
                "testapp_queue_depth %g\n",
                cfg.queue_depth);
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP testapp_start_time_seconds When the process started (Unix seconds).\n"
                "# TYPE testapp_start_time_seconds gauge\n"
                "testapp_start_time_seconds %.3f\n",
                cfg.start_time_s);
  out += line;
  out += "# HELP testapp_build_info The version running.\n";
  out += "# TYPE testapp_build_info gauge\n";
  out.append("testapp_build_info{version=\"").append(cfg.version);
  out.append("\",instance=\"").append(cfg.instance).append("\"} 1\n");
  return out;
}

// Per-thread xorshift: cheap enough to call on every request.
uint64_t NextRandom() {
  thread_local uint64_t s =
      static_cast<uint64_t>(getpid()) * 0x9E3779B97F4A7C15ull ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      std::hash<std::thread::id>()(std::this_thread::get_id());
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

Response Route(const Config& cfg, const Request& req) {
  std::string_view path = req.Path();
  if (path == "/health") {
    return cfg.health_fail ? Response::Text(500, "fail\n") : Response::Text(200, "ok\n");
  }
  if (cfg.error_rate > 0 &&
      static_cast<double>(NextRandom() % 1'000'000) < cfg.error_rate * 1'000'000) {
    return Response::Text(500, "injected error\n");
  }
  if (path == "/version") return Response::Text(200, cfg.version + "\n");
  if (path == "/metrics") {
    return Response::Text(200, RenderMetrics(cfg), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/print") {
    std::string_view line = req.QueryParam("line").value_or("");
    bool plain =
        !line.empty() && line.size() <= 200 && std::all_of(line.begin(), line.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    if (!plain) return Response::Text(400, "line: 1..200 of [A-Za-z0-9._-] expected\n");
    std::string out = std::string(line) + "\n";
    bool ok =
        std::fwrite(out.data(), 1, out.size(), stdout) == out.size() && std::fflush(stdout) == 0;
    return ok ? Response::Text(200, "printed\n") : Response::Text(500, "stdout write failed\n");
  }
  if (path == "/headers") {
    std::string out;
    for (const auto& [name, value] : req.headers) out += name + ": " + value + "\n";
    return Response::Text(200, out);
  }
  if (path == "/echo") {
    Response r;
    r.status = 200;
    const std::string* ct = req.Header("content-type");
    r.headers.emplace_back("Content-Type", ct ? *ct : "application/octet-stream");
    r.body = req.body;
    return r;
  }
  if (path == "/" || path == "/slow") {
    return Response::Text(200, "service=" + cfg.service + " instance=" + cfg.instance +
                                   " version=" + cfg.version + "\n");
  }
  if (path.rfind("/status/", 0) == 0) {
    int code = std::atoi(std::string(path.substr(8)).c_str());
    if (code < 100 || code > 999) return Response::Text(400, "bad status code\n");
    Response r;
    r.status = code;
    return r;
  }
  return Response::Text(404, "not found\n");
}

// One event loop with its server; THREADS=N makes N of these.
struct Worker {
  std::unique_ptr<slipway::net::EventLoop> loop;
  std::unique_ptr<slipway::http::HttpServer> server;
};

bool StartWorker(const Config& cfg, const std::string& host, int port, bool reuseport,
                 std::shared_ptr<const slipway::net::TlsServerContext> tls, Worker* w) {
  auto loop = slipway::net::EventLoop::Create();
  if (!loop.ok()) return false;
  w->loop = std::move(loop).value();
  auto fd = slipway::net::ListenTcp(host, port, 4096, reuseport);
  if (!fd.ok()) {
    std::fprintf(stderr, "testapp: %s\n", fd.status().message().c_str());
    return false;
  }
  slipway::net::EventLoop* loop_ptr = w->loop.get();
  slipway::http::ServerOptions opt;
  opt.idle_timeout = Duration(120'000);
  opt.tls = std::move(tls);
  auto handler = [&cfg, loop_ptr](const Request& req, ResponseWriter writer) {
    long delay = cfg.latency_ms;
    if (req.Path() == "/slow") {
      auto ms = req.QueryParam("ms");
      if (ms) delay += std::atol(std::string(*ms).c_str());
    }
    Response routed = Route(cfg, req);
    if (req.Path() != "/metrics" && req.Path() != "/health")
      g_metrics.Observe(routed.status, delay);
    if (delay <= 0) {
      writer.Send(std::move(routed));
      return;
    }
    auto held = std::make_shared<ResponseWriter>(std::move(writer));
    auto resp = std::make_shared<Response>(std::move(routed));
    loop_ptr->RunAfter(Duration(delay), [held, resp] { held->Send(std::move(*resp)); });
  };
  auto server =
      slipway::http::HttpServer::Create(w->loop.get(), std::move(fd).value(), handler, opt);
  if (!server.ok()) return false;
  w->server = std::move(server).value();
  return true;
}

int OneShot(int argc, char** argv) {
  long ms = 0;
  int code = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--exit-after-ms") == 0)
      ms = std::atol(argv[++i]);
    else if (std::strcmp(argv[i], "--exit-code") == 0)
      code = std::atoi(argv[++i]);
  }
  std::printf("testapp: one-shot %s, exiting with %d after %ld ms\n",
              Env("SLIPWAY_SERVICE", "job").c_str(), code, ms);
  std::fflush(stdout);
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--exit-after-ms") == 0 || std::strcmp(argv[i], "--exit-code") == 0)
      return OneShot(argc, argv);
    if (std::strcmp(argv[i], "--help") == 0) {
      std::printf(
          "usage: testapp  (configured by env: PORT HOST VERSION ERROR_RATE LATENCY_MS "
          "STARTUP_DELAY_MS CRASH_AFTER_S IGNORE_SIGTERM HEALTH THREADS TLS_CERT TLS_KEY)\n"
          "       testapp --exit-after-ms N [--exit-code C]\n");
      return 0;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  // Signals arrive on a signalfd watched by the first loop; block them in every thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  if (Env("IGNORE_SIGTERM", "") == "1") {
    signal(SIGTERM, SIG_IGN);
  } else {
    sigaddset(&set, SIGTERM);
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  static const Config cfg;
  std::string host = Env("HOST", "127.0.0.1");
  int port = std::atoi(Env("PORT", "8080").c_str());
  int threads = std::max(1, std::atoi(Env("THREADS", "1").c_str()));
  long startup = static_cast<long>(EnvDouble("STARTUP_DELAY_MS", 0));
  if (startup > 0) std::this_thread::sleep_for(std::chrono::milliseconds(startup));

  std::shared_ptr<const slipway::net::TlsServerContext> tls;
  if (std::string cert = Env("TLS_CERT", ""), key = Env("TLS_KEY", ""); !cert.empty()) {
    auto ctx = slipway::net::TlsServerContext::Create(
        {{cert, key}}, std::make_shared<slipway::net::TicketKeys>(),
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    if (!ctx.ok()) {
      std::fprintf(stderr, "testapp: TLS_CERT/TLS_KEY: %s\n", ctx.status().message().c_str());
      return 1;
    }
    tls = std::move(ctx).value();
  }

  std::vector<Worker> workers(static_cast<size_t>(threads));
  for (auto& w : workers) {
    if (!StartWorker(cfg, host, port, threads > 1, tls, &w)) return 1;
    // PORT=0: the first listener picks the port, the others share it.
    auto bound = slipway::net::LocalPort(w.server->listen_fd());
    if (bound.ok()) port = *bound;
  }
  slipway::net::EventLoop* main_loop = workers[0].loop.get();

  int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) return 1;
  (void)main_loop->Add(sfd, EPOLLIN, [](uint32_t) {
    std::fflush(stdout);
    _exit(0);
  });
  double crash_s = EnvDouble("CRASH_AFTER_S", 0);
  if (crash_s > 0) {
    main_loop->RunAfter(Duration(static_cast<long>(crash_s * 1000)), [] {
      std::fprintf(stderr, "testapp: CRASH_AFTER_S reached, exiting with 3\n");
      _exit(3);
    });
  }
  std::printf("testapp: %s listening on %s:%d (threads=%d, version=%s%s)\n", cfg.service.c_str(),
              host.c_str(), port, threads, cfg.version.c_str(), tls ? ", https" : "");
  std::fflush(stdout);

  std::vector<std::thread> extra;
  for (size_t i = 1; i < workers.size(); ++i) {
    slipway::net::EventLoop* l = workers[i].loop.get();
    extra.emplace_back([l] { l->Run(); });
  }
  main_loop->Run();  // exits only through the signal or crash paths
  return 0;
}
