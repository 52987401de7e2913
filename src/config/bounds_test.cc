// The loader against hostile files: every bound (config/input_file.h, config/node.h,
// config/interpolate.h, config/loader.h) answers with one InvalidInput line, quickly and
// without building what the file asks for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "config/input_file.h"
#include "config/loader.h"
#include "config/node.h"
#include "config/test_support.h"

namespace slipway::config {
namespace {

using ::slipway::config::testing::ErrorOf;
using ::slipway::config::testing::LoadText;
using ::slipway::config::testing::OptionsFor;
using ::slipway::config::testing::TempDir;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kService = "services:\n  app:\n    image: x\n";

// "Billion laughs": nine anchors, each a list of nine aliases of the one before (9^9 leaves).
std::string AliasBomb() {
  std::string y =
      "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  const std::string names = "abcdefghi";
  for (size_t k = 1; k < names.size(); ++k) {
    const std::string c(1, names[k]), prev(1, names[k - 1]);
    y.append("x-").append(c).append(": &").append(c).append(" [");
    for (int i = 0; i < 9; ++i) y.append(i ? ",*" : "*").append(prev);
    y.append("]\n");
  }
  return y + kService;
}

Status StatusOf(const Result<Project>& r) { return r.ok() ? Status::OK() : r.status(); }

TEST(BoundsTest, AliasBombIsRefusedAtTheAliasThatOverflows) {
  Result<Project> r = LoadText(AliasBomb());
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r),
            "compose.yaml:7:10: x-g[0]: YAML aliases expand to more than 1000000 nodes (an alias "
            "bomb?)");
}

TEST(BoundsTest, AliasBombInsideAServiceIsRefused) {
  std::string y = "x-a: &a {A: '1', B: '2', C: '3', D: '4', E: '5', F: '6', G: '7', H: '8'}\n";
  const std::string names = "abcdefgh";
  for (size_t k = 1; k < names.size(); ++k) {
    const std::string c(1, names[k]), prev(1, names[k - 1]);
    y.append("x-").append(c).append(": &").append(c).append(" {");
    for (int i = 0; i < 8; ++i) {
      y.append(i ? ", k" : "k").append(std::to_string(i)).append(": *").append(prev);
    }
    y.append("}\n");
  }
  y += "services:\n  app:\n    image: x\n    labels:\n      bomb: *h\n";
  Result<Project> r = LoadText(y);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), HasSubstr("YAML aliases expand to more than 1000000 nodes"));
}

TEST(BoundsTest, TooManyAliasesAreRefused) {
  std::string y = "x-a: &a 1\nx-b: [";
  for (size_t i = 0; i <= kMaxYamlAliases; ++i) y += i ? ",*a" : "*a";
  y += "]\n";
  Result<Project> r = LoadText(y + kService);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), StartsWith("compose.yaml:2:"));
  EXPECT_THAT(ErrorOf(r), HasSubstr(": more than 100000 YAML aliases (an alias bomb?)"));
}

TEST(BoundsTest, AliasesOfALargeScalarAreCountedInBytes) {
  std::string y = "x-a: &a \"" + std::string(1 << 20, 'z') + "\"\nx-b: [";
  for (int i = 0; i < 70; ++i) y += i ? ",*a" : "*a";
  y += "]\n";
  Result<Project> r = LoadText(y + kService);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), HasSubstr("x-b[64]: YAML aliases expand to more than 64 MiB of text"));
}

TEST(BoundsTest, AnAliasInsideItsOwnAnchorIsRefused) {
  Result<Project> r = LoadText(std::string("x-a: &a [1, *a]\n") + kService);
  EXPECT_EQ(ErrorOf(r),
            "compose.yaml:1:13: alias *a is inside the node it names (expected an alias after "
            "the end of its anchored node)");
}

TEST(BoundsTest, OrdinaryAliasesAndMergeKeysStillWork) {
  Result<Project> r = LoadText(R"(x-env: &env {A: "1", B: "2"}
x-img: &img busybox
services:
  app:
    image: *img
    environment:
      <<: *env
      B: "3"
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->services.at("app").image, "busybox");
  EXPECT_EQ(r->services.at("app").environment.at("A"), "1");
  EXPECT_EQ(r->services.at("app").environment.at("B"), "3");
}

TEST(BoundsTest, DeepFlowSequenceIsRefusedWhileParsing) {
  const size_t n = 100000;
  Result<Project> r = LoadText("x: " + std::string(n, '[') + std::string(n, ']') + "\n" + kService);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r),
            "compose.yaml:1:259: document nests too deeply (expected at most 256 levels)");
}

