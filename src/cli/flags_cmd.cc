#include "cli/flags_cmd.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/checks.h"
#include "cli/output.h"
#include "config/flags_settings.h"
#include "flags/flag_set.h"
#include "runtime/log_store.h"

namespace slipway::cli {

using nlohmann::json;

namespace {

constexpr const char* kBase = "/api/v1/flags";

struct FlagsFlags {
  std::string env;
  std::string comment;
  std::string format = "table";
  std::string key;
  std::string file;
  std::string json_text;
  std::string percent;
  std::vector<std::string> add;
  std::string variant;
  bool replace = false;
  std::string output;
  int days = 30;
  int limit = 0;
};

// Who made a change, for the audit trail: $SLIPWAY_ACTOR, else the login name.
std::string Actor() {
  if (const char* a = std::getenv("SLIPWAY_ACTOR"); a != nullptr && *a != '\0') return a;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  return "cli";
}

// Keys and environment names travel in the URL as they are (the admin API does not decode), so
// characters with a meaning there are refused up front.
Status CheckName(const std::string& what, const std::string& name) {
  if (name.empty()) return InvalidInput(fmt::format("flags: {} is empty", what));
  for (unsigned char c : name) {
    if (c <= ' ' || c == '/' || c == '?' || c == '#' || c == '%' || c == '&' || c == 0x7f) {
      return InvalidInput(fmt::format("flags: {} \"{}\" contains '{}', which cannot be used", what,
                                      name, c <= ' ' ? std::string("space") : std::string(1, c)));
    }
  }
  return Status::OK();
}

// CheckName as a parse-time check: keys and environment names travel in the URL as they are.
CLI::Validator NameCheck(const std::string& what) {
  return Check("NAME", [what](const std::string& v) {
    return v.size() <= 256 && CheckName(what, v).ok()
               ? std::string()
               : "a " + what + " (1 to 256 bytes without spaces, '/', '?', '#', '%' or '&')";
  });
}

// The largest inline definition `flags set --json` takes (a file has no such bound).
constexpr size_t kMaxInlineJson = 1 << 20;
// A targeting attribute's name, as the daemon bounds it.
constexpr size_t kMaxTargetingKey = 256;

Result<json> ReadJsonFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidInput(
        fmt::format("flags {}: cannot read {}: {}", what, path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = config::FlagsFileAsJson(path, ss.str());  // .yaml/.yml: YAML, as flagd reads it
  if (!text.ok()) return InvalidInput(fmt::format("flags {}: {}", what, text.status().message()));
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return InvalidInput(fmt::format("flags {}: {} is not valid JSON", what, path));
  return j;
}

std::string Quoted(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '/' || c == '?' || c == '#' || c == '%' || c == '&' || c == ' ') {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::string Query(const FlagsFlags& f) { return f.env.empty() ? "" : "?env=" + Quoted(f.env); }

json Body(const FlagsFlags& f) {
  json b = {{"actor", Actor()}, {"comment", f.comment}};
  if (!f.env.empty()) b["env"] = f.env;
  return b;
}

std::string When(int64_t ms) { return ms > 0 ? runtime::FormatWallMillis(ms) : "never"; }

// One short word for a flag's targeting: "-", "rules", "rollout on 25%", "rules, rollout ...".
void FindFractional(const json& j, std::string* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "fractional" && it.value().is_array()) {
        std::string parts;
        for (const json& b : it.value()) {
          if (b.is_array() && b.size() == 2 && b[0].is_string() && b[1].is_number()) {
            parts += fmt::format("{}{} {}%", parts.empty() ? "" : "/", b[0].get<std::string>(),
                                 b[1].dump());
          }
        }
        *out = parts.empty() ? "fractional" : "rollout " + parts;
        return;
      }
      FindFractional(it.value(), out);
    }
  } else if (j.is_array()) {
    for (const json& e : j) FindFractional(e, out);
  }
}

std::string TargetingSummary(const json& def) {
  const json t = def.value("targeting", json());
  if (t.is_null() || (t.is_object() && t.empty())) return "-";
  std::string frac;
  FindFractional(t, &frac);
  if (frac.empty()) return "rules";
  if (t.is_object() && t.size() == 1 && t.contains("fractional")) return frac;
  return "rules, " + frac;
}

std::string Variants(const json& def) {
  std::string out;
  auto variants = def.find("variants");
  if (variants == def.end() || !variants->is_object()) return out;
  for (auto it = variants->begin(); it != variants->end(); ++it) {
    out += (out.empty() ? "" : ",") + it.key();
  }
  return out;
}

std::string DefaultVariant(const json& def) {
  const json d = def.value("defaultVariant", json());
  return d.is_string() ? d.get<std::string>() : "(null)";
}

void PrintJson(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

Status List(CliContext& ctx, const FlagsFlags& f) {
  ASSIGN_OR_RETURN(json r, ctx.Call("GET", std::string(kBase) + Query(f)));
  if (f.format == "json") {
    PrintJson(r);
    return Status::OK();
  }
  // Checked reads: an answer of another shape is one line (exit 2), never an exception.
  api::BodyFields answer(r);
  const std::string environment = answer.String("environment", "an environment name");
  const json* flags = answer.Raw("flags");
  if (!r.is_object()) return AnswerError(InvalidInput("expected an object"), "flags list");
  if (!answer.status().ok()) return AnswerError(answer.status(), "flags list");
  auto rows = AnswerRows(
      flags ? *flags : json::array(),
      [](api::BodyFields& fl) -> std::vector<std::string> {
        const std::string key = fl.String("key", "a flag key");
        const json& def = fl.Object("definition", "a flag definition");
        api::BodyFields d(def, fl.Path("definition."));
        const std::string state = d.String("state", "ENABLED or DISABLED");
        if (!d.status().ok()) fl.Fail("definition.state", "expected ENABLED or DISABLED");
        const int64_t updated = fl.Int("updated_ms", 0, 0, INT64_MAX, "a time in Unix ms");
        const int64_t evaluated = fl.Int("evaluated_ms", 0, 0, INT64_MAX, "a time in Unix ms");
        return {key,
                state,
                DefaultVariant(def),
                Variants(def),
                TargetingSummary(def),
                When(updated),
                When(evaluated)};
      },
      "flags");
  if (!rows.ok()) return AnswerError(rows.status(), "flags list");
  std::printf("environment: %s\n", environment.c_str());
  PrintTable({"KEY", "STATE", "DEFAULT", "VARIANTS", "TARGETING", "CHANGED", "EVALUATED"}, *rows);
  if (rows->empty()) std::printf("(no flags)\n");
  return Status::OK();
}

Status Get(CliContext& ctx, const FlagsFlags& f) {
  RETURN_IF_ERROR(CheckName("flag key", f.key));
  ASSIGN_OR_RETURN(json r, ctx.Call("GET", fmt::format("{}/{}{}", kBase, f.key, Query(f))));
  if (f.format == "json") {
    PrintJson(r);
    return Status::OK();
  }
  auto text = FlagGetText(r);
  if (!text.ok()) return AnswerError(text.status(), "flags get");
  std::printf("%s", text->c_str());
  return Status::OK();
}

// Prints "ok" (or the daemon's answer as JSON) after a change.
void Done(const FlagsFlags& f, const json& answer, const std::string& what) {
  if (f.format == "json") {
    PrintJson(answer);
  } else {
    std::printf("%s\n", what.c_str());
  }
}

Status Set(CliContext& ctx, const FlagsFlags& f) {
  RETURN_IF_ERROR(CheckName("flag key", f.key));
  if (f.file.empty() == f.json_text.empty()) {
    return InvalidInput(
        "flags set: give the definition with exactly one of --file F or --json '{..}'");
  }
  json def;
  if (!f.file.empty()) {
    ASSIGN_OR_RETURN(def, ReadJsonFile(f.file, "set"));
  } else {
    def = json::parse(f.json_text, nullptr, /*allow_exceptions=*/false);
    if (def.is_discarded()) return InvalidInput("flags set: --json is not valid JSON");
  }
  if (!def.is_object()) return InvalidInput("flags set: the definition must be a JSON object");
  json body = Body(f);
  body["definition"] = def;
  ASSIGN_OR_RETURN(json r, ctx.Call("PUT", fmt::format("{}/{}", kBase, f.key), body));
  Done(f, r, fmt::format("flag {} set", f.key));
  return Status::OK();
}

Status Toggle(CliContext& ctx, const FlagsFlags& f, bool enable) {
  RETURN_IF_ERROR(CheckName("flag key", f.key));
  const char* action = enable ? "enable" : "disable";
  ASSIGN_OR_RETURN(json r,
                   ctx.Call("POST", fmt::format("{}/{}/{}", kBase, f.key, action), Body(f)));
  Done(f, r, fmt::format("flag {} {}d", f.key, action));
  return Status::OK();
}

Status Rollout(CliContext& ctx, const FlagsFlags& f) {
  RETURN_IF_ERROR(CheckName("flag key", f.key));
  std::string p = f.percent;
  if (!p.empty() && p.back() == '%') p.pop_back();
  char* end = nullptr;
  errno = 0;
  long percent = p.empty() ? -1 : std::strtol(p.c_str(), &end, 10);
  if (p.empty() || errno != 0 || *end != '\0' || percent < 0 || percent > 100) {
    return InvalidInput(
        fmt::format("flags rollout: PERCENT must be a whole number 0..100, got \"{}\"", f.percent));
  }
  json body = Body(f);
  body["percent"] = percent;
  ASSIGN_OR_RETURN(json r, ctx.Call("POST", fmt::format("{}/{}/rollout", kBase, f.key), body));
  Done(f, r, fmt::format("flag {} rolled out to {}%", f.key, percent));
  return Status::OK();
}

Status Target(CliContext& ctx, const FlagsFlags& f) {
  RETURN_IF_ERROR(CheckName("flag key", f.key));
  if (f.add.empty()) return InvalidInput("flags target: give at least one --add attr=value");
  for (const std::string& a : f.add) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidInput(fmt::format("flags target: --add \"{}\" is not attr=value", a));
    }
  }
  json body = Body(f);
  body["add"] = f.add;
  if (!f.variant.empty()) body["variant"] = f.variant;
  ASSIGN_OR_RETURN(json r, ctx.Call("POST", fmt::format("{}/{}/target", kBase, f.key), body));
  Done(f, r, fmt::format("flag {}: {} target(s) added", f.key, f.add.size()));
  return Status::OK();
}

