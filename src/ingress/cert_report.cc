#include "ingress/cert_report.h"

#include <algorithm>
#include <set>

namespace slipway::ingress {
namespace {

using nlohmann::json;

std::string Cut(const std::string& s) {
  return s.size() > kMaxReportedText ? s.substr(0, kMaxReportedText) : s;
}

Status Bad(const std::string& key, const std::string& what) {
  return InvalidInput("ingress answer: " + key + ": " + what);
}

// The fields of one object, each read at most once with its type checked; unknown keys are
// ignored (a newer ingress may say more).
class Fields {
 public:
  Fields(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  const json* Find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  Result<std::string> String(const char* key, size_t max, bool required) const {
    const json* v = Find(key);
    if (v == nullptr) {
      if (required) return Bad(Key(key), "is required");
      return std::string();
    }
    if (!v->is_string()) return Bad(Key(key), "expected a string");
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max) {
      return Bad(Key(key), "longer than " + std::to_string(max) + " characters");
    }
    return s;
  }
  Result<int64_t> Int(const char* key, int64_t min, int64_t max) const {
    const json* v = Find(key);
    if (v == nullptr) return int64_t{0};
    if (!v->is_number_integer()) return Bad(Key(key), "expected an integer");
    // A large unsigned value does not fit int64_t: refused as out of range.
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return Bad(Key(key), "out of range");
    }
    const int64_t n = v->get<int64_t>();
    if (n < min || n > max) {
      return Bad(Key(key), "expected " + std::to_string(min) + " to " + std::to_string(max));
    }
    return n;
  }
  std::string Key(const char* key) const { return where_ + "." + key; }

 private:
  const json& obj_;
  std::string where_;
};

constexpr int64_t kMaxMs = int64_t{1} << 50;  // far past any date a certificate names

template <typename E, typename NameOf>
Result<E> EnumOf(const std::string& text, const std::string& key, std::initializer_list<E> all,
                 NameOf name_of) {
  std::string expected;
  for (E e : all) {
    if (name_of(e) == text) return e;
    expected += (expected.empty() ? "" : ", ") + std::string(name_of(e));
  }
  return Bad(key, "\"" + Cut(text) + "\" is not one of " + expected);
}

Result<acme::RenewalReason> ReasonOf(const std::string& text, const std::string& key) {
  return EnumOf(text, key,
                {acme::RenewalReason::kNoCertificate, acme::RenewalReason::kNamesChanged,
                 acme::RenewalReason::kExpired, acme::RenewalReason::kDue,
                 acme::RenewalReason::kNotDue, acme::RenewalReason::kBackoff},
                acme::RenewalReasonName);
}

Result<acme::CertState> StateOf(const std::string& text, const std::string& key) {
  return EnumOf(text, key,
                {acme::CertState::kPending, acme::CertState::kValid, acme::CertState::kFailing},
                acme::CertStateName);
}

Result<acme::CertEventKind> KindOf(const std::string& text, const std::string& key) {
  return EnumOf(
      text, key,
      {acme::CertEventKind::kIssued, acme::CertEventKind::kRenewed, acme::CertEventKind::kFailed},
      acme::CertEventKindName);
}

Result<acme::CertStatusRow> ParseRow(const json& v, const std::string& where) {
  if (!v.is_object()) return Bad(where, "expected an object");
  Fields f(v, where);
  acme::CertStatusRow r;
  ASSIGN_OR_RETURN(r.name, f.String("name", 253, true));
  ASSIGN_OR_RETURN(std::string state, f.String("state", 32, true));
  ASSIGN_OR_RETURN(r.state, StateOf(state, f.Key("state")));
  ASSIGN_OR_RETURN(std::string plan, f.String("plan", 32, false));
  if (!plan.empty()) {
    ASSIGN_OR_RETURN(r.plan, ReasonOf(plan, f.Key("plan")));
  }
  ASSIGN_OR_RETURN(r.not_before_ms, f.Int("not_before_ms", 0, kMaxMs));
  ASSIGN_OR_RETURN(r.not_after_ms, f.Int("not_after_ms", 0, kMaxMs));
  ASSIGN_OR_RETURN(r.next_attempt_ms, f.Int("next_attempt_ms", 0, INT64_MAX));
  ASSIGN_OR_RETURN(r.last_attempt_ms, f.Int("last_attempt_ms", 0, kMaxMs));
  ASSIGN_OR_RETURN(int64_t failures, f.Int("consecutive_failures", 0, 1'000'000));
  r.consecutive_failures = static_cast<int>(failures);
  ASSIGN_OR_RETURN(r.issuer, f.String("issuer", kMaxReportedText, false));
  ASSIGN_OR_RETURN(r.detail, f.String("detail", kMaxReportedText, false));
  ASSIGN_OR_RETURN(r.last_error, f.String("last_error", kMaxReportedText, false));
  return r;
}

Result<ReportedCertEvent> ParseEvent(const json& v, const std::string& where) {
  if (!v.is_object()) return Bad(where, "expected an object");
  Fields f(v, where);
  ReportedCertEvent e;
  ASSIGN_OR_RETURN(int64_t seq, f.Int("seq", 1, INT64_MAX));
  if (seq == 0) return Bad(f.Key("seq"), "is required");
  e.seq = static_cast<uint64_t>(seq);
  ASSIGN_OR_RETURN(e.time_ms, f.Int("time_ms", 0, kMaxMs));
  ASSIGN_OR_RETURN(std::string kind, f.String("kind", 32, true));
  ASSIGN_OR_RETURN(e.event.kind, KindOf(kind, f.Key("kind")));
  ASSIGN_OR_RETURN(std::string reason, f.String("reason", 32, false));
  if (!reason.empty()) {
    ASSIGN_OR_RETURN(e.event.reason, ReasonOf(reason, f.Key("reason")));
  }
  const json* names = f.Find("names");
  if (names == nullptr || !names->is_array() || names->empty() || names->size() > 100) {
    return Bad(f.Key("names"), "expected a list of 1 to 100 host names");
  }
  for (size_t i = 0; i < names->size(); ++i) {
    const json& n = (*names)[i];
    if (!n.is_string() || n.get_ref<const std::string&>().empty() ||
        n.get_ref<const std::string&>().size() > 253) {
      return Bad(f.Key("names") + "[" + std::to_string(i) + "]", "expected a host name");
    }
    e.event.names.push_back(n.get<std::string>());
  }
  e.event.name = e.event.names.front();
  ASSIGN_OR_RETURN(e.event.error, f.String("error", kMaxReportedText, false));
  ASSIGN_OR_RETURN(e.event.not_after_ms, f.Int("not_after_ms", 0, kMaxMs));
  return e;
}

}  // namespace

