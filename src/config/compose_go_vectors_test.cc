// Runs compose-go's own interpolation and dotenv test cases (vendored as data under
// testdata/compose-go, see its README.md) against config/interpolate.h and config/dotenv.h.
// Every case must pass, or be listed in kDifferences with the reason; a listed case that
// passes fails the test too, so the list cannot go stale.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "config/dotenv.h"
#include "config/interpolate.h"

namespace slipway::config {
namespace {

using json = nlohmann::json;
using Vars = std::map<std::string, std::string>;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(SLIPWAY_SOURCE_DIR) / "src/config/testdata/compose-go";

// Cases Slipway reads differently on purpose, by id ("<test>#<n>": the n-th case of that
// upstream test in the data file, from 1). Empty: every vendored case passes.
const std::map<std::string, std::string> kDifferences = {};

json ReadJson(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

Lookup FromVars(Vars vars) {
  return [vars = std::move(vars)](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Vars ToVars(const json& j) {
  Vars v;
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) v[it.key()] = it.value().get<std::string>();
  }
  return v;
}

// Runs the cases with `one` (which returns "" when the case passes, else what differs), and
// checks the outcome against kDifferences.
void RunAll(const char* what, const json& cases,
            const std::function<std::string(const json&)>& one) {
  std::map<std::string, int> seen;
  int passed = 0;
  int listed = 0;
  for (const json& c : cases) {
    const std::string test = c.at("test").get<std::string>();
    const std::string id = test + "#" + std::to_string(++seen[test]);
    std::string diff;
    try {
      diff = one(c);
    } catch (const std::exception& e) {
      diff = std::string("exception: ") + e.what();
    }
    const auto listed_it = kDifferences.find(id);
    if (diff.empty()) {
      ++passed;
      EXPECT_EQ(listed_it, kDifferences.end()) << id << " passes but is listed as a difference";
    } else if (listed_it != kDifferences.end()) {
      ++listed;
    } else {
      ADD_FAILURE() << what << " " << id << ": " << diff;
    }
  }
  std::printf("compose-go %s vectors: %d of %zu pass, %d listed differences\n", what, passed,
              cases.size(), listed);
}

std::string Show(const std::string& s) { return json(s).dump(); }

std::string CheckTemplate(const json& c, const json& mappings) {
  std::string tmpl;
  Vars vars;
  std::string expect;
  std::string error_kind;
  std::string error;
  if (c.contains("choice")) {
    // Which operator compose-go picks for ${<choice>}: checked by what it does. "VARNAME"
    // is unset for the error and default operators, set for the + ones.
    const std::string choice = c.at("choice").get<std::string>();
    const std::string sym = c.at("symbol").get<std::string>();
    const std::string word = choice.substr(std::string("VARNAME").size() + sym.size());
    tmpl = "${" + choice + "}";
    if (sym.back() == '?') {
      error_kind = "required";
      error = "required variable VARNAME is missing a value: " + word;
    } else {
      expect = word;
      if (sym.back() == '+') vars["VARNAME"] = "x";
    }
  } else {
    tmpl = c.at("template").get<std::string>();
    vars = ToVars(mappings.at(c.at("mapping").get<std::string>()));
    if (c.contains("error_kind")) {
      error_kind = c.at("error_kind").get<std::string>();
      error = c.at("error").get<std::string>();
    } else {
      expect = c.at("expect").get<std::string>();
    }
  }
  Expanded e;
  TemplateError err;
  const bool ok = ExpandTemplate(tmpl, FromVars(vars), &e, &err);
  if (!error_kind.empty()) {
    if (ok) return Show(tmpl) + ": expected an error, got " + Show(e.value);
    if (error_kind == "invalid" &&
        err.what.find("is not a valid interpolation") == std::string::npos) {
      return Show(tmpl) + ": expected an invalid-template error, got " + err.what;
    }
    if (error_kind == "required" && err.what.find(error) == std::string::npos) {
      return Show(tmpl) + ": expected " + Show(error) + ", got " + Show(err.what);
    }
    return "";
  }
  if (!ok) return Show(tmpl) + ": unexpected error " + err.what;
  if (e.value != expect) return Show(tmpl) + ": got " + Show(e.value) + ", want " + Show(expect);
  if (c.contains("warnings") && e.unset.size() != c.at("warnings").get<size_t>()) {
    return Show(tmpl) + ": " + std::to_string(e.unset.size()) + " unset-variable warnings, want " +
           c.at("warnings").dump();
  }
  return "";
}

std::string CompareVars(const Vars& got, const json& c) {
  const Vars want = ToVars(c.at("expect"));
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) return "key " + Show(k) + " missing";
    if (it->second != v)
      return "key " + Show(k) + ": got " + Show(it->second) + ", want " + Show(v);
  }
  if (c.value("exact", false) && got.size() != want.size()) {
    std::string keys;
    for (const auto& [k, _] : got) keys += " " + Show(k);
    return std::to_string(got.size()) + " keys, want " + std::to_string(want.size()) + ":" + keys;
  }
  return "";
}

// An error was expected: it must contain c["error"] and name c["error_line"].
std::string CheckError(const Status& st, const json& c) {
  if (st.ok()) return "expected an error";
  const std::string msg = st.message();
  const std::string want = c.at("error").get<std::string>();
  if (msg.find(want) == std::string::npos) return "error " + Show(msg) + " lacks " + Show(want);
  if (c.contains("error_line")) {
    const std::string line = ":" + std::to_string(c.at("error_line").get<int>()) + ": ";
    if (msg.find(line) == std::string::npos) return "error " + Show(msg) + " does not name line";
  }
  return "";
}

bool StartsWithDigit(const std::string& k) {
  size_t i = 0;
  while (i < k.size() && std::isspace(static_cast<unsigned char>(k[i]))) ++i;
  return i < k.size() && std::isdigit(static_cast<unsigned char>(k[i]));
}

std::string CheckDotenv(const json& c) {
  if (c.contains("expand")) {
    const std::string tmpl = c.at("expand").get<std::string>();
    Expanded e;
    TemplateError err;
    const bool ok = ExpandTemplate(tmpl, FromVars(ToVars(c.at("mapping"))), &e, &err);
    if (c.contains("error")) {
      if (ok) return Show(tmpl) + ": expected an error";
      if (err.what.find(c.at("error").get<std::string>()) == std::string::npos) {
        return Show(tmpl) + ": error " + Show(err.what);
      }
      return "";
    }
    if (!ok) return Show(tmpl) + ": unexpected error " + err.what;
    const std::string want = c.at("expect").get<std::string>();
    return e.value == want ? "" : Show(tmpl) + ": got " + Show(e.value) + ", want " + Show(want);
  }
  if (c.contains("input") || c.contains("repeat")) {
    std::string text;
    if (c.contains("repeat")) {
      const std::string pattern = c.at("repeat").get<std::string>();
      const int count = c.at("count").get<int>();
      for (int i = 0; i < count; ++i) {
        std::string line = pattern;
        for (size_t p; (p = line.find("{i}")) != std::string::npos;) {
          line.replace(p, 3, std::to_string(i));
        }
        text += (i ? c.at("separator").get<std::string>() : "") + line;
      }
    } else {
      text = c.at("input").get<std::string>();
    }
    Vars vars;
    const Status st =
        ParseDotenvInto(text, "input", FromVars(ToVars(c.value("lookup", json()))), &vars);
    if (c.contains("error")) return CheckError(st, c);
    if (!st.ok()) return "unexpected error " + st.message();
    if (c.contains("repeat")) {
      return vars.size() == static_cast<size_t>(c.at("count").get<int>())
                 ? ""
                 : std::to_string(vars.size()) + " keys read";
    }
    return CompareVars(vars, c);
  }
  const std::string mode = c.at("mode").get<std::string>();
  const Vars environ = ToVars(c.value("environ", json()));
  Vars result;
  Status st = Status::OK();
  if (mode == "files") {
    // GetEnvFromFile: one variable set shared by the files, the environment looked up first.
    if (c.contains("texts")) {
      int n = 0;
      for (const json& t : c.at("texts")) {
        st = ParseDotenvInto(t.get<std::string>(), "file" + std::to_string(++n), FromVars(environ),
                             &result);
        if (!st.ok()) break;
      }
    } else {
      for (const json& f : c.at("files")) {
        st = ReadDotenvFileInto(kDir / "dotenv" / f.get<std::string>(), f.get<std::string>(),
                                FromVars(environ), &result);
        if (!st.ok()) break;
      }
    }
  } else {
    // Read: each file alone, the environment as lookup, keys starting with a digit dropped.
    // Load: each file alone without lookup; keys already in the environment keep their value.
    for (const json& f : c.at("files")) {
      const std::string name = f.get<std::string>();
      Vars one;
      st = ReadDotenvFileInto(kDir / "dotenv" / name, name,
                              mode == "read" ? FromVars(environ) : FromVars({}), &one);
      if (!st.ok()) break;
      for (auto& [k, v] : one) {
        if (mode == "read" && StartsWithDigit(k)) continue;
        result[k] = v;
      }
    }
    if (mode == "load") {
      for (const auto& [k, v] : environ) result[k] = v;
    }
  }
  if (c.contains("error")) return CheckError(st, c);
  if (!st.ok()) return "unexpected error " + st.message();
  return CompareVars(result, c);
}

TEST(ComposeGoVectors, Interpolation) {
  const json doc = ReadJson(kDir / "template_cases.json");
  RunAll("template", doc.at("cases"),
         [&](const json& c) { return CheckTemplate(c, doc.at("mappings")); });
}

TEST(ComposeGoVectors, Dotenv) {
  const json doc = ReadJson(kDir / "dotenv_cases.json");
  RunAll("dotenv", doc.at("cases"), CheckDotenv);
}

}  // namespace
}  // namespace slipway::config
