// CertReport: what the host's ingress tells a project's daemon about the certificates it
// orders for that project — one row per ordered name (state, issuer, validity, plan, last
// attempt and its error) and the project's last attempts as events, each with a sequence
// number. The ingress puts it in its answer to every registration (`"acme"` in the answer
// to POST /v1/register, only for a registration with `acme`, only that project's names);
// the daemon, which registers every 2 s anyway, reads it there (daemon/ingress_certs.h).
//
// Why poll on the heartbeat and not push: the daemon already asks every 2 s, the ingress
// needs no way to reach daemons (which restart and hand over), and a report is never lost:
// the daemon keeps a cursor (epoch, seq) and records each event once.
//
// The daemon reads the answer as hostile input: a body over kMaxCertReportBytes, anything but
// a JSON object, a wrong type or an out-of-range value is one line naming the key; rows and
// events naming anything but the project's own ordered names are dropped (counted), never
// shown.
//
// Plain data and pure functions; any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acme/cert_manager.h"
#include "base/status.h"

namespace slipway::ingress {

inline constexpr size_t kMaxCertReportBytes = 1 << 20;
inline constexpr size_t kMaxReportedEvents = 16;
inline constexpr size_t kMaxReportedText = 2048;  // an error or detail is cut to this

struct ReportedCertEvent {
  uint64_t seq = 0;       // increasing within one ingress run (its epoch)
  int64_t time_ms = 0;    // when the attempt ended (Unix ms)
  acme::CertEvent event;  // kind, name, names, reason, error, not_after_ms (no paths)
};

struct CertReport {
  int64_t epoch_ms = 0;  // when the answering ingress started: sequence numbers restart with it
  std::vector<acme::CertStatusRow> certificates;
  std::vector<ReportedCertEvent> events;  // oldest first, at most kMaxReportedEvents
};

nlohmann::json CertReportToJson(const CertReport& r);

struct ParsedCertReport {
  std::optional<CertReport> report;  // nullopt: the answer has no "acme"
  int dropped = 0;                   // rows and events naming another name
};

// Reads the "acme" member of the ingress's answer to a registration (`answer` is the whole
// body), keeping only rows and events for `names`.
Result<ParsedCertReport> ParseRegisterAnswer(std::string_view answer,
                                             const std::vector<std::string>& names);

}  // namespace slipway::ingress
