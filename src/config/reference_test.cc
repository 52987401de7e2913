// docs/reference.md against the parsers, so the two cannot drift:
//  (a) every key a parser lists when it refuses an unknown key is in the reference under its
//      full dotted path;
//  (b) every dotted path the reference names is one the parsers know (a removed key must
//      leave the page too);
//  (c) every ```yaml example of the reference loads, without warnings;
//  (d) the input limits it states are the loader's constants.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/input_file.h"
#include "config/interpolate.h"
#include "config/loader.h"
#include "config/node.h"
#include "config/test_support.h"
#include "net/tls_test_certs.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;
using testing::OptionsFor;
using testing::TempDir;

std::string ReadReference() {
  std::ifstream in(std::string(SLIPWAY_SOURCE_DIR) + "/docs/reference.md", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One service for the blocks of the top level, which need a project around them.
constexpr char kWeb[] = "services:\n  web:\n    command: ./web\n";

std::string Top(const std::string& flow) { return "x-slipway: " + flow + "\n" + kWeb; }
std::string Svc(const std::string& flow) {
  return "services:\n  web:\n    command: ./web\n    x-slipway: " + flow + "\n";
}

// How a block's parser answers `zz_unknown: 1`.
enum class Answer {
  kListed,   // `<path>.zz_unknown: unknown key "zz_unknown" (expected <intro><a, b or c>)`
  kIgnored,  // loads: the parser skips keys it does not know; `keys` are written here by hand
  kSameAs,   // the parser of the block `same_as` (a recursive one): its keys, not repeated
};

struct Block {
  std::string path;     // as the reference writes it, with <...> and [] placeholders
  std::string compose;  // a minimal valid file with `zz_unknown: 1` placed in the block
  Answer answer = Answer::kListed;
  std::string intro;              // text between "(expected " and the list
  std::string what;               // "unknown key"
  std::vector<std::string> keys;  // kIgnored only
  std::string same_as;            // kSameAs only
};

Block Listed(std::string path, std::string compose, std::string intro = "one of ",
             std::string what = "unknown key") {
  Block b;
  b.path = std::move(path);
  b.compose = std::move(compose);
  b.intro = std::move(intro);
  b.what = std::move(what);
  return b;
}

Block Ignored(std::string path, std::string compose, std::vector<std::string> keys) {
  Block b = Listed(std::move(path), std::move(compose));
  b.answer = Answer::kIgnored;
  b.keys = std::move(keys);
  return b;
}

Block SameAs(std::string path, std::string compose, std::string same_as) {
  Block b = Listed(std::move(path), std::move(compose));
  b.answer = Answer::kSameAs;
  b.same_as = std::move(same_as);
  return b;
}

std::vector<Block> Blocks() {
  return {
      Listed("x-slipway", Top("{zz_unknown: 1}")),
      Listed("x-slipway.api", Top("{api: {zz_unknown: 1}}")),
      // The API's certificate: "cert or key", as a certificate of x-slipway.tls.
      Listed("x-slipway.api.tls", Top("{api: {tls: {zz_unknown: 1}}}"), ""),
      Listed("x-slipway.proxy", Top("{proxy: {zz_unknown: 1}}")),
      Listed("x-slipway.tls", Top("{tls: {zz_unknown: 1}}")),
      Listed("x-slipway.tls.acme", Top("{tls: {acme: {zz_unknown: 1}}}")),
      // A certificate's two keys are listed as "cert or key".
      Listed("x-slipway.tls.certificates[]", Top("{tls: {certificates: [{zz_unknown: 1}]}}"), ""),
      Listed("x-slipway.routes[]", Top("{routes: [{listen: 8080, service: web, zz_unknown: 1}]}")),
      // The flags block is also a file name, so its message says more than "one of".
      Listed("x-slipway.flags", Top("{flags: {zz_unknown: 1}}"), "a file name, or a mapping with "),
      // A token's two keys are listed as "token or environment".
      Listed("x-slipway.flags.tokens[]", Top("{flags: {tokens: [{zz_unknown: 1}]}}"), ""),
      // An environment's mapping takes file or definitions, and the parser skips any other key
      // without a word (config/flags_settings.cc, ParseSource). If it starts refusing them,
      // the test says so: make this entry Listed.
      Ignored("x-slipway.flags.environments.<env>",
              Top("{flags: {environments: {staging: {zz_unknown: 1}}}}"), {"file", "definitions"}),
      Listed("x-slipway.databases.<db>",
             Top("{databases: {main: {url: 'sqlite:a.db', zz_unknown: 1}}}")),
      Listed("x-slipway.databases.<db>.migrations",
             Top("{databases: {main: {url: 'sqlite:a.db', migrations: {tool: alembic, "
                 "zz_unknown: 1}}}}")),
      Listed("x-slipway.backups", Top("{backups: {zz_unknown: 1}}")),
      Listed("x-slipway.backups.retention", Top("{backups: {retention: {zz_unknown: 1}}}")),
      Listed("x-slipway.alerts", Top("{alerts: {zz_unknown: 1}}")),
      Listed("x-slipway.alerts.builtin", Top("{alerts: {builtin: {zz_unknown: 1}}}")),
      Listed("x-slipway.alerts.rules[]", Top("{alerts: {rules: [{zz_unknown: 1}]}}")),
      Listed("x-slipway.notifications", Top("{notifications: {zz_unknown: 1}}")),
      Listed("x-slipway.notifications.route", Top("{notifications: {route: {zz_unknown: 1}}}")),
      // Child routes are routes: the reference says so once instead of repeating the keys.
      SameAs("x-slipway.notifications.route.routes[]",
             Top("{notifications: {route: {routes: [{zz_unknown: 1}]}}}"),
             "x-slipway.notifications.route"),
      Listed("x-slipway.notifications.receivers[]",
             Top("{notifications: {receivers: [{zz_unknown: 1}]}}")),
      Listed("x-slipway.scrape", Top("{scrape: {zz_unknown: 1}}")),
      Listed("x-slipway.scrape.targets[]",
             Top("{scrape: {targets: [{name: a, address: 'h:1', zz_unknown: 1}]}}")),
      Listed("x-slipway.dashboard", Top("{dashboard: {zz_unknown: 1}}")),
      Listed("x-slipway.dashboard.panels[]",
             Top("{dashboard: {panels: [{title: a, expr: up, zz_unknown: 1}]}}")),
      Listed("services.<service>.x-slipway", Svc("{zz_unknown: 1}")),
      Listed("services.<service>.x-slipway.metrics", Svc("{metrics: {zz_unknown: 1}}")),
      Listed("services.<service>.x-slipway.healthcheck", Svc("{healthcheck: {zz_unknown: 1}}")),
      Listed("services.<service>.x-slipway.deploy", Svc("{deploy: {zz_unknown: 1}}")),
      Listed("services.<service>.x-slipway.upstream", Svc("{upstream: {zz_unknown: 1}}")),
      Listed("services.<service>.x-slipway.deploy.hooks",
             Svc("{deploy: {hooks: {zz_unknown: 1}}}")),
      // A step is a one-key mapping; its keys are the step kinds.
      Listed("services.<service>.x-slipway.deploy.hooks.pre[]",
             Svc("{deploy: {hooks: {pre: [{zz_unknown: 1}]}}}"), "one of ", "unknown step"),
      Listed("services.<service>.x-slipway.deploy.analysis",
             Svc("{deploy: {analysis: {zz_unknown: 1}}}")),
  };
}

// Blocks whose keys are the user's own (names, labels, ports, a flagd document): the parser has
// no list of keys to answer with. Each loads with a key `zz_unknown`, or refuses it for its
// value, never as an unknown key. `entry` is the reference's path of one entry, if any.
struct FreeForm {
  std::string path;
  std::string entry;
  std::string compose;
};

std::vector<FreeForm> FreeForms() {
  const std::string receivers = "receivers: [{name: a, webhook: 'http://127.0.0.1:9/h'}]";
  return {
      {"x-slipway.databases", "x-slipway.databases.<db>",
       Top("{databases: {zz_unknown: 'sqlite:a.db'}}")},
      {"x-slipway.flags.environments", "x-slipway.flags.environments.<env>",
       Top("{flags: {environments: {zz_unknown: {definitions: {flags: {}}}}}}")},
      {"x-slipway.flags.definitions", "",
       Top("{flags: {definitions: {flags: {}, zz_unknown: 1}}}")},
      {"x-slipway.alerts.rules[].labels", "",
       Top("{alerts: {rules: [{alert: A, expr: up, labels: {zz_unknown: x}}]}}")},
      {"x-slipway.alerts.rules[].annotations", "",
       Top("{alerts: {rules: [{alert: A, expr: up, annotations: {zz_unknown: x}}]}}")},
      {"x-slipway.notifications.route.match", "",
       Top("{notifications: {route: {receiver: a, match: {zz_unknown: x}}, " + receivers + "}}")},
      {"x-slipway.notifications.route.match_re", "",
       Top("{notifications: {route: {receiver: a, match_re: {zz_unknown: x}}, " + receivers +
           "}}")},
      // Keys are target ports: a word is refused as "not a port number".
      {"services.<service>.x-slipway.ports", "services.<service>.x-slipway.ports.<port>",
       Svc("{ports: {zz_unknown: http}}")},
  };
}

// The path of the block in the test's files: the placeholders filled in.
std::string Concrete(std::string path) {
  const std::pair<std::string, std::string> subs[] = {
      {"<service>", "web"}, {"<db>", "main"}, {"<env>", "staging"}, {"[]", "[0]"}};
  for (const auto& [from, to] : subs) {
    for (size_t at = path.find(from); at != std::string::npos; at = path.find(from, at)) {
      path.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return path;
}

std::vector<std::string> Split(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at = text.find(sep); at != std::string::npos; at = text.find(sep, start)) {
    out.push_back(text.substr(start, at - start));
    start = at + sep.size();
  }
  out.push_back(text.substr(start));
  return out;
}

// The keys a listing block names in its answer to `zz_unknown: 1`; a test failure when it
// does not answer that way.
std::vector<std::string> ListedKeys(const Block& b) {
  Result<Project> r = LoadText(b.compose);
  const std::string msg = ErrorOf(r);
  const std::string head =
      Concrete(b.path) + ".zz_unknown: " + b.what + " \"zz_unknown\" (expected " + b.intro;
  const size_t at = msg.find(head);
  const size_t close = msg.rfind(')');
  if (at == std::string::npos || close == std::string::npos || close < at + head.size()) {
    ADD_FAILURE() << b.path << ": the parser's answer does not list its keys as expected\n"
                  << "  wanted: ..." << head << "a, b, c)\n  got:    " << msg;
    return {};
  }
  std::vector<std::string> keys;
  for (const std::string& part :
       Split(msg.substr(at + head.size(), close - at - head.size()), ", ")) {
    for (const std::string& k : Split(part, " or ")) keys.push_back(k);
  }
  return keys;
}

// Every dotted path the parsers know, by block: the block itself and block.key.
std::set<std::string> KnownPaths() {
  std::set<std::string> known;
  const std::vector<Block> blocks = Blocks();
  for (const Block& b : blocks) {
    known.insert(b.path);
    std::vector<std::string> keys = b.answer == Answer::kIgnored ? b.keys : ListedKeys(b);
    for (const std::string& k : keys) known.insert(b.path + "." + k);
  }
  for (const FreeForm& f : FreeForms()) {
    known.insert(f.path);
    if (!f.entry.empty()) known.insert(f.entry);
  }
  return known;
}

// The text of the reference outside its fenced code blocks, and the ```yaml blocks.
struct Reference {
  std::string prose;
  std::vector<std::string> examples;
};

Reference SplitReference(const std::string& doc) {
  Reference r;
  std::istringstream in(doc);
  std::string line, block;
  bool in_fence = false, yaml = false;
  size_t indent = 0;  // a fence inside a list item is indented; so are its lines
  while (std::getline(in, line)) {
    const size_t lead = line.find_first_not_of(' ');
    if (lead != std::string::npos && line.compare(lead, 3, "```") == 0) {
      if (!in_fence) {
        in_fence = true;
        yaml = line.substr(lead) == "```yaml";
        indent = lead;
        block.clear();
      } else {
        in_fence = false;
        if (yaml) r.examples.push_back(block);
      }
      continue;
    }
    if (in_fence) {
      block += (line.find_first_not_of(' ') >= indent ? line.substr(std::min(indent, line.size()))
                                                      : line) +
               "\n";
    } else {
      r.prose += line + "\n";
    }
  }
  return r;
}

bool IsPathChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '<' || c == '>' || c == '[' || c == ']';
}

// Every inline code span of `prose` that starts as an x-slipway path: that path.
std::vector<std::string> NamedPaths(const std::string& prose) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = prose.find('`', at)) != std::string::npos) {
    const size_t end = prose.find('`', at + 1);
    if (end == std::string::npos) break;
    const std::string span = prose.substr(at + 1, end - at - 1);
    at = end + 1;
    if (span.rfind("x-slipway", 0) != 0 && span.rfind("services.<service>.x-slipway", 0) != 0) {
      continue;
    }
    size_t n = 0;
    while (n < span.size() && IsPathChar(span[n])) ++n;
    out.push_back(span.substr(0, n));
  }
  return out;
}

