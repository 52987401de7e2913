#include "config/node.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <istream>
#include <streambuf>
#include <unordered_set>

namespace slipway::config {
namespace {

constexpr uint32_t kNone = UINT32_MAX;

SourceLoc LocAt(int line, int column, const std::string& file) {
  if (line < 0) return SourceLoc{file, 0, 0};
  return SourceLoc{file, line + 1, column + 1};
}

SourceLoc LocOf(const YAML::Mark& m, const std::string& file) {
  return LocAt(m.line, m.column, file);
}

// A limit was hit inside a yaml-cpp callback: thrown through the parser, caught in ParseYaml.
struct LimitHit {
  Status status;
};

// The parser's events as a flat arena: one small record per node, scalar text in one pool,
// children as a linked list. An alias is a record pointing at its anchored node, so nothing
// is expanded while parsing; Converter below expands aliases under a budget.
struct Raw {
  enum class Type : uint8_t { kNull, kScalar, kSeq, kMap, kAlias };
  Type type = Type::kNull;
  bool quoted = false;  // a scalar written with '...' / "..."
  bool open = false;    // a collection whose end has not been seen yet
  uint8_t tag = 0;      // 0, or 1 for !reset, 2 for !override
  int line = -1;
  int column = -1;
  uint32_t first = kNone;   // first child (map: key, value, key, value, ...)
  uint32_t last = kNone;    // last child
  uint32_t next = kNone;    // next sibling
  uint32_t target = kNone;  // kAlias: the anchored node
  size_t text = 0;          // kScalar: offset into the pool
  size_t size = 0;          // kScalar: length
};

class Builder : public YAML::EventHandler {
 public:
  explicit Builder(const std::string& file) : file_(file) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Add(Raw::Type::kNull, mark, "", anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (++aliases_ > kMaxYamlAliases) {
      throw LimitHit{ErrorAt(
          LocOf(mark, file_), "",
          "more than " + std::to_string(kMaxYamlAliases) + " YAML aliases (an alias bomb?)")};
    }
    const uint32_t target = anchor < anchors_.size() ? anchors_[anchor] : kNone;
    if (target == kNone) {
      throw LimitHit{ErrorAt(LocOf(mark, file_), "", "invalid YAML: unknown anchor")};
    }
    if (raw_[target].open) {
      throw LimitHit{ErrorAt(LocOf(mark, file_), "",
                             "alias *" + names_[anchor] + " is inside the node it names",
                             "an alias after the end of its anchored node")};
    }
    uint32_t i = Add(Raw::Type::kAlias, mark, "", 0);
    raw_[i].target = target;
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    uint32_t i = Add(Raw::Type::kScalar, mark, tag, anchor);
    Raw& r = raw_[i];
    r.quoted = tag == "!";
    r.text = pool_.size();
    r.size = value.size();
    pool_ += value;
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Raw::Type::kSeq, mark, tag, anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Raw::Type::kMap, mark, tag, anchor);
  }
  void OnMapEnd() override { Close(); }

  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

  const std::vector<Raw>& raw() const { return raw_; }
  const std::string& pool() const { return pool_; }
  uint32_t root() const { return root_; }

 private:
  uint32_t Add(Raw::Type type, const YAML::Mark& mark, const std::string& tag,
               YAML::anchor_t anchor) {
    if (raw_.size() >= kMaxYamlNodes) {
      throw LimitHit{
          ErrorAt(LocOf(mark, file_), "",
                  "document has more than " + std::to_string(kMaxYamlNodes) + " YAML nodes",
                  "a smaller compose file")};
    }
    const uint32_t i = static_cast<uint32_t>(raw_.size());
    Raw r;
    r.type = type;
    r.line = mark.line;
    r.column = mark.column;
    if (tag == "!reset") r.tag = 1;
    if (tag == "!override") r.tag = 2;
    raw_.push_back(r);
    if (!open_.empty()) {
      Raw& parent = raw_[open_.back()];
      if (parent.last == kNone) {
        parent.first = i;
      } else {
        raw_[parent.last].next = i;
      }
      parent.last = i;
    } else if (root_ == kNone) {
      root_ = i;
    }
    if (anchor != 0) {
      if (anchor >= anchors_.size()) {
        anchors_.resize(anchor + 1, kNone);
        names_.resize(anchor + 1);
      }
      anchors_[anchor] = i;
      names_[anchor] = std::move(anchor_name_);
      anchor_name_.clear();
    }
    return i;
  }

