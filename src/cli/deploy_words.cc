#include "cli/deploy_words.h"

#include <fmt/format.h>

#include <optional>
#include <string_view>

namespace slipway::cli {
namespace {

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The job verbs, which name one service's running deploy.
constexpr DeployVerb kJobVerbs[] = {DeployVerb::kPause, DeployVerb::kResume, DeployVerb::kPromote};

}  // namespace

const char* DeployVerbWord(DeployVerb v) {
  switch (v) {
    case DeployVerb::kDeploy:
      return "deploy";
    case DeployVerb::kPause:
      return "pause";
    case DeployVerb::kResume:
      return "resume";
    case DeployVerb::kPromote:
      return "promote";
  }
  return "deploy";
}

Result<DeployRequest> ReadDeployWords(const DeployWords& words,
                                      const std::set<std::string>& services) {
  std::vector<std::string> named = words.service_flags;
  named.insert(named.end(), words.after_dashes.begin(), words.after_dashes.end());
  const std::vector<std::string>& pos = words.positional;
  std::optional<DeployVerb> job_verb;
  for (DeployVerb v : kJobVerbs) {
    if (!pos.empty() && pos[0] == DeployVerbWord(v)) job_verb = v;
  }
  const bool verb_word = job_verb.has_value();
  // `deploy pause` alone, with a service of that name: the service, not the verb.
  const bool alone = pos.size() == 1 && named.empty();
  DeployRequest req;
  if (verb_word && !(alone && services.count(pos[0]))) {
    const std::string& verb = pos[0];
    std::vector<std::string> targets(pos.begin() + 1, pos.end());
    targets.insert(targets.end(), named.begin(), named.end());
    if (targets.empty()) {
      return InvalidInput(fmt::format(
          "deploy {0}: which service? (slipway deploy {0} SERVICE; there is no service named "
          "\"{0}\" to deploy)",
          verb));
    }
    if (targets.size() > 1) {
      return InvalidInput(fmt::format(
          "deploy {0}: one service at a time, got {1} ({2}); to deploy services with these "
          "names write slipway deploy --service NAME or slipway deploy -- {0} ...",
          verb, targets.size(), Joined(targets)));
    }
    req.verb = *job_verb;
    req.service = targets[0];
    return req;
  }
  if (words.reason_given) {
    return InvalidInput("deploy: --reason is for slipway deploy pause|resume|promote SERVICE");
  }
  req.services = pos;
  req.services.insert(req.services.end(), named.begin(), named.end());
  return req;
}

DeployWords SplitAtDashes(std::vector<std::string> positional, int argc, const char* const* argv) {
  DeployWords w;
  int deploy_at = -1;
  int after = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (deploy_at < 0) {
      if (a == "deploy") deploy_at = i;
      continue;
    }
    if (a == "--") {
      after = argc - i - 1;
      break;
    }
  }
  const size_t split =
      positional.size() >= static_cast<size_t>(after) ? positional.size() - after : 0;
  w.positional.assign(positional.begin(), positional.begin() + static_cast<ptrdiff_t>(split));
  w.after_dashes.assign(positional.begin() + static_cast<ptrdiff_t>(split), positional.end());
  return w;
}

}  // namespace slipway::cli
