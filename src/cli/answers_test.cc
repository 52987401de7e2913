// The daemon's answers as `slipway status`, `query`, `flags get` and `audit` read them: a
// well-formed answer gives what the command prints; one of another shape (wrong types, missing
// keys, from another version's daemon or something else on its port) is one line naming the field,
// never an exception.
#include <gtest/gtest.h>

#include <string>

#include "cli/access_cmd.h"
#include "cli/alerts_cmd.h"
#include "cli/flags_cmd.h"
#include "cli/query_cmd.h"

namespace slipway::cli {
namespace {

using nlohmann::json;

// The error's message for `r`, which must be an InvalidInput on one line.
template <typename T>
std::string Refusal(const Result<T>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  return r.status().message();
}

json Health() {
  return json::parse(R"({"status": "degraded", "alerts_firing": 2,
    "services": {"web": {"status": "ok", "restarts": 1}, "db": {"status": "down", "restarts": 0}},
    "proxy": {"status": "ok"}, "store": {"status": "ok"},
    "databases": {"main": {"status": "ok", "target": "postgres://u:***@h/db", "latency_ms": 1.25},
                  "old": {"status": "down", "target": "sqlite:a.db", "error": "no such file"}}})");
}

TEST(StatusAnswer, ReadsTheHealthAnswer) {
  auto v = ReadStatusAnswer(Health());
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->overall, "degraded");
  EXPECT_EQ(v->alerts_firing, 2);
  ASSERT_EQ(v->services.size(), 2u);
  EXPECT_EQ(v->services[1], (std::vector<std::string>{"web", "ok", "1", ""}));
  ASSERT_EQ(v->components.size(), 4u);
  EXPECT_EQ(v->components[2][3], "postgres://u:***@h/db (1.2 ms)");
  EXPECT_EQ(v->components[3][3], "sqlite:a.db: no such file");
  // An older daemon's answer without databases, proxy or store still reads.
  json older = {{"status", "ok"}, {"services", json::object()}};
  EXPECT_TRUE(ReadStatusAnswer(older).ok());
}

TEST(StatusAnswer, MalformedAnswersNameTheField) {
  auto with = [](const char* pointer, json value) {
    json h = Health();
    h[json::json_pointer(pointer)] = std::move(value);
    return ReadStatusAnswer(h);
  };
  EXPECT_EQ(Refusal(ReadStatusAnswer(json::array())), "expected an object, got an array");
  json no_status = Health();
  no_status.erase("status");
  EXPECT_NE(Refusal(ReadStatusAnswer(no_status)).find("status: is missing"), std::string::npos);
  EXPECT_NE(Refusal(with("/status", 3)).find("status: expected"), std::string::npos);
  EXPECT_NE(Refusal(with("/alerts_firing", "2")).find("alerts_firing:"), std::string::npos);
  EXPECT_NE(Refusal(with("/services", json::array())).find("services: expected"),
            std::string::npos);
  EXPECT_NE(Refusal(with("/services/web", "ok")).find("services.web: expected an object"),
            std::string::npos);
  EXPECT_NE(Refusal(with("/services/web/restarts", "1")).find("services.web.restarts:"),
            std::string::npos);
  EXPECT_NE(Refusal(with("/services/web/status", 7)).find("services.web.status:"),
            std::string::npos);
  EXPECT_NE(Refusal(with("/proxy/status", json::object())).find("proxy.status:"),
            std::string::npos);
  EXPECT_NE(Refusal(with("/store", 1)).find("store: expected"), std::string::npos);
  EXPECT_NE(Refusal(with("/store/error", false)).find("store.error:"), std::string::npos);
  EXPECT_NE(Refusal(with("/databases/main/latency_ms", "fast")).find("databases.main.latency_ms:"),
            std::string::npos);
  EXPECT_NE(Refusal(with("/databases/old/error", 5)).find("databases.old.error:"),
            std::string::npos);
}

