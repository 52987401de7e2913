// HTTP/1.1 client: one request per new connection (the server is told "Connection: close").
//
// FetchAsync runs on an EventLoop (the health prober, the engine, tests): call it on the loop's
// thread; `done` runs later on that thread exactly once, never inside FetchAsync itself.
// Fetch is the blocking form for the CLI: it runs a private loop on the calling thread, so any
// thread may call it.
//
// The client adds Host (from the endpoint; "localhost" for unix sockets) and
// "Connection: close" unless the request has them, and frames the body with Content-Length.
// Responses are parsed with the same strict parser as the server (parser.h); 1xx interim
// responses are skipped.
//
// Transport: the bytes cross a net::Transport — in clear, or TLS when the endpoint has a
// client context (Endpoint::tls; net/tls_client_context.h says what it verifies). A failed
// TLS handshake is kUnavailable with the reason ("TLS handshake failed: certificate verify
// failed: self-signed certificate").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/event_loop.h"
#include "net/tls_client_context.h"

namespace slipway::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }
};

struct Endpoint {
  std::string host;
  int port = 0;
  std::string unix_path;  // wins when set
  // TLS (TCP only): the context, and the name sent as SNI and verified (empty = host).
  std::shared_ptr<const net::TlsClientContext> tls;
  std::string tls_name;

  std::string ToString() const;  // "host:port", "https://host:port" or "unix:<path>"
};

// Async, on `loop`: one request on a new connection; `done` runs on the loop exactly once.
// `timeout` bounds the whole exchange (connect, send, complete response); <= 0 means none.
// Errors: kDeadlineExceeded (timeout), kUnavailable (connect refused / reset / closed early),
// kIoError (other socket failures), kInvalidInput (malformed response or bad endpoint).
void FetchAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req, Duration timeout,
                std::function<void(Result<ClientResponse>)> done);

// Blocking, for the CLI: one request; `on_chunk` (optional) receives body bytes as they
// arrive (for streaming responses such as `logs -f`), in which case body stays empty. When
// `on_chunk` returns false the exchange stops and the response so far is returned (OK).
// With `on_chunk`, `timeout` bounds only the wait for the response head (a stream may run for
// ever); without it, the whole exchange as in FetchAsync. An answer of status 400 or more is
// not streamed: its body (at most 64 KiB) comes back in `body`, bounded by `timeout`.
Result<ClientResponse> Fetch(const Endpoint& ep, const Request& req, Duration timeout,
                             std::function<bool(std::string_view)> on_chunk = nullptr);

// FetchAsync for answers from peers that may be hostile (scrape targets): the body is refused
// as it arrives once it passes `max_body` decoded bytes, so a peer cannot make the daemon
// buffer without bound. The error is kInvalidInput "<endpoint>: response body larger than N
// bytes".
void FetchBoundedAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req,
                       Duration timeout, uint64_t max_body,
                       std::function<void(Result<ClientResponse>)> done);

// FetchAsync with a streaming body callback (see Fetch for `on_chunk` and `timeout`).
void FetchStreamAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req,
                      Duration timeout, std::function<bool(std::string_view)> on_chunk,
                      std::function<void(Result<ClientResponse>)> done);

}  // namespace slipway::http
