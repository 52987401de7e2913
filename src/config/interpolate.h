// Interpolation of Compose values, as compose-go (docker compose) reads them: $VAR, ${VAR},
// ${VAR:-d}, ${VAR-d}, ${VAR:?msg}, ${VAR?msg}, ${VAR:+alt}, ${VAR+alt}, nesting in the word
// part (${A:-${B:-x}}), and $$ for a literal $. A `$` followed by anything else (`a $ b`,
// `^re$`, `$1`) stays as it is; `${` that does not start a valid expression is an error.
// Only the word that is actually used is evaluated (a `:?` inside an unused default does not
// fire). compose-go's own test cases run in compose_go_vectors_test.cc.
//
// Pure functions over strings and Node trees; any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/node.h"

namespace slipway::config {

// Interpolation output is bounded: a variable of a few MiB used thousands of times would
// otherwise turn a small file into gigabytes. The values of one file (a compose document,
// a .env file) expand to at most kMaxInterpolatedBytes in all; past it the expansion fails
// with a TemplateError instead of building the text.
inline constexpr size_t kMaxInterpolatedBytes = size_t{64} << 20;

// ${...} nested in the words of ${...} deeper than this is refused (each level is a
// recursion), where compose-go has no limit but its stack.
inline constexpr int kMaxInterpolationDepth = 64;

// Returns the variable's value, or nullopt when it is unset.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

struct TemplateError {
  std::string what;      // e.g. `"${ A}" is not a valid interpolation`
  std::string expected;  // e.g. `$VAR or ${VAR:-default}; write $$ for a literal $`
};

struct Expanded {
  std::string value;
  std::vector<Substitution> substitutions;  // top-level substitutions only
  std::vector<std::string> unset;           // variables used bare but not set
};

// Expands all of `s`. On failure (bad syntax, a missing required variable, out->value growing
// past `max_bytes`) fills *err and returns false.
bool ExpandTemplate(std::string_view s, const Lookup& lookup, Expanded* out, TemplateError* err,
                    size_t max_bytes = kMaxInterpolatedBytes);

// Interpolates every scalar value (never keys) under `root`. `path` names
// `root` in messages. Unset variables used without a default add one warning
// per variable to *warnings ("file:line:col: path: variable "X" is not set...").
// The scalars under `root` expand to at most kMaxInterpolatedBytes in all. Linear in the
// tree: key paths are only spelled out for a message.
Status InterpolateTree(Node* root, const std::string& path, const Lookup& lookup,
                       std::vector<std::string>* warnings);

}  // namespace slipway::config
