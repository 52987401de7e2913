// Drives `slipway flags` end to end: a project whose x-slipway.flags points at a flagd file,
// started with `up -d`, then every subcommand through the real binary. Checks the tables, the
// JSON, the audit trail, and that refused changes (bad input or an invalid definition) leave the
// flag set exactly as it was. `flags check` runs without a daemon, on valid, invalid and hostile
// files.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "harness.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

constexpr const char* kFlags = R"({
  "flags": {
    "new-ui": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
    "color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"},
              "defaultVariant": "red"}
  }
})";

class FlagsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p_ = std::make_unique<Project>(R"(services:
  idle:
    command: ["sleep", "300"]
x-slipway:
  flags: flags.json
)");
    p_->Write("flags.json", kFlags);
    CmdResult up = p_->Slipway({"up", "-d"});
    ASSERT_EQ(up.rc, 0) << up.out << up.err;
  }

  CmdResult Flags(std::vector<std::string> args) {
    args.insert(args.begin(), "flags");
    return p_->Slipway(args, std::chrono::seconds(30), {"SLIPWAY_ACTOR=alice"});
  }
  json FlagsJson(std::vector<std::string> args) {
    args.push_back("--format");
    args.push_back("json");
    CmdResult r = Flags(args);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
  }
  json Export() {
    CmdResult r = Flags({"export"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  // A refused command: exit 2, exactly one line on stderr that contains `what`, nothing changed.
  void ExpectRefused(const std::vector<std::string>& args, const std::string& what) {
    json before = Export();
    CmdResult r = Flags(args);
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(Export(), before);
  }

  std::unique_ptr<Project> p_;
};

TEST_F(FlagsCliTest, ListGetAndToggles) {
  CmdResult list = Flags({"list"});
  ASSERT_EQ(list.rc, 0) << list.err;
  EXPECT_NE(list.out.find("KEY"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("new-ui"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("color"), std::string::npos) << list.out;
  json lj = FlagsJson({"list"});
  ASSERT_EQ(lj["flags"].size(), 2u) << lj;
  EXPECT_EQ(lj["environment"], "default");

  json g = FlagsJson({"get", "color"});
  EXPECT_EQ(g["key"], "color");
  EXPECT_EQ(g["definition"]["defaultVariant"], "red");
  CmdResult gt = Flags({"get", "color"});
  EXPECT_NE(gt.out.find("\"#00f\""), std::string::npos) << gt.out;
  CmdResult missing = Flags({"get", "nope"});
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;

  CmdResult off = Flags({"disable", "new-ui", "--comment", "incident 42"});
  ASSERT_EQ(off.rc, 0) << off.err;
  EXPECT_EQ(FlagsJson({"get", "new-ui"})["definition"]["state"], "DISABLED");
  ASSERT_EQ(Flags({"enable", "new-ui"}).rc, 0);
  EXPECT_EQ(FlagsJson({"get", "new-ui"})["definition"]["state"], "ENABLED");

  // The audit trail names who, why, and the whole before/after.
  CmdResult h = Flags({"history", "new-ui"});
  ASSERT_EQ(h.rc, 0) << h.err;
  EXPECT_NE(h.out.find("alice"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("disable"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("\"incident 42\""), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("before: {"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("after:  {"), std::string::npos) << h.out;
  json hj = FlagsJson({"history", "new-ui"});
  ASSERT_EQ(hj.size(), 3u) << hj;  // oldest first: seed, disable, enable
  EXPECT_EQ(hj[0]["action"], "seed");
  EXPECT_EQ(hj[2]["action"], "enable");
  const json& dis = hj[1];
  EXPECT_EQ(dis["action"], "disable");
  EXPECT_EQ(dis["actor"], "alice");
  EXPECT_EQ(dis["comment"], "incident 42");
  EXPECT_EQ(dis["before"]["state"], "ENABLED");
  EXPECT_EQ(dis["after"]["state"], "DISABLED");
  json last = FlagsJson({"history", "new-ui", "--limit", "1"});
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0]["action"], "enable");
}

TEST_F(FlagsCliTest, RolloutTargetSetAndRefusals) {
  ASSERT_EQ(Flags({"rollout", "new-ui", "25", "--comment", "first quarter"}).rc, 0);
  json def = FlagsJson({"get", "new-ui"})["definition"];
  EXPECT_NE(def["targeting"].dump().find("fractional"), std::string::npos) << def;
  CmdResult list = Flags({"list"});
  EXPECT_NE(list.out.find("rollout on 25%/off 75%"), std::string::npos) << list.out;

  ASSERT_EQ(
      Flags({"target", "new-ui", "--add", "email=ann@corp.io", "--add", "email=bob@corp.io"}).rc,
      0);
  def = FlagsJson({"get", "new-ui"})["definition"];
  EXPECT_NE(def["targeting"].dump().find("bob@corp.io"), std::string::npos) << def;
  ASSERT_EQ(Flags({"target", "color", "--add", "tier=gold", "--variant", "blue"}).rc, 0);
  EXPECT_NE(FlagsJson({"get", "color"})["definition"]["targeting"].dump().find("gold"),
            std::string::npos);

  ASSERT_EQ(
      Flags({"set", "limit", "--json",
             R"({"state":"ENABLED","variants":{"low":10,"high":100},"defaultVariant":"low"})"})
          .rc,
      0);
  EXPECT_EQ(FlagsJson({"get", "limit"})["definition"]["variants"]["high"], 100);
  p_->Write("def.json", R"({"state":"ENABLED","variants":{"a":"x","b":"y"},"defaultVariant":"b"})");
  ASSERT_EQ(Flags({"set", "letters", "--file", "def.json"}).rc, 0);
  EXPECT_EQ(FlagsJson({"get", "letters"})["definition"]["defaultVariant"], "b");

  ExpectRefused({"rollout", "new-ui", "101"}, "0..100");
  ExpectRefused({"rollout", "new-ui", "-5"}, "0..100");
  ExpectRefused({"rollout", "new-ui", "half"}, "half");
  ExpectRefused({"target", "new-ui", "--add", "noequals"}, "noequals");
  ExpectRefused({"target", "new-ui", "--add", "email=x", "--variant", "purple"}, "purple");
  ExpectRefused({"set", "x", "--json", "{not json"}, "not valid JSON");
  ExpectRefused({"set", "x", "--file", "missing.json"}, "missing.json");
  ExpectRefused({"set", "x"}, "--file");
  ExpectRefused({"set", "color", "--json", R"({"state":"ON","variants":{"a":1}})"}, "state");
  ExpectRefused({"set", "color", "--json",
                 R"({"state":"ENABLED","variants":{"a":1},"defaultVariant":"zzz"})"},
                "zzz");
  ExpectRefused({"import", "missing.json"}, "missing.json");
  ExpectRefused({"stale", "--days", "-1"}, "--days");
  // The refused set left color as it was.
  EXPECT_EQ(FlagsJson({"get", "color"})["definition"]["variants"]["red"], "#f00");
}

TEST_F(FlagsCliTest, ExportImportStale) {
  std::filesystem::path out = p_->dir() / "exported.json";
  CmdResult e = Flags({"export", "-o", out.string()});
  ASSERT_EQ(e.rc, 0) << e.err;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << ss.str();
  ASSERT_TRUE(doc["flags"].contains("new-ui")) << doc;
  EXPECT_EQ(doc["flags"]["color"]["defaultVariant"], "red");

  // Import a document with one flag changed and one removed: merge keeps the other, --replace
  // drops it.
  doc["flags"].erase("new-ui");
  doc["flags"]["color"]["defaultVariant"] = "blue";
  p_->Write("import.json", doc.dump());
  CmdResult imp = Flags({"import", "import.json", "--comment", "sync"});
  ASSERT_EQ(imp.rc, 0) << imp.err;
  EXPECT_EQ(FlagsJson({"list"})["flags"].size(), 2u);
  EXPECT_EQ(FlagsJson({"get", "color"})["definition"]["defaultVariant"], "blue");
  ASSERT_EQ(Flags({"import", "import.json", "--replace"}).rc, 0);
  json after = FlagsJson({"list"});
  ASSERT_EQ(after["flags"].size(), 1u) << after;
  EXPECT_EQ(after["flags"][0]["key"], "color");
  p_->Write("notflagd.json", R"({"hello": 1})");
  ExpectRefused({"import", "notflagd.json"}, "flagd");

  // Nothing was evaluated: every flag is stale; the table and JSON say why.
  json stale = FlagsJson({"stale", "--days", "7"});
  ASSERT_EQ(stale["flags"].size(), 1u) << stale;
  EXPECT_EQ(stale["days"], 7);
  CmdResult st = Flags({"stale"});
  ASSERT_EQ(st.rc, 0) << st.err;
  EXPECT_NE(st.out.find("color"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("WHY"), std::string::npos) << st.out;
}

// `flags check` reads files as the daemon does, without one: 0 valid, 1 invalid flags (one line
// each, naming the file and the flag), 2 unreadable, malformed or refused as flagd refuses it.
constexpr const char* kInvalidFlags = R"({
  "$evaluators": {"is_ann": {"==": [{"var": "email"}, "ann@corp.io"]}},
  "flags": {
    "fine": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
             "targeting": {"if": [{"$ref": "is_ann"}, "on", null]}},
    "ends-with-wrong-args": {"state": "ENABLED", "variants": {"true": "t", "fallback": "fb"},
                             "defaultVariant": "fallback", "targeting": {"ends_with": ["xyz"]}},
    "ref-to-nothing": {"state": "ENABLED", "variants": {"hit": "hit", "fallback": "fb"},
                       "defaultVariant": "fallback",
                       "targeting": {"if": [{"$ref": "nonexistent"}, "hit", null]}}
  }
})";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

TEST(FlagsCheckTest, ValidInvalidAndHostileFiles) {
  Project p(
      "services:\n  idle:\n    command: [\"sleep\", \"300\"]\nx-slipway:\n  flags: flags.json\n");
  p.Write("flags.json", kFlags);
  CmdResult ok = p.Slipway({"flags", "check"});
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("flags.json: 2 flag(s), all valid"), std::string::npos) << ok.out;

  p.Write("invalid.json", kInvalidFlags);
  CmdResult bad = p.Slipway({"flags", "check", "invalid.json"});
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  std::vector<std::string> lines = Lines(bad.out);
  ASSERT_EQ(lines.size(), 3u) << bad.out;
  EXPECT_EQ(
      lines[0],
      "invalid.json: flag ends-with-wrong-args: flags.ends-with-wrong-args.targeting.ends_with: "
      "takes 2 arguments, got 1 (flagd's operator answers null there)");
  EXPECT_EQ(lines[1],
            "invalid.json: flag ref-to-nothing: flags.ref-to-nothing.targeting.if[0].$ref: no "
            "evaluator \"nonexistent\" in $evaluators (flagd answers PARSE_ERROR when it is "
            "reached)");
  EXPECT_NE(lines[2].find("2 of 3 flag(s) invalid"), std::string::npos) << lines[2];
  CmdResult js = p.Slipway({"flags", "check", "invalid.json", "--format", "json"});
  EXPECT_EQ(js.rc, 1) << js.err;
  json report = json::parse(js.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << js.out;
  EXPECT_EQ(report["documents"][0]["invalid"], 2) << report;
  EXPECT_EQ(report["documents"][0]["problems"][1]["flag"], "ref-to-nothing") << report;

  // YAML, as flagd reads a .yaml/.yml file: the same document, the same answer.
  p.Write("invalid.yaml", R"(flags:
  fine: {state: ENABLED, variants: {on: true, off: false}, defaultVariant: "off"}
  ends-with-wrong-args:
    state: ENABLED
    variants: {"true": t, fallback: fb}
    defaultVariant: fallback
    targeting: {ends_with: [xyz]}
)");
  CmdResult yaml = p.Slipway({"flags", "check", "invalid.yaml"});
  EXPECT_EQ(yaml.rc, 1) << yaml.out << yaml.err;
  EXPECT_NE(yaml.out.find("invalid.yaml: flag ends-with-wrong-args: "
                          "flags.ends-with-wrong-args.targeting.ends_with: takes 2 arguments"),
            std::string::npos)
      << yaml.out;
  EXPECT_NE(yaml.out.find("1 of 2 flag(s) invalid"), std::string::npos) << yaml.out;

  // Hostile input: each refused with exit 2 and one line naming the file.
  auto refused = [&](const std::string& name, const std::string& content, const std::string& what) {
    if (!content.empty() || name == "empty.json") p.Write(name, content);
    CmdResult r = p.Slipway({"flags", "check", name});
    EXPECT_EQ(r.rc, 2) << name << ": " << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  };
  refused("missing.json", "", "cannot read");
  refused("empty.json", "", "not valid JSON");
  refused("text.json", "{not json", "not valid JSON");
  refused("binary.json", std::string("\x00\xff\xfe{\x01", 5), "not valid JSON");
  refused("array.json", "[1, 2]", "must be a JSON object");
  refused("noflags.json", R"({"hello": 1})", "flags: missing");
  refused("state.json", R"({"flags": {"f": {"state": 5, "variants": {"a": 1}}}})", "flags.f.state");
  refused("default.json",
          R"({"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "zz"}}})",
          "\"zz\" is not one of the variants");
  std::string deep = R"({"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "targeting": )";
  for (int i = 0; i < 100000; ++i) deep += R"({"!":)";
  deep += "1";
  for (int i = 0; i < 100000; ++i) deep += "}";
  deep += "}}}";
  refused("deep.json", deep, "nested deeper than");
  refused("broken.yaml", "flags: {a: [1, 2}\n", "broken.yaml:");
  refused("list.yml", "- 1\n- 2\n", "must be a JSON object");

  // A large valid file is checked whole.
  json big = {{"flags", json::object()}};
  for (int i = 0; i < 20000; ++i) {
    std::string key = "f";
    key += std::to_string(i);  // not "f" + ...: GCC 12 warns on it falsely (-Wrestrict)
    big["flags"][key] = {
        {"state", "ENABLED"},
        {"variants", {{"on", true}, {"off", false}}},
        {"defaultVariant", "off"},
        {"targeting",
         {{"if", json::array(
                     {{{"in", json::array({{{"var", "email"}}, "@corp.io"})}}, "on", nullptr})}}}};
  }
  p.Write("big.json", big.dump());
  CmdResult b = p.Slipway({"flags", "check", "big.json"});
  EXPECT_EQ(b.rc, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("20000 flag(s), all valid"), std::string::npos) << b.out;
}

