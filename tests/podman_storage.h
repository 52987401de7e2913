// PodmanStorage: a private podman storage for one end-to-end test, so tests never touch the
// machine's images, containers, volumes or secrets, and the daemon under test uses the same
// storage through SLIPWAY_CONTAINER_FLAGS (FlagsEnv()). Everything it holds, then its folder,
// is removed on destruction. Also: a FROM-scratch build context from busybox-static (there is
// no registry here), and REQUIRE_PODMAN, which fails a test when podman cannot run (it is
// installed by scripts/install-deps.sh; SLIPWAY_TEST_ALLOW_MISSING=1 skips instead).
//
// Test code; one test's thread.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/test_require.h"
#include "harness.h"

namespace slipway::testing {

class PodmanStorage {
 public:
  // `tag` keeps the folder names of different test files apart; podman refuses a runroot
  // over 50 characters, so the folder stays short.
  explicit PodmanStorage(const std::string& tag) {
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-" + tag + "." + std::to_string(getpid()) + "." + std::to_string(++counter_));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    flags_ = {"--root",   (dir_ / "root").string(), "--runroot", (dir_ / "run").string(),
              "--tmpdir", (dir_ / "tmp").string()};
  }
  ~PodmanStorage() {
    if (!podman_.empty()) {
      Podman({"rm", "--all", "--force"});
      Podman({"volume", "rm", "--all", "--force"});
      Podman({"secret", "rm", "--all"});
      Podman({"rmi", "--all", "--force"});
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PodmanStorage(const PodmanStorage&) = delete;
  PodmanStorage& operator=(const PodmanStorage&) = delete;

  // Empty when podman can run here, else why not.
  std::string Prepare() {
    for (const char* p : {"/usr/bin/podman", "/usr/local/bin/podman"}) {
      if (access(p, X_OK) == 0) {
        podman_ = p;
        break;
      }
    }
    if (podman_.empty()) return "podman is not installed";
    if (access("/bin/busybox", X_OK) != 0) return "busybox-static is not installed";
    CmdResult info = Podman({"info"});
    if (info.rc != 0) {
      std::string why = podman_ + " info failed: " + info.err;
      podman_.clear();
      return why;
    }
    return "";
  }

  CmdResult Podman(std::vector<std::string> args) {
    args.insert(args.begin(), flags_.begin(), flags_.end());
    args.insert(args.begin(), podman_);
    return RunCmd(args, dir_, {}, std::chrono::seconds(120));
  }

  // SLIPWAY_CONTAINER_FLAGS=... for the CLI that starts the daemon.
  std::string FlagsEnv() const {
    std::string v = "SLIPWAY_CONTAINER_FLAGS=";
    for (size_t i = 0; i < flags_.size(); ++i) v += (i ? " " : "") + flags_[i];
    return v;
  }

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& podman() const { return podman_; }
  const std::vector<std::string>& flags() const { return flags_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string podman_;
  std::vector<std::string> flags_;
};

// A build context: busybox-static and a multi-stage Dockerfile whose stages are FROM scratch.
inline void WriteBuildContext(const std::filesystem::path& ctx,
                              const std::string& last_stage_extra = "") {
  std::filesystem::create_directories(ctx);
  std::filesystem::copy_file("/bin/busybox", ctx / "busybox",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(ctx / "Dockerfile") << "FROM scratch AS tools\n"
                                       "COPY busybox /bin/busybox\n"
                                       "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                                       "FROM scratch\n"
                                       "COPY --from=tools /bin /bin\n"
                                    << last_stage_extra;
}

}  // namespace slipway::testing

#define REQUIRE_PODMAN(storage)                                    \
  do {                                                             \
    const std::string why_podman = (storage).Prepare();            \
    SLIPWAY_REQUIRE(why_podman.empty(), "podman: " << why_podman); \
  } while (0)