TEST(BoundsTest, DeepFlowMappingIsRefusedWhileParsing) {
  std::string y = "x: ";
  for (int i = 0; i < 100000; ++i) y += "{a: ";
  y += "1" + std::string(100000, '}') + "\n" + kService;
  Result<Project> r = LoadText(y);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), HasSubstr("document nests too deeply (expected at most 256 levels)"));
}

TEST(BoundsTest, DeepBlockMappingIsRefused) {
  std::string y = "x-deep:\n";
  for (int i = 1; i <= 300; ++i) y += std::string(i, ' ') + "a:\n";
  Result<Project> r = LoadText(y + kService);
  EXPECT_THAT(ErrorOf(r), HasSubstr("document nests too deeply (expected at most 256 levels)"));
}

TEST(BoundsTest, NestingWithinTheLimitLoads) {
  const size_t n = 200;
  Result<Project> r = LoadText("x: " + std::string(n, '[') + std::string(n, ']') + "\n" + kService);
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST(BoundsTest, AnAliasCannotNestPastTheLimit) {
  // Each anchor is 200 deep; the alias puts it under 100 more levels.
  std::string deep = std::string(200, '[') + std::string(200, ']');
  std::string y =
      "x-a: &a " + deep + "\nx-b: " + std::string(100, '[') + "*a" + std::string(100, ']') + "\n";
  Result<Project> r = LoadText(y + kService);
  EXPECT_THAT(ErrorOf(r), HasSubstr("document nests too deeply (expected at most 256 levels)"));
}

TEST(BoundsTest, DevZeroIsRefused) {
  TempDir dir;
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"/dev/zero"};
  Result<Project> r = LoadProject(o);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r),
            "/dev/zero: not a regular file (a character device; expected a regular file)");
}

TEST(BoundsTest, FifoIsRefusedWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir.path() / "compose.yaml").c_str(), 0600), 0);
  // Discovered, not only named with -f.
  Result<Project> r = LoadProject(OptionsFor(dir.path()));
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r), "compose.yaml: not a regular file (a FIFO; expected a regular file)");
}

TEST(BoundsTest, DirectoryIsRefused) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "c.yaml");
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"c.yaml"};
  Result<Project> r = LoadProject(o);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r), "c.yaml: not a regular file (a directory; expected a regular file)");
}

TEST(BoundsTest, FileOverTheCapIsRefused) {
  TempDir dir;
  dir.Write("compose.yaml", "");
  ASSERT_EQ(
      ::truncate((dir.path() / "compose.yaml").c_str(), static_cast<off_t>(kMaxInputFileBytes) + 1),
      0);
  Result<Project> r = LoadProject(OptionsFor(dir.path()));
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r), "compose.yaml: file is larger than 16 MiB (expected at most 16 MiB)");
}

TEST(BoundsTest, DotenvThatIsAFifoIsRefused) {
  TempDir dir;
  dir.Write("compose.yaml", kService);
  ASSERT_EQ(::mkfifo((dir.path() / ".env").c_str(), 0600), 0);
  Result<Project> r = LoadProject(OptionsFor(dir.path()));
  EXPECT_EQ(ErrorOf(r), ".env: not a regular file (a FIFO; expected a regular file)");
}

TEST(BoundsTest, EnvFileFlagOnDevZeroIsRefused) {
  TempDir dir;
  dir.Write("compose.yaml", kService);
  LoadOptions o = OptionsFor(dir.path());
  o.env_files = {"/dev/zero"};
  Result<Project> r = LoadProject(o);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ErrorOf(r),
            "/dev/zero: not a regular file (a character device; expected a regular file)");
}

TEST(BoundsTest, ExtendsFileOnDevZeroIsRefused) {
  Result<Project> r =
      LoadText("services:\n  app:\n    image: x\n    extends: {file: /dev/zero, service: base}\n");
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  // Named relative to the project folder, as every extends file is.
  EXPECT_THAT(ErrorOf(r), EndsWith("dev/zero: not a regular file (a character device; "
                                   "expected a regular file)"));
}

TEST(BoundsTest, DotenvExpansionBombIsRefused) {
  TempDir dir;
  dir.Write("compose.yaml", kService);
  // Each line is ten times the one before: 1 KiB * 10^6 without the bound.
  std::string env = "A0=" + std::string(1024, 'x') + "\n";
  for (int i = 1; i <= 6; ++i) {
    env.append("A").append(std::to_string(i)).append("=");
    for (int j = 0; j < 10; ++j) env.append("${A").append(std::to_string(i - 1)).append("}");
    env.append("\n");
  }
  dir.Write(".env", env);
  Result<Project> r = LoadProject(OptionsFor(dir.path()));
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), StartsWith(".env:6: value of A5: interpolation produces more than 64 "
                                     "MiB of text in this file"));
}