TEST(ReferenceTest, EveryKeyOfEveryBlockIsDocumented) {
  const std::string doc = ReadReference();
  ASSERT_FALSE(doc.empty()) << "docs/reference.md not found under " << SLIPWAY_SOURCE_DIR;
  const std::vector<Block> blocks = Blocks();
  std::map<std::string, std::vector<std::string>> listed;
  for (const Block& b : blocks) {
    SCOPED_TRACE(b.path);
    // A list's item block is named by its list: `x-slipway.routes` for `x-slipway.routes[]`.
    const bool item = b.path.size() > 2 && b.path.compare(b.path.size() - 2, 2, "[]") == 0;
    const std::string named = item ? b.path.substr(0, b.path.size() - 2) : b.path;
    EXPECT_NE(doc.find("`" + named + "`"), std::string::npos) << "block not in the reference";
    if (b.answer == Answer::kIgnored) {
      Result<Project> r = LoadText(b.compose);
      EXPECT_TRUE(r.ok()) << "the parser now refuses unknown keys here; make this block kListed: "
                          << ErrorOf(r);
      listed[b.path] = b.keys;
    } else {
      listed[b.path] = ListedKeys(b);
      EXPECT_FALSE(listed[b.path].empty());
    }
  }
  for (const Block& b : blocks) {
    if (b.answer == Answer::kSameAs) {
      EXPECT_EQ(listed[b.path], listed[b.same_as])
          << b.path << " no longer has " << b.same_as << "'s keys";
      continue;
    }
    for (const std::string& k : listed[b.path]) {
      EXPECT_NE(doc.find("`" + b.path + "." + k + "`"), std::string::npos)
          << "`" << b.path << "." << k << "` is accepted but not in docs/reference.md";
    }
  }
}