Status History(CliContext& ctx, const FlagsFlags& f) {
  RETURN_IF_ERROR(CheckName("flag key", f.key));
  std::string q = Query(f);
  if (f.limit > 0) q += fmt::format("{}limit={}", q.empty() ? "?" : "&", f.limit);
  ASSIGN_OR_RETURN(json r, ctx.Call("GET", fmt::format("{}/{}/history{}", kBase, f.key, q)));
  if (f.format == "json") {
    PrintJson(r);
    return Status::OK();
  }
  if (!r.is_array() || r.empty()) {
    std::printf("(no changes recorded for %s)\n", f.key.c_str());
    return Status::OK();
  }
  // Oldest first, as the daemon sends it; each entry shows who, when, why and the whole change.
  for (const json& a : r) {
    std::printf("#%lld  %s  %s  %s", static_cast<long long>(a.value("id", int64_t{0})),
                When(a.value("t", int64_t{0})).c_str(), a.value("actor", "").c_str(),
                a.value("action", "").c_str());
    const std::string comment = a.value("comment", "");
    if (!comment.empty()) std::printf("  \"%s\"", comment.c_str());
    std::printf("\n    before: %s\n    after:  %s\n", a.value("before", json()).dump().c_str(),
                a.value("after", json()).dump().c_str());
  }
  return Status::OK();
}

