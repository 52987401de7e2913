// TLS settings: `x-slipway.tls`, the certificates the proxy terminates HTTPS with, and what the
// plain ports do once a project serves HTTPS.
//
//   x-slipway:
//     tls:
//       certificates:                 # the first is the default (no SNI, or a name none covers)
//         - {cert: certs/example.pem, key: certs/example.key}   # PEM chain (leaf first), PEM key
//         - {cert: certs/wild.pem, key: certs/wild.key}         # chosen by SNI: its DNS names
//       redirect: true                # plain HTTP ports answer 308 to https:// (default true)
//       hsts: 1y                      # Strict-Transport-Security max-age; absent = no header
//       http2: false                  # offer HTTP/2 (ALPN h2) on the HTTPS ports (default off)
//   services:
//     web:
//       ports: ["443:8080", "80:8080"]
//       x-slipway:
//         ports: {8080: https}        # published ports of target 8080 terminate TLS
//
// A published port is HTTPS when `x-slipway.ports.<target>: https`; the service behind it
// still speaks plain HTTP. Certificate files are read and checked at load time: unreadable,
// not PEM, a key that does not match, expired or not yet valid are errors at file:line of the
// `cert` or `key` setting. `acme` (config/acme_settings.h) is parsed here too; the loader
// resolves its names once routes and services are known.
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/acme_settings.h"

namespace slipway::config {

struct Node;

struct TlsCertificateSettings {
  std::string cert;  // absolute (resolved against the project folder)
  std::string key;
  std::string cert_where;  // "compose.yaml:12:15" of the cert setting, for messages at run time
  std::vector<std::string> names;  // the certificate's DNS names, lower-case, read at load
};

struct TlsSettings {
  std::vector<TlsCertificateSettings> certificates;
  bool redirect = true;
  std::optional<int64_t> hsts_seconds;  // Strict-Transport-Security max-age
  bool http2 = false;                   // `http2`: ALPN offers h2 on the HTTPS listeners
  std::optional<AcmeSettings> acme;     // `acme`: certificates the daemon orders
  bool enabled() const { return !certificates.empty(); }
};

// Parses `x-slipway.tls` at `path`; relative file names resolve against `project_dir`.
// `now_s` (Unix seconds) decides whether a certificate has expired.
Status ParseTlsSettings(const Node& n, const std::string& path, const std::string& project_dir,
                        int64_t now_s, TlsSettings* out);

// One `{cert: FILE, key: FILE}` mapping at `path` (also x-slipway.api.tls), read and checked
// as above; errors name the cert or key setting.
Result<TlsCertificateSettings> ParseCertificatePair(const Node& n, const std::string& path,
                                                    const std::string& project_dir, int64_t now_s);

// "1y", "180d", "12h", "0": seconds; nullopt when not such a value.
std::optional<int64_t> ParseHstsAge(const std::string& text);

}  // namespace slipway::config