TEST(QueryAnswer, ReadsEveryResultType) {
  auto v = ReadQueryAnswer(json::parse(R"({"status": "success", "data": {"resultType": "vector",
    "result": [{"metric": {"__name__": "up", "job": "x", "instance": "a"},
                "value": [1700000000, "1"]}]}})"));
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->lines,
            std::vector<std::string>{"up{instance=\"a\", job=\"x\"} => 1 @ 2023-11-14T22:13:20Z"});
  EXPECT_FALSE(v->no_data);
  auto m = ReadQueryAnswer(json::parse(R"({"data": {"resultType": "matrix",
    "result": [{"metric": {}, "values": [[1700000000, "1"], [1700000015.5, "2"]]}]}})"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->lines.size(), 3u);
  auto s = ReadQueryAnswer(json::parse(R"({"data": {"resultType": "scalar",
    "result": [1700000000, "3"]}})"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->lines, std::vector<std::string>{"3 @ 2023-11-14T22:13:20Z"});
  auto empty = ReadQueryAnswer(json::parse(R"({"data": {"resultType": "vector", "result": []}})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->no_data);
}

TEST(QueryAnswer, MalformedAnswersNameTheField) {
  auto parse = [](const char* text) { return ReadQueryAnswer(json::parse(text)); };
  EXPECT_EQ(Refusal(parse("[]")), "expected an object, got an array");
  EXPECT_NE(Refusal(parse("{}")).find("data: is missing"), std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": "x"})")).find("data: expected an object"), std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"result": []}})")).find("data.resultType: is missing"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": 1, "result": []}})")).find("data.resultType"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "table", "result": []}})"))
                .find("data.resultType: expected"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "vector"}})")).find("data.result"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "vector", "result": {}}})"))
                .find("data.result: expected an array"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "vector", "result": [3]}})"))
                .find("data.result[0]: expected an object"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "vector", "result": [
      {"metric": {"job": 1}, "value": [1, "1"]}]}})"))
                .find("data.result[0].metric.job: expected a string"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "vector", "result": [
      {"metric": {}, "value": ["1", 1]}]}})"))
                .find("data.result[0].value: expected [unix time"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "vector", "result": [{"metric": {}}]}})"))
                .find("data.result[0].value"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "matrix", "result": [
      {"metric": {}, "values": [[1, "1"], [2]]}]}})"))
                .find("data.result[0].values[1]: expected"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"data": {"resultType": "scalar", "result": "3"}})"))
                .find("data.result: expected [unix time"),
            std::string::npos);
}

TEST(FlagGetAnswer, ReadsTheFlag) {
  auto t = FlagGetText(json::parse(R"({"key": "beta", "created_ms": 0, "updated_ms": 0,
    "definition": {"state": "ENABLED"}})"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_NE(t->find("key:        beta\n"), std::string::npos);
  EXPECT_NE(t->find("created:    never\n"), std::string::npos);
  EXPECT_NE(t->find("\"state\": \"ENABLED\""), std::string::npos);
}

TEST(FlagGetAnswer, MalformedAnswersNameTheField) {
  auto parse = [](const char* text) { return FlagGetText(json::parse(text)); };
  EXPECT_EQ(Refusal(parse(R"("beta")")), "expected an object, got a string");
  EXPECT_NE(Refusal(parse(R"({"definition": {}})")).find("key: is missing"), std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"key": 1, "definition": {}})")).find("key: expected"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"key": "b", "created_ms": "today", "definition": {}})"))
                .find("created_ms:"),
            std::string::npos);
  EXPECT_NE(
      Refusal(parse(R"({"key": "b", "updated_ms": -5, "definition": {}})")).find("updated_ms:"),
      std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"key": "b", "evaluated_ms": [1], "definition": {}})"))
                .find("evaluated_ms:"),
            std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"key": "b"})")).find("definition"), std::string::npos);
  EXPECT_NE(Refusal(parse(R"({"key": "b", "definition": "on"})")).find("definition: expected"),
            std::string::npos);
}

TEST(AuditAnswer, ReadsEntriesAndNamesTheMalformedField) {
  auto rows = AuditRows(json::parse(R"([{"time": "2026-12-04T03:00:00Z", "who": "ci",
    "action": "POST /api/v1/deploy", "target": "web", "status": 200, "result": "ok"}])"));
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"2026-12-04T03:00:00Z", "ci",
                                                  "POST /api/v1/deploy", "web", "200", "ok"}));
  EXPECT_EQ(Refusal(AuditRows(json::object())), "expected an array, got an object");
  EXPECT_EQ(Refusal(AuditRows(json::parse("[1]"))), "[0]: expected an object, got an integer");
  EXPECT_NE(Refusal(AuditRows(json::parse(R"([{"who": "ci"}, {"who": 7}])"))).find("[1].who:"),
            std::string::npos);
  EXPECT_NE(Refusal(AuditRows(json::parse(R"([{"status": "200"}])"))).find("[0].status:"),
            std::string::npos);
  EXPECT_NE(Refusal(AuditRows(json::parse(R"([{"status": 1000}])"))).find("[0].status:"),
            std::string::npos);
}

}  // namespace
}  // namespace slipway::cli
