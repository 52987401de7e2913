#include "config/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace slipway::config {
namespace {

// What a non-regular file is, for the one-line refusal.
const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a plain file";
}

Status NotRegular(const std::string& label, mode_t mode) {
  return InvalidInput(label + ": not a regular file (" + FileTypeName(mode) +
                      "; expected a regular file)");
}

std::string SizeText(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

Status TooLarge(const std::string& label, size_t max_bytes) {
  const std::string limit = SizeText(max_bytes);
  return InvalidInput(label + ": file is larger than " + limit + " (expected at most " + limit +
                      ")");
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<std::string> ReadInputFile(const std::filesystem::path& path, const std::string& label,
                                  size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat below refuses it. A socket
  // cannot be opened at all (ENXIO); stat tells what it is.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound(label + ": file not found");
    struct stat st {};
    if (err == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return NotRegular(label, st.st_mode);
    }
    return IoError(label + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return IoError(label + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return NotRegular(label, st.st_mode);
  if (st.st_size < 0 || static_cast<unsigned long long>(st.st_size) > max_bytes) {
    return TooLarge(label, max_bytes);
  }
  // The size is a hint only: read up to max_bytes + 1 and judge by what arrived.
  std::string text;
  text.resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  while (true) {
    if (got == text.size()) {
      if (got > max_bytes) return TooLarge(label, max_bytes);
      text.resize(std::min(max_bytes + 1, std::max(got * 2, size_t{4096})));
    }
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(label + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes) return TooLarge(label, max_bytes);
  text.resize(got);
  return text;
}

}  // namespace slipway::config
