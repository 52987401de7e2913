#include "config/node.h"

#include <yaml-cpp/yaml.h>

#include <set>

namespace slipway::config {
namespace {

SourceLoc LocOf(const YAML::Mark& m, const std::string& file) {
  if (m.line < 0) return SourceLoc{file, 0, 0};
  return SourceLoc{file, m.line + 1, m.column + 1};
}

// Converts one yaml-cpp node. `depth` bounds alias-heavy or hostile input.
Result<Node> Convert(const YAML::Node& y, const std::string& file, int depth) {
  if (depth > 200) {
    return ErrorAt(LocOf(y.Mark(), file), "", "document nests too deeply", "at most 200 levels");
  }
  Node n;
  n.loc = LocOf(y.Mark(), file);
  const std::string& tag = y.Tag();
  if (tag == "!reset" || tag == "!override") n.tag = tag;
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.kind = Node::Kind::kNull;
      return n;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::kScalar;
      n.scalar = y.Scalar();
      n.quoted = (tag == "!");
      return n;
    case YAML::NodeType::Sequence: {
      n.kind = Node::Kind::kSeq;
      for (const auto& item : y) {
        ASSIGN_OR_RETURN(Node c, Convert(item, file, depth + 1));
        n.children.push_back(std::move(c));
      }
      return n;
    }
    case YAML::NodeType::Map: {
      n.kind = Node::Kind::kMap;
      std::vector<Node> merged;  // entries from `<<: *anchor`, lower priority
      for (auto it = y.begin(); it != y.end(); ++it) {
        const SourceLoc key_loc = LocOf(it->first.Mark(), file);
        if (!it->first.IsScalar()) {
          return ErrorAt(key_loc, "", "mapping keys must be plain strings", "e.g. name: value");
        }
        std::string key = it->first.Scalar();
        ASSIGN_OR_RETURN(Node value, Convert(it->second, file, depth + 1));
        if (key == "<<" && it->first.Tag() != "!") {
          // YAML merge key: one mapping or a list of them; earlier ones win.
          std::vector<Node> sources;
          if (value.IsMap()) {
            sources.push_back(std::move(value));
          } else if (value.IsSeq()) {
            sources = std::move(value.children);
          }
          for (Node& src : sources) {
            if (!src.IsMap()) {
              return ErrorAt(key_loc, "<<", "merge key needs a mapping or a list of mappings",
                             "e.g. <<: *defaults");
            }
            for (Node& c : src.children) {
              bool seen = false;
              for (const Node& m : merged) seen = seen || m.key == c.key;
              if (!seen) merged.push_back(std::move(c));
            }
          }
          continue;
        }
        if (n.Find(key) != nullptr) {
          return ErrorAt(key_loc, key, "duplicate key", "each key once per mapping");
        }
        value.key = std::move(key);
        value.key_loc = key_loc;
        n.children.push_back(std::move(value));
      }
      for (Node& m : merged) {
        if (n.Find(m.key) == nullptr) n.children.push_back(std::move(m));
      }
      return n;
    }
  }
  return n;
}

}  // namespace

const Node* Node::Find(std::string_view k) const {
  if (kind != Kind::kMap) return nullptr;
  for (const Node& c : children) {
    if (c.key == k) return &c;
  }
  return nullptr;
}

Node* Node::Find(std::string_view k) {
  return const_cast<Node*>(static_cast<const Node*>(this)->Find(k));
}

Node& Node::Set(const std::string& k, Node value) {
  SLIPWAY_CHECK(kind == Kind::kMap);
  value.key = k;
  for (Node& c : children) {
    if (c.key == k) {
      if (value.key_loc.line == 0) value.key_loc = c.key_loc;
      c = std::move(value);
      return c;
    }
  }
  children.push_back(std::move(value));
  return children.back();
}

bool Node::Erase(std::string_view k) {
  for (auto it = children.begin(); it != children.end(); ++it) {
    if (it->key == k) {
      children.erase(it);
      return true;
    }
  }
  return false;
}

std::string Node::Describe() const {
  switch (kind) {
    case Kind::kNull:
      return "an empty value";
    case Kind::kScalar:
      return Quote(scalar);
    case Kind::kSeq:
      return "a list";
    case Kind::kMap:
      return "a mapping";
  }
  return "";
}

Node Node::Scalar(std::string s, SourceLoc loc) {
  Node n;
  n.kind = Kind::kScalar;
  n.scalar = std::move(s);
  n.loc = std::move(loc);
  return n;
}

Node Node::Map(SourceLoc loc) {
  Node n;
  n.kind = Kind::kMap;
  n.loc = std::move(loc);
  return n;
}

Node Node::Seq(SourceLoc loc) {
  Node n;
  n.kind = Kind::kSeq;
  n.loc = std::move(loc);
  return n;
}

Result<Node> ParseYaml(const std::string& text, const std::string& file_label) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return ErrorAt(LocOf(e.mark, file_label), "", "invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    return ErrorAt(LocOf(e.mark, file_label), "", std::string("invalid YAML: ") + e.msg);
  }
  try {
    ASSIGN_OR_RETURN(Node n, Convert(root, file_label, 0));
    if (n.IsNull()) n = Node::Map(SourceLoc{file_label, 1, 1});
    return n;
  } catch (const YAML::Exception& e) {
    return ErrorAt(LocOf(e.mark, file_label), "", std::string("invalid YAML: ") + e.msg);
  }
}

Status ErrorAt(const SourceLoc& loc, std::string_view path, std::string_view what,
               std::string_view expected) {
  std::string msg = loc.ToString();
  if (!msg.empty()) msg += ": ";
  if (!path.empty()) {
    msg += path;
    msg += ": ";
  }
  msg += what;
  if (!expected.empty()) {
    msg += " (expected ";
    msg += expected;
    msg += ")";
  }
  // One line, always: a value with a newline must not break the format.
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return InvalidInput(std::move(msg));
}

Status NodeError(const Node& n, std::string_view path, std::string_view what,
                 std::string_view expected) {
  return ErrorAt(n.ErrorLoc(), path, what, expected);
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string s(parent);
  s += '.';
  s += key;
  return s;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace slipway::config
