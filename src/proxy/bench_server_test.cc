// Not a test: a proxy process for bench/proxy.sh, run explicitly with
//   proxy_tests --gtest_also_run_disabled_tests --gtest_filter=ProxyBench.DISABLED_Serve
// Environment: SLIPWAY_BENCH_PORT (listen port on 127.0.0.1), SLIPWAY_BENCH_UPSTREAMS
// (comma-separated upstream ports), SLIPWAY_BENCH_WORKERS (default 1), SLIPWAY_BENCH_SECONDS
// (how long to serve, default 60). Prints "ready" once listening. bench/proxy.sh measures the
// daemon; this serves the proxy library alone, to compare the two in front of one upstream.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "proxy/proxy.h"

namespace slipway::proxy {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

TEST(ProxyBench, DISABLED_Serve) {
  int port = EnvInt("SLIPWAY_BENCH_PORT", 0);
  ASSERT_GT(port, 0) << "set SLIPWAY_BENCH_PORT";
  const char* ups = std::getenv("SLIPWAY_BENCH_UPSTREAMS");
  ASSERT_TRUE(ups) << "set SLIPWAY_BENCH_UPSTREAMS";
  ProxyOptions opt;
  opt.workers = EnvInt("SLIPWAY_BENCH_WORKERS", 1);
  telemetry::Registry reg(Proxy::ShardsFor(opt.workers));
  auto p = Proxy::Create(opt, &reg);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto t = std::make_shared<RouteTable>();
  Listener l;
  l.host = "127.0.0.1";
  l.port = port;
  Route r;
  r.service = "bench";
  InstanceSet s;
  s.name = "blue";
  std::stringstream ss(ups);
  std::string item;
  while (std::getline(ss, item, ','))
    s.backends.push_back(Backend{"127.0.0.1", std::atoi(item.c_str()), "bench"});
  r.sets.push_back(s);
  l.routes.push_back(r);
  t->listeners.push_back(l);
  Status st = (*p)->Apply(t);
  ASSERT_TRUE(st.ok()) << st.message();
  std::printf("ready\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(EnvInt("SLIPWAY_BENCH_SECONDS", 60)));
  (*p)->Stop();
}

}  // namespace
}  // namespace slipway::proxy
