#include "promql/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "promql/series_store.h"  // LabelValue, LabelsToString

namespace slipway::promql {
namespace {

std::string Err(std::string_view text, const ExpositionLimits& lim = {}) {
  auto r = ParseExposition(text, lim);
  return r.ok() ? "" : r.status().message();
}

TEST(Exposition, ParsesWhatPrometheusClientsWrite) {
  auto r = ParseExposition(
      "# HELP http_requests_total The total.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\",}    3\r\n"
      "# a plain comment\n"
      "\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
      "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
      "metric_without_labels 12.47\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "nan_metric NaN\n"
      "rpc_duration_seconds_bucket{le=\"+Inf\"} 2693\n"
      "empty{} -0.5\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 8u);
  EXPECT_EQ(LabelsToString((*r)[0].labels), "http_requests_total{code=\"200\", method=\"post\"}");
  EXPECT_EQ((*r)[0].value, 1027);
  EXPECT_EQ((*r)[1].value, 3);
  EXPECT_EQ(LabelValue((*r)[2].labels, "path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(LabelValue((*r)[2].labels, "error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_TRUE(std::isinf((*r)[4].value));
  EXPECT_TRUE(std::isnan((*r)[5].value));
  EXPECT_EQ((*r)[7].value, -0.5);
}

TEST(Exposition, HostileTextIsOneLineErrorWithTheLine) {
  EXPECT_EQ(Err("ok 1\nx{a=\"1} 2\n"),
            "line 2: unterminated value of label a (expected a closing \")");
  EXPECT_NE(Err("x abc\n").find("line 1: abc is not a number"), std::string::npos);
  EXPECT_NE(Err("x 0x10\n").find("is not a number"), std::string::npos);
  EXPECT_NE(Err("x  infinity\n").find("is not a number"), std::string::npos);
  EXPECT_NE(Err("9x 1\n").find("no metric name"), std::string::npos);
  EXPECT_NE(Err("x{9a=\"1\"} 1\n").find("bad label name"), std::string::npos);
  EXPECT_NE(Err("x{a=\"1\" b=\"2\"} 1\n").find("not separated"), std::string::npos);
  EXPECT_NE(Err("x{a=\"1\",a=\"2\"} 1\n").find("label a given twice"), std::string::npos);
  EXPECT_NE(Err("x{a=\"\\t\"} 1\n").find("escape"), std::string::npos);
  EXPECT_NE(Err("x{a=1} 1\n").find("has no =\"value\""), std::string::npos);
  EXPECT_NE(Err("x\n").find("no value"), std::string::npos);
  EXPECT_NE(Err("x 1 12.5\n").find("not a timestamp"), std::string::npos);
  EXPECT_NE(Err("# TYPE x countr\n").find("not a metric type"), std::string::npos);
  EXPECT_NE(Err("# HELP 1x y\n").find("names no metric"), std::string::npos);
  EXPECT_NE(Err("x{a=\"1\"\n").find("not separated"), std::string::npos);
  EXPECT_NE(Err("x{a=\"\\").find("unterminated"), std::string::npos);
  EXPECT_NE(Err(std::string("x\0 1\n", 5)).find("line 1"), std::string::npos);
}

TEST(Exposition, LimitsBoundWhatATargetCosts) {
  ExpositionLimits lim;
  lim.max_samples = 2;
  lim.max_label_length = 8;
  lim.max_labels = 3;
  EXPECT_EQ(Err("a 1\nb 2\n", lim), "");
  EXPECT_NE(Err("a 1\nb 2\nc 3\n", lim).find("line 3: more than 2 samples"), std::string::npos);
  EXPECT_NE(Err("a{x=\"123456789\"} 1\n", lim).find("longer than 8 bytes"), std::string::npos);
  EXPECT_NE(Err("a{abcdefghi=\"1\"} 1\n", lim).find("longer than 8 bytes"), std::string::npos);
  EXPECT_NE(Err("abcdefghi 1\n", lim).find("longer than 8 bytes"), std::string::npos);
  EXPECT_NE(Err("a{x=\"1\",y=\"2\",z=\"3\"} 1\n", lim).find("more than 3 labels"),
            std::string::npos);
  // A long run of garbage is linear work and one error.
  std::string big(1 << 20, '{');
  EXPECT_NE(Err(big).find("line 1"), std::string::npos);
}

}  // namespace
}  // namespace slipway::promql
