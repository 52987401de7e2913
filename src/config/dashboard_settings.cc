#include "config/dashboard_settings.h"

#include <optional>

#include "config/alerts_settings.h"
#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
namespace {

const char kPanelKeys[] = "one of title, expr, unit";

// A title is one line of text: no control characters.
bool PrintableLine(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) return false;
  }
  return true;
}

Status ParsePanel(const Node& n, const std::string& path, DashboardPanel* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with title, expr and unit"));
  const Node* expr = nullptr;
  bool has_title = false;
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "title") {
      ASSIGN_OR_RETURN(out->title, ReadString(f, fpath));
      if (out->title.empty() || out->title.size() > kMaxPanelTitle || !PrintableLine(out->title)) {
        return NodeError(f, fpath, "is not a title",
                         "one line of text, 1 to " + std::to_string(kMaxPanelTitle) + " bytes");
      }
      has_title = true;
    } else if (f.key == "expr") {
      ASSIGN_OR_RETURN(out->expr, ReadString(f, fpath));
      if (out->expr.empty() || out->expr.size() > kMaxPanelExpr) {
        return NodeError(f, fpath,
                         "is empty or longer than " + std::to_string(kMaxPanelExpr) + " bytes",
                         "a PromQL expression");
      }
      expr = &f;
    } else if (f.key == "unit") {
      ASSIGN_OR_RETURN(out->unit, ReadEnum(f, fpath, kPanelUnitNames,
                                           std::optional<PanelUnit>(PanelUnit::kNone)));
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key), kPanelKeys);
    }
  }
  if (!has_title) return NodeError(n, JoinPath(path, "title"), "is missing", "a title");
  if (!expr) return NodeError(n, JoinPath(path, "expr"), "is missing", "a PromQL expression");
  return CheckRuleExpr(*expr, JoinPath(path, "expr"), out->expr);
}

}  // namespace

Status ParseDashboardSettings(const Node& n, const std::string& path, DashboardSettings* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with panels"));
  for (const Node& g : n.children) {
    const std::string gpath = JoinPath(path, g.key);
    if (g.key != "panels")
      return NodeError(g, gpath, "unknown key " + Quote(g.key), "one of panels");
    if (g.kind != Node::Kind::kSeq) {
      return NodeError(g, gpath, "is not a list", "a list of {title, expr, unit}");
    }
    if (g.children.size() > kMaxDashboardPanels) {
      return NodeError(g, gpath, "has more than " + std::to_string(kMaxDashboardPanels) + " panels",
                       "at most " + std::to_string(kMaxDashboardPanels));
    }
    out->panels.clear();
    for (size_t i = 0; i < g.children.size(); ++i) {
      DashboardPanel p;
      RETURN_IF_ERROR(ParsePanel(g.children[i], IndexPath(gpath, i), &p));
      out->panels.push_back(std::move(p));
    }
  }
  return Status::OK();
}

}  // namespace slipway::config
