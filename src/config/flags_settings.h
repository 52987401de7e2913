// Feature-flag settings: `x-slipway.flags`, parsed at load time.
//
//   x-slipway:
//     flags: flags.json               # shorthand: a flagd file for the default environment
//   or
//     flags:
//       file: flags.json              # flagd JSON (or YAML: .yaml/.yml) for the default
//       environment, or definitions:                  # the same document inline, in YAML
//         flags: {new-ui: {state: ENABLED, variants: {on: true, off: false}, defaultVariant: off}}
//       default_environment: prod     # "default" when not given
//       environments:                 # more environments: a file, or {file|definitions}
//         staging: flags.staging.json
//       tokens:                       # OFREP read tokens (without any, the daemon makes one
//         - {token: "${FLAGS_TOKEN}", environment: prod}   # in .slipway/flags-token)
//       rate_per_second: 200          # per read token; 0 = unlimited
//
// Files are resolved against the project folder; inline definitions are kept as JSON text
// (YAML scalars typed as YAML 1.2 core: true/false, null, numbers; quoted stays a string). The
// flag definitions themselves are validated by the daemon when it seeds the store. Plain data.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Node;

struct FlagsSource {
  std::string file;         // absolute, or "" when inline
  std::string definitions;  // a flagd document as JSON text, or ""
};

struct FlagsReadToken {
  std::string token;
  std::string environment = "*";  // "*" = any, chosen with X-Slipway-Environment
};

struct FlagsSettings {
  bool configured = false;
  std::string default_environment = "default";
  std::map<std::string, FlagsSource> environments;  // includes the default environment's source
  std::vector<FlagsReadToken> tokens;
  double rate_per_second = 0;
};

// `project_dir` resolves relative file names.
Status ParseFlagsSettings(const Node& n, const std::string& path, const std::string& project_dir,
                          FlagsSettings* out);

// A YAML node as JSON text (for inline flag definitions).
std::string NodeToJsonText(const Node& n);

// The text of a flag file as JSON, as flagd reads files: a name ending in .yaml or .yml
// (any case) is YAML, converted here; anything else is returned as it is (JSON). A YAML error
// is one line naming the file, line and column.
Result<std::string> FlagsFileAsJson(const std::string& file, const std::string& text);

}  // namespace slipway::config
