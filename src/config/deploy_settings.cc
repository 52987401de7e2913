#include "config/deploy_settings.h"

#include <algorithm>

#include "config/deploy_strategy.h"
#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
namespace {

bool IsBuiltinStep(const Node& n) {
  return n.IsScalar() && (n.scalar == "backup" || n.scalar == "migrate");
}

Result<HookStep> ReadStep(const Node& n, const std::string& path) {
  HookStep step;
  step.where = n.loc.ToString();
  step.path = path;
  if (IsBuiltinStep(n)) {
    step.kind = n.scalar == "backup" ? HookStep::Kind::kBackup : HookStep::Kind::kMigrate;
    return step;
  }
  if (!n.IsMap() || n.children.size() != 1) {
    return NodeError(n, path, "is not a step",
                     "backup, migrate, {backup: DB}, {migrate: DB} or {run: command}");
  }
  const Node& v = n.children.front();
  const std::string vpath = JoinPath(path, v.key);
  if (v.key == "run") {
    ASSIGN_OR_RETURN(step.command, ReadCommand(v, vpath));
    if (step.command.empty()) return NodeError(v, vpath, "is empty", "a command");
    return step;
  }
  if (v.key != "backup" && v.key != "migrate") {
    return NodeError(v, vpath, "unknown step " + Quote(v.key), "one of backup, migrate, run");
  }
  step.kind = v.key == "backup" ? HookStep::Kind::kBackup : HookStep::Kind::kMigrate;
  if (!v.IsNull()) {
    ASSIGN_OR_RETURN(step.database, ReadString(v, vpath));
  }
  return step;
}

// `hooks.pre`: a command (string or argv) or a list of steps (see HookStep).
Result<std::vector<HookStep>> ReadHookSteps(const Node& n, const std::string& path) {
  bool steps = n.IsSeq() && std::any_of(n.children.begin(), n.children.end(), [](const Node& c) {
                 return !c.IsScalar() || IsBuiltinStep(c);
               });
  if (!steps && IsBuiltinStep(n)) return std::vector<HookStep>{*ReadStep(n, path)};
  if (!steps) {
    HookStep one;
    one.where = n.loc.ToString();
    one.path = path;
    ASSIGN_OR_RETURN(one.command, ReadCommand(n, path));
    if (one.command.empty()) return std::vector<HookStep>{};
    return std::vector<HookStep>{one};
  }
  std::vector<HookStep> out;
  for (size_t i = 0; i < n.children.size(); ++i) {
    ASSIGN_OR_RETURN(HookStep s, ReadStep(n.children[i], IndexPath(path, i)));
    out.push_back(std::move(s));
  }
  return out;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Status ReadPositiveDuration(const Node& n, const std::string& path, bool allow_zero,
                            Duration* out) {
  ASSIGN_OR_RETURN(Duration d, ReadDuration(n, path));
  if (d.count() < 0 || (!allow_zero && d.count() == 0)) {
    return NodeError(n, path, n.Describe() + " is out of range",
                     allow_zero ? "a duration >= 0" : "a duration > 0");
  }
  *out = d;
  return Status::OK();
}

Status ParseAnalysis(const Node& n, const std::string& path, DeployAnalysis* a) {
  static const std::vector<std::string> kKeys = {"max_error_rate",  "max_p95",      "p95_factor",
                                                 "health_failures", "min_requests", "window",
                                                 "interval"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with " + Joined(kKeys)));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "max_error_rate") {
      ASSIGN_OR_RETURN(a->max_error_rate, ReadDouble(f, fpath));
      if (a->max_error_rate < 0 || a->max_error_rate > 1) {
        return NodeError(f, fpath, f.Describe() + " is out of range", "a share from 0 to 1");
      }
    } else if (f.key == "max_p95") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, false, &a->max_p95));
    } else if (f.key == "p95_factor") {
      ASSIGN_OR_RETURN(a->p95_factor, ReadDouble(f, fpath));
      if (a->p95_factor < 1) {
        return NodeError(f, fpath, f.Describe() + " is out of range", "a factor >= 1");
      }
    } else if (f.key == "health_failures") {
      ASSIGN_OR_RETURN(a->health_failures, ReadInt(f, fpath));
      if (a->health_failures < 1) {
        return NodeError(f, fpath, f.Describe() + " is out of range", "a count >= 1");
      }
    } else if (f.key == "min_requests") {
      ASSIGN_OR_RETURN(a->min_requests, ReadInt(f, fpath));
      if (a->min_requests < 0) {
        return NodeError(f, fpath, f.Describe() + " is out of range", "a count >= 0");
      }
    } else if (f.key == "window") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, false, &a->window));
    } else if (f.key == "interval") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, false, &a->interval));
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key), "one of " + Joined(kKeys));
    }
  }
  return Status::OK();
}

}  // namespace

