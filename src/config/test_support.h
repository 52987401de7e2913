// Test-only helpers for the config tests: a scratch folder that is removed
// on destruction, and a one-call loader over inline compose text.
// Header-only so it never enters the slipway_config library.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"

namespace slipway::config::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-config-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    SLIPWAY_CHECK(p != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to path()/rel, creating folders.
  std::filesystem::path Write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Options that load from `dir` with an empty, injected environment.
inline LoadOptions OptionsFor(const std::filesystem::path& dir) {
  LoadOptions o;
  o.working_dir = dir;
  return o;
}

// Loads `compose` written as <tmp>/app/compose.yaml (project name "app").
inline Result<Project> LoadText(const std::string& compose, LoadOptions options = {}) {
  TempDir dir;
  dir.Write("app/compose.yaml", compose);
  options.working_dir = dir.path() / "app";
  return LoadProject(options);
}

// The error message of a failed load, or "OK" so a test failure shows it.
inline std::string ErrorOf(const Result<Project>& r) {
  return r.ok() ? std::string("OK") : r.status().message();
}

}  // namespace slipway::config::testing
