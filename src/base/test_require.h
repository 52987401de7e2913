// SLIPWAY_REQUIRE(available, what): a test's prerequisite (a tool or server that
// scripts/install-deps.sh installs, or the machine ships). Missing, it fails the test, so a
// suite cannot vanish from `make test` unseen; SLIPWAY_TEST_ALLOW_MISSING=1 in the environment
// turns that failure into a skip that names what is missing, for a developer's partial machine.
// `what` may be a stream expression: SLIPWAY_REQUIRE(pg != nullptr, "PostgreSQL: " << why).
//
// Skips that depend on the machine rather than on an install (no IPv6 loopback, not root, a
// sandbox that refuses mounts) stay GTEST_SKIP with their reason.
//
// Test code only; any thread gtest runs a test on.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace slipway::testing {

inline bool AllowMissingPrerequisites() {
  const char* v = std::getenv("SLIPWAY_TEST_ALLOW_MISSING");
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

}  // namespace slipway::testing

#define SLIPWAY_REQUIRE(available, what)                                                       \
  do {                                                                                         \
    if (!(available)) {                                                                        \
      if (::slipway::testing::AllowMissingPrerequisites()) {                                   \
        GTEST_SKIP() << "missing, skipped (SLIPWAY_TEST_ALLOW_MISSING): " << what;             \
      } else {                                                                                 \
        GTEST_FAIL() << "missing: " << what                                                    \
                     << " (scripts/install-deps.sh installs it; SLIPWAY_TEST_ALLOW_MISSING=1 " \
                        "skips instead)";                                                      \
      }                                                                                        \
    }                                                                                          \
  } while (0)
