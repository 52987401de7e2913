// Port settings: which of a service's ports the proxy speaks HTTP on and which it forwards as
// plain TCP, and every port a service answers on by name.
//
// A port (published or internal, see config/service_addresses.h) is HTTP when
//   1. `x-slipway.ports` of the service says so for its target port, else
//   2. the compose long syntax says `app_protocol: http` (any other app_protocol, e.g.
//      `postgresql`, `grpc` or `https`, means TCP: slipway's HTTP proxy is HTTP/1.1 in clear), else
//   3. the service has an HTTP health check (`x-slipway.healthcheck.http`, unless its
//      `scheme: https` says the service speaks TLS there), an `x-slipway.routes` entry or
//      `x-slipway.upstream.scheme: https` (the proxy speaks HTTP to clients and HTTPS to the
//      instances; config/upstream_settings.h);
// otherwise it is TCP: bytes are copied both ways, no request is parsed.
//
//   services:
//     db:
//       ports: ["5432:5432"]          # TCP (no HTTP health check, no route)
//       x-slipway:
//         ports: {8080: http, 5432: tcp}   # target port → http | https | tcp, forces one
//
// `https` needs `x-slipway.tls` (config/tls_settings.h).
//
// Keys of `x-slipway.ports` are target ports the service declares (`ports` or `expose`).
// UDP ports are refused at load time (slipway proxies TCP only).
//
// Pure functions over plain data; any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Node;
struct Project;
struct Service;

// kHttps: HTTP with TLS terminated by the proxy on published ports (config/tls_settings.h);
// the service itself speaks plain HTTP, and service-to-service traffic stays plain.
enum class PortProtocol { kHttp, kHttps, kTcp };

std::string_view PortProtocolName(PortProtocol p);  // "http" | "https" | "tcp"

// `n` is the value of `x-slipway.ports`; `declared` are the service's target ports (`ports`
// targets and `expose`). `tls_configured`: the project has `x-slipway.tls` (else `https` is an
// error).
Status ParsePortsSettings(const Node& n, const std::string& path, const std::vector<int>& declared,
                          bool tls_configured, std::map<int, PortProtocol>* out);

// The service's target ports, sorted, without duplicates: `ports` targets and `expose`.
std::vector<int> TargetPorts(const Service& service);

// The protocol the proxy speaks on `target` of `service` (see the rules above).
PortProtocol ProtocolOf(const Project& project, const Service& service, int target);

}  // namespace slipway::config
