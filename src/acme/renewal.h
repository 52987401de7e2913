// Renewal planning: when to (re)issue a certificate, and why. A pure function of the
// certificate's validity, the wanted names, the failure history and an injected `now`, so the
// scheduler that calls it and the tests agree on every decision.
//
// Policy (what Caddy and certbot do, with Let's Encrypt's advice): renew at 2/3 of the
// lifetime (day 60 of 90), plus a jitter of up to min(lifetime/20, 12 h) drawn from `seed` so
// many hosts do not renew in the same minute; at once when there is no certificate, the names
// changed, or it expired. After a failed attempt the next one waits 1 min doubling per
// consecutive failure, bounded by 6 h, so a broken setup neither hammers the CA (rate limits)
// nor waits past the expiry by more than that.
//
// Plain data and a pure function; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::acme {

enum class RenewalReason {
  kNoCertificate,  // none stored: issue now
  kNamesChanged,   // the configuration names others than the certificate
  kExpired,        // past notAfter
  kDue,            // past 2/3 of the lifetime (+ jitter)
  kNotDue,         // wait until `at_ms`
  kBackoff,        // the last attempt failed: wait until `at_ms`
};
std::string_view RenewalReasonName(RenewalReason r);

struct RenewalState {
  bool have_cert = false;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  std::vector<std::string> cert_names;    // the stored certificate's DNS names
  std::vector<std::string> wanted_names;  // what the configuration asks for
  int consecutive_failures = 0;           // since the last success
  int64_t last_failure_ms = 0;
  std::string last_error;  // kept in the plan's detail
};

struct RenewalPlan {
  int64_t at_ms = 0;  // when to try (<= now: now)
  RenewalReason reason = RenewalReason::kNotDue;
  std::string detail;  // one line for people: why, and what failed last
};

inline constexpr int64_t kMaxBackoffMs = 6LL * 3600 * 1000;
inline constexpr int64_t kFirstBackoffMs = 60'000;

RenewalPlan PlanRenewal(const RenewalState& s, int64_t now_ms, uint64_t seed);

// The failure back-off after `consecutive_failures` (>= 1) failed attempts.
int64_t BackoffMs(int consecutive_failures);

}  // namespace slipway::acme
