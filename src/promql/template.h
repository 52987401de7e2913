// Alert templates: the small part of Prometheus' Go templates that labels and annotations use.
//
// Text with `{{ ... }}` actions. An action is a term, optionally piped through functions:
//   terms:      $value  .Value  $labels.NAME  .Labels.NAME  $externalLabels.NAME (empty)
//               printf "%.2f" TERM      (one verb: d i f e g s with flags/width/precision)
//   functions:  humanize  humanizePercentage  humanizeDuration  toUpper  toLower
// Anything else is refused by CheckTemplate, at load, so a rule never fails at fire time;
// the same text stays valid for Prometheus (`slipway alerts export`).
//
// Pure functions; any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::promql {

// InvalidInput "at char N: what" (1-based) for text that would not render.
Status CheckTemplate(std::string_view text);

// Renders `text`; a missing label renders as "" (as in Prometheus).
Result<std::string> RenderTemplate(std::string_view text,
                                   const std::map<std::string, std::string>& labels, double value);

// Prometheus' humanize: 1234567 -> "1.235M", 0.0012 -> "1.2m".
std::string Humanize(double v);

}  // namespace slipway::promql
