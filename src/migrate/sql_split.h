// SQL splitting: cuts a PostgreSQL script into statements, the way psql does,
// so each runs on its own (CREATE INDEX CONCURRENTLY refuses to run inside the
// implicit transaction of a multi-statement query) and a failure can name the
// statement and its line.
//
// Understands '...' and E'...' strings, "identifiers", $tag$ dollar quotes $tag$,
// -- and nested /* */ comments, and BEGIN ATOMIC ... END bodies. Statements that
// are only whitespace and comments are dropped.
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slipway::migrate {

struct SqlStatement {
  std::string text;   // without the trailing ';'
  size_t offset = 0;  // byte offset of text[0] in the script
};

std::vector<SqlStatement> SplitSql(std::string_view script);

// 1-based line and column of byte `offset` in `text`.
struct LineCol {
  int line = 1;
  int column = 1;
};
LineCol LineColAt(std::string_view text, size_t offset);

// The statement on one line, whitespace runs collapsed, cut at `max` bytes.
std::string OneLine(std::string_view sql, size_t max = 160);

}  // namespace slipway::migrate
