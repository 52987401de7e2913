// Fuzzes the compose loader (config::LoadProject) on an in-memory document: the input is the
// compose file, handed over as a memfd (/proc/self/fd/N, a regular file) so the real read path
// runs too. Every input must load or be refused with one InvalidInput line; crashes, hangs and
// memory blow-ups (libFuzzer's -timeout / -rss_limit_mb) are findings.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/loader.h"

namespace {

void Require(bool cond) {
  if (!cond) std::abort();
}

int ComposeFd() {
  static int fd = memfd_create("compose.yaml", MFD_CLOEXEC);
  Require(fd >= 0);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const int fd = ComposeFd();
  Require(ftruncate(fd, 0) == 0);
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, bytes + done, size - done, static_cast<off_t>(done));
    Require(n > 0);
    done += static_cast<size_t>(n);
  }
  slipway::config::LoadOptions opts;
  opts.files = {"/proc/self/fd/" + std::to_string(fd)};
  opts.working_dir = "/proc/self/fd";
  opts.project_name = "fuzz";
  slipway::Result<slipway::config::Project> r = slipway::config::LoadProject(opts);
  if (!r.ok()) {
    const std::string& msg = r.status().message();
    Require(r.status().code() == slipway::StatusCode::kInvalidInput);
    Require(!msg.empty() && msg.find('\n') == std::string::npos);
    return 0;
  }
  // A loaded project may select no service at all (every one behind an inactive profile),
  // as compose allows: nothing more to require.
  return 0;
}
