// HttpServer: HTTP/1.1 server on an EventLoop, for the admin API, the testapp and tests.
//
// The server owns its listening fd and its connections; everything runs on the loop's thread
// (create, destroy and use the server and every ResponseWriter there; other threads reach it
// through EventLoop::Post). Per connection it reads, parses (strictly, see parser.h), and calls
// the Handler once per request with the whole request (body included). The handler answers
// through its ResponseWriter at once or later (async), with one complete Response or a
// chunked stream (StartStream, Write..., End). Keep-alive and pipelining are supported:
// responses go out in request order whatever order handlers answer in. Malformed requests get
// their status (400/413/431/501/505) and the connection closes.
//
// Transport: every connection's bytes cross a net::Transport (net/transport.h) — in clear, or
// TLS when ServerOptions::tls is set (SetTls replaces it for connections accepted later; open
// ones keep theirs). A TLS connection first completes its handshake within request_timeout
// of the accept; one that fails it (a clear-text request on the TLS port, an old protocol) is
// closed without an answer and never reaches the handler.
//
// Timeouts: a request must arrive completely (head and body) within request_timeout of its
// first byte (else 408 and close); an idle keep-alive connection closes after idle_timeout; a
// peer that stops reading our output for idle_timeout is dropped. A peer that closes (or
// half-closes) its side is treated as gone: unanswered writers see OnClose at once. Nothing times
// out a handler: async answers and streams may take as long as they need.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"
#include "base/status.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "net/tls_context.h"

namespace slipway::http {

// What a server's head check decided about one request, before any byte of its body was read.
struct HeadVerdict {
  std::optional<Response> reject;  // answer this at once; the body is never read, and the
                                   // connection closes after the answer (lingering)
  uint64_t max_body = UINT64_MAX;  // else: read at most this many body bytes (more → 413)
};
// Runs on the loop thread with the request's head (its body is still empty). Lets a router
// answer 401/404/413 without buffering a body it would throw away.
using HeadCheck = std::function<HeadVerdict(const Request& head)>;

struct ServerOptions {
  ParserLimits limits;
  HeadCheck head_check;  // optional
  Duration request_timeout{10'000};
  Duration idle_timeout{60'000};
  size_t max_pipelined = 32;           // parsed, unanswered requests per connection
  size_t max_output_bytes = 4u << 20;  // stop reading a connection with more queued output
  size_t max_connections = 10'000;     // further accepts are closed at once
  std::shared_ptr<const net::TlsServerContext> tls;  // null: clear text
};

namespace internal {
struct Exchange;
class Connection;
}  // namespace internal

// The handle through which a handler answers one request. Movable, not copyable; loop thread
// only. Once the connection is gone every call is a no-op (connected() turns false), so
// holding a writer across async work is always safe. Destroying a writer that never answered
// sends 500; destroying one mid-stream ends the stream.
class ResponseWriter {
 public:
  ResponseWriter() = default;  // detached: does nothing
  explicit ResponseWriter(std::weak_ptr<internal::Exchange> ex) : ex_(std::move(ex)) {}
  ResponseWriter(ResponseWriter&&) noexcept = default;
  ResponseWriter& operator=(ResponseWriter&& o) noexcept;
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;
  ~ResponseWriter();

  // The connection is open and this request is not answered completely yet.
  bool connected() const;
  // The whole answer (Content-Length framing). Ignored after a previous Send/StartStream.
  void Send(Response resp);
  // Starts a streamed answer: the head now (chunked framing), then Write()s, then End().
  void StartStream(int status, HeaderList headers);
  // Sends one piece of a stream. Returns false when the connection is gone (stop producing).
  bool Write(std::string_view data);
  void End();
  // A streamed answer has started (StartStream or Write) and has not ended.
  bool streaming() const;
  // Output queued on the connection and not yet taken by the kernel (throttle above ~1 MB).
  size_t buffered_bytes() const;
  // `cb` runs (on the loop) if the connection closes before this answer is complete.
  void OnClose(std::function<void()> cb);

 private:
  void Finish();
  std::weak_ptr<internal::Exchange> ex_;
};

using Handler = std::function<void(const Request&, ResponseWriter)>;

class HttpServer {
 public:
  // Serves on `listener` (a listening TCP or unix socket, see net/socket.h).
  static Result<std::unique_ptr<HttpServer>> Create(net::EventLoop* loop, net::UniqueFd listener,
                                                    Handler handler, ServerOptions options = {});
  // Closes the listener and every connection (open writers become no-ops).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // New connections use `tls` (a reloaded certificate; null = clear text from now on).
  void SetTls(std::shared_ptr<const net::TlsServerContext> tls) { options_.tls = std::move(tls); }

  // Stops accepting; open connections go on. For graceful shutdown.
  void StopAccepting();
  size_t connection_count() const { return conns_.size(); }
  int listen_fd() const { return listener_.get(); }
  const ServerOptions& options() const { return options_; }

 private:
  friend class internal::Connection;
  HttpServer(net::EventLoop* loop, net::UniqueFd listener, Handler handler, ServerOptions opts);
  void OnAccept();
  void Forget(int fd);

  net::EventLoop* loop_;
  net::UniqueFd listener_;
  Handler handler_;
  ServerOptions options_;
  std::unordered_map<int, std::shared_ptr<internal::Connection>> conns_;
  net::EventLoop::TimerId accept_retry_ = 0;
};

}  // namespace slipway::http
