#include "daemon/ingress_certs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace slipway::daemon {
namespace {

constexpr int64_t kDay = 86400LL * 1000;

class IngressCertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ingress_certs_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    auto s = store::Store::Open(dir_ / "state.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }

  // A report from ingress run `epoch`: a.test valid until now + `days_left`, and `events`
  // (seq, kind) for a.test.
  ingress::CertReport Report(int64_t epoch, int64_t days_left,
                             std::vector<std::pair<uint64_t, acme::CertEventKind>> events) {
    ingress::CertReport r;
    r.epoch_ms = epoch;
    acme::CertStatusRow row;
    row.name = "a.test";
    row.state = acme::CertState::kValid;
    row.not_after_ms = clock_.WallMillis() + days_left * kDay;
    row.issuer = "CN=Test CA";
    r.certificates.push_back(row);
    for (const auto& [seq, kind] : events) {
      ingress::ReportedCertEvent e;
      e.seq = seq;
      e.time_ms = clock_.WallMillis();
      e.event.kind = kind;
      e.event.name = "a.test";
      e.event.names = {"a.test"};
      e.event.not_after_ms = row.not_after_ms;
      if (kind == acme::CertEventKind::kFailed) e.event.error = "the CA said no";
      r.events.push_back(e);
    }
    return r;
  }

  std::vector<std::string> Kinds() {
    auto events = store_->Events(0, {}, 0);
    EXPECT_TRUE(events.ok());
    std::vector<std::string> out;
    for (const store::Event& e : *events) out.push_back(e.kind + " " + e.message);
    return out;
  }
  int Count(const std::string& kind) {
    int n = 0;
    for (const std::string& k : Kinds()) n += k.rfind(kind + " ", 0) == 0 ? 1 : 0;
    return n;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  telemetry::Registry registry_{1};
};

TEST_F(IngressCertsTest, EachEventIsRecordedOnceAsTheProjectsOwnKind) {
  IngressCerts certs(store_.get(), &registry_, &clock_);
  EXPECT_FALSE(certs.rows().has_value());
  certs.Apply(Report(100, 80, {{1, acme::CertEventKind::kIssued}}));
  // The heartbeat brings the same event again: not recorded again.
  certs.Apply(Report(100, 80, {{1, acme::CertEventKind::kIssued}}));
  certs.Apply(Report(100, 80,
                     {{1, acme::CertEventKind::kIssued},
                      {2, acme::CertEventKind::kFailed},
                      {3, acme::CertEventKind::kRenewed}}));
  EXPECT_EQ(Count("cert-issued"), 1);
  EXPECT_EQ(Count("cert-issue-failed"), 1);
  EXPECT_EQ(Count("cert-renewed"), 1);
  // The message is the one a project-owned CertManager's event has.
  bool found = false;
  for (const std::string& k : Kinds()) {
    if (k.rfind("cert-issue-failed a.test (", 0) == 0 &&
        k.find("): the CA said no") != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << ::testing::PrintToString(Kinds());
  ASSERT_TRUE(certs.rows().has_value());
  ASSERT_EQ(certs.rows()->size(), 1u);
  EXPECT_EQ((*certs.rows())[0].issuer, "CN=Test CA");
}

TEST_F(IngressCertsTest, TheCursorSurvivesARestartAndANewIngressRunCountsAfresh) {
  {
    IngressCerts certs(store_.get(), &registry_, &clock_);
    certs.Apply(Report(100, 80, {{1, acme::CertEventKind::kIssued}}));
  }
  // The daemon restarted: the same ingress run's events are not recorded twice, a newer one is.
  IngressCerts again(store_.get(), &registry_, &clock_);
  again.Apply(Report(100, 80, {{1, acme::CertEventKind::kIssued}}));
  EXPECT_EQ(Count("cert-issued"), 1);
  again.Apply(
      Report(100, 80, {{1, acme::CertEventKind::kIssued}, {2, acme::CertEventKind::kRenewed}}));
  EXPECT_EQ(Count("cert-renewed"), 1);
  // The ingress restarted: it numbers from 1 again, and its events are new.
  again.Apply(Report(200, 80, {{1, acme::CertEventKind::kRenewed}}));
  EXPECT_EQ(Count("cert-renewed"), 2);
  // A damaged cursor starts afresh instead of failing.
  ASSERT_TRUE(store_->SetMeta("ingress_cert_cursor", "garbage").ok());
  IngressCerts fresh(store_.get(), &registry_, &clock_);
  fresh.Apply(Report(200, 80, {}));
  EXPECT_TRUE(fresh.rows().has_value());
}

TEST_F(IngressCertsTest, ExpiryIsAGaugeAndAnEventUnderFourteenDays) {
  IngressCerts certs(store_.get(), &registry_, &clock_);
  certs.Apply(Report(100, 80, {}));
  std::string text = registry_.RenderPrometheus();
  EXPECT_NE(
      text.find("slipway_tls_cert_expiry_seconds{name=\"a.test\"} " + std::to_string(80 * 86400)),
      std::string::npos)
      << text;
  EXPECT_EQ(Count("tls-cert-expiring"), 0);
  certs.Apply(Report(100, 10, {}));
  certs.Apply(Report(100, 10, {}));
  EXPECT_EQ(Count("tls-cert-expiring"), 1);  // once per certificate
  // Time passes: the gauge follows without a new report.
  clock_.AdvanceForTest(Duration(kDay));
  certs.UpdateExpiry();
  text = registry_.RenderPrometheus();
  EXPECT_NE(
      text.find("slipway_tls_cert_expiry_seconds{name=\"a.test\"} " + std::to_string(9 * 86400)),
      std::string::npos)
      << text;
  // No longer ordered through the ingress: no rows, no gauge to alert on.
  certs.Clear();
  EXPECT_FALSE(certs.rows().has_value());
  EXPECT_EQ(registry_.RenderPrometheus().find("name=\"a.test\""), std::string::npos);
}

TEST_F(IngressCertsTest, WithoutAStoreOrRegistryNothingBreaks) {
  IngressCerts certs(nullptr, nullptr, &clock_);
  certs.Apply(Report(100, 5, {{1, acme::CertEventKind::kIssued}}));
  certs.UpdateExpiry();
  certs.Clear();
  EXPECT_FALSE(certs.rows().has_value());
}

}  // namespace
}  // namespace slipway::daemon
