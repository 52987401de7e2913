// Node: the loader's own YAML tree, with a source location on every value.
//
// yaml-cpp's nodes know line and column but not the file, and they lose both
// once values are copied between documents (merge, extends). The loader turns
// each parsed document into this plain tree once, so every later step
// (interpolation, merge, extends, conversion) can point at file:line:col.
// Scalars stay strings until conversion; `quoted` remembers '...'/"..." so
// `null` and `"null"` differ. Plain data: any thread may use its own copy.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/project.h"

namespace slipway::config {

// One variable substitution inside an interpolated scalar: bytes [begin, end)
// of the result came from `${var...}` / `$var`. Used to name the variable
// behind a published port.
struct Substitution {
  size_t begin = 0;
  size_t end = 0;
  std::string var;
};

struct Node {
  enum class Kind { kNull, kScalar, kSeq, kMap };
  Kind kind = Kind::kNull;
  std::string scalar;                       // kScalar
  bool quoted = false;                      // kScalar written with quotes
  std::string tag;                          // "!reset" / "!override" (merge directives), else ""
  std::vector<Node> children;               // kSeq items, or kMap values (each with `key`)
  std::string key;                          // set on the values of a map: their key
  SourceLoc key_loc;                        // where that key is written
  SourceLoc loc;                            // where the value starts
  std::vector<Substitution> substitutions;  // after interpolation

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSeq() const { return kind == Kind::kSeq; }
  bool IsMap() const { return kind == Kind::kMap; }

  // Map lookup; nullptr when absent or when this is not a map.
  const Node* Find(std::string_view k) const;
  Node* Find(std::string_view k);
  // Sets (replaces or appends) a map entry; this must be a map.
  Node& Set(const std::string& k, Node value);
  bool Erase(std::string_view k);

  // The location an error about this value points at: its key when it is a
  // map value (as "key: value" reads), else the value itself.
  const SourceLoc& ErrorLoc() const { return key_loc.line > 0 ? key_loc : loc; }

  // A short rendering for error messages: the scalar quoted, or "a mapping".
  std::string Describe() const;

  static Node Scalar(std::string s, SourceLoc loc = {});
  static Node Map(SourceLoc loc = {});
  static Node Seq(SourceLoc loc = {});
};

// Bounds on one YAML document, so a hostile file costs bounded time, memory and stack:
// collections nest at most kMaxYamlDepth levels (checked while parsing, also after an alias
// is expanded), a document uses at most kMaxYamlAliases aliases, and expanding them (each use
// is a copy in this tree) yields at most kMaxAliasNodes nodes and kMaxAliasBytes of keys and
// scalars in all ("an alias bomb?"); the tree holds at most kMaxYamlNodes nodes in all (a
// 16 MiB file of one-character items would be ~8M nodes, ~2 GB as Nodes). Past any of them
// the document is refused.
inline constexpr int kMaxYamlDepth = 256;
inline constexpr size_t kMaxYamlNodes = 2'000'000;
inline constexpr size_t kMaxYamlAliases = 100'000;
inline constexpr size_t kMaxAliasNodes = 1'000'000;
inline constexpr size_t kMaxAliasBytes = size_t{64} << 20;

// Parses YAML text from `file_label` (the name used in messages): the first document only.
// Handles `<<` merge keys and rejects duplicate keys. YAML syntax errors and the bounds above
// come back as one-line InvalidInput "file:line:col: what". Time and memory are linear in
// the text plus the (bounded) alias expansion.
Result<Node> ParseYaml(const std::string& text, const std::string& file_label);

// "file:line:col: path: what (expected)"; the one error format of the loader.
Status ErrorAt(const SourceLoc& loc, std::string_view path, std::string_view what,
               std::string_view expected = {});
Status NodeError(const Node& n, std::string_view path, std::string_view what,
                 std::string_view expected = {});

// Key paths: JoinPath("services", "api") = "services.api"; IndexPath(p, 2) = "p[2]".
std::string JoinPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

// Quotes for messages: Quote("5x") = "\"5x\"".
std::string Quote(std::string_view s);

}  // namespace slipway::config
