#include "config/project.h"

#include <cctype>

namespace slipway::config {

std::string SourceLoc::ToString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

bool Service::RunsInContainer() const {
  switch (runtime) {
    case RuntimeChoice::kHost:
      return false;
    case RuntimeChoice::kContainer:
      return !image.empty() || build.has_value();
    case RuntimeChoice::kAuto:
      break;
  }
  if (host_command.has_value()) return false;
  if (build.has_value()) return !command.has_value() && !entrypoint.has_value();
  return !image.empty();
}

std::string Service::ImageName(const std::string& project) const {
  if (!image.empty()) return image;
  // Image names are lower case; compose names a built image <project>-<service>.
  std::string out = project + "-" + name;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace slipway::config
