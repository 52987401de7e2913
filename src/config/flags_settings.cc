#include "config/flags_settings.h"

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
namespace {

using nlohmann::json;

json ToJson(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull:
      return json();
    case Node::Kind::kSeq: {
      json a = json::array();
      for (const Node& c : n.children) a.push_back(ToJson(c));
      return a;
    }
    case Node::Kind::kMap: {
      json o = json::object();
      for (const Node& c : n.children) o[c.key] = ToJson(c);
      return o;
    }
    case Node::Kind::kScalar:
      break;
  }
  const std::string& s = n.scalar;
  if (n.quoted) return s;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return json();
  json num = json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (!num.is_discarded() && num.is_number()) return num;
  return s;
}

Status ParseSource(const Node& n, const std::string& path, const std::string& dir,
                   FlagsSource* out) {
  if (n.IsScalar()) {
    ASSIGN_OR_RETURN(std::string f, ReadString(n, path));
    out->file = (std::filesystem::path(dir) / f).lexically_normal().string();
  } else {
    RETURN_IF_ERROR(ExpectMap(n, path, "a file name, or a mapping with file or definitions"));
  }
  for (const Node& c : n.IsMap() ? n.children : std::vector<Node>{}) {
    const std::string cpath = JoinPath(path, c.key);
    if (c.key == "file") {
      ASSIGN_OR_RETURN(std::string f, ReadString(c, cpath));
      out->file = (std::filesystem::path(dir) / f).lexically_normal().string();
    } else if (c.key == "definitions") {
      if (!c.IsMap() || c.Find("flags") == nullptr || !c.Find("flags")->IsMap()) {
        return NodeError(c, cpath, "is not a flag document",
                         "a mapping with flags: {KEY: {state, variants, defaultVariant}}");
      }
      out->definitions = NodeToJsonText(c);
    }
  }
  if (!out->file.empty() && !out->definitions.empty()) {
    return NodeError(n, path, "has both file and definitions", "one of them");
  }
  if (!out->file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(out->file, ec)) {
      return NodeError(n, path, "file " + Quote(out->file) + " not found",
                       "a flagd JSON file, relative to the project folder");
    }
  }
  return Status::OK();
}

}  // namespace

std::string NodeToJsonText(const Node& n) { return ToJson(n).dump(); }

Result<std::string> FlagsFileAsJson(const std::string& file, const std::string& text) {
  std::string ext = std::filesystem::path(file).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".yaml" && ext != ".yml") return text;
  ASSIGN_OR_RETURN(Node n, ParseYaml(text, file));
  return NodeToJsonText(n);
}

Status ParseFlagsSettings(const Node& n, const std::string& path, const std::string& project_dir,
                          FlagsSettings* out) {
  out->configured = true;
  if (n.IsScalar()) {
    return ParseSource(n, path, project_dir, &out->environments[out->default_environment]);
  }
  static const char* kExpected =
      "a file name, or a mapping with file, definitions, default_environment, environments, "
      "tokens, rate_per_second";
  RETURN_IF_ERROR(ExpectMap(n, path, kExpected));
  FlagsSource main;
  bool has_main = false;
  for (const Node& c : n.children) {
    const std::string cpath = JoinPath(path, c.key);
    if (c.key == "file" || c.key == "definitions") {
      has_main = true;
    } else if (c.key == "default_environment") {
      ASSIGN_OR_RETURN(out->default_environment, ReadString(c, cpath));
      if (out->default_environment.empty()) return NodeError(c, cpath, "is empty", "a name");
    } else if (c.key == "environments") {
      RETURN_IF_ERROR(ExpectMap(c, cpath, "a mapping of environment: file or {file|definitions}"));
      for (const Node& e : c.children) {
        RETURN_IF_ERROR(
            ParseSource(e, JoinPath(cpath, e.key), project_dir, &out->environments[e.key]));
      }
    } else if (c.key == "tokens") {
      if (!c.IsSeq()) return NodeError(c, cpath, "is not a list", "a list of {token, environment}");
      for (size_t i = 0; i < c.children.size(); ++i) {
        const Node& t = c.children[i];
        const std::string tpath = IndexPath(cpath, i);
        RETURN_IF_ERROR(ExpectMap(t, tpath, "a mapping with token and environment"));
        FlagsReadToken tok;
        for (const Node& g : t.children) {
          if (g.key == "token") {
            ASSIGN_OR_RETURN(tok.token, ReadString(g, JoinPath(tpath, g.key)));
          } else if (g.key == "environment") {
            ASSIGN_OR_RETURN(tok.environment, ReadString(g, JoinPath(tpath, g.key)));
          } else {
            return NodeError(g, JoinPath(tpath, g.key), "unknown key " + Quote(g.key),
                             "token or environment");
          }
        }
        if (tok.token.size() < 8) {
          return NodeError(t, tpath, "token is missing or shorter than 8 characters",
                           "a secret, e.g. ${FLAGS_TOKEN}");
        }
        out->tokens.push_back(std::move(tok));
      }
    } else if (c.key == "rate_per_second") {
      ASSIGN_OR_RETURN(out->rate_per_second, ReadDouble(c, cpath));
      if (out->rate_per_second < 0) return NodeError(c, cpath, "is negative", "0 or more");
    } else {
      return NodeError(c, cpath, "unknown key " + Quote(c.key), kExpected);
    }
  }
  if (has_main) {
    RETURN_IF_ERROR(ParseSource(n, path, project_dir, &main));
    out->environments[out->default_environment] = std::move(main);
  }
  return Status::OK();
}

}  // namespace slipway::config
