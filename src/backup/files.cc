#include "backup/files.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base/redact.h"

extern char** environ;

namespace slipway::backup {
namespace fs = std::filesystem;
namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

// Opens `path` for writing, created or truncated, with exactly `mode` (fchmod: the umask
// only ever removes bits, and an existing file keeps its old mode through O_TRUNC).
Result<int> OpenWithMode(const fs::path& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("create " + path.string(), errno);
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("chmod " + path.string(), err);
  }
  return fd;
}

Result<File> CreateWithMode(const fs::path& path, mode_t mode) {
  ASSIGN_OR_RETURN(int fd, OpenWithMode(path, mode));
  File f(::fdopen(fd, "wb"));
  if (!f) {
    int err = errno;
    ::close(fd);
    return ErrnoError("fdopen " + path.string(), err);
  }
  return f;
}

std::string LastLines(const std::string& s, size_t max = 600) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.size() > max) t = "..." + t.substr(t.size() - max);
  for (char& c : t) {
    if (c == '\n') c = ' ';
  }
  return t;
}

}  // namespace

std::string PgBinDir() {
  if (const char* e = std::getenv("SLIPWAY_PG_BIN"); e != nullptr && *e) return e;
  std::string best;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = d.path() / "bin";
    if (fs::exists(bin / "pg_dump", ec) && bin.string() > best) best = bin.string();
  }
  return best;
}

ToolCommand PgTool(const std::string& tool, std::vector<std::string> args,
                   const migrate::Target& target) {
  ToolCommand cmd;
  cmd.argv.push_back(tool);
  cmd.argv.push_back("--dbname=" + target.ConnInfoWithoutPassword());
  for (std::string& a : args) cmd.argv.push_back(std::move(a));
  std::string password = target.Password();
  if (!password.empty()) {
    cmd.env.emplace_back("PGPASSWORD", password);
    cmd.secrets.push_back(std::move(password));
  }
  return cmd;
}

Status RunTool(const ToolCommand& cmd) {
  std::vector<std::string> argv = cmd.argv;
  if (argv.empty()) return Internal("RunTool: empty argv");
  if (argv[0].find('/') == std::string::npos) {
    std::string dir = PgBinDir();
    if (!dir.empty() && fs::exists(fs::path(dir) / argv[0])) argv[0] = dir + "/" + argv[0];
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The environment: ours, with cmd.env replacing the variables it names.
  std::vector<std::string> env_text;
  for (const auto& [k, v] : cmd.env) env_text.push_back(k + "=" + v);
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const auto& [k, v] : cmd.env) {
      replaced = replaced || (entry.size() > k.size() && entry.substr(0, k.size()) == k &&
                              entry[k.size()] == '=');
    }
    if (!replaced) env_text.emplace_back(entry);
  }
  std::vector<char*> envp;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return ErrnoError("cannot run " + argv[0], rc);
  }
  std::string err;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (err.size() < (1 << 20)) err.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
  std::string name = fs::path(argv[0]).filename().string();
  std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  Redactor redactor;
  for (const std::string& s : cmd.secrets) redactor.AddValue(s);
  return Internal(name + " failed (" + how + "): " + LastLines(redactor.Scrub(err)));
}

Status CreateFileWithMode(const fs::path& path, mode_t mode) {
  ASSIGN_OR_RETURN(int fd, OpenWithMode(path, mode));
  ::close(fd);
  return Status::OK();
}

Status CreatePrivateDirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::OK();
  fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) RETURN_IF_ERROR(CreatePrivateDirs(parent));
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST && fs::is_directory(dir, ec)) return Status::OK();  // a racing creator
    return ErrnoError("cannot create " + dir.string(), errno);
  }
  if (::chmod(dir.c_str(), 0700) != 0) return ErrnoError("chmod " + dir.string(), errno);
  return Status::OK();
}

Status FsyncPath(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + p.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync " + p.string(), err);
  return Status::OK();
}

Status DurableRename(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoError("rename " + from.string() + " -> " + to.string(), errno);
  }
  return FsyncPath(to.parent_path());
}

Status ZstdCompressFile(const fs::path& in_path, const fs::path& out_path, mode_t mode) {
  File in(std::fopen(in_path.c_str(), "rbe"));
  if (!in) return ErrnoError("open " + in_path.string(), errno);
  ASSIGN_OR_RETURN(File out, CreateWithMode(out_path, mode));
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, 2);  // ignored without MT support
  std::vector<char> ibuf(ZSTD_CStreamInSize()), obuf(ZSTD_CStreamOutSize());
  while (true) {
    size_t n = std::fread(ibuf.data(), 1, ibuf.size(), in.get());
    if (std::ferror(in.get())) return IoError("read " + in_path.string());
    bool last = n < ibuf.size();
    ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer input{ibuf.data(), n, 0};
    bool finished = false;
    while (!finished) {
      ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
      size_t remaining = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      if (ZSTD_isError(remaining)) {
        return Internal(std::string("zstd: ") + ZSTD_getErrorName(remaining));
      }
      if (std::fwrite(obuf.data(), 1, output.pos, out.get()) != output.pos) {
        return IoError("write " + out_path.string());
      }
      finished = last ? remaining == 0 : input.pos == input.size;
    }
    if (last) break;
  }
  if (std::fflush(out.get()) != 0 || ::fsync(::fileno(out.get())) != 0) {
    return ErrnoError("fsync " + out_path.string(), errno);
  }
  return Status::OK();
}

Status ZstdDecompressFile(const fs::path& in_path, const fs::path& out_path, mode_t mode) {
  File in(std::fopen(in_path.c_str(), "rbe"));
  if (!in) return ErrnoError("open " + in_path.string(), errno);
  ASSIGN_OR_RETURN(File out, CreateWithMode(out_path, mode));
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  std::vector<char> ibuf(ZSTD_DStreamInSize()), obuf(ZSTD_DStreamOutSize());
  size_t last_ret = 0;
  bool any = false;
  while (true) {
    size_t n = std::fread(ibuf.data(), 1, ibuf.size(), in.get());
    if (std::ferror(in.get())) return IoError("read " + in_path.string());
    if (n == 0) break;
    any = true;
    ZSTD_inBuffer input{ibuf.data(), n, 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
      size_t ret = ZSTD_decompressStream(dctx.get(), &output, &input);
      if (ZSTD_isError(ret)) {
        return Internal(in_path.filename().string() + ": zstd: " + ZSTD_getErrorName(ret));
      }
      if (std::fwrite(obuf.data(), 1, output.pos, out.get()) != output.pos) {
        return IoError("write " + out_path.string());
      }
      last_ret = ret;
    }
  }
  if (!any || last_ret != 0) {
    return Internal(in_path.filename().string() + ": zstd: truncated input");
  }
  if (std::fflush(out.get()) != 0) return IoError("write " + out_path.string());
  return Status::OK();
}

}  // namespace slipway::backup