// The daemon loads a file flagd loads (here YAML): the invalid flags are logged once as warnings
// naming the file and the flag, and every flag is served.
TEST(FlagsCheckTest, DaemonLoadsInvalidFlagsWithAWarning) {
  Project p(
      "services:\n  idle:\n    command: [\"sleep\", \"300\"]\nx-slipway:\n  flags: flags.yaml\n");
  // JSON is YAML: a .yaml file goes through the YAML reader, as flagd reads it.
  p.Write("flags.yaml", kInvalidFlags);
  CmdResult up = p.Slipway({"up", "-d"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  CmdResult list = p.Slipway({"flags", "list", "--format", "json"});
  ASSERT_EQ(list.rc, 0) << list.err;
  EXPECT_EQ(json::parse(list.out, nullptr, false)["flags"].size(), 3u) << list.out;
  std::ifstream log(p.dir() / ".slipway" / "logs" / "daemon.log");
  std::stringstream ss;
  ss << log.rdbuf();
  const std::string text = ss.str();
  EXPECT_NE(
      text.find("flags.yaml: flag ends-with-wrong-args: flags.ends-with-wrong-args.targeting"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("flag ref-to-nothing: "), std::string::npos) << text;
  EXPECT_EQ(text.find("flag fine:"), std::string::npos) << text;
}

TEST(FlagsCliNoDaemonTest, SaysTheProjectIsNotRunning) {
  Project p("services:\n  idle:\n    command: [\"sleep\", \"300\"]\n");
  CmdResult r = p.Slipway({"flags", "list"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not running"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slipway::testing
