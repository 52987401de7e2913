#include "acme/renewal.h"

#include <gtest/gtest.h>

#include "acme/directory.h"

namespace slipway::acme {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'800'000'000'000;

RenewalState NinetyDays() {
  RenewalState s;
  s.have_cert = true;
  s.not_before_ms = kT0;
  s.not_after_ms = kT0 + 90 * kDay;
  s.cert_names = s.wanted_names = {"a.example", "b.example"};
  return s;
}

TEST(RenewalTest, NoCertificateOrOtherNamesIssueNow) {
  RenewalState none;
  none.wanted_names = {"a.example"};
  EXPECT_EQ(PlanRenewal(none, kT0, 1).reason, RenewalReason::kNoCertificate);
  EXPECT_EQ(PlanRenewal(none, kT0, 1).at_ms, kT0);
  RenewalState s = NinetyDays();
  s.wanted_names = {"a.example"};
  EXPECT_EQ(PlanRenewal(s, kT0 + kDay, 1).reason, RenewalReason::kNamesChanged);
  // Order does not matter.
  s.wanted_names = {"b.example", "a.example"};
  EXPECT_EQ(PlanRenewal(s, kT0 + kDay, 1).reason, RenewalReason::kNotDue);
}

TEST(RenewalTest, RenewsAtTwoThirdsWithBoundedJitter) {
  RenewalState s = NinetyDays();
  const int64_t two_thirds = kT0 + 60 * kDay;
  int64_t min_at = INT64_MAX, max_at = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    RenewalPlan p = PlanRenewal(s, kT0 + kDay, seed);
    ASSERT_EQ(p.reason, RenewalReason::kNotDue);
    EXPECT_GE(p.at_ms, two_thirds);
    EXPECT_LT(p.at_ms, two_thirds + 12 * 3'600'000);  // min(90 d / 20, 12 h)
    min_at = std::min(min_at, p.at_ms);
    max_at = std::max(max_at, p.at_ms);
  }
  EXPECT_GT(max_at - min_at, 3'600'000) << "jitter spreads renewals";
  // Same seed, same plan: the scheduler and `certs status` agree.
  EXPECT_EQ(PlanRenewal(s, kT0, 7).at_ms, PlanRenewal(s, kT0 + kDay, 7).at_ms);
  EXPECT_EQ(PlanRenewal(s, two_thirds + 13 * 3'600'000, 7).reason, RenewalReason::kDue);
  EXPECT_EQ(PlanRenewal(s, kT0 + 91 * kDay, 7).reason, RenewalReason::kExpired);
}

TEST(RenewalTest, ShortLivedCertificatesScale) {
  RenewalState s = NinetyDays();
  s.not_after_ms = kT0 + 6 * kDay;  // six-day certificates
  RenewalPlan p = PlanRenewal(s, kT0, 3);
  EXPECT_GE(p.at_ms, kT0 + 4 * kDay);
  EXPECT_LT(p.at_ms, kT0 + 4 * kDay + 6 * kDay / 20);
}

TEST(RenewalTest, FailuresBackOffBoundedAndKeepTheReason) {
  RenewalState s = NinetyDays();
  const int64_t now = kT0 + 70 * kDay;
  s.consecutive_failures = 1;
  s.last_failure_ms = now;
  s.last_error = "ACME http-01 challenge for a.example failed: connection refused";
  RenewalPlan p = PlanRenewal(s, now, 1);
  EXPECT_EQ(p.reason, RenewalReason::kBackoff);
  EXPECT_EQ(p.at_ms, now + 60'000);
  EXPECT_NE(p.detail.find("connection refused"), std::string::npos) << p.detail;
  EXPECT_NE(p.detail.find("2/3 of the lifetime"), std::string::npos) << p.detail;
  s.consecutive_failures = 3;
  EXPECT_EQ(PlanRenewal(s, now, 1).at_ms, now + 240'000);
  s.consecutive_failures = 50;
  EXPECT_EQ(PlanRenewal(s, now, 1).at_ms, now + kMaxBackoffMs);
  // Once the back-off has passed, it is due again.
  EXPECT_EQ(PlanRenewal(s, now + kMaxBackoffMs, 1).reason, RenewalReason::kDue);
  // A failure does not bring a renewal forward.
  s = NinetyDays();
  s.consecutive_failures = 2;
  s.last_failure_ms = kT0;
  EXPECT_EQ(PlanRenewal(s, kT0 + kDay, 1).reason, RenewalReason::kNotDue);
  EXPECT_EQ(BackoffMs(0), 0);
  EXPECT_EQ(RenewalReasonName(RenewalReason::kBackoff), "backoff");
}

TEST(DirectoryTest, PresetsAndUrls) {
  EXPECT_EQ(*ResolveDirectory("letsencrypt"), kLetsEncrypt);
  EXPECT_EQ(*ResolveDirectory(""), kLetsEncrypt);
  EXPECT_EQ(*ResolveDirectory("letsencrypt-staging"), kLetsEncryptStaging);
  EXPECT_EQ(*ResolveDirectory("https://127.0.0.1:14000/dir"), "https://127.0.0.1:14000/dir");
  for (const char* bad : {"http://ca/dir", "lets-encrypt", "https://", "https://a b"}) {
    auto r = ResolveDirectory(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  }
}

}  // namespace
}  // namespace slipway::acme