Status Import(CliContext& ctx, const FlagsFlags& f) {
  ASSIGN_OR_RETURN(json doc, ReadJsonFile(f.file, "import"));
  // Refused here when flagd would refuse it; what flagd loads anyway is imported with a warning.
  auto parsed = flags::FlagSet::Parse(doc, f.file);
  if (!parsed.ok()) return InvalidInput("flags import: " + parsed.status().message());
  for (const flags::FlagSet::Problem& p : (*parsed)->Problems()) {
    std::fprintf(stderr, "warning: %s: %s%s\n", f.file.c_str(),
                 p.flag.empty() ? "" : ("flag " + p.flag + ": ").c_str(), p.message.c_str());
  }
  json body = Body(f);
  body["document"] = doc;
  body["replace"] = f.replace;
  ASSIGN_OR_RETURN(json r, ctx.Call("POST", std::string(kBase) + "/import", body));
  Done(f, r,
       fmt::format("imported {} flag(s) from {}{}", (*parsed)->flags().size(), f.file,
                   f.replace ? " (others removed)" : ""));
  return Status::OK();
}

Status Export(CliContext& ctx, const FlagsFlags& f) {
  ASSIGN_OR_RETURN(json doc, ctx.Call("GET", std::string(kBase) + "/export" + Query(f)));
  std::string text = doc.dump(2) + "\n";
  if (f.output.empty() || f.output == "-") {
    std::fputs(text.c_str(), stdout);
    return Status::OK();
  }
  std::ofstream out(f.output, std::ios::binary | std::ios::trunc);
  if (!out)
    return InvalidInput(
        fmt::format("flags export: cannot write {}: {}", f.output, std::strerror(errno)));
  out << text;
  out.close();
  if (!out) return IoError(fmt::format("flags export: writing {} failed", f.output));
  std::fprintf(stderr, "exported %zu flag(s) to %s\n", doc.value("flags", json::object()).size(),
               f.output.c_str());
  return Status::OK();
}

