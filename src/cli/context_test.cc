// The one rule every CLI error line follows (CliContext::ErrorLine): location-first and
// `slipway:` lines kept, every other message `slipway: COMMAND: why` with the command once,
// one line whatever the message holds.
#include "cli/context.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway::cli {
namespace {

struct Case {
  std::string message;
  std::string command;
  std::string line;
};

TEST(ErrorLine, OneRuleForEveryMessage) {
  for (const Case& c : std::vector<Case>{
           // A file location first: kept, with or without a column.
           {"compose.yaml:3:5: services.web.restart: unknown", "ps",
            "compose.yaml:3:5: services.web.restart: unknown"},
           {".env:2: \"x\" is not KEY=VALUE", "up", ".env:2: \"x\" is not KEY=VALUE"},
           {"/a b/compose.yaml:1:1: bad", "ps", "/a b/compose.yaml:1:1: bad"},
           // Already slipway's.
           {"slipway: deploy: nothing is running", "deploy", "slipway: deploy: nothing is running"},
           // Everything else: prefixed, the command named once.
           {"no databases configured", "migrate status",
            "slipway: migrate status: no databases configured"},
           {"logs: no such service: \"x\"", "logs", "slipway: logs: no such service: \"x\""},
           {"export kubernetes: service web has no image", "export kubernetes",
            "slipway: export kubernetes: service web has no image"},
           {"flags: bad", "flags list", "slipway: flags list: bad"},
           {"resume: no deploy of api is in progress", "deploy resume",
            "slipway: deploy resume: no deploy of api is in progress"},
           // A daemon's answer naming an API field keeps it.
           {"timeout_ms: expected milliseconds from 1 to 86400000", "up",
            "slipway: up: timeout_ms: expected milliseconds from 1 to 86400000"},
           // Not locations: a host:port, a word then a number, a path with no line.
           {"bind 127.0.0.1:80: in use", "ingress", "slipway: ingress: bind 127.0.0.1:80: in use"},
           {"big.yaml: file is larger than 16 MiB", "config",
            "slipway: config: big.yaml: file is larger than 16 MiB"},
           {"a:1x: no", "ps", "slipway: ps: a:1x: no"},
           {":1: no", "ps", "slipway: ps: :1: no"},
           {"x:", "ps", "slipway: ps: x:"},
           {"x:12", "ps", "slipway: ps: x:12"},
           // Only the whole command or its first or last words are dropped.
           {"deployer: broke", "deploy", "slipway: deploy: deployer: broke"},
           {"logs:", "logs", "slipway: logs: logs:"},
           {"", "ps", "slipway: ps: "},
           // Line breaks and control bytes cannot make a second line.
           {"two\nlines\x01", "ps", "slipway: ps: two\\x0alines\\x01"},
           {"ends with a newline\n", "ps", "slipway: ps: ends with a newline"},
           {"compose.yaml:1:1: a\nb", "ps", "compose.yaml:1:1: a\\x0ab"},
       }) {
    EXPECT_EQ(CliContext::ErrorLine(c.message, c.command), c.line) << c.message;
  }
}

TEST(ErrorLine, TheRunningCommandWhenNoneIsNamed) {
  const std::string saved = CliContext::Command();
  CliContext::SetCommand("");
  EXPECT_EQ(CliContext::ErrorLine("nothing is running"), "slipway: nothing is running");
  CliContext::SetCommand("flags list");
  EXPECT_EQ(CliContext::ErrorLine("flags list: x"), "slipway: flags list: x");
  EXPECT_EQ(CliContext::ErrorLine("x", "down"), "slipway: down: x") << "a named one wins";
  CliContext::SetCommand(saved);
}

TEST(ErrorLine, HugeMessagesStayOneLine) {
  const std::string huge(1 << 20, 'a');
  const std::string line = CliContext::ErrorLine(huge + "\n" + huge, "ps");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("slipway: ps: aaa", 0), 0u);
}

}  // namespace
}  // namespace slipway::cli
