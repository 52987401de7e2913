#include "daemon/traffic_rates.h"

#include <gtest/gtest.h>

namespace slipway::daemon {
namespace {

MonoTime At(int64_t ms) { return MonoTime(std::chrono::milliseconds(ms)); }

TEST(TrafficRatesTest, UnknownUntilTwoSamples) {
  TrafficRates rates;
  EXPECT_FALSE(rates.RateOf("api").known);
  rates.Sample(At(0), {{"api", {100, 0}}});
  EXPECT_FALSE(rates.RateOf("api").known);
}

TEST(TrafficRatesTest, RateAndErrorShareOverTheWindow) {
  TrafficRates rates(Duration(10'000));
  rates.Sample(At(0), {{"api", {0, 0}}});
  rates.Sample(At(5'000), {{"api", {500, 10}}});
  rates.Sample(At(10'000), {{"api", {1000, 50}}});
  TrafficRate r = rates.RateOf("api");
  ASSERT_TRUE(r.known);
  EXPECT_DOUBLE_EQ(r.requests_per_second, 100.0);
  EXPECT_DOUBLE_EQ(r.error_ratio, 0.05);
  // Older points leave the window: the rate follows the recent traffic.
  rates.Sample(At(15'000), {{"api", {1000, 50}}});
  rates.Sample(At(20'000), {{"api", {1000, 50}}});
  r = rates.RateOf("api");
  EXPECT_DOUBLE_EQ(r.requests_per_second, 0.0);
  EXPECT_DOUBLE_EQ(r.error_ratio, 0.0);
}

TEST(TrafficRatesTest, ADecreasingTotalRestartsTheHistory) {
  TrafficRates rates;
  rates.Sample(At(0), {{"api", {1000, 10}}});
  rates.Sample(At(1'000), {{"api", {1100, 10}}});
  rates.Sample(At(2'000), {{"api", {50, 0}}});  // a retired set's counters dropped out
  EXPECT_FALSE(rates.RateOf("api").known);
  rates.Sample(At(3'000), {{"api", {150, 0}}});
  EXPECT_DOUBLE_EQ(rates.RateOf("api").requests_per_second, 100.0);
}

TEST(TrafficRatesTest, ServicesThatDisappearAreForgotten) {
  TrafficRates rates;
  rates.Sample(At(0), {{"api", {0, 0}}, {"web", {0, 0}}});
  rates.Sample(At(1'000), {{"api", {10, 0}}});
  EXPECT_FALSE(rates.RateOf("web").known);
  EXPECT_TRUE(rates.RateOf("api").known);
}

}  // namespace
}  // namespace slipway::daemon
