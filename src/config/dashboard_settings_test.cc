#include "config/dashboard_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

Result<Project> LoadDashboard(const std::string& block) {
  return LoadText("services:\n  web:\n    command: ./web\nx-slipway:\n  dashboard:\n" + block);
}

TEST(DashboardSettingsTest, PanelsLoadInOrderWithTheirUnits) {
  auto none = LoadText("services:\n  web:\n    command: ./web\n");
  ASSERT_TRUE(none.ok()) << ErrorOf(none);
  EXPECT_TRUE(none->dashboard.panels.empty());

  auto p = LoadDashboard(
      "    panels:\n"
      "      - title: Requests\n"
      "        expr: sum by (route) (rate(slipway_http_requests_total[1m]))\n"
      "        unit: req/s\n"
      "      - {title: \"Up, as a scalar\", expr: scalar(count(up))}\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  ASSERT_EQ(p->dashboard.panels.size(), 2u);
  EXPECT_EQ(p->dashboard.panels[0].title, "Requests");
  EXPECT_EQ(p->dashboard.panels[0].unit, PanelUnit::kRequestsPerSecond);
  EXPECT_EQ(p->dashboard.panels[1].expr, "scalar(count(up))");
  EXPECT_EQ(p->dashboard.panels[1].unit, PanelUnit::kNone);
  // An empty list is allowed (a board being written).
  p = LoadDashboard("    panels: []\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
}

TEST(DashboardSettingsTest, HostileInputIsOneLineWithFileLineAndKey) {
  std::string many = "    panels:\n";
  for (int i = 0; i < 51; ++i) many += "      - {title: t, expr: up}\n";
  const std::string long_title(201, 't');
  const std::string long_expr = "up" + std::string(4100, ' ');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    zz: 1\n", ":6:5: x-slipway.dashboard.zz: unknown key \"zz\" (expected one of panels)"},
      {"    panels: {title: a}\n", "x-slipway.dashboard.panels: is not a list"},
      {"    panels: [5]\n", "x-slipway.dashboard.panels[0]: "},
      {"    panels: [{expr: up}]\n", "x-slipway.dashboard.panels[0].title: is missing"},
      {"    panels: [{title: a}]\n", "x-slipway.dashboard.panels[0].expr: is missing"},
      {"    panels: [{title: a, expr: up, colour: red}]\n",
       "x-slipway.dashboard.panels[0].colour: unknown key \"colour\" (expected one of title, "
       "expr, unit)"},
      {"    panels: [{title: a, expr: up, unit: furlongs}]\n",
       "x-slipway.dashboard.panels[0].unit: "},
      {"    panels: [{title: a, expr: up, unit: \"\"}]\n", "x-slipway.dashboard.panels[0].unit: "},
      {"    panels: [{title: a, expr: 'sum(rate(x[1m]'}]\n",
       "x-slipway.dashboard.panels[0].expr: does not parse at char"},
      {"    panels: [{title: a, expr: 'x[5m]'}]\n",
       "x-slipway.dashboard.panels[0].expr: is a range vector"},
      {"    panels: [{title: a, expr: ''}]\n", "x-slipway.dashboard.panels[0].expr: is empty"},
      {"    panels: [{title: a, expr: [up]}]\n", "x-slipway.dashboard.panels[0].expr: "},
      {"    panels: [{title: '', expr: up}]\n",
       "x-slipway.dashboard.panels[0].title: is not a title"},
      {"    panels: [{title: \"a\\nb\", expr: up}]\n",
       "x-slipway.dashboard.panels[0].title: is not a title"},
      {"    panels: [{title: " + long_title + ", expr: up}]\n", "is not a title"},
      {"    panels: [{title: a, expr: '" + long_expr + "'}]\n", "longer than 4096 bytes"},
      {"    panels: [{title: {a: 1}, expr: up}]\n", "x-slipway.dashboard.panels[0].title: "},
      {many, "x-slipway.dashboard.panels: has more than 50 panels"},
      {"    [1, 2]\n", "x-slipway.dashboard: "},
  };
  for (const auto& [block, want] : cases) {
    auto p = LoadDashboard(block);
    ASSERT_FALSE(p.ok()) << block;
    const std::string err = ErrorOf(p);
    EXPECT_NE(err.find(want), std::string::npos) << block << "\n→ " << err;
    EXPECT_NE(err.find("compose.yaml:"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace slipway::config
