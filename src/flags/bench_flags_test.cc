// Not a test: the in-process half of bench/flags.sh, run explicitly with
//   flags_tests --gtest_also_run_disabled_tests --gtest_filter=FlagsBench.DISABLED_Evaluate
// Environment: SLIPWAY_BENCH_FLAGS (a flagd document), SLIPWAY_BENCH_CONTEXTS (a JSON array of
// evaluation contexts), SLIPWAY_BENCH_CASES ("name=flagKey,..."), SLIPWAY_BENCH_SECONDS (per
// case, default 1). For each case it evaluates the flag over the contexts in a loop and prints
// one JSON line {"case", "flag", "evals_per_s", "variants": {name: count over one pass}}; the
// variant counts let the script check that flagd-core gave the same answers. Kept in the test
// binary so the bench needs no extra build target.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "flags/flag_set.h"

namespace slipway::flags {
namespace {

Json ReadJson(const char* env) {
  const char* path = std::getenv(env);
  if (path == nullptr) return Json();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
}

TEST(FlagsBench, DISABLED_Evaluate) {
  Json doc = ReadJson("SLIPWAY_BENCH_FLAGS");
  Json contexts = ReadJson("SLIPWAY_BENCH_CONTEXTS");
  const char* cases_env = std::getenv("SLIPWAY_BENCH_CASES");
  ASSERT_TRUE(doc.is_object()) << "set SLIPWAY_BENCH_FLAGS to a flagd document";
  ASSERT_TRUE(contexts.is_array() && !contexts.empty()) << "set SLIPWAY_BENCH_CONTEXTS";
  ASSERT_NE(cases_env, nullptr) << "set SLIPWAY_BENCH_CASES=name=flag,...";
  const char* secs_env = std::getenv("SLIPWAY_BENCH_SECONDS");
  const double seconds = secs_env ? std::atof(secs_env) : 1.0;
  auto set = FlagSet::Parse(doc, "bench");
  ASSERT_TRUE(set.ok()) << set.status().message();

  std::vector<std::pair<std::string, std::string>> cases;
  std::stringstream ss(cases_env);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t eq = item.find('=');
    ASSERT_NE(eq, std::string::npos) << item;
    cases.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  const std::vector<Json> ctx(contexts.begin(), contexts.end());
  const int64_t now_s = std::time(nullptr);
  using SteadyClock = std::chrono::steady_clock;

  for (const auto& [name, key] : cases) {
    std::map<std::string, int> variants;
    for (const Json& c : ctx) {
      Evaluation e = (*set)->Evaluate(key, c, now_s);
      ASSERT_NE(e.reason, Reason::kError) << key << ": " << e.error_message;
      variants[e.variant ? *e.variant : "(none)"]++;
    }
    // Warm-up pass, then whole passes over the contexts until the time is up.
    size_t sink = 0;
    for (const Json& c : ctx) sink += (*set)->Evaluate(key, c, now_s).variant != nullptr;
    uint64_t n = 0;
    auto start = SteadyClock::now();
    auto deadline = start + std::chrono::duration<double>(seconds);
    SteadyClock::time_point end;
    do {
      for (const Json& c : ctx) sink += (*set)->Evaluate(key, c, now_s).variant != nullptr;
      n += ctx.size();
      end = SteadyClock::now();
    } while (end < deadline);
    double elapsed = std::chrono::duration<double>(end - start).count();
    Json line = {{"case", name},
                 {"flag", key},
                 {"evals_per_s", static_cast<double>(n) / elapsed},
                 {"variants", variants},
                 {"sink", sink}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace slipway::flags
