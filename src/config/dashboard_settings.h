// Dashboard settings: `x-slipway.dashboard`, the panels the dashboard's Metrics view charts
// for this project (a team's Grafana board, expressed in the compose file), parsed at load
// time.
//
//   x-slipway:
//     dashboard:
//       panels:
//         - title: Requests per second     # shown above the chart
//           expr: sum by (route) (rate(slipway_http_requests_total[1m]))
//           unit: req/s                    # optional: bytes, seconds, ratio, percent, req/s
//
// Each expression must parse as PromQL and give an instant vector or a scalar (the query API
// charts it over a range); errors are one line "file:line:col: path: what (expected ...)".
// At most kMaxDashboardPanels panels; titles at most kMaxPanelTitle bytes, expressions at most
// kMaxPanelExpr bytes. Served by GET /api/v1/dashboard. Plain data; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/name_table.h"

namespace slipway::config {

struct Node;

inline constexpr size_t kMaxDashboardPanels = 50;
inline constexpr size_t kMaxPanelTitle = 200;
inline constexpr size_t kMaxPanelExpr = 4096;

// How a panel's values are shown (closed: the dashboard formats each).
enum class PanelUnit { kNone, kBytes, kSeconds, kRatio, kPercent, kRequestsPerSecond };
inline constexpr auto kPanelUnitNames = MakeNameTable<PanelUnit>({
    {PanelUnit::kNone, ""},
    {PanelUnit::kBytes, "bytes"},
    {PanelUnit::kSeconds, "seconds"},
    {PanelUnit::kRatio, "ratio"},
    {PanelUnit::kPercent, "percent"},
    {PanelUnit::kRequestsPerSecond, "req/s"},
});

struct DashboardPanel {
  std::string title;
  std::string expr;
  PanelUnit unit = PanelUnit::kNone;
};

struct DashboardSettings {
  std::vector<DashboardPanel> panels;
};

Status ParseDashboardSettings(const Node& n, const std::string& path, DashboardSettings* out);

}  // namespace slipway::config
