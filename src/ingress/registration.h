// Registration: what a project's daemon tells the host's ingress (src/ingress/ingress.h) about
// itself — its name and folder, the host names it answers, the loopback address its own proxy
// listens on for them, its certificate files, what the plain port does for it and whether its
// names speak HTTP/2 — and the strict parser of that message, which arrives on the ingress's
// control socket as one JSON object (`POST /v1/register`). The same parser reads the ingress's
// state file back.
//
// Hostile input is normal input: a body over kMaxRegistrationBytes, anything but one JSON
// object, an unknown key, a wrong type, an out-of-range value or a malformed host name is
// one clear line naming the key; nothing is half-applied (the caller changes nothing on
// error).
//
// Plain data and pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace slipway::ingress {

inline constexpr size_t kMaxRegistrationBytes = 64 * 1024;
inline constexpr size_t kMaxHosts = 100;
inline constexpr size_t kMaxCertificates = 16;
inline constexpr int64_t kMaxHstsSeconds = 2 * 365 * 24 * 3600;

struct CertificateFiles {
  std::string cert;  // absolute path of a PEM chain (leaf first)
  std::string key;   // absolute path of its PEM key
  bool operator==(const CertificateFiles&) const = default;
};

// What a project asks the ingress to order from an ACME CA for it (`"acme"` in the message;
// the project's x-slipway.tls.acme). The ingress orders only names among the registration's
// hosts, never a client's SNI.
enum class AcmeChallengeKind { kHttp01, kTlsAlpn01 };
std::string_view AcmeChallengeKindName(AcmeChallengeKind k);  // "http-01" | "tls-alpn-01"

inline constexpr size_t kMaxAcmeDirectoryBytes = 2048;

struct AcmeRequest {
  std::string directory;  // https:// URL of the CA's directory
  std::string email;      // account contact; "" = none
  std::string ca_file;    // absolute path of a PEM root trusted for the directory; "" = system
  AcmeChallengeKind challenge = AcmeChallengeKind::kHttp01;
  std::vector<std::string> names;  // 1..kMaxHosts of the hosts (default: every host)
  bool operator==(const AcmeRequest&) const = default;
};

struct Registration {
  std::string project;             // compose project name: [a-z0-9][a-z0-9_-]*, at most 64
  std::string folder;              // absolute path of the project folder (who registered)
  std::vector<std::string> hosts;  // lowercase host names, no duplicates, 1..kMaxHosts
  std::string upstream_ip;         // 127.x.y.z: the project's own proxy
  int upstream_port = 0;
  std::vector<CertificateFiles> tls;  // empty: the project serves plain HTTP only
  std::optional<AcmeRequest> acme;    // certificates the ingress orders for the project
  bool redirect = false;              // plain requests answer 308 to https (needs tls or acme)
  int64_t hsts_seconds = -1;          // Strict-Transport-Security max-age; -1 = none
  // HTTPS offers HTTP/2 (ALPN h2) to a client whose SNI is one of `hosts` (needs tls or acme).
  bool http2 = false;
  bool operator==(const Registration&) const = default;
  // Served over HTTPS: certificate files, or certificates the ingress orders.
  bool https() const { return !tls.empty() || acme.has_value(); }
};

// Parses one registration (a JSON object). InvalidInput names the key and what is expected.
Result<Registration> ParseRegistration(std::string_view text);

// The JSON text ParseRegistration reads back to the same value.
std::string RegistrationJson(const Registration& r);

// True for a host name the ingress routes: 1..253 characters, dot-separated labels of 1..63
// lowercase letters, digits and '-' (not at a label's ends), optionally after "*." (a
// wildcard for one label). No port, no other pattern.
bool IsRoutableHostName(std::string_view name);

// True for a project name as compose writes it: [a-z0-9][a-z0-9_-]*, at most 64 characters.
bool IsProjectName(std::string_view name);

}  // namespace slipway::ingress
