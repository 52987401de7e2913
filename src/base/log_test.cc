#include "base/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

namespace slipway::logging {
namespace {

using nlohmann::json;

std::string Json(int64_t ms, Level level, std::string_view component, std::string_view msg,
                 std::initializer_list<Field> fields = {}) {
  return FormatJsonLine(ms, level, component, msg, {fields.begin(), fields.size()});
}
std::string Text(int64_t ms, Level level, std::string_view component, std::string_view msg,
                 std::initializer_list<Field> fields = {}) {
  return FormatTextLine(ms, level, component, msg, {fields.begin(), fields.size()});
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(LogFormatTest, JsonLineHasTsLevelMsgAndFields) {
  json j = json::parse(Json(1'767'323'045'678, Level::kWarn, "", "hello \"x\"\n",
                            {{"pid", 42}, {"msg", "ignored"}}));
  EXPECT_EQ(j["ts"], "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "hello \"x\"\n");  // fields never overwrite the leading keys
  EXPECT_EQ(j["pid"], 42);
  EXPECT_FALSE(j.contains("component"));  // none given
  EXPECT_EQ(Json(0, Level::kInfo, "", "m", {{"a", 1}}),
            R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","msg":"m","a":1})");
  // Invalid UTF-8 still makes a valid line.
  EXPECT_TRUE(json::accept(Json(0, Level::kInfo, "", "bad \xff byte")));
}

TEST(LogFormatTest, JsonFieldsAreTypedAndOrdered) {
  EXPECT_EQ(Json(0, Level::kError, "engine", "boom",
                 {{"service", "api"},
                  {"pid", 7},
                  {"bytes", uint64_t{18'446'744'073'709'551'615u}},
                  {"ratio", 0.25},
                  {"ok", false},
                  {"neg", int64_t{-3}}}),
            R"({"ts":"1970-01-01T00:00:00.000Z","level":"error","component":"engine",)"
            R"("msg":"boom","service":"api","pid":7,"bytes":18446744073709551615,)"
            R"("ratio":0.25,"ok":false,"neg":-3})");
  // Reserved and repeated keys are dropped: the first value of a key wins.
  json j = json::parse(Json(0, Level::kInfo, "c", "m",
                            {{"ts", "x"}, {"level", "x"}, {"component", "x"}, {"a", 1}, {"a", 2}}));
  EXPECT_EQ(j["ts"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["component"], "c");
  EXPECT_EQ(j["a"], 1);
  EXPECT_EQ(j.size(), 5u);
}

TEST(LogFormatTest, JsonEscapesEveryHostileString) {
  std::string nasty = std::string("q\"b\\s\x01\x1f\x7f\ttab\r\n", 14) + std::string(1, '\0') +
                      "nul \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 end \xe2\x82\xac";
  std::string line = Json(0, Level::kInfo, nasty, nasty, {{nasty, nasty}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json j = json::parse(line);  // throws on anything invalid
  std::string msg = j["msg"];
  EXPECT_EQ(msg.substr(0, 14), std::string("q\"b\\s\x01\x1f\x7f\ttab\r\n", 14));
  EXPECT_NE(msg.find("\xe2\x82\xac"), std::string::npos);   // valid UTF-8 kept
  EXPECT_NE(msg.find("\xef\xbf\xbd("), std::string::npos);  // bad lead byte replaced
  EXPECT_EQ(msg.find("\xed\xa0\x80"), std::string::npos);   // surrogates replaced
  EXPECT_EQ(j["component"], j["msg"]);
  EXPECT_EQ(j[msg], j["msg"]);
  // Non-finite doubles have no JSON spelling: null.
  json k =
      json::parse(Json(0, Level::kInfo, "", "m",
                       {{"nan", std::nan("")}, {"inf", std::numeric_limits<double>::infinity()}}));
  EXPECT_TRUE(k["nan"].is_null());
  EXPECT_TRUE(k["inf"].is_null());
}

TEST(LogFormatTest, OversizedMessageIsStillOneLine) {
  std::string big(1 << 20, 'x');
  big[1000] = '\n';
  std::string line = Json(0, Level::kInfo, "c", big, {{"k", big}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(line)["msg"].get<std::string>().size(), big.size());
  std::string text = Text(0, Level::kInfo, "c", big, {{"k", big}});
  EXPECT_EQ(text.find('\n'), std::string::npos);
}

TEST(LogFormatTest, TextLineLayout) {
  EXPECT_EQ(Text(1'796'223'845'123, Level::kWarn, "proxy", "accept failed",
                 {{"error", "Too many open files"}, {"fd", 12}, {"retry", true}, {"load", 0.5}}),
            "2026-12-02T15:04:05.123Z warn proxy: accept failed error=\"Too many open files\" "
            "fd=12 retry=true load=0.5");
  // No component: no "component: " prefix. Newlines never split the line.
  EXPECT_EQ(Text(0, Level::kInfo, "", "two\nlines"), "1970-01-01T00:00:00.000Z info two\\nlines");
  // Values that would be ambiguous are quoted and escaped.
  EXPECT_EQ(Text(0, Level::kDebug, "c", "m",
                 {{"empty", ""}, {"eq", "a=b"}, {"q", "say \"hi\""}, {"plain", "x/y:z"}}),
            "1970-01-01T00:00:00.000Z debug c: m empty=\"\" eq=\"a=b\" q=\"say \\\"hi\\\"\" "
            "plain=x/y:z");
  EXPECT_EQ(Text(0, Level::kError, "c", "m", {{"bad", "\xff"}}),
            "1970-01-01T00:00:00.000Z error c: m bad=\"\xef\xbf\xbd\"");
}

TEST(LogFormatTest, ParseLogFormat) {
  EXPECT_EQ(*ParseLogFormat(""), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("xml").status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ParseLogFormat("xml").status().message(), "log format \"xml\": expected text or json");
  EXPECT_EQ(ParseLogFormat("JSON").status().code(), StatusCode::kInvalidInput);
  // Oversized or binary input: one short line, quoted.
  Status st = ParseLogFormat(std::string(10'000, 'j') + "\n\xff").status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput);
  EXPECT_LT(st.message().size(), 200u);
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
}

TEST(LogFormatTest, ParseLevel) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("info"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_EQ(ParseLevel("").status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(ParseLevel("fatal").status().code(), StatusCode::kInvalidInput);
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    EXPECT_EQ(*ParseLevel(LevelName(l)), l);
  }
}

TEST(LoggerTest, MinimumLevelAndFormat) {
  FakeClock clock(0);
  auto sink = std::make_shared<StringSink>();
  Logger logger(sink, &clock);
  logger.Log(Level::kDebug, "c", "hidden");
  logger.Log(Level::kInfo, "c", "shown");
  logger.SetMinLevel(Level::kWarn);
  logger.Log(Level::kInfo, "c", "hidden too");
  logger.Log(Level::kError, "c", "bad");
  logger.SetFormat(LogFormat::kJson);
  const Field f("k", "v");
  logger.Log(Level::kWarn, "c", "as json", {&f, 1});
  EXPECT_EQ(
      sink->text(),
      "1970-01-01T00:00:00.000Z info c: shown\n"
      "1970-01-01T00:00:00.000Z error c: bad\n"
      R"({"ts":"1970-01-01T00:00:00.000Z","level":"warn","component":"c","msg":"as json","k":"v"})"
      "\n");
}

TEST(LoggerTest, DefaultLoggerFunctionsAndMacros) {
  auto sink = std::make_shared<StringSink>();
  auto previous = Default().SetSink(sink);
  SetLogFormat(LogFormat::kJson);
  Info("engine", "started", {{"service", "api"}, {"pid", 12}});
  Warn("proxy", "slow");
  Error("store", "full");
  Debug("engine", "not at info");
  int evaluated = 0;
  auto arg = [&] { return ++evaluated; };
  LOG_DEBUG("engine", "never formatted {}", arg());
  LOG_INFO("engine", "started {} (pid {})", "web", 13);
  SetLogFormat(LogFormat::kText);
  Default().SetSink(previous);
  EXPECT_EQ(evaluated, 0);

  std::vector<std::string> lines = Lines(sink->text());
  ASSERT_EQ(lines.size(), 4u) << sink->text();
  json first = json::parse(lines[0]);
  EXPECT_EQ(first["component"], "engine");
  EXPECT_EQ(first["msg"], "started");
  EXPECT_EQ(first["service"], "api");
  EXPECT_EQ(first["pid"], 12);
  EXPECT_EQ(json::parse(lines[1])["level"], "warn");
  EXPECT_EQ(json::parse(lines[2])["level"], "error");
  EXPECT_EQ(json::parse(lines[3])["msg"], "started web (pid 13)");
}

// Many threads through one FdSink on a pipe: every line arrives whole (one write(2) each).
TEST(LoggerTest, ConcurrentWritersNeverInterleaveLines) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  Logger logger(std::make_shared<FdSink>(fds[1]));
  logger.SetFormat(LogFormat::kJson);
  constexpr int kThreads = 8;
  constexpr int kLines = 500;
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, n);
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&logger, t] {
      std::string pad(100 + t * 300, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) {
        logger.Log(Level::kInfo, "proxy", pad, std::initializer_list<Field>{{"t", t}, {"i", i}});
      }
    });
  }
  for (auto& w : writers) w.join();
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);

  std::vector<std::string> lines = Lines(got);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line.substr(0, 200);
    int t = j["t"];
    EXPECT_EQ(j["i"], next[t]++);  // each thread's lines in its own order
    EXPECT_EQ(j["msg"].get<std::string>().size(), 100u + t * 300u);
  }
}

}  // namespace
}  // namespace slipway::logging