Status Stale(CliContext& ctx, const FlagsFlags& f) {
  if (f.days < 0)
    return InvalidInput(fmt::format("flags stale: --days must be >= 0, got {}", f.days));
  std::string q = Query(f);
  q += fmt::format("{}days={}", q.empty() ? "?" : "&", f.days);
  ASSIGN_OR_RETURN(json r, ctx.Call("GET", std::string(kBase) + "/stale" + q));
  if (f.format == "json") {
    PrintJson(r);
    return Status::OK();
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& s : r.value("flags", json::array())) {
    rows.push_back({s.value("key", ""), s.value("why", "")});
  }
  PrintTable({"KEY", "WHY"}, rows);
  if (rows.empty()) std::printf("(no stale flags)\n");
  return Status::OK();
}

// One flagd document checked as the daemon loads it. Exit 0: every flag valid; 1: flagd
// loads the file but some flags (or the document) break its schema, each listed on one line;
// 2: the file cannot be read, is not JSON, or flagd would refuse it.
int CheckDocument(const std::string& label, const json& doc, const std::string& format,
                  json* report) {
  auto set = flags::FlagSet::Parse(doc, label);
  if (!set.ok()) {
    (*report)["errors"].push_back(set.status().message());
    if (format != "json") {
      std::fprintf(stderr, "%s\n",
                   CliContext::ErrorLine(set.status().message(), "flags check").c_str());
    }
    return 2;
  }
  // One line per flag (its problems joined), the document's own problems first.
  std::vector<std::pair<std::string, std::string>> lines;
  for (const flags::FlagSet::Problem& p : (*set)->Problems()) {
    if (!lines.empty() && !p.flag.empty() && lines.back().first == p.flag) {
      lines.back().second += "; " + p.message;
    } else {
      lines.emplace_back(p.flag, p.message);
    }
  }
  size_t invalid = 0;
  for (const auto& [key, f] : (*set)->flags()) invalid += f->valid() ? 0 : 1;
  json entry = {{"source", label},
                {"flags", (*set)->flags().size()},
                {"invalid", invalid},
                {"problems", json::array()}};
  for (const auto& [flag, message] : lines) {
    entry["problems"].push_back({{"flag", flag}, {"message", message}});
    if (format != "json") {
      std::printf("%s: %s%s\n", label.c_str(), flag.empty() ? "" : ("flag " + flag + ": ").c_str(),
                  message.c_str());
    }
  }
  if (format != "json") {
    if (lines.empty()) {
      std::printf("%s: %zu flag(s), all valid\n", label.c_str(), (*set)->flags().size());
    } else {
      std::printf(
          "%s: %zu of %zu flag(s) invalid; they load, as in flagd, and are answered as "
          "flagd answers them (see each line)\n",
          label.c_str(), invalid, (*set)->flags().size());
    }
  }
  (*report)["documents"].push_back(std::move(entry));
  return lines.empty() ? 0 : 1;
}

