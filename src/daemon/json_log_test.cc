#include "daemon/json_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace slipway::daemon {
namespace {

using nlohmann::json;

// The line format itself is tested in base/log_test.cc; this is the nlohmann adapter.
TEST(JsonLog, NlohmannFieldsBecomeTypedFields) {
  EXPECT_EQ(JsonLogLine(0, "info", "m", {{"a", 1}}),
            R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","msg":"m","a":1})");
  json j = json::parse(JsonLogLine(1'767'323'045'678, "warn", "hello",
                                   {{"pid", 42},
                                    {"msg", "ignored"},
                                    {"ok", true},
                                    {"r", 0.5},
                                    {"s", "x"},
                                    {"nested", {{"k", 1}}}}));
  EXPECT_EQ(j["ts"], "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "hello");
  EXPECT_EQ(j["pid"], 42);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["r"], 0.5);
  EXPECT_EQ(j["s"], "x");
  EXPECT_EQ(j["nested"], R"({"k":1})");
  EXPECT_EQ(json::parse(JsonLogLine(0, "nonsense", "m"))["level"], "info");
  EXPECT_TRUE(json::accept(JsonLogLine(0, "info", "bad \xff byte", {{"v", "\xfe"}})));
}

TEST(JsonLog, StderrLinesAreWrappedUnlessAlreadyJsonObjects) {
  EXPECT_EQ(WrapStderrLine(0, R"({"ts":"x","level":"info","msg":"m"})"),
            R"({"ts":"x","level":"info","msg":"m"})");
  json j = json::parse(WrapStderrLine(0, "slipway deploy: api r2: started"));
  EXPECT_EQ(j["msg"], "slipway deploy: api r2: started");
  EXPECT_EQ(j["source"], "stderr");
  json k = json::parse(WrapStderrLine(0, "{not json"));
  EXPECT_EQ(k["msg"], "{not json");
}

TEST(JsonLog, FilterTurnsEveryStderrLineIntoJson) {
  auto path = std::filesystem::temp_directory_path() /
              ("slipway-jsonlog-" + std::to_string(getpid()) + ".log");
  std::fflush(stderr);
  int saved = ::dup(2);
  int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(file, 0);
  ::dup2(file, 2);
  ::close(file);
  {
    auto f = StderrJsonFilter::Install();
    ASSERT_TRUE(f.ok()) << f.status().message();
    std::fprintf(stderr, "plain line one\n");
    std::fprintf(stderr, "%s\n", JsonLogLine(0, "info", "already json").c_str());
    logging::Warn("deploy", "through the logger", {{"service", "api"}});
    std::fprintf(stderr, "partial ");
    std::fprintf(stderr, "line\nno newline at the end");
    (*f)->Stop();
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);

  std::ifstream in(path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    lines.push_back(j);
  }
  std::filesystem::remove(path);
  logging::SetLogFormat(logging::LogFormat::kText);  // Install() switched it to JSON
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["msg"], "plain line one");
  EXPECT_EQ(lines[1]["msg"], "already json");
  EXPECT_FALSE(lines[1].contains("source"));
  // The logger's own line passes through whole, not wrapped.
  EXPECT_EQ(lines[2]["msg"], "through the logger");
  EXPECT_EQ(lines[2]["component"], "deploy");
  EXPECT_EQ(lines[2]["level"], "warn");
  EXPECT_EQ(lines[2]["service"], "api");
  EXPECT_FALSE(lines[2].contains("source"));
  EXPECT_EQ(lines[3]["msg"], "partial line");
  EXPECT_EQ(lines[4]["msg"], "no newline at the end");
}

}  // namespace
}  // namespace slipway::daemon
