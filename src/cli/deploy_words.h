// What `slipway deploy WORDS...` asks for: a deploy of services, or the pause, resume or
// promote of one service's running deploy. `pause`, `resume` and `promote` are words a service
// may also be named, so the verb is read only in the first word before `--`, and only when it
// cannot mean the service:
//
//   slipway deploy pause api          pause api's deploy
//   slipway deploy promote api        end api's blue-green or canary judging: all traffic to it
//   slipway deploy pause              deploy the service named pause (an error without one)
//   slipway deploy --service pause    deploy the service named pause
//   slipway deploy -- pause resume    deploy the services named pause and resume
//   slipway deploy pause --service resume / pause -- resume   pause the deploy of `resume`
//
// A pure function over the parsed words (no I/O), so its rules are unit-tested; any thread.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace slipway::cli {

enum class DeployVerb { kDeploy, kPause, kResume, kPromote };

// The verb's word ("deploy", "pause", "resume", "promote").
const char* DeployVerbWord(DeployVerb v);

struct DeployWords {
  std::vector<std::string> positional;     // before `--`, in order
  std::vector<std::string> after_dashes;   // after `--`: always services
  std::vector<std::string> service_flags;  // each --service NAME: always a service
  bool reason_given = false;               // --reason, which only the job verbs take
};

struct DeployRequest {
  DeployVerb verb = DeployVerb::kDeploy;
  std::vector<std::string> services;  // kDeploy: the services (empty = every changed one)
  std::string service;                // kPause / kResume / kPromote: the one service
};

// `services`: the project's services. Errors are one line (InvalidInput).
Result<DeployRequest> ReadDeployWords(const DeployWords& words,
                                      const std::set<std::string>& services);

// Splits a CLI11 positional list by where `--` stood in `argv` (after the `deploy` word):
// CLI11 appends the words after `--` to the same list.
DeployWords SplitAtDashes(std::vector<std::string> positional, int argc, const char* const* argv);

}  // namespace slipway::cli
