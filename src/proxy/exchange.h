// Exchange: the state of one request/response in flight on a ClientConn. Internal to
// src/proxy; owned by its ClientConn and used only on that connection's worker thread. It exists
// only while a request is in flight, so idle connections stay small. FeedBody() is the body
// relay both directions of an exchange share (a plain function: any thread, no state).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "http/parser.h"
#include "proxy/worker.h"

namespace slipway::proxy {

// Per-request state; exists only while a request is in flight, so idle connections stay small.
struct Exchange {
  explicit Exchange(const http::ParserLimits& req_limits)
      : req_body(req_limits), resp(RespLimits(req_limits)), resp_body(RespLimits(req_limits)) {}
  static http::ParserLimits RespLimits(const http::ParserLimits& l) {
    http::ParserLimits r = l;
    r.max_body_bytes = ~uint64_t{0};  // responses are not capped (1 GiB downloads stream)
    return r;
  }

  std::shared_ptr<WorkerTable> wt;
  int listener = -1, route = -1, set = -1;
  BackendState* backend = nullptr;
  std::unique_ptr<UpstreamConn> up;
  std::string method;
  bool upgrade = false;
  // An HTTP/2 stream's WebSocket (its request came from an extended CONNECT): the
  // Sec-WebSocket-Key the proxy generated, which the upstream's 101 must answer (RFC 6455
  // 4.2.2), and whether the upstream's write side was shut after the client's END_STREAM.
  std::string ws_key;
  bool up_write_shut = false;
  bool req_done = false;
  http::BodyReader req_body;
  http::ResponseParser resp;
  http::BodyReader resp_body;
  bool resp_started = false;  // any response byte from upstream
  bool head_sent = false;     // response head sent to the client
  bool resp_done = false;
  bool dechunk = false;  // HTTP/1.0 client, chunked response: forward decoded bytes
  bool close_client = false;
  bool up_reusable = true;
  std::string up_in;
  std::string up_out;
  size_t up_out_off = 0;
  // The request head as sent upstream; a retry sends it again when `replayable` (an
  // idempotent request without a body, so the head is the whole request).
  std::string up_head;
  bool replayable = false;
  bool retried = false;
  bool stale_retry_used = false;
  std::string set_cookie;
  int status = 0;
  uint64_t bytes_in = 0, bytes_out = 0;

  // The worker's state of the route and set this exchange was routed to (route >= 0).
  WorkerRoute& worker_route() const { return wt->listeners[listener].routes[route]; }
  bool set_draining() const { return set >= 0 && worker_route().sets[set].draining; }
};

using http::IsHopByHop;  // the proxy's code names it unqualified

// What one feed of body bytes through a BodyReader gives to relay. The bytes go on as received
// (no copy, no re-chunking) up to a chunked body's trailer section, which is held back and,
// once the message ends, replaced by `tail`: its fields without those ForbiddenInTrailers()
// names, and the final CRLF. A section that is the bare CRLF, whole in this feed, goes on as
// received (tail empty). With `decode` (an HTTP/1.0 client of a chunked answer) the decoded
// bytes are in `decoded` and trailers are dropped. After an error `forward` stops before the
// trailer section: the peer never sees an end that was not received.
struct BodyFeed {
  size_t used = 0;     // bytes of the input the reader consumed
  size_t forward = 0;  // leading bytes of the input to relay as received
  bool done = false;   // the message ended in this feed
  bool error = false;  // the reader failed (its error_status() says why)
  std::string tail;
  std::string decoded;
};
BodyFeed FeedBody(http::BodyReader* reader, std::string_view data, bool decode);

}  // namespace slipway::proxy
