#include "acme/renewal.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace slipway::acme {

namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string Hours(int64_t ms) { return fmt::format("{:.1f} h", static_cast<double>(ms) / 3.6e6); }

}  // namespace

std::string_view RenewalReasonName(RenewalReason r) {
  switch (r) {
    case RenewalReason::kNoCertificate:
      return "no_certificate";
    case RenewalReason::kNamesChanged:
      return "names_changed";
    case RenewalReason::kExpired:
      return "expired";
    case RenewalReason::kDue:
      return "due";
    case RenewalReason::kNotDue:
      return "not_due";
    case RenewalReason::kBackoff:
      return "backoff";
  }
  return "unknown";
}

int64_t BackoffMs(int consecutive_failures) {
  if (consecutive_failures <= 0) return 0;
  const int shift = std::min(consecutive_failures - 1, 20);
  return std::min(kFirstBackoffMs << shift, kMaxBackoffMs);
}

RenewalPlan PlanRenewal(const RenewalState& s, int64_t now_ms, uint64_t seed) {
  RenewalPlan plan;
  // What the certificate alone says.
  if (!s.have_cert) {
    plan = {now_ms, RenewalReason::kNoCertificate, "no certificate stored"};
  } else if (std::set<std::string>(s.cert_names.begin(), s.cert_names.end()) !=
             std::set<std::string>(s.wanted_names.begin(), s.wanted_names.end())) {
    plan = {now_ms, RenewalReason::kNamesChanged,
            "the configured names differ from the certificate's"};
  } else if (now_ms >= s.not_after_ms) {
    plan = {now_ms, RenewalReason::kExpired, "the certificate has expired"};
  } else {
    const int64_t lifetime = std::max<int64_t>(s.not_after_ms - s.not_before_ms, 0);
    const int64_t max_jitter = std::min<int64_t>(lifetime / 20, 12LL * 3600 * 1000);
    const int64_t jitter =
        max_jitter > 0
            ? static_cast<int64_t>(SplitMix64(seed ^ static_cast<uint64_t>(s.not_after_ms)) %
                                   static_cast<uint64_t>(max_jitter))
            : 0;
    const int64_t due = s.not_before_ms + lifetime * 2 / 3 + jitter;
    if (now_ms >= due) {
      plan = {now_ms, RenewalReason::kDue,
              fmt::format("2/3 of the lifetime passed; {} left", Hours(s.not_after_ms - now_ms))};
    } else {
      plan = {due, RenewalReason::kNotDue,
              fmt::format("renews in {} ({} before expiry)", Hours(due - now_ms),
                          Hours(s.not_after_ms - due))};
    }
  }
  // A recent failure delays whatever is due now.
  if (s.consecutive_failures > 0 && plan.at_ms <= now_ms) {
    const int64_t retry = s.last_failure_ms + BackoffMs(s.consecutive_failures);
    if (retry > now_ms) {
      plan.detail = fmt::format("{}; attempt {} failed ({}), retry in {}", plan.detail,
                                s.consecutive_failures, s.last_error.empty() ? "?" : s.last_error,
                                Hours(retry - now_ms));
      plan.at_ms = retry;
      plan.reason = RenewalReason::kBackoff;
    }
  }
  return plan;
}

}  // namespace slipway::acme