  void Open(Raw::Type type, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor) {
    // Checked while parsing, before yaml-cpp recurses any deeper.
    if (open_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
      throw LimitHit{ErrorAt(LocOf(mark, file_), "", "document nests too deeply",
                             "at most " + std::to_string(kMaxYamlDepth) + " levels")};
    }
    uint32_t i = Add(type, mark, tag, anchor);
    raw_[i].open = true;
    open_.push_back(i);
  }

  void Close() {
    if (open_.empty()) return;
    raw_[open_.back()].open = false;
    open_.pop_back();
  }

  const std::string& file_;
  std::vector<Raw> raw_;
  std::string pool_;
  std::vector<uint32_t> open_;      // collections being read, outermost first
  std::vector<uint32_t> anchors_;   // anchor id -> node
  std::vector<std::string> names_;  // anchor id -> its name, for messages
  std::string anchor_name_;         // the name announced for the next node
  uint32_t root_ = kNone;
  size_t aliases_ = 0;
};

// Turns the arena into Nodes: `<<` merge keys, duplicate keys, and alias expansion counted
// against kMaxAliasNodes / kMaxAliasBytes. Recursion is bounded by kMaxYamlDepth, which the
// expansion of an alias is checked against too.
class Converter {
 public:
  Converter(const Builder& b, const std::string& file)
      : raw_(b.raw()), pool_(b.pool()), file_(file) {}

  Result<Node> Convert(uint32_t i, int depth) {
    const Raw& r = raw_[i];
    if (r.type == Raw::Type::kAlias) {
      if (alias_depth_ == 0) {
        alias_site_ = i;
        alias_path_size_ = path_.size();
      }
      ++alias_depth_;
      Result<Node> n = Convert(r.target, depth);
      --alias_depth_;
      return n;
    }
    if (depth > kMaxYamlDepth) {
      return Error(i, "document nests too deeply",
                   "at most " + std::to_string(kMaxYamlDepth) + " levels");
    }
    RETURN_IF_ERROR(Count(1, r.type == Raw::Type::kScalar ? r.size : 0));
    Node n;
    n.loc = LocAt(r.line, r.column, file_);
    if (r.tag == 1) n.tag = "!reset";
    if (r.tag == 2) n.tag = "!override";
    switch (r.type) {
      case Raw::Type::kAlias:
      case Raw::Type::kNull:
        n.kind = Node::Kind::kNull;
        return n;
      case Raw::Type::kScalar:
        n.kind = Node::Kind::kScalar;
        n.scalar = Text(r);
        n.quoted = r.quoted;
        return n;
      case Raw::Type::kSeq: {
        n.kind = Node::Kind::kSeq;
        size_t index = 0;
        for (uint32_t c = r.first; c != kNone; c = raw_[c].next) {
          path_.push_back({{}, index++});
          Result<Node> item = Convert(c, depth + 1);
          path_.pop_back();
          if (!item.ok()) return item.status();
          n.children.push_back(std::move(*item));
        }
        return n;
      }
      case Raw::Type::kMap:
        n.kind = Node::Kind::kMap;
        RETURN_IF_ERROR(ConvertMap(r, depth, &n));
        return n;
    }
    return n;
  }

 private:
  struct Segment {
    std::string_view key;  // a map key, or empty for a list index
    size_t index = 0;
  };

  std::string_view Text(const Raw& r) const {
    return std::string_view(pool_).substr(r.text, r.size);
  }

  // The key path of the node being converted (of its first `size` segments), for messages.
  std::string Path(size_t size = SIZE_MAX) const {
    std::string p;
    for (size_t i = 0; i < path_.size() && i < size; ++i) {
      const Segment& s = path_[i];
      p = s.key.data() != nullptr ? JoinPath(p, s.key) : IndexPath(p, s.index);
    }
    return p;
  }

  Status Error(uint32_t i, std::string_view what, std::string_view expected = {}) const {
    return ErrorAt(LocAt(raw_[i].line, raw_[i].column, file_), Path(), what, expected);
  }

