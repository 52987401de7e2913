// FetchH2: one HTTP/2 request on a new connection, for health probes of servers that speak
// HTTP/2 only (gRPC servers, `upstream.protocol: h2` services). nghttp2's client session over a
// net::Transport: in clear with prior knowledge (h2c), or TLS whose ALPN offers only "h2".
//
// The answer is read as from a hostile server: a header block over kMaxH2ProbeHeaderBytes or
// kMaxH2ProbeHeaders, a body over `max_body` (the exchange stops there, body_over_limit set),
// an HTTP/1.x answer, protocol errors and resets all end the call with a one-line reason
// ("connect: Connection refused", "not HTTP/2 (ALPN picked http/1.1)", "timed out after
// 200ms"). Nothing is retried.
//
// Threads: call on the loop's thread; `done` runs later on that thread exactly once (never
// inside FetchH2). The call keeps itself alive until then; the loop must outlive it.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "http/client.h"
#include "net/event_loop.h"

namespace slipway::health {

inline constexpr size_t kMaxH2ProbeHeaderBytes = 16 * 1024;  // per header block
inline constexpr size_t kMaxH2ProbeHeaders = 100;            // fields per header block

using H2Fields = std::vector<std::pair<std::string, std::string>>;

struct H2ProbeRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string authority;  // empty: host:port of the endpoint (or its tls_name)
  H2Fields headers;       // lower-case names, no pseudo-headers
  std::string body;
};

struct H2ProbeResponse {
  int status = 0;    // the final :status
  H2Fields headers;  // the final head's fields (not pseudo-headers)
  H2Fields trailers;
  std::string body;              // at most max_body bytes
  bool body_over_limit = false;  // more arrived; the exchange stopped there
};

// `ep`: host and port (unix_path unused); `ep.tls` set = TLS, verified as that context says,
// for ep.tls_name (else the host). `timeout` bounds the whole exchange (<= 0: none).
void FetchH2(net::EventLoop* loop, const http::Endpoint& ep, H2ProbeRequest req, Duration timeout,
             size_t max_body, std::function<void(Result<H2ProbeResponse>)> done);

// The first value of `name` (lower-case) in `fields`, or nullptr.
const std::string* FindField(const H2Fields& fields, std::string_view name);

}  // namespace slipway::health
