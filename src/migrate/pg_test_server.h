// Test-only: a throwaway PostgreSQL server started by the test itself.
//
// initdb runs as the `postgres` user (it refuses root) into a fresh temp
// folder; the server listens on 127.0.0.1 at a free port with its socket in
// that folder and fsync off. With a password, the `postgres` role has it and every
// connection must give it (scram-sha-256 for local and TCP). The destructor stops it with `pg_ctl
// stop -m fast` (then SIGKILL by the postmaster's PID if needed) and removes the folder.
// Header-only so it never enters a library; used by the migrate, backup and
// integration tests. One test thread owns the object.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace slipway::migrate::testing {

// The folder with initdb/pg_ctl of the newest installed PostgreSQL, or "".
inline std::string FindPgBin() {
  std::string best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    std::filesystem::path bin = e.path() / "bin";
    if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "pg_ctl")) {
      if (bin.string() > best) best = bin.string();
    }
  }
  return best;
}

// Runs argv to completion with stdout/stderr appended to `log`, and `extra_env`
// ("NAME=value") added to the environment; the exit code.
inline int RunLogged(const std::vector<std::string>& argv, const std::string& log,
                     const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_text = extra_env;
  for (char** e = environ; *e != nullptr; ++e) env_text.emplace_back(*e);
  std::vector<char*> env;
  for (std::string& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return 127;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

class PgServer {
 public:
  // Starts a server; nullptr with `*why` set when PostgreSQL is not installed
  // or cannot start (the test then skips or fails with that message).
  // `password` non-empty: the postgres role gets it and authentication is required.
  static std::unique_ptr<PgServer> Start(std::string* why, const std::string& password = "") {
    std::string bin = FindPgBin();
    if (bin.empty()) {
      *why = "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/initdb)";
      return nullptr;
    }
    passwd* pw = ::getpwnam("postgres");
    if (::geteuid() == 0 && pw == nullptr) {
      *why = "no postgres user to run initdb as";
      return nullptr;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-pg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      *why = "mkdtemp failed";
      return nullptr;
    }
    std::unique_ptr<PgServer> s(new PgServer(bin, tmpl));
    s->password_ = password;
    if (::geteuid() == 0) {
      if (::chown(tmpl.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        *why = "chown of the data folder failed";
        return nullptr;
      }
    }
    std::string log = s->dir_ + "/setup.log";
    std::vector<std::string> initdb = {
        bin + "/initdb", "-D",        s->dir_ + "/data", "-U", "postgres", "--no-sync", "-E",
        "UTF8",          "--locale=C"};
    std::string pwfile = s->dir_ + "/pwfile";
    if (password.empty()) {
      initdb.insert(initdb.end(), {"-A", "trust"});
    } else {
      {
        std::ofstream out(pwfile);
        out << password << "\n";
      }
      ::chmod(pwfile.c_str(), 0600);
      if (::geteuid() == 0 && ::chown(pwfile.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        *why = "chown of the password file failed";
        return nullptr;
      }
      initdb.insert(initdb.end(), {"-A", "scram-sha-256", "--pwfile=" + pwfile});
    }
    int initdb_rc = s->AsPostgres(initdb, log);
    std::error_code ec;
    std::filesystem::remove(pwfile, ec);
    if (initdb_rc != 0) {
      *why = "initdb failed; see " + log;
      s->keep_ = true;
      return nullptr;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
      s->port_ = FreeLoopbackPort();
      int rc = s->AsPostgres({bin + "/pg_ctl", "-D", s->dir_ + "/data", "-l",
                              s->dir_ + "/server.log", "-w", "-t", "30", "-o",
                              "-c listen_addresses=127.0.0.1 -p " + std::to_string(s->port_) +
                                  " -k " + s->dir_ + " -c fsync=off -c max_connections=60",
                              "start"},
                             log);
      if (rc == 0) {
        s->running_ = true;
        return s;
      }
    }
    *why = "pg_ctl start failed; see " + s->dir_ + "/server.log";
    s->keep_ = true;
    return nullptr;
  }

  ~PgServer() {
    if (running_) {
      int rc = AsPostgres(
          {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "-t", "20", "stop"},
          dir_ + "/setup.log");
      if (rc != 0) KillPostmaster();
    }
    if (!keep_) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  int port() const { return port_; }
  const std::string& bin() const { return bin_; }
  const std::string& dir() const { return dir_; }
  // postgres://postgres[:password]@127.0.0.1:PORT/<db>
  std::string Url(const std::string& db = "postgres") const {
    std::string user = password_.empty() ? "postgres" : "postgres:" + password_;
    return "postgres://" + user + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  // Creates database `name` with psql-free means (createdb from the same bin; the
  // password, if any, through the environment).
  bool CreateDatabase(const std::string& name) const {
    std::vector<std::string> env;
    if (!password_.empty()) env.push_back("PGPASSWORD=" + password_);
    return RunLogged({bin_ + "/createdb", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                      "postgres", "--no-password", name},
                     dir_ + "/client.log", env) == 0;
  }

 private:
  PgServer(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}

  int AsPostgres(std::vector<std::string> argv, const std::string& log) const {
    if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
    return RunLogged(argv, log);
  }

  void KillPostmaster() {
    std::ifstream in(dir_ + "/data/postmaster.pid");
    pid_t pid = 0;
    if (in >> pid && pid > 0) {
      ::kill(pid, SIGKILL);
      for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  std::string bin_;
  std::string dir_;
  std::string password_;
  int port_ = 0;
  bool running_ = false;
  bool keep_ = false;
};

}  // namespace slipway::migrate::testing
