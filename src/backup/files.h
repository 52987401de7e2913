// File helpers for backups: running the PostgreSQL client tools, durable
// writes (fsync of file and folder, atomic rename), and zstd streaming.
//
// Stateless functions; any thread. Child processes are waited for by PID.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace slipway::backup {

// The folder holding pg_dump/pg_restore: $SLIPWAY_PG_BIN, else the newest
// /usr/lib/postgresql/*/bin, else "" (found through PATH).
std::string PgBinDir();

// Runs argv (argv[0] resolved in PgBinDir() when it has no '/'), stdin from
// /dev/null, stdout discarded; fails with the tool's stderr (last lines) when
// it exits non-zero.
Status RunTool(const std::vector<std::string>& argv);

// fsync of a file, and of a folder (so a rename inside it is durable).
Status FsyncPath(const std::filesystem::path& p);
// Renames `from` to `to` (same folder) and fsyncs the folder.
Status DurableRename(const std::filesystem::path& from, const std::filesystem::path& to);

// Streaming zstd (level 3, multithreaded when available) from file to file.
Status ZstdCompressFile(const std::filesystem::path& in, const std::filesystem::path& out);
Status ZstdDecompressFile(const std::filesystem::path& in, const std::filesystem::path& out);

}  // namespace slipway::backup