TEST(ReferenceTest, FreeFormBlocksTakeAnyKey) {
  const std::string doc = ReadReference();
  for (const FreeForm& f : FreeForms()) {
    SCOPED_TRACE(f.path);
    Result<Project> r = LoadText(f.compose);
    EXPECT_EQ(ErrorOf(r).find("unknown key"), std::string::npos)
        << "this block now has a fixed set of keys; list it in Blocks(): " << ErrorOf(r);
    EXPECT_NE(doc.find("`" + f.path + "`"), std::string::npos);
    if (!f.entry.empty()) {
      EXPECT_NE(doc.find("`" + f.entry + "`"), std::string::npos);
    }
  }
}

TEST(ReferenceTest, EveryPathInTheReferenceIsKnown) {
  const Reference ref = SplitReference(ReadReference());
  const std::set<std::string> known = KnownPaths();
  const std::vector<std::string> named = NamedPaths(ref.prose);
  EXPECT_GT(named.size(), 100u) << "the reference's paths were not found";
  for (const std::string& p : named) {
    EXPECT_TRUE(known.count(p)) << "docs/reference.md names `" << p << "`, which no parser accepts";
  }
}

TEST(ReferenceTest, EveryExampleLoads) {
  const Reference ref = SplitReference(ReadReference());
  EXPECT_GE(ref.examples.size(), 10u);
  for (size_t i = 0; i < ref.examples.size(); ++i) {
    std::string text = ref.examples[i];
    SCOPED_TRACE("yaml example " + std::to_string(i + 1) + ":\n" + text);
    // Marked as tests/docs/yaml_blocks.sh reads the docs: part of a file, or a mistake shown.
    if (text.find("# fragment") != std::string::npos) continue;
    const bool invalid = text.find("# invalid:") != std::string::npos;
    // Examples of top-level blocks leave out services:, as the reference says.
    if (text.rfind("services:", 0) != 0 && text.find("\nservices:") == std::string::npos) {
      text += kWeb;
    }
    // The files and variables the examples name.
    TempDir dir;
    dir.Write("app/compose.yaml", text);
    dir.Write("app/flags.json", "{\"flags\": {}}\n");
    dir.Write("app/flags.staging.json", "{\"flags\": {}}\n");
    const net::testing::TestCert cert = net::testing::MakeTestCert({"example.com"});
    dir.Write("app/certs/example.pem", cert.cert_pem);
    dir.Write("app/certs/example.key", cert.key_pem);
    LoadOptions o = OptionsFor(dir.path() / "app");
    o.environ = {{"FLAGS_TOKEN", "0123456789abcdef"}, {"DATABASE_URL", "sqlite:data/app.db"}};
    Result<Project> p = LoadProject(o);
    if (invalid) {
      EXPECT_FALSE(p.ok()) << "marked invalid, but it loads";
      continue;
    }
    ASSERT_TRUE(p.ok()) << ErrorOf(p);
    EXPECT_TRUE(p->warnings.empty()) << p->warnings.front();
  }
}

