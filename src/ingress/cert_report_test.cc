#include "ingress/cert_report.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway::ingress {
namespace {

using nlohmann::json;

CertReport Sample() {
  CertReport r;
  r.epoch_ms = 1'700'000'000'000;
  acme::CertStatusRow row;
  row.name = "a.test";
  row.state = acme::CertState::kValid;
  row.not_before_ms = 1'700'000'000'000;
  row.not_after_ms = 1'707'776'000'000;
  row.issuer = "CN=Pebble Intermediate CA";
  row.plan = acme::RenewalReason::kNotDue;
  row.next_attempt_ms = 1'705'000'000'000;
  row.detail = "renews at 2/3 of the lifetime";
  row.last_attempt_ms = 1'700'000'001'000;
  r.certificates.push_back(row);
  acme::CertStatusRow bad;
  bad.name = "bad.test";
  bad.state = acme::CertState::kFailing;
  bad.plan = acme::RenewalReason::kBackoff;
  bad.consecutive_failures = 2;
  bad.last_error = "challenge for bad.test failed: connection refused";
  r.certificates.push_back(bad);
  ReportedCertEvent issued;
  issued.seq = 3;
  issued.time_ms = 1'700'000'001'500;
  issued.event.kind = acme::CertEventKind::kIssued;
  issued.event.names = {"a.test"};
  issued.event.name = "a.test";
  issued.event.not_after_ms = row.not_after_ms;
  r.events.push_back(issued);
  ReportedCertEvent failed;
  failed.seq = 4;
  failed.time_ms = 1'700'000'002'000;
  failed.event.kind = acme::CertEventKind::kFailed;
  failed.event.names = {"bad.test"};
  failed.event.name = "bad.test";
  failed.event.error = bad.last_error;
  r.events.push_back(failed);
  return r;
}

std::string Answer(const json& acme) { return json{{"changed", false}, {"acme", acme}}.dump(); }

std::string ErrorOf(const std::string& answer) {
  auto r = ParseRegisterAnswer(answer, {"a.test", "bad.test"});
  return r.ok() ? "(parsed)" : r.status().message();
}

TEST(CertReport, RoundTripsThroughTheRegisterAnswer) {
  const CertReport sent = Sample();
  auto parsed = ParseRegisterAnswer(Answer(CertReportToJson(sent)), {"a.test", "bad.test"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_TRUE(parsed->report.has_value());
  EXPECT_EQ(parsed->dropped, 0);
  const CertReport& r = *parsed->report;
  EXPECT_EQ(r.epoch_ms, sent.epoch_ms);
  ASSERT_EQ(r.certificates.size(), 2u);
  EXPECT_EQ(r.certificates[0].name, "a.test");
  EXPECT_EQ(r.certificates[0].state, acme::CertState::kValid);
  EXPECT_EQ(r.certificates[0].issuer, "CN=Pebble Intermediate CA");
  EXPECT_EQ(r.certificates[0].not_after_ms, sent.certificates[0].not_after_ms);
  EXPECT_EQ(r.certificates[0].last_attempt_ms, sent.certificates[0].last_attempt_ms);
  EXPECT_EQ(r.certificates[1].state, acme::CertState::kFailing);
  EXPECT_EQ(r.certificates[1].plan, acme::RenewalReason::kBackoff);
  EXPECT_EQ(r.certificates[1].consecutive_failures, 2);
  EXPECT_EQ(r.certificates[1].last_error, sent.certificates[1].last_error);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].seq, 3u);
  EXPECT_EQ(r.events[0].event.kind, acme::CertEventKind::kIssued);
  EXPECT_EQ(r.events[0].event.name, "a.test");
  EXPECT_EQ(r.events[0].event.not_after_ms, sent.events[0].event.not_after_ms);
  EXPECT_EQ(r.events[1].event.kind, acme::CertEventKind::kFailed);
  EXPECT_EQ(r.events[1].event.error, sent.events[1].event.error);
}

TEST(CertReport, AnAnswerWithoutAcmeHasNoReport) {
  auto parsed = ParseRegisterAnswer(R"({"changed":true})", {"a.test"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->report.has_value());
}

TEST(CertReport, OtherNamesAreNeverShown) {
  // Only a.test is the project's: bad.test's row and event are dropped and counted.
  auto parsed = ParseRegisterAnswer(Answer(CertReportToJson(Sample())), {"a.test"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_TRUE(parsed->report.has_value());
  EXPECT_EQ(parsed->dropped, 2);
  ASSERT_EQ(parsed->report->certificates.size(), 1u);
  EXPECT_EQ(parsed->report->certificates[0].name, "a.test");
  ASSERT_EQ(parsed->report->events.size(), 1u);
  EXPECT_EQ(parsed->report->events[0].event.name, "a.test");
  // An event naming one of ours and another's is not ours either.
  json doc = CertReportToJson(Sample());
  doc["events"][0]["names"] = json::array({"a.test", "other.test"});
  parsed = ParseRegisterAnswer(Answer(doc), {"a.test", "bad.test"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->report->events.size(), 1u);
  EXPECT_EQ(parsed->dropped, 1);
}

TEST(CertReport, HostileAnswersAreOneLineErrors) {
  const json good = CertReportToJson(Sample());
  auto with = [&](const std::string& pointer, const json& value) {
    json doc = good;
    doc[json::json_pointer(pointer)] = value;
    return Answer(doc);
  };
  struct Case {
    std::string answer;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {"\"acme\"", "expected a JSON object"},
      {std::string(kMaxCertReportBytes + 1, ' '), "is too large"},
      {Answer("yes"), "acme: expected an object"},
      {Answer(json::array()), "acme: expected an object"},
      {with("/epoch_ms", "soon"), "acme.epoch_ms: expected an integer"},
      {with("/epoch_ms", -5), "acme.epoch_ms: expected 1 to"},
      {with("/epoch_ms", 1e30), "acme.epoch_ms: expected an integer"},
      {with("/epoch_ms", UINT64_MAX), "acme.epoch_ms: out of range"},
      {with("/certificates", "a.test"), "acme.certificates: expected a list"},
      {with("/certificates/0", 7), "acme.certificates[0]: expected an object"},
      {with("/certificates/0/name", 7), "acme.certificates[0].name: expected a string"},
      {with("/certificates/0/name", std::string(300, 'a')), "longer than 253"},
      {with("/certificates/0/state", "great"), "acme.certificates[0].state: \"great\" is not"},
      {with("/certificates/0/plan", true), "acme.certificates[0].plan: expected a string"},
      {with("/certificates/0/not_after_ms", "2030"), "not_after_ms: expected an integer"},
      {with("/certificates/0/consecutive_failures", -1), "consecutive_failures: expected 0"},
      {with("/certificates/1/last_error", std::string(5000, 'e')), "longer than 2048"},
      {with("/events", json::object()), "acme.events: expected a list"},
      {with("/events/0/seq", 0), "acme.events[0].seq: expected 1 to"},
      {with("/events/0/kind", "cert-stolen"), "acme.events[0].kind: \"cert-stolen\" is not"},
      {with("/events/0/names", json::array()), "acme.events[0].names: expected a list"},
      {with("/events/0/names", "a.test"), "acme.events[0].names: expected a list"},
      {with("/events/0/names/0", 1), "acme.events[0].names[0]: expected a host name"},
      {with("/events/1/error", json::array({"x"})), "acme.events[1].error: expected a string"},
  };
  for (const Case& c : cases) {
    const std::string error = ErrorOf(c.answer);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.answer.substr(0, 200) << " → " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  // A missing required member of a row or an event.
  json doc = good;
  doc["certificates"][0].erase("state");
  EXPECT_NE(ErrorOf(Answer(doc)).find("acme.certificates[0].state: is required"),
            std::string::npos);
  doc = good;
  doc["events"][0].erase("seq");
  EXPECT_NE(ErrorOf(Answer(doc)).find("acme.events[0].seq: is required"), std::string::npos);
  doc = good;
  doc.erase("events");
  EXPECT_NE(ErrorOf(Answer(doc)).find("acme.events: expected a list"), std::string::npos);
}

TEST(CertReport, LongTextIsCutWhenSent) {
  CertReport r = Sample();
  r.certificates[1].last_error = std::string(10'000, 'x');
  const json doc = CertReportToJson(r);
  EXPECT_EQ(doc["certificates"][1]["last_error"].get<std::string>().size(), kMaxReportedText);
}

}  // namespace
}  // namespace slipway::ingress
