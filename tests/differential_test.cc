// Differential test of Slipway's metrics against a real Prometheus server (Debian's
// `prometheus`): both scrape the same two testapp instances (run by Slipway as one service with
// two replicas) every second in the same run, while this test drives steady traffic at each
// instance at different rates (requests, 500s, and /slow requests that fill the latency
// histogram). Then a fixed list of PromQL queries goes through both HTTP query APIs,
// `/api/v1/query` and `/api/v1/query_range`, at the same times: the label sets must be
// identical and the values agree within the sampling error stated per query.
//
// Why values differ at all: the two servers scrape at different instants (each with its own
// phase within the second), so a sample each reads at time T is up to one scrape interval
// (I = 1 s) apart. With steady traffic at rate R:
//   - a raw counter differs by at most R·I; every counter value compared is read at least
//     24 s into the traffic (min_over_time's window starts then at the first range step), so
//     ≤ 1/24 ≈ 4.2 %; the tolerance is 8 % (about twice that, for the pacing jitter of a
//     loaded 2-core machine) plus 2 requests;
//   - rate/increase over W: each edge sample shifts by ≤ I, so the measured increase differs by
//     ≤ 2·R·I over a sampled span ≥ W − I: 2·I/(W − I) = 6.9 % for W = 30 s, 10.5 % for 20 s.
//     Tolerances 10 % and 15 % (1.5× for pacing jitter);
//   - irate reads the last two samples (~R·I requests): one request of pacing and the timing
//     jitter of each scrape (tens of ms under load) on ~40 requests: 30 %, plus 2/s for the
//     series at 1 request/s, where one request more or less in the last interval is 100 %;
//   - a quantile or a ratio of rates of the same target shares its sample instants, so the
//     extrapolation cancels: 10 %;
//   - gauges, up, time(), counts of constant series: exact; count_over_time over 30 s at 1 s
//     may see 29–31 samples on either side: ±2.
// Query times are chosen at a millisecond phase away from every scrape timestamp of either
// side, so no sample sits on a window's edge (Prometheus 2 counts a sample on the left edge of
// a range, Slipway does not; neither case arises then).
//
// Bounded: every wait has a deadline; Prometheus listens on 127.0.0.1 on a free port with a
// temporary storage directory, and is stopped by its PID.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/test_require.h"
#include "harness.h"