TEST(BoundsTest, ComposeInterpolationOfALargeVariableIsBounded) {
  LoadOptions o;
  o.environ["BIG"] = std::string(1 << 20, 'b');
  std::string y = "services:\n  app:\n    image: x\n    command:\n";
  for (int i = 0; i < 70; ++i) y += "      - ${BIG}\n";
  Result<Project> r = LoadText(y, o);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), HasSubstr("services.app.command[63]: interpolation produces more than "
                                    "64 MiB of text in this file"));
}

TEST(BoundsTest, LongExtendsChainIsRefused) {
  // s0 extends s1 ... extends s100: resolving s0 walks the whole chain at once.
  std::string y = "services:\n";
  for (int i = 0; i < 100; ++i) {
    y.append("  s").append(std::to_string(i)).append(":\n    extends: s");
    y.append(std::to_string(i + 1)).append("\n");
  }
  y += "  s100:\n    image: x\n";
  Result<Project> r = LoadText(y);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), HasSubstr("extends chain longer than 64 services"));
}

TEST(BoundsTest, ExtendsCopiesAreBudgeted) {
  // A base of ~100k nodes extended by 20 services: 2M copied nodes.
  std::string y = "services:\n  base:\n    image: x\n    environment:\n";
  for (int i = 0; i < 100000; ++i) y += "      K" + std::to_string(i) + ": v\n";
  for (int i = 0; i < 20; ++i) y += "  s" + std::to_string(i) + ":\n    extends: base\n";
  Result<Project> r = LoadText(y);
  EXPECT_EQ(StatusOf(r).code(), StatusCode::kInvalidInput);
  EXPECT_THAT(ErrorOf(r), HasSubstr("extends copies more than 1000000 nodes in all"));
}

TEST(BoundsTest, ManyServicesLoadWithDependenciesChained) {
  // A 20k-long depends_on chain: checked without recursion.
  std::string y = "services:\n  s0:\n    image: x\n";
  for (int i = 1; i < 20000; ++i) {
    y += "  s" + std::to_string(i) + ":\n    image: x\n    depends_on: [s" + std::to_string(i - 1) +
         "]\n    ports: ['" + std::to_string(1024 + i) + ":80']\n";
  }
  Result<Project> r = LoadText(y);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->services.size(), 20000u);
}

// Merge directives cost a pass over the maps they name, not one per directive: 20k services
// each resetting and overriding keys of their base, in an overlay and through extends.
TEST(BoundsTest, ManyResetsAndOverridesAreLinear) {
  TempDir dir;
  std::string base = "services:\n";
  std::string over = "services:\n";
  for (int i = 0; i < 20000; ++i) {
    const std::string n = std::to_string(i);
    base.append("  s").append(n).append(":\n    image: x\n    labels: {a: '1', b: '2'}\n");
    base.append("    user: u\n  e").append(n).append(":\n    extends: s").append(n);
    base.append("\n    user: !reset\n");
    over.append("  s").append(n).append(":\n    labels: !override {c: '3'}\n    user: !reset\n");
  }
  dir.Write("a.yaml", base);
  dir.Write("b.yaml", over);
  LoadOptions o = OptionsFor(dir.path());
  o.files = {"a.yaml", "b.yaml"};
  Result<Project> r = LoadProject(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->services.size(), 40000u);
  EXPECT_EQ(r->services.at("s19999").labels, (std::map<std::string, std::string>{{"c", "3"}}));
  EXPECT_EQ(r->services.at("s19999").user, "");
  EXPECT_EQ(r->services.at("e5").user, "");
  EXPECT_EQ(r->services.at("e5").labels.at("a"), "1");
}

TEST(BoundsTest, PublishedPortClashesAreStillFound) {
  Result<Project> r = LoadText(R"(services:
  a:
    image: x
    ports: ["127.0.0.1:8080:80", "127.0.0.2:8080:80"]
  b:
    image: x
    ports: ["8080:80"]
)");
  EXPECT_EQ(ErrorOf(r),
            "compose.yaml:7:13: services.b.ports[0]: published port 8080/tcp is already used by "
            "services.a.ports[0] (compose.yaml:4:13) (expected each published port once)");
}

}  // namespace
}  // namespace slipway::config
