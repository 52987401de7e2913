// The deploy strategies and compose's rollout settings as closed sets. The strategy names are
// one list, DeployStrategies() (config/deploy_settings.h), which the parser checks
// `x-slipway.deploy.strategy` against; this enum is indexed like it, and the CLI's --strategy
// check, error texts, the Kubernetes export and deploy/strategy_registry.cc read it.
// update_config/rollback_config's failure_action and order are parsed (checked against their
// names) by config/service_parser.cc and read as enums here.
//
// Plain functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace slipway::config {

enum class DeployStrategy { kBlueGreen, kCanary, kRolling, kRecreate };
// "blue-green, canary, rolling or recreate", for messages and help texts.
const std::string& DeployStrategyList();
std::string_view DeployStrategyName(DeployStrategy s);
std::optional<DeployStrategy> ParseDeployStrategy(std::string_view name);

enum class FailureAction { kPause, kContinue, kRollback };
enum class UpdateOrder { kStopFirst, kStartFirst };
std::string_view FailureActionName(FailureAction a);  // "pause", "continue", "rollback"
std::string_view UpdateOrderName(UpdateOrder o);      // "stop-first", "start-first"
// The names the parser accepted; anything else reads as compose's default.
FailureAction ParseFailureAction(std::string_view name);
UpdateOrder ParseUpdateOrder(std::string_view name);

}  // namespace slipway::config
