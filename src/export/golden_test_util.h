// Golden-file comparison for the export tests. Set SLIPWAY_UPDATE_GOLDEN=1 to
// rewrite the files from the current output (then review the diff). Test-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace slipway::exporter {

inline std::filesystem::path TestdataDir() {
  return std::filesystem::path(SLIPWAY_SOURCE_DIR) / "src/export/testdata";
}

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with testdata/<name>; on mismatch shows the first differing line.
inline void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::filesystem::path p = TestdataDir() / name;
  if (const char* u = std::getenv("SLIPWAY_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(p)) << p << " is missing; run with SLIPWAY_UPDATE_GOLDEN=1";
  const std::string expected = ReadText(p);
  if (expected == actual) return;
  std::istringstream a(actual), e(expected);
  std::string la, le;
  int line = 0;
  while (true) {
    ++line;
    bool ga = static_cast<bool>(std::getline(a, la));
    bool ge = static_cast<bool>(std::getline(e, le));
    if (!ga && !ge) break;
    if (!ga || !ge || la != le) {
      ADD_FAILURE() << name << ":" << line << ": expected\n  " << (ge ? le : "<end>")
                    << "\nbut got\n  " << (ga ? la : "<end>");
      return;
    }
  }
  ADD_FAILURE() << name << ": differs (line endings?)";
}

}  // namespace slipway::exporter
