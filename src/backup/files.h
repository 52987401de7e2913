// File helpers for backups: running the PostgreSQL client tools, durable
// writes (fsync of file and folder, atomic rename), private files and folders, and zstd
// streaming.
//
// Secrets: a database password never goes on a client tool's command line (argv is
// readable by every local user through ps and /proc/<pid>/cmdline); PgTool passes it in
// the child's environment (PGPASSWORD, readable only by the same user), and a failed
// tool's message is scrubbed of it. Backup files are created 0600 and their folders 0700
// whatever the umask: a backup holds the whole database.
//
// Stateless functions; any thread. Child processes are waited for by PID.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "migrate/target.h"

namespace slipway::backup {

// The folder holding pg_dump/pg_restore: $SLIPWAY_PG_BIN, else the newest
// /usr/lib/postgresql/*/bin, else "" (found through PATH).
std::string PgBinDir();

// A client tool's run.
struct ToolCommand {
  std::vector<std::string> argv;
  // Set in the child's environment only (over the inherited value).
  std::vector<std::pair<std::string, std::string>> env;
  // Masked ("***") in the error message built from the tool's stderr.
  std::vector<std::string> secrets;
};

// `tool` (pg_dump, pg_restore, ...) with --dbname=<the target's conninfo without its
// password>, then `args`; the password, if any, in PGPASSWORD and in `secrets`.
ToolCommand PgTool(const std::string& tool, std::vector<std::string> args,
                   const migrate::Target& target);

// Runs cmd.argv (argv[0] resolved in PgBinDir() when it has no '/'), stdin from
// /dev/null, stdout discarded; fails with the tool's stderr (last lines, secrets and URL
// passwords masked) when it exits non-zero.
Status RunTool(const ToolCommand& cmd);

// fsync of a file, and of a folder (so a rename inside it is durable).
Status FsyncPath(const std::filesystem::path& p);
// Renames `from` to `to` (same folder) and fsyncs the folder.
Status DurableRename(const std::filesystem::path& from, const std::filesystem::path& to);

// Creates (or truncates) `path` with exactly `mode`, whatever the umask, and closes it: a
// file another program then writes keeps that mode (pg_dump -f, SQLite).
Status CreateFileWithMode(const std::filesystem::path& path, mode_t mode = 0600);

// Creates `dir` and its missing parents, each new folder 0700 (umask-proof). Folders that
// exist keep their mode: the backups root may be a shared folder the user chose.
Status CreatePrivateDirs(const std::filesystem::path& dir);

// Streaming zstd (level 3, multithreaded when available) from file to file; the output is
// created with `mode` (umask-proof).
Status ZstdCompressFile(const std::filesystem::path& in, const std::filesystem::path& out,
                        mode_t mode = 0600);
Status ZstdDecompressFile(const std::filesystem::path& in, const std::filesystem::path& out,
                          mode_t mode = 0600);

}  // namespace slipway::backup
