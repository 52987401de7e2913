// Reading the user's input files: compose files (and the files `extends` names), `.env`,
// --env-file and `env_file`. Hostile input is normal input here, so a read is bounded before
// it starts: only regular files are read (a FIFO, a device such as /dev/zero, a directory or
// a socket is refused without blocking on it), and at most kMaxInputFileBytes + 1 bytes are
// ever read, whatever size stat reports (/proc files say 0, a file may grow while read).
//
// Pure functions over the file system; any thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "base/status.h"

namespace slipway::config {

// 16 MiB per file: far above any real compose or .env file, small enough that loading one
// costs bounded memory and time.
inline constexpr size_t kMaxInputFileBytes = size_t{16} << 20;

// Reads the whole file at `path`; `label` names it in messages. Errors:
//   NotFound      "<label>: file not found"
//   InvalidInput  "<label>: not a regular file (a FIFO; expected a regular file)"
//   InvalidInput  "<label>: file is larger than 16 MiB (expected at most 16 MiB)"
//   IoError       "<label>: <strerror>" (permission denied, read error)
// `max_bytes` is for tests; callers use the default.
Result<std::string> ReadInputFile(const std::filesystem::path& path, const std::string& label,
                                  size_t max_bytes = kMaxInputFileBytes);

}  // namespace slipway::config
