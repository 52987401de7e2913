// RunProbe: runs one health probe of any kind (CMD, CMD-SHELL, HTTP, TCP, gRPC) on a loop.
//
// CMD runs hc.test as argv, CMD-SHELL runs `/bin/sh -c hc.test[0]`, both with the env, cwd
// and user of target.exec_base; exit 0 is ok; at hc.timeout the probe's process group gets
// SIGKILL and the probe fails. output = the first 4 KiB of stdout+stderr (lines joined by
// '\n'), or the reason of the failure ("timed out after 200ms", "connect: Connection
// refused"). HTTP: GET hc.http_path on host:(hc.port or target.port), 2xx/3xx is ok; over
// HTTP/2 when hc.http2 (the service speaks nothing else), else HTTP/1.1. TCP: a connect within
// hc.timeout is ok.
//
// gRPC (kGrpc): grpc.health.v1.Health/Check for hc.grpc_service over HTTP/2 (health/h2_fetch.h,
// health/grpc_health.h), ok when the answer is HTTP 200, grpc-status 0 and SERVING; otherwise
// output says why in one line ("NOT_SERVING", "grpc-status 5: unknown service foo",
// "malformed response: truncated message", "not HTTP/2 (ALPN picked http/1.1)").
//
// HTTPS (hc.scheme kHttps, HTTP or gRPC; ALPN offers only h2 when the probe speaks HTTP/2),
// on the same loop without blocking (net::TlsTransport): a probe
// usually reaches its own instance as 127.0.0.1:PORT, an address the service's certificate
// rarely names, so by default it checks that TLS is served and the answer, not who serves
// it. It verifies the certificate (chain and name) when ca_file or server_name is given, or
// insecure_skip_verify: false says so: against ca_file (else the system store), for
// server_name (else the probed host; an IP is matched against IP subjectAltNames).
// server_name is also sent as SNI and Host. insecure_skip_verify: true never verifies.
//
// Container services: target.exec_prefix (e.g. `podman [global flags] exec <name>`) goes in
// front of the probe's argv, so CMD runs `<prefix> test...` and CMD-SHELL runs
// `<prefix> /bin/sh -c test` inside the container, as compose engines do. The timeout kills
// the exec client's group on the host; HTTP/TCP probes still go to target.port. When the
// engine answers that the container does not exist or is not running (yet: `run` may still be
// pulling the image), the result says so (container_absent) and the monitor does not count it.
//
// Threads: call on the loop's thread; `done` runs later on that thread, exactly once (never
// inside RunProbe itself). The probe keeps itself alive until done; the loop must outlive it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "config/project.h"
#include "net/event_loop.h"
#include "runtime/process.h"

namespace slipway::health {

struct ProbeTarget {
  std::string host = "127.0.0.1";
  int port = 0;                          // the instance's PORT
  runtime::ProcessSpec exec_base;        // env/cwd/user for CMD probes (argv ignored)
  std::vector<std::string> exec_prefix;  // set for container services: runs CMD inside it
};

struct ProbeResult {
  bool ok = false;
  std::string output;
  Duration took{0};
  // Only with exec_prefix: the engine's own error said the container is missing or not
  // running (podman "Error: ... no such container" / "container state improper", docker
  // "Error response from daemon: No such container" / "... is not running").
  bool container_absent = false;
};

// Whether an https probe verifies the server's certificate (see above).
bool VerifiesCertificate(const config::Healthcheck& hc);

// The classification above, of an exec client's output. Exposed for tests.
bool IsContainerAbsentError(std::string_view output);

inline constexpr size_t kMaxProbeOutput = 4096;

void RunProbe(net::EventLoop* loop, const config::Healthcheck& hc, const ProbeTarget& target,
              std::function<void(ProbeResult)> done);

}  // namespace slipway::health