std::string Thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string MiB(size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

TEST(ReferenceTest, InputLimitsAreTheLoaders) {
  const std::string doc = ReadReference();
  const std::string rows[] = {
      "| size of each compose file, `.env`, `--env-file` and `env_file` | " +
          MiB(kMaxInputFileBytes) + " |",
      "| YAML nesting | " + std::to_string(kMaxYamlDepth) + " levels |",
      "| YAML nodes per document | " + Thousands(kMaxYamlNodes) + " |",
      "| YAML aliases per document | " + Thousands(kMaxYamlAliases) + " |",
      "| nodes produced by expanding aliases | " + Thousands(kMaxAliasNodes) + " |",
      "| text produced by expanding aliases | " + MiB(kMaxAliasBytes) + " |",
      "| interpolated text per file | " + MiB(kMaxInterpolatedBytes) + " |",
      "| `extends` chain | " + std::to_string(kMaxExtendsChain) + " services |",
      "| nodes copied by `extends`, in all | " + Thousands(kMaxExtendsNodes) + " |",
      "| text copied by `extends`, in all | " + MiB(kMaxExtendsBytes) + " |",
  };
  for (const std::string& row : rows) {
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/reference.md lacks the row\n" << row;
  }
}

}  // namespace
}  // namespace slipway::config