  // `nodes` more nodes with `bytes` of text; counted only inside an alias's expansion, and
  // refused at the outermost alias when over budget.
  Status Count(size_t nodes, size_t bytes) {
    total_nodes_ += nodes;
    if (total_nodes_ > kMaxYamlNodes) {
      const Raw& site = raw_[alias_site_];
      return ErrorAt(LocAt(site.line, site.column, file_), Path(alias_path_size_),
                     "YAML aliases expand the document to more than " +
                         std::to_string(kMaxYamlNodes) + " nodes (an alias bomb?)");
    }
    if (alias_depth_ == 0) return Status::OK();
    alias_nodes_ += nodes;
    alias_bytes_ += bytes;
    std::string what;
    if (alias_nodes_ > kMaxAliasNodes) {
      what = std::to_string(kMaxAliasNodes) + " nodes";
    } else if (alias_bytes_ > kMaxAliasBytes) {
      what = std::to_string(kMaxAliasBytes >> 20) + " MiB of text";
    } else {
      return Status::OK();
    }
    const Raw& site = raw_[alias_site_];
    return ErrorAt(LocAt(site.line, site.column, file_), Path(alias_path_size_),
                   "YAML aliases expand to more than " + what + " (an alias bomb?)");
  }

  Status ConvertMap(const Raw& r, int depth, Node* n) {
    std::unordered_set<std::string_view> own;  // views into the pool
    std::vector<Node> merged;                  // entries from `<<: *anchor`, lower priority
    std::unordered_set<std::string> merged_keys;
    for (uint32_t k = r.first; k != kNone; k = raw_[raw_[k].next].next) {
      const uint32_t v = raw_[k].next;
      const Raw& kr = raw_[k].type == Raw::Type::kAlias ? raw_[raw_[k].target] : raw_[k];
      const SourceLoc key_loc = LocAt(raw_[k].line, raw_[k].column, file_);
      if (kr.type != Raw::Type::kScalar) {
        return ErrorAt(key_loc, Path(), "mapping keys must be plain strings", "e.g. name: value");
      }
      const std::string_view key = Text(kr);
      RETURN_IF_ERROR(Count(0, key.size()));
      path_.push_back({key, 0});
      Result<Node> value = Convert(v, depth + 1);
      path_.pop_back();
      if (!value.ok()) return value.status();
      if (key == "<<" && !kr.quoted) {
        // YAML merge key: one mapping or a list of them; earlier ones win.
        std::vector<Node> sources;
        if (value->IsMap()) {
          sources.push_back(std::move(*value));
        } else if (value->IsSeq()) {
          sources = std::move(value->children);
        }
        for (Node& src : sources) {
          if (!src.IsMap()) {
            return ErrorAt(key_loc, JoinPath(Path(), "<<"),
                           "merge key needs a mapping or a list of mappings", "e.g. <<: *defaults");
          }
          for (Node& c : src.children) {
            if (merged_keys.insert(c.key).second) merged.push_back(std::move(c));
          }
        }
        continue;
      }
      if (!own.insert(key).second) {
        return ErrorAt(key_loc, JoinPath(Path(), key), "duplicate key",
                       "each key once per mapping");
      }
      value->key = std::string(key);
      value->key_loc = key_loc;
      n->children.push_back(std::move(*value));
    }
    for (Node& m : merged) {
      if (!own.count(m.key)) n->children.push_back(std::move(m));
    }
    return Status::OK();
  }

  const std::vector<Raw>& raw_;
  const std::string& pool_;
  const std::string& file_;
  std::vector<Segment> path_;
  size_t alias_depth_ = 0;      // > 0 while expanding an alias
  uint32_t alias_site_ = 0;     // the outermost alias being expanded
  size_t alias_path_size_ = 0;  // path_.size() at alias_site_
  size_t alias_nodes_ = 0;
  size_t alias_bytes_ = 0;
  size_t total_nodes_ = 0;  // every node built, for kMaxYamlNodes
};

// An istream over the text without copying it.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(const std::string& s) {
    char* p = const_cast<char*>(s.data());
    setg(p, p, p + s.size());
  }
};

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
  Builder builder(file_label);
  try {
    ViewBuf buf(text);
    std::istream in(&buf);
    YAML::Parser parser(in);
    parser.HandleNextDocument(builder);  // the first document only, as YAML::Load
  } catch (const LimitHit& e) {
    return e.status;
  } catch (const YAML::Exception& e) {
    return ErrorAt(LocOf(e.mark, file_label), "", "invalid YAML: " + e.msg);
  }
  if (builder.root() == kNone) return Node::Map(SourceLoc{file_label, 1, 1});
  Converter converter(builder, file_label);
  ASSIGN_OR_RETURN(Node n, converter.Convert(builder.root(), 0));
  if (n.IsNull()) n = Node::Map(SourceLoc{file_label, 1, 1});
  return n;
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
