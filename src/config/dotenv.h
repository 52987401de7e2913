// Dotenv: parses `.env` and `env_file` files the way docker compose reads them.
//
// Lines: `KEY=VAL`, `export KEY=VAL`, `#` comment lines, blank lines, `KEY`
// alone (value taken from `lookup`, or the key is absent). Values: unquoted
// (trimmed; ` #` starts a comment; ${VAR} interpolated), single-quoted
// (literal, may span lines), double-quoted (escapes \n \t \r \\ \" \$,
// ${VAR} interpolated, may span lines). Interpolation sees `lookup` first,
// then keys defined earlier in the same file.
//
// Pure functions; any thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/interpolate.h"

namespace slipway::config {

struct DotenvEntry {
  std::string key;
  std::string value;
  int line = 0;  // 1-based line of the key
};

// Parses `text`; `label` names the file in errors ("label:line: what").
// Entries come in file order; a repeated key appears twice (later wins).
Result<std::vector<DotenvEntry>> ParseDotenv(const std::string& text, const std::string& label,
                                             const Lookup& lookup);

// Parses `text` into *vars (later keys win); lookup first, then *vars so far.
Status ParseDotenvInto(const std::string& text, const std::string& label, const Lookup& lookup,
                       std::map<std::string, std::string>* vars);

Status ReadDotenvFileInto(const std::filesystem::path& path, const std::string& label,
                          const Lookup& lookup, std::map<std::string, std::string>* vars);

// Reads (config/input_file.h: regular files of at most 16 MiB) and parses a file into a map
// (later keys win).
Result<std::map<std::string, std::string>> ReadDotenvFile(const std::filesystem::path& path,
                                                          const std::string& label,
                                                          const Lookup& lookup);

}  // namespace slipway::config
