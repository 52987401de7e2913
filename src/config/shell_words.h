// Shell-word splitting for `command` / `entrypoint` given as one string, as
// compose does it: blanks separate words; '...' is literal; "..." keeps
// blanks and honours \" \\ \$ \`; a backslash outside quotes escapes the next
// character. No expansion of variables, globs or operators happens.
// ShellQuote/ShellJoin go the other way: text that /bin/sh reads back as
// exactly these words.
//
// Pure function; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::config {

// nullopt when a quote is not closed or the string ends in a lone backslash.
std::optional<std::vector<std::string>> SplitShellWords(std::string_view s);

// One word, single-quoted ('it'\''s'); safe for any bytes but NUL.
std::string ShellQuote(std::string_view word);
// The words quoted and joined by spaces: a command line for `sh -c`.
std::string ShellJoin(const std::vector<std::string>& words);

}  // namespace slipway::config
