// ACME settings: `x-slipway.tls.acme`, certificates the daemon orders from an ACME CA.
//
//   x-slipway:
//     tls:
//       acme:
//         email: ops@example.org      # account contact (optional)
//         directory: letsencrypt      # letsencrypt | letsencrypt-staging | an https:// URL
//         ca_file: pebble-root.pem    # extra root trusted for the directory's HTTPS
//         challenge: http-01          # or tls-alpn-01 (RFC 8737, on the HTTPS listener)
//         names: [shop.example.com]   # default: hosts of x-slipway.routes served over HTTPS
//
// `acme` and `certificates` may be combined: a name a certificate file covers is never
// ordered. Names are host names only (no IP address, no wildcard: those need DNS-01), at most
// 100. ParseTlsSettings parses the block into TlsSettings::acme while the project loads; the
// loader then resolves the names (ResolveAcmeNames) once routes and services are known, so
// every error is a load error at file:line:col. The daemon reads Project::tls.acme.
//
// Plain data and pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Node;
struct Project;

// How the CA validates control of a name (RFC 8555 8.3, RFC 8737).
enum class AcmeChallenge { kHttp01, kTlsAlpn01 };
std::string_view AcmeChallengeName(AcmeChallenge c);  // "http-01" | "tls-alpn-01"

inline constexpr size_t kMaxAcmeNames = 100;  // one order's worth; Let's Encrypt's limit too

struct AcmeSettings {
  std::string email;  // "" = no contact
  std::string directory_url = "https://acme-v02.api.letsencrypt.org/directory";
  std::string ca_file;  // absolute; "" = the system store only
  AcmeChallenge challenge = AcmeChallenge::kHttp01;
  // The names to order, lower-case, in order; once resolved, without those a certificate file
  // covers (the one place they are left out).
  std::vector<std::string> names;
  bool names_given = false;             // `names` was set (else: the routes' hosts)
  std::vector<std::string> file_names;  // what the project's certificate files cover
  std::string where;                    // "compose.yaml:12:5" of `acme`, for messages at run time
};

// Parses the `acme` mapping at `path` (names as given, not resolved).
Status ParseAcmeSettings(const Node& n, const std::string& path, const std::string& project_dir,
                         AcmeSettings* out);

// Resolves `acme` (parsed by ParseAcmeSettings) for `project`, whose services, routes and
// certificate files are loaded: without `names`, the `host` of every x-slipway.routes entry
// whose listener is a published HTTPS port; minus the names the certificate files cover
// (also kept in file_names). InvalidInput (at file:line:col) when nothing is left to order,
// or a route's host cannot be ordered.
Status ResolveAcmeNames(const Project& project, AcmeSettings* acme);

// A name an order may carry: a DNS host name (letters, digits, '-', labels of 1-63, at most
// 253 in all, at least two labels), not an IP address, not a wildcard. One line otherwise.
Status CheckAcmeName(std::string_view name, AcmeChallenge challenge);

}  // namespace slipway::config