json CertReportToJson(const CertReport& r) {
  json rows = json::array();
  for (const acme::CertStatusRow& c : r.certificates) {
    json row{{"name", c.name},
             {"state", std::string(acme::CertStateName(c.state))},
             {"plan", std::string(acme::RenewalReasonName(c.plan))},
             {"next_attempt_ms", c.next_attempt_ms},
             {"detail", Cut(c.detail)},
             {"consecutive_failures", c.consecutive_failures}};
    if (c.not_after_ms > 0) {
      row["not_before_ms"] = c.not_before_ms;
      row["not_after_ms"] = c.not_after_ms;
      row["issuer"] = Cut(c.issuer);
    }
    if (c.last_attempt_ms > 0) row["last_attempt_ms"] = c.last_attempt_ms;
    if (!c.last_error.empty()) row["last_error"] = Cut(c.last_error);
    rows.push_back(std::move(row));
  }
  json events = json::array();
  for (const ReportedCertEvent& e : r.events) {
    json ev{{"seq", e.seq},
            {"time_ms", e.time_ms},
            {"kind", std::string(acme::CertEventKindName(e.event.kind))},
            {"names", e.event.names},
            {"reason", std::string(acme::RenewalReasonName(e.event.reason))}};
    if (e.event.kind == acme::CertEventKind::kFailed) {
      ev["error"] = Cut(e.event.error);
    } else {
      ev["not_after_ms"] = e.event.not_after_ms;
    }
    events.push_back(std::move(ev));
  }
  return json{{"epoch_ms", r.epoch_ms}, {"certificates", rows}, {"events", events}};
}

Result<ParsedCertReport> ParseRegisterAnswer(std::string_view answer,
                                             const std::vector<std::string>& names) {
  if (answer.size() > kMaxCertReportBytes) {
    return InvalidInput("ingress answer: " + std::to_string(answer.size()) +
                        " bytes is too large (expected at most " +
                        std::to_string(kMaxCertReportBytes) + ")");
  }
  json doc = json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidInput("ingress answer: not valid JSON");
  if (!doc.is_object()) return InvalidInput("ingress answer: expected a JSON object");
  ParsedCertReport out;
  auto member = doc.find("acme");
  if (member == doc.end() || member->is_null()) return out;
  if (!member->is_object()) return Bad("acme", "expected an object");
  Fields f(*member, "acme");
  CertReport r;
  ASSIGN_OR_RETURN(r.epoch_ms, f.Int("epoch_ms", 1, kMaxMs));
  if (r.epoch_ms == 0) return Bad("acme.epoch_ms", "is required");
  const std::set<std::string> own(names.begin(), names.end());
  const json* rows = f.Find("certificates");
  if (rows == nullptr || !rows->is_array() || rows->size() > 1000) {
    return Bad("acme.certificates", "expected a list of at most 1000 rows");
  }
  for (size_t i = 0; i < rows->size(); ++i) {
    ASSIGN_OR_RETURN(acme::CertStatusRow row,
                     ParseRow((*rows)[i], "acme.certificates[" + std::to_string(i) + "]"));
    if (own.count(row.name) == 0) {
      ++out.dropped;
      continue;
    }
    r.certificates.push_back(std::move(row));
  }
  const json* events = f.Find("events");
  if (events == nullptr || !events->is_array() || events->size() > 1000) {
    return Bad("acme.events", "expected a list of at most 1000 events");
  }
  for (size_t i = 0; i < events->size(); ++i) {
    ASSIGN_OR_RETURN(ReportedCertEvent e,
                     ParseEvent((*events)[i], "acme.events[" + std::to_string(i) + "]"));
    const bool foreign = std::any_of(e.event.names.begin(), e.event.names.end(),
                                     [&](const std::string& n) { return own.count(n) == 0; });
    if (foreign) {
      ++out.dropped;
      continue;
    }
    r.events.push_back(std::move(e));
  }
  out.report = std::move(r);
  return out;
}

}  // namespace slipway::ingress