std::string HookStep::Describe() const {
  switch (kind) {
    case Kind::kBackup:
      return database.empty() ? "backup" : "backup " + database;
    case Kind::kMigrate:
      return database.empty() ? "migrate" : "migrate " + database;
    case Kind::kRun:
      break;
  }
  std::string out = "run";
  for (const std::string& w : command) out += " " + w;
  return out;
}

const std::vector<std::string>& DeploySettingsKeys() {
  static const std::vector<std::string> kKeys = {
      "strategy", "steps",  "step_duration", "monitor", "health_timeout", "rollback_window",
      "drain",    "sticky", "smoke",         "hooks",   "analysis"};
  return kKeys;
}

const std::vector<std::string>& DeployStrategies() {
  static const std::vector<std::string> kNames = kDeployStrategyNames.Names();
  return kNames;
}

std::string_view FailureActionName(FailureAction a) { return kFailureActionNames.Name(a); }

std::string_view UpdateOrderName(UpdateOrder o) { return kUpdateOrderNames.Name(o); }

const std::string& DeployStrategyList() {
  static const std::string kList = kDeployStrategyNames.List();
  return kList;
}

std::string_view DeployStrategyName(DeployStrategy s) { return kDeployStrategyNames.Name(s); }

std::optional<DeployStrategy> ParseDeployStrategy(std::string_view name) {
  return kDeployStrategyNames.Parse(name);
}

Status ParseDeploySettings(const Node& n, const std::string& path, DeploySettings* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with " + Joined(DeploySettingsKeys())));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "strategy") {
      ASSIGN_OR_RETURN(out->strategy, ReadEnum(f, fpath, kDeployStrategyNames));
    } else if (f.key == "steps") {
      if (!f.IsSeq() || f.children.empty()) {
        return NodeError(f, fpath, f.Describe() + " is not a list of weights",
                         "e.g. [5, 25, 50, 100]");
      }
      out->steps.clear();
      int prev = 0;
      for (size_t i = 0; i < f.children.size(); ++i) {
        const Node& item = f.children[i];
        const std::string ipath = IndexPath(fpath, i);
        ASSIGN_OR_RETURN(int w, ReadInt(item, ipath));
        if (w <= prev || w > 100) {
          return NodeError(item, ipath, item.Describe() + " is out of order or range",
                           "increasing percentages from 1 to 100");
        }
        prev = w;
        out->steps.push_back(w);
      }
      if (out->steps.back() != 100) out->steps.push_back(100);
    } else if (f.key == "step_duration") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, true, &out->step_duration));
    } else if (f.key == "monitor") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, true, &out->monitor));
    } else if (f.key == "health_timeout") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, false, &out->health_timeout));
    } else if (f.key == "rollback_window") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, true, &out->rollback_window));
    } else if (f.key == "drain") {
      RETURN_IF_ERROR(ReadPositiveDuration(f, fpath, true, &out->drain));
    } else if (f.key == "sticky") {
      ASSIGN_OR_RETURN(std::string v, ReadString(f, fpath));
      if (v == "true") {
        out->sticky_cookie = "slipway_set";
      } else if (v == "false" || v.empty()) {
        out->sticky_cookie.clear();
      } else {
        out->sticky_cookie = v;
      }
    } else if (f.key == "smoke") {
      ASSIGN_OR_RETURN(out->smoke, ReadCommand(f, fpath));
    } else if (f.key == "hooks") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, "a mapping with pre, post"));
      for (const Node& h : f.children) {
        const std::string hpath = JoinPath(fpath, h.key);
        if (h.key == "pre") {
          ASSIGN_OR_RETURN(out->pre_hook, ReadHookSteps(h, hpath));
        } else if (h.key == "post") {
          ASSIGN_OR_RETURN(out->post_hook, ReadCommand(h, hpath));
        } else {
          return NodeError(h, hpath, "unknown key " + Quote(h.key), "one of pre, post");
        }
      }
    } else if (f.key == "analysis") {
      RETURN_IF_ERROR(ParseAnalysis(f, fpath, &out->analysis));
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key),
                       "one of " + Joined(DeploySettingsKeys()));
    }
  }
  return Status::OK();
}

}  // namespace slipway::config
