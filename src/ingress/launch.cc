#include "ingress/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

namespace slipway::ingress {

Status SpawnIngress(const std::string& binary, const std::filesystem::path& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return IoError("create " + state_dir.string() + ": " + ec.message());
  // Everything the children need is prepared here: after fork only async-signal-safe calls.
  std::string log = (state_dir / "ingress.log").string();
  const char* argv[] = {binary.c_str(), "ingress", nullptr};
  pid_t child = ::fork();
  if (child < 0) return ErrnoError("fork", errno);
  if (child == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::syscall(SYS_close_range, 3U, ~0U, 0U);  // nothing of the daemon's stays open
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(binary.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("wait for the ingress launcher", errno);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Internal("the ingress launcher failed (status " + std::to_string(status) + ")");
  }
  return Status::OK();
}

std::string DeregistrationJson(const std::string& project, const std::string& folder) {
  return nlohmann::json{{"project", project}, {"folder", folder}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace slipway::ingress
