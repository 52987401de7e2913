#include "config/project.h"

namespace slipway::config {

std::string SourceLoc::ToString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

bool Service::RunsInContainer() const {
  return !image.empty() && !build.has_value() && !host_command.has_value();
}

}  // namespace slipway::config
