// The deploy strategies and compose's rollout settings as closed sets, each with its one name
// table (config/name_table.h) that the parser, `slipway config`, the CLI's --strategy check,
// error texts, the Kubernetes export and deploy/strategy_registry.cc all read.
//
// Constants and plain functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/name_table.h"

namespace slipway::config {

enum class DeployStrategy { kBlueGreen, kCanary, kRolling, kRecreate };
inline constexpr auto kDeployStrategyNames = MakeNameTable<DeployStrategy>({
    {DeployStrategy::kBlueGreen, "blue-green"},
    {DeployStrategy::kCanary, "canary"},
    {DeployStrategy::kRolling, "rolling"},
    {DeployStrategy::kRecreate, "recreate"},
});
// "blue-green, canary, rolling or recreate", for messages and help texts.
const std::string& DeployStrategyList();
std::string_view DeployStrategyName(DeployStrategy s);
std::optional<DeployStrategy> ParseDeployStrategy(std::string_view name);

// update_config / rollback_config `failure_action` (rollback_config does not take rollback).
enum class FailureAction { kPause, kContinue, kRollback };
inline constexpr auto kFailureActionNames = MakeNameTable<FailureAction>({
    {FailureAction::kRollback, "rollback"},
    {FailureAction::kContinue, "continue"},
    {FailureAction::kPause, "pause"},
});
// update_config / rollback_config `order`.
enum class UpdateOrder { kStopFirst, kStartFirst };
inline constexpr auto kUpdateOrderNames = MakeNameTable<UpdateOrder>({
    {UpdateOrder::kStopFirst, "stop-first"},
    {UpdateOrder::kStartFirst, "start-first"},
});
std::string_view FailureActionName(FailureAction a);  // "pause", "continue", "rollback"
std::string_view UpdateOrderName(UpdateOrder o);      // "stop-first", "start-first"

}  // namespace slipway::config