namespace slipway::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// GET with a longer bound than HttpGet's (a loaded machine, a range query).
int Get(int port, const std::string& target, std::string* body) {
  http::Endpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  http::Request req;
  req.target = target;
  auto r = http::Fetch(ep, req, Duration(15'000));
  if (!r.ok()) {
    *body = r.status().message();
    return 0;
  }
  *body = r->body;
  return r->status;
}

// A Prometheus server on 127.0.0.1:port with its own storage, stopped by PID.
class PrometheusServer {
 public:
  PrometheusServer(const std::filesystem::path& dir, const std::string& config) : dir_(dir) {
    std::ofstream(dir_ / "prometheus.yml") << config;
    port_ = FreePort();
    pid_ = fork();
    if (pid_ == 0) {
      int log = open((dir_ / "prometheus.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, 1);
      dup2(log, 2);
      std::string cfg = "--config.file=" + (dir_ / "prometheus.yml").string();
      std::string data = "--storage.tsdb.path=" + (dir_ / "data").string();
      std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      execl(kPrometheus, kPrometheus, cfg.c_str(), data.c_str(), listen.c_str(), "--log.level=warn",
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~PrometheusServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // 10 s, then SIGKILL
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(100ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFile(dir_ / "prometheus.log"); }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Steady traffic: one thread per (instance, path), each paced at `per_s` requests a second
// (a late request is sent at once, so the average holds).
class Traffic {
 public:
  void Add(int port, std::vector<std::string> paths, double per_s) {
    threads_.emplace_back([this, port, paths = std::move(paths), per_s] {
      const auto period = std::chrono::duration<double>(1.0 / per_s);
      const auto start = std::chrono::steady_clock::now();
      for (long i = 0; !stop_.load() && i < 1'000'000; ++i) {
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i));
        HttpGet(port, paths[static_cast<size_t>(i) % paths.size()]);
      }
    });
  }
  ~Traffic() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

struct Case {
  std::string expr;
  double rel = 0;  // allowed |a-b| = abs + rel * max(|a|, |b|)
  double abs = 0;
};

// A result as label set (JSON dump, sorted keys) → points (t in ms → value).
using Rows = std::map<std::string, std::map<int64_t, double>>;

double ParseValue(const json& v) {
  const std::string s = v.get<std::string>();
  if (s == "NaN") return std::nan("");
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  return std::stod(s);
}

int64_t Ms(const json& t) { return std::llround(t.get<double>() * 1000); }

// The rows of a Prometheus API answer (vector, scalar or matrix); false on an error answer.
bool ToRows(const std::string& body, Rows* rows, std::string* why) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") {
    *why = body.substr(0, 300);
    return false;
  }
  const json& data = j["data"];
  const std::string type = data.value("resultType", "");
  if (type == "scalar") {
    (*rows)["scalar"][Ms(data["result"][0])] = ParseValue(data["result"][1]);
    return true;
  }
  for (const json& r : data["result"]) {
    auto& pts = (*rows)[r["metric"].dump()];
    if (r.contains("value")) pts[Ms(r["value"][0])] = ParseValue(r["value"][1]);
    if (r.contains("values")) {
      for (const json& p : r["values"]) pts[Ms(p[0])] = ParseValue(p[1]);
    }
  }
  return true;
}

bool Close(double a, double b, const Case& c) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= c.abs + c.rel * std::max(std::fabs(a), std::fabs(b));
}

class Differential : public ::testing::Test {
 protected:
  // Both answers to one API call; label sets and timestamps must match, values be close.
  void Compare(const Case& c, const std::string& api_path, const std::string& params,
               double* worst_rel) {
    SCOPED_TRACE(c.expr + " via " + api_path + "?" + params);
    const std::string target = api_path + "?query=" + UrlEncode(c.expr) + "&" + params;
    std::string sb, pb;
    ASSERT_EQ(Get(slipway_port_, target, &sb), 200) << sb;
    ASSERT_EQ(Get(prom_port_, target, &pb), 200) << pb;
    Rows s, p;
    std::string why;
    ASSERT_TRUE(ToRows(sb, &s, &why)) << "slipway: " << why;
    ASSERT_TRUE(ToRows(pb, &p, &why)) << "prometheus: " << why;
    std::set<std::string> sk, pk;
    for (const auto& [k, v] : s) sk.insert(k);
    for (const auto& [k, v] : p) pk.insert(k);
    ASSERT_EQ(sk, pk) << "slipway:\n" << sb << "\nprometheus:\n" << pb;
    ASSERT_FALSE(sk.empty()) << "no result on either side: the query tests nothing\n" << sb;
    for (const auto& [labels, spts] : s) {
      const auto& ppts = p.at(labels);
      ASSERT_EQ(spts.size(), ppts.size()) << labels << "\nslipway:\n" << sb << "\nprom:\n" << pb;
      for (const auto& [t, sv] : spts) {
        auto it = ppts.find(t);
        ASSERT_NE(it, ppts.end()) << labels << " t=" << t;
        EXPECT_TRUE(Close(sv, it->second, c))
            << labels << " at " << t << ": slipway " << sv << ", prometheus " << it->second;
        const double m = std::max(std::fabs(sv), std::fabs(it->second));
        if (m > 0 && std::isfinite(m))
          *worst_rel = std::max(*worst_rel, std::fabs(sv - it->second) / m);
      }
    }
  }

  int slipway_port_ = 0;
  int prom_port_ = 0;
};

// The millisecond phases (t mod 1000) of every sample of `up` in the last 20 s on one side.
std::vector<int> Phases(int port, int64_t now_ms) {
  std::string body;
  std::vector<int> out;
  const std::string target =
      "/api/v1/query?query=" + UrlEncode("up[20s]") + "&time=" + std::to_string(now_ms / 1000.0);
  if (Get(port, target, &body) != 200) return out;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return out;
  for (const json& r : j["data"]["result"]) {
    for (const json& p : r["values"])
      out.push_back(static_cast<int>(((Ms(p[0]) % 1000) + 1000) % 1000));
  }
  return out;
}

TEST_F(Differential, SameQueriesSameAnswersAsPrometheus) {
  SLIPWAY_REQUIRE(std::filesystem::exists(kPrometheus), "prometheus (Debian prometheus)");
  const auto test_deadline = std::chrono::steady_clock::now() + 240s;
  Project project(R"(services:
  app:
    command: [")" +
                  std::string(TESTAPP_BIN) +
                  R"("]
    environment: {QUEUE_DEPTH: "7", VERSION: "3.4"}
    deploy: {replicas: 2}
    healthcheck: {interval: 200ms, start_interval: 100ms, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      metrics: {interval: 1s, timeout: 1s}
x-slipway:
  scrape: {retention: 10m}
)");
  CmdResult up = project.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  slipway_port_ = project.ApiPort();

  // Slipway's targets (their addresses and labels) become Prometheus' static targets.
  json targets;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string body;
        if (Get(slipway_port_, "/api/v1/targets", &body) != 200) return false;
        targets = json::parse(body, nullptr, false);
        if (targets.is_discarded()) return false;
        int healthy = 0;
        for (const json& t : targets["data"]["activeTargets"]) healthy += t["health"] == "up";
        return healthy == 2;
      },
      30s))
      << targets.dump();
  std::string static_configs;
  std::vector<int> ports;
  for (const json& t : targets["data"]["activeTargets"]) {
    const std::string instance = t["labels"]["instance"];
    ports.push_back(std::atoi(instance.substr(instance.rfind(':') + 1).c_str()));
    static_configs += "      - targets: [\"" + instance + "\"]\n        labels: {";
    std::string sep;
    for (const auto& [k, v] : t["labels"].items()) {
      if (k == "job" || k == "instance") continue;
      static_configs += sep + k + ": \"" + v.get<std::string>() + "\"";
      sep = ", ";
    }
    static_configs += "}\n";
  }
  ASSERT_EQ(ports.size(), 2u);

  char tmpl[] = "/tmp/slipway-diff-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  struct RemoveDir {
    std::filesystem::path p;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } remove_dir{dir};
  {
    PrometheusServer prom(dir,
                          "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                          "scrape_configs:\n  - job_name: app\n    static_configs:\n" +
                              static_configs);
    prom_port_ = prom.port();
    std::string body;
    ASSERT_TRUE(WaitFor(
        [&] {
          if (Get(prom_port_, "/api/v1/query?query=" + UrlEncode("count(up == 1)"), &body) != 200)
            return false;
          return body.find("\"2\"") != std::string::npos;
        },
        60s))
        << body << prom.Log();

    // Traffic: instance 0 at 40 requests/s, instance 1 at 15/s; 500s at 4/s and 1/s; /slow
    // with a cycle of delays at 10/s and 5/s (the histogram's 0.025 .. 0.25 buckets).
    const std::vector<std::string> slow = {"/slow?ms=20", "/slow?ms=40", "/slow?ms=40",
                                           "/slow?ms=70", "/slow?ms=200"};
    const auto traffic_start = std::chrono::system_clock::now();
    {
      Traffic traffic;
      traffic.Add(ports[0], {"/"}, 40);
      traffic.Add(ports[1], {"/"}, 15);
      traffic.Add(ports[0], {"/status/500"}, 4);
      traffic.Add(ports[1], {"/status/500"}, 1);
      traffic.Add(ports[0], slow, 10);
      traffic.Add(ports[1], slow, 5);
      // The earliest window read below starts 45 s before the last query time (offset 10s of
      // a 20s range, 15 s of steps): 50 s of traffic, then the queries while it goes on.
      std::this_thread::sleep_until(traffic_start + 52s);
      ASSERT_LT(std::chrono::steady_clock::now(), test_deadline);

      // The query time: 3 s ago, at the millisecond phase farthest from every scrape's.
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      std::vector<int> phases = Phases(slipway_port_, now_ms);
      std::vector<int> prom_phases = Phases(prom_port_, now_ms);
      ASSERT_FALSE(phases.empty());
      ASSERT_FALSE(prom_phases.empty());
      phases.insert(phases.end(), prom_phases.begin(), prom_phases.end());
      int best = 0, best_gap = -1;
      for (int ph = 0; ph < 1000; ph += 5) {
        int gap = 1000;
        for (int x : phases) {
          int d = std::abs(ph - x);
          gap = std::min(gap, std::min(d, 1000 - d));
        }
        if (gap > best_gap) best_gap = gap, best = ph;
      }
      const int64_t t_end = (now_ms / 1000 - 3) * 1000 + best;
      const std::string at = "time=" + fmt::format("{:.3f}", t_end / 1000.0);
      const std::string range =
          fmt::format("start={:.3f}&end={:.3f}&step=5", (t_end - 15'000) / 1000.0, t_end / 1000.0);
      std::printf("query time %lld (phase %d ms, %d ms from the nearest scrape)\n",
                  static_cast<long long>(t_end), best, best_gap);

      const double kCounter = 0.08, kRate30 = 0.10, kRate20 = 0.15, kIrate = 0.30, kRatio = 0.10;
      const std::vector<Case> cases = {
          {"up", 0, 0},
          {"up == 1", 0, 0},
          {"count(up)", 0, 0},
          {"testapp_queue_depth", 0, 0},
          {"testapp_queue_depth > bool 5", 0, 0},
          {"time()", 0, 0},
          {"time() - testapp_start_time_seconds", 0, 1e-6},
          {"(time() - testapp_start_time_seconds) > 10", 0, 1e-6},
          {"testapp_requests_total", kCounter, 2},
          {"testapp_requests_total offset 5s", kCounter, 2},
          {"rate(testapp_requests_total[30s])", kRate30, 0.2},
          {"increase(testapp_requests_total[30s])", kRate30, 6},
          {"irate(testapp_requests_total[30s])", kIrate, 2},
          {"rate(testapp_requests_total[20s] offset 10s)", kRate20, 0.3},
          {"sum by (code) (rate(testapp_requests_total[30s]))", kRate30, 0.2},
          {"sum without (instance, code) (rate(testapp_requests_total[30s]))", kRate30, 0.2},
          {"topk(1, rate(testapp_requests_total{code=\"200\"}[30s]))", kRate30, 0.2},
          {"bottomk(1, rate(testapp_requests_total{code=\"200\"}[30s]))", kRate30, 0.2},
          {"histogram_quantile(0.5, sum by (le, instance) "
           "(rate(testapp_request_duration_seconds_bucket[30s])))",
           kRatio, 0.001},
          {"histogram_quantile(0.95, sum by (le) "
           "(rate(testapp_request_duration_seconds_bucket[30s])))",
           kRatio, 0.001},
          {"histogram_quantile(0.9, rate(testapp_request_duration_seconds_bucket[30s]))", kRatio,
           0.001},
          {"sum by (instance) (rate(testapp_requests_total{code=\"500\"}[30s])) / sum by "
           "(instance) (rate(testapp_requests_total[30s]))",
           kRatio, 0.005},
          {"rate(testapp_requests_total[30s]) / on(instance) group_left sum by (instance) "
           "(rate(testapp_requests_total[30s]))",
           kRatio, 0.005},
          {"testapp_queue_depth * on(instance) group_left(version) testapp_build_info", 0, 0},
          {"avg_over_time(testapp_queue_depth[30s])", 0, 0},
          {"max_over_time(testapp_requests_total[30s])", kCounter, 2},
          {"min_over_time(testapp_requests_total[10s])", kCounter, 2},
          {"count_over_time(up[30s])", 0, 2},
          {"sum_over_time(up[30s])", 0, 2},
          {"quantile_over_time(0.5, testapp_queue_depth[30s])", 0, 0},
          {"stddev_over_time(testapp_queue_depth[30s])", 0, 0},
          {"delta(testapp_queue_depth[30s])", 0, 0},
          {"absent(testapp_nothing{job=\"x\"})", 0, 0},
          // Go's regex syntax, as both read it: named groups expanded by name, a flag.
          {"label_replace(up, \"port\", \"${port}\", \"instance\", "
           "\"(?P<host>[^:]+):(?P<port>[0-9]+)\")",
           0, 0},
          {"sum by (host) (label_replace(rate(testapp_requests_total[30s]), \"host\", \"$host\", "
           "\"instance\", \"(?i)(?P<host>[A-Z0-9.]+):.*\"))",
           kRate30, 0.2},
          {"count(up{instance=~\"(?i)127\\\\.0\\\\.0\\\\.1:[0-9]+\"})", 0, 0},
      };
      double worst_rel = 0;
      for (const Case& c : cases) {
        double case_rel = 0;
        Compare(c, "/api/v1/query", at, &case_rel);
        Compare(c, "/api/v1/query_range", range, &case_rel);
        std::printf("  %-100.100s largest relative difference %.4f (allowed %.2f + %g)\n",
                    c.expr.c_str(), case_rel, c.rel, c.abs);
        worst_rel = std::max(worst_rel, case_rel);
        ASSERT_LT(std::chrono::steady_clock::now(), test_deadline);
      }
      std::printf("%zu queries compared (instant and range); largest relative difference %.4f\n",
                  cases.size(), worst_rel);
    }
    EXPECT_FALSE(HasFailure()) << prom.Log();
  }
}

}  // namespace
}  // namespace slipway::testing
