#include "cli/deploy_words.h"

#include <gtest/gtest.h>

namespace slipway::cli {
namespace {

const std::set<std::string> kPlain = {"api", "web"};
const std::set<std::string> kClash = {"api", "pause", "resume"};

DeployWords Words(std::vector<std::string> positional, std::vector<std::string> after = {},
                  std::vector<std::string> flags = {}) {
  DeployWords w;
  w.positional = std::move(positional);
  w.after_dashes = std::move(after);
  w.service_flags = std::move(flags);
  return w;
}

TEST(DeployWordsTest, PauseAndResumeNameTheServiceAfterThem) {
  auto r = ReadDeployWords(Words({"pause", "api"}), kPlain);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->verb, DeployVerb::kPause);
  EXPECT_EQ(r->service, "api");
  r = ReadDeployWords(Words({"resume", "web"}), kPlain);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kResume);
  EXPECT_EQ(r->service, "web");
  // Also when services are named pause and resume: the verb needs its service.
  r = ReadDeployWords(Words({"pause", "resume"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kPause);
  EXPECT_EQ(r->service, "resume");
}

TEST(DeployWordsTest, PromoteNamesTheServiceAfterIt) {
  auto r = ReadDeployWords(Words({"promote", "api"}), kPlain);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->verb, DeployVerb::kPromote);
  EXPECT_EQ(r->service, "api");
  EXPECT_STREQ(DeployVerbWord(r->verb), "promote");
  // A service named promote, alone, is deployed; with --service it is promoted.
  const std::set<std::string> named = {"api", "promote"};
  r = ReadDeployWords(Words({"promote"}), named);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_EQ(r->services, std::vector<std::string>{"promote"});
  r = ReadDeployWords(Words({"promote"}, {}, {"promote"}), named);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kPromote);
  EXPECT_EQ(r->service, "promote");
  // One service at a time, and one is needed.
  r = ReadDeployWords(Words({"promote", "api", "web"}), kPlain);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deploy promote: one service at a time, got 2"),
            std::string::npos)
      << r.status().message();
  r = ReadDeployWords(Words({"promote"}), kPlain);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deploy promote: which service?"), std::string::npos);
}

TEST(DeployWordsTest, PlainWordsAreServicesToDeploy) {
  auto r = ReadDeployWords(Words({"api", "web"}), kPlain);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_EQ(r->services, (std::vector<std::string>{"api", "web"}));
  r = ReadDeployWords(Words({}), kPlain);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_TRUE(r->services.empty()) << "every changed service";
}

TEST(DeployWordsTest, AServiceNamedPauseIsDeployedWhenNamedAlone) {
  auto r = ReadDeployWords(Words({"pause"}), kClash);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_EQ(r->services, std::vector<std::string>{"pause"});
  r = ReadDeployWords(Words({"resume"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_EQ(r->services, std::vector<std::string>{"resume"});
}

TEST(DeployWordsTest, ServiceFlagsAndDashesAlwaysNameServices) {
  auto r = ReadDeployWords(Words({}, {}, {"pause"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_EQ(r->services, std::vector<std::string>{"pause"});
  r = ReadDeployWords(Words({}, {"pause", "resume"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kDeploy);
  EXPECT_EQ(r->services, (std::vector<std::string>{"pause", "resume"}));
  r = ReadDeployWords(Words({"api"}, {"pause"}, {"resume"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->services, (std::vector<std::string>{"api", "resume", "pause"}));
  // After a verb, --service or `--` names the service it acts on.
  r = ReadDeployWords(Words({"pause"}, {}, {"pause"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kPause);
  EXPECT_EQ(r->service, "pause");
  r = ReadDeployWords(Words({"resume"}, {"pause"}), kClash);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, DeployVerb::kResume);
  EXPECT_EQ(r->service, "pause");
}

TEST(DeployWordsTest, MistakesAreOneLineErrors) {
  auto r = ReadDeployWords(Words({"pause"}), kPlain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(),
            "deploy pause: which service? (slipway deploy pause SERVICE; there is no service "
            "named \"pause\" to deploy)");
  r = ReadDeployWords(Words({"resume", "api", "web"}), kPlain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "deploy resume: one service at a time, got 2 (api, web); to deploy services with "
            "these names write slipway deploy --service NAME or slipway deploy -- resume ...");
  DeployWords w = Words({"api"});
  w.reason_given = true;
  r = ReadDeployWords(w, kPlain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "deploy: --reason is for slipway deploy pause|resume|promote SERVICE");
}

TEST(DeployWordsTest, TheWordsAfterDashesAreFoundInArgv) {
  const char* argv[] = {"slipway", "-f", "c.yaml", "deploy", "pause", "--", "resume", "x"};
  DeployWords w = SplitAtDashes({"pause", "resume", "x"}, 8, argv);
  EXPECT_EQ(w.positional, std::vector<std::string>{"pause"});
  EXPECT_EQ(w.after_dashes, (std::vector<std::string>{"resume", "x"}));
  const char* plain[] = {"slipway", "deploy", "pause", "api"};
  w = SplitAtDashes({"pause", "api"}, 4, plain);
  EXPECT_EQ(w.positional, (std::vector<std::string>{"pause", "api"}));
  EXPECT_TRUE(w.after_dashes.empty());
  const char* none_after[] = {"slipway", "deploy", "pause", "--"};
  w = SplitAtDashes({"pause"}, 4, none_after);
  EXPECT_EQ(w.positional, std::vector<std::string>{"pause"});
  EXPECT_TRUE(w.after_dashes.empty());
}

}  // namespace
}  // namespace slipway::cli
