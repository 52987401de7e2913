// Dotenv: parses `.env`, `--env-file` and `env_file` files the way docker compose (compose-go's
// dotenv package) reads them; compose-go's own test cases run in compose_go_vectors_test.cc.
//
// Statements: `KEY=VALUE`, `KEY: VALUE`, `export KEY=VALUE`, `KEY` alone (taken from `lookup`,
// else absent); blank lines and `#` comment lines between them; a UTF-8 byte order mark is
// skipped. Keys: letters and digits of any script, `_ . - [ ]`. Values: unquoted (to the end
// of the line, ` #` starts a comment, trailing blanks dropped, interpolated), single-quoted
// (literal but for \', may span lines), double-quoted (escapes \a \b \f \n \r \t \v \\ \" \$
// \0ooo, then interpolated; may span lines). What follows a closing quote is read as the next
// statement. Interpolation (config/interpolate.h) sees `lookup` first, then the variables
// read so far.
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

// Parses `text` into *vars (later keys win). Values are interpolated with `lookup` first,
// then *vars: parse several files into one map, in order, and each sees the ones before it
// (as compose reads several --env-file). `label` names the file in errors
// ("label:line: what (expected ...)"). *entries, when given, receives each statement in order.
Status ParseDotenvInto(const std::string& text, const std::string& label, const Lookup& lookup,
                       std::map<std::string, std::string>* vars,
                       std::vector<DotenvEntry>* entries = nullptr);

// One text alone: its entries in file order (a repeated key appears twice, the later wins).
Result<std::vector<DotenvEntry>> ParseDotenv(const std::string& text, const std::string& label,
                                             const Lookup& lookup);

// Reads (config/input_file.h: regular files of at most 16 MiB) and parses a file into *vars,
// as ParseDotenvInto.
Status ReadDotenvFileInto(const std::filesystem::path& path, const std::string& label,
                          const Lookup& lookup, std::map<std::string, std::string>* vars);

// One file alone, into a map.
Result<std::map<std::string, std::string>> ReadDotenvFile(const std::filesystem::path& path,
                                                          const std::string& label,
                                                          const Lookup& lookup);

}  // namespace slipway::config