// `flags check [FILE]`: FILE, or every source of the project's x-slipway.flags. Works without
// a daemon.
int Check(CliContext& ctx, const FlagsFlags& f) {
  json report = {{"documents", json::array()}, {"errors", json::array()}};
  int rc = 0;
  auto fail = [&](const std::string& what) {
    report["errors"].push_back(what);
    if (f.format != "json") {
      std::fprintf(stderr, "%s\n", CliContext::ErrorLine(what, "flags check").c_str());
    }
    rc = 2;
  };
  auto check_file = [&](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      fail(fmt::format("flags check: cannot read {}: {}", path, std::strerror(errno)));
      return;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = config::FlagsFileAsJson(path, ss.str());  // .yaml/.yml: YAML, as flagd reads it
    if (!text.ok()) {
      fail("flags check: " + text.status().message());
      return;
    }
    json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      fail(fmt::format("flags check: {} is not valid JSON", path));
      return;
    }
    rc = std::max(rc, CheckDocument(path, doc, f.format, &report));
  };
  if (!f.file.empty()) {
    check_file(f.file);
  } else {
    auto project = ctx.Project();
    if (!project.ok()) return CliContext::Fail(project.status(), "flags check");
    const config::FlagsSettings& fs = (*project)->flags;
    if (fs.environments.empty()) {
      fail("flags check: the project has no x-slipway.flags (name a FILE to check)");
    }
    for (const auto& [env, src] : fs.environments) {
      if (!src.file.empty()) {
        check_file(src.file);
        continue;
      }
      json doc = json::parse(src.definitions, nullptr, /*allow_exceptions=*/false);
      const std::string label = "x-slipway.flags (" + env + ")";
      if (doc.is_discarded()) {
        fail(label + ": not valid JSON");
      } else {
        rc = std::max(rc, CheckDocument(label, doc, f.format, &report));
      }
    }
  }
  if (f.format == "json") PrintJson(report);
  return rc;
}

}  // namespace

Result<std::string> FlagGetText(const json& answer) {
  if (!answer.is_object()) {
    return InvalidInput(fmt::format("expected an object, got {}", api::JsonTypeName(answer)));
  }
  api::BodyFields r(answer);
  const std::string key = r.RequiredString("key", "a flag key");
  const int64_t created = r.Int("created_ms", 0, 0, INT64_MAX, "a time in Unix ms");
  const int64_t updated = r.Int("updated_ms", 0, 0, INT64_MAX, "a time in Unix ms");
  const int64_t evaluated = r.Int("evaluated_ms", 0, 0, INT64_MAX, "a time in Unix ms");
  const json* def = r.Raw("definition", /*required=*/true);
  if (def != nullptr && !def->is_object()) {
    r.Fail("definition",
           fmt::format("expected a flag definition, got {}", api::JsonTypeName(*def)));
  }
  RETURN_IF_ERROR(r.status());
  return fmt::format(
      "key:        {}\ncreated:    {}\nchanged:    {}\nevaluated:  {}\ndefinition: {}\n", key,
      When(created), When(updated), When(evaluated), def->dump(2));
}

void AddFlagsCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto f = std::make_shared<FlagsFlags>();
  auto* cmd = app.add_subcommand("flags", "Feature flags: list, change, roll out, audit");
  cmd->require_subcommand(1);
  // On the parent so they are accepted before or after the subcommand (fallthrough).
  cmd->add_option("--env", f->env, "Environment (default: the project's default one)")
      ->check(NameCheck("environment"));
  cmd->add_option("--comment", f->comment, "Why, recorded in the audit trail")->check(Text(4096));
  cmd->add_option("--format", f->format, "table or json")->check(OneOf({"table", "json"}));

  auto run = [&ctx, f, rc](Status (*body)(CliContext&, const FlagsFlags&), std::string name) {
    Status st;
    if (!f->env.empty()) st = CheckName("environment", f->env);
    if (st.ok()) st = body(ctx, *f);
    *rc = st.ok() ? 0 : CliContext::Fail(st, "flags " + name);
  };
  auto key_arg = [f](CLI::App* sub) {
    sub->add_option("KEY", f->key, "Flag key")->required()->check(NameCheck("flag key"));
  };

  auto* list = cmd->add_subcommand("list", "Flags of the environment with state and lifecycle");
  list->callback([run] { run(List, "list"); });

  auto* get = cmd->add_subcommand("get", "One flag: definition and lifecycle");
  key_arg(get);
  get->callback([run] { run(Get, "get"); });

  auto* set = cmd->add_subcommand("set", "Create or replace a flag (flagd JSON definition)");
  key_arg(set);
  set->add_option("--file", f->file, "File with the flag's definition")->check(Path());
  set->add_option("--json", f->json_text, "The definition inline")
      ->check(Check("JSON", [](const std::string& v) {
        if (v.size() > kMaxInlineJson) return std::string("a flag definition of at most 1 MiB");
        const json def = json::parse(v, nullptr, /*allow_exceptions=*/false);
        if (def.is_discarded()) return std::string("valid JSON");
        return def.is_object() ? std::string() : std::string("a flag definition (a JSON object)");
      }));
  set->callback([run] { run(Set, "set"); });

  auto* enable = cmd->add_subcommand("enable", "Enable a flag");
  key_arg(enable);
  enable->callback([run] {
    run([](CliContext& c, const FlagsFlags& fl) { return Toggle(c, fl, true); }, "enable");
  });
  auto* disable = cmd->add_subcommand("disable", "Disable a flag (clients use their defaults)");
  key_arg(disable);
  disable->callback([run] {
    run([](CliContext& c, const FlagsFlags& fl) { return Toggle(c, fl, false); }, "disable");
  });

  auto* rollout = cmd->add_subcommand("rollout", "Serve the on variant to PERCENT% of users");
  key_arg(rollout);
  rollout->add_option("PERCENT", f->percent, "0..100")
      ->required()
      ->check(Check("PERCENT", [](const std::string& v) {
        std::string p = v;
        if (!p.empty() && p.back() == '%') p.pop_back();
        const bool digits =
            !p.empty() && p.size() <= 3 &&
            std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
        return digits && std::stoi(p) <= 100 ? std::string()
                                             : std::string("a whole percentage 0..100");
      }));
  rollout->callback([run] { run(Rollout, "rollout"); });

  auto* target = cmd->add_subcommand("target", "Serve a variant to users with attr=value");
  key_arg(target);
  target->add_option("--add", f->add, "attr=value (repeatable)")
      ->check(Check("ATTR=VALUE", [](const std::string& v) {
        const size_t eq = v.find('=');
        const bool ok = eq != std::string::npos && eq > 0 && eq <= kMaxTargetingKey &&
                        v.size() <= 4096 && v.find_first_of("\r\n") == std::string::npos;
        return ok ? std::string() : std::string("attr=value");
      }));
  target->add_option("--variant", f->variant, "Variant to serve (default: the on variant)")
      ->check(Text(256));
  target->callback([run] { run(Target, "target"); });

  auto* history = cmd->add_subcommand("history", "Audit trail of a flag: who, when, before, after");
  key_arg(history);
  history->add_option("--limit", f->limit, "Only the last N changes (0: all)")
      ->check(Whole(0, 100'000, "a number of changes"));
  history->callback([run] { run(History, "history"); });

  auto* import = cmd->add_subcommand("import", "Import a flagd JSON document");
  import->add_option("FILE", f->file, "flagd JSON file")->required()->check(Path());
  import->add_flag("--replace", f->replace, "Delete flags that are not in the file");
  import->callback([run] { run(Import, "import");
});

auto* exp = cmd->add_subcommand("export", "Print the environment as a flagd JSON document");
exp->add_option("-o,--output", f->output, "Write to FILE instead of stdout")->check(Path());
exp->callback([run] { run(Export, "export"); });

auto* check = cmd->add_subcommand(
    "check",
    "Check a flagd file as the daemon loads it (exit 0 valid, 1 invalid flags, 2 unreadable)");
check->add_option("FILE", f->file, "flagd JSON file (default: the project's x-slipway.flags)")
    ->check(Path());
check->callback([&ctx, f, rc] { *rc = Check(ctx, *f); });

auto* stale = cmd->add_subcommand("stale", "Flags fully rolled out or not evaluated for N days");
stale->add_option("--days", f->days, "N (default 30)")->check(Whole(0, 36'500, "a number of days"));
stale->callback([run] { run(Stale, "stale"); });
}  // namespace slipway::cli

}  // namespace slipway::cli
