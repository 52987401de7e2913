// ClientConn: one accepted client connection and the exchange (request/response) in flight on
// it. Internal to src/proxy.
//
// Owned by its Worker and used only on the worker's thread. Sockets are registered once,
// edge-triggered for reading and writing, so the steady state costs no epoll_ctl; the
// `readable`/`writable` flags remember readiness not yet consumed. Reading from one side stops
// while the other side has more than max_buffer_bytes queued (back-pressure) and resumes when
// it drains.
//
// Client bytes cross a net::Transport (plain or TLS) and never the fd directly; the fd is only
// registered with the loop and closed. A TLS connection starts in Phase::kHandshake, bounded by
// the head timeout. A TLS read may wait for writability (and a write for readability), which
// `read_wants_write_` / `write_wants_read_` remember so the other edge resumes it.
//
// A ClientConn also serves one stream of an HTTP/2 connection (proxy/h2_conn.h): then it has
// no socket (fd kStreamFd), its transport carries the stream's request as HTTP/1.1 bytes and
// takes its response back, and the H2Conn, not the worker, owns it and delivers its events.
// So routing, the balancer, the headers the proxy adds, timeouts, retries and metrics are the
// same code for both protocols. On a stream only an extended CONNECT (a WebSocket over HTTP/2)
// asks for an upgrade, with a Sec-WebSocket-Key the proxy made: the upstream's 101 must carry
// its Sec-WebSocket-Accept (else 502), and in the tunnel the client's EOF (END_STREAM) shuts
// the upstream's write side rather than closing both.
//
// Its upstream side is protocol-blind the same way: for an HTTP/2 backend the UpstreamConn is a
// stream of a shared session (proxy/h2_upstream.h) that takes the HTTP/1.1 request and gives
// back an HTTP/1.1 response.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/parser.h"
#include "net/transport.h"
#include "proxy/worker.h"

namespace slipway::proxy {

struct Exchange;

class ClientConn {
 public:
  // The fd of a connection serving one HTTP/2 stream: it has no socket of its own.
  static constexpr int kStreamFd = INT_MAX;
  // `transport` moves the bytes of `fd` (both are owned from here on). `active` is null for
  // an HTTP/2 stream (its H2Conn counts the connection).
  ClientConn(Worker* w, int fd, std::unique_ptr<net::Transport> transport, int slot,
             uint32_t peer_ipv4, telemetry::Gauge* active);
  ~ClientConn();
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  void OnEvent(uint32_t events);
  void OnUpstreamEvent(uint32_t events);
  // Called by the worker's sweep; acts on an expired deadline.
  void CheckTimeout(MonoTime now);
  // After a table switch: idle connections on a removed listener close.
  void OnTableChange();
  // The worker drains (Proxy::Drain): the connection's next answer carries
  // "Connection: close", then it closes (see there why idle ones are not closed at once
  // unless `close_idle`, the drain of a process that exits: then a kept-alive connection with
  // nothing in flight, and one that has received no byte yet, close now).
  void OnDrain(bool close_idle);
  // Worker shutdown.
  void CloseNow();
  // Counts a retry of the current exchange made below it: an HTTP/2 upstream stream resending
  // a request its server refused (h2_upstream.h). Changes nothing else.
  void CountRetry() const;

  int fd() const { return fd_; }
  int slot() const { return slot_; }
  bool closed() const { return fd_ < 0; }
  uint64_t id() const { return id_; }
  MonoTime deadline() const { return deadline_; }

 private:
  enum class Phase : uint8_t { kHandshake, kIdle, kHead, kExchange, kTunnel, kClosing, kLinger };
  enum class Deadline : uint8_t {
    kNone,
    kHandshake,
    kIdle,
    kHead,
    kConnect,
    kRespHead,
    kRequest,
    kTunnel,
    kLinger
  };

  // Client side.
  void DoHandshake();
  void ReadClient();
  void OnClientData(std::string_view data);
  void HandleHead(std::string& buf_owner, std::string_view buf);
  void ProcessBuffered();
  void ScheduleResume();
  void FeedRequestBody(std::string_view data);
  bool ClientReadPaused() const;
  void SendClient(std::string_view a, std::string_view b = {});
  void FlushClient();
  void CloseAfterFlush();
  void Linger();

  // Exchange.
  void StartExchange(std::string_view buf);
  // Appends the request head to send upstream to `out`, for `route` of `listener`.
  void BuildUpstreamHead(const Listener& listener, const Route& route,
                         std::string_view client_ip_text, std::string* out);
  // Sends ex_->up_head (and what follows of the body) over a pooled or new connection.
  void Dispatch();
  // Drives a new TLS upstream connection's handshake; once established, sends what is queued.
  // False while it waits for an edge, or when it failed (already reported) or closed us.
  bool ContinueUpstreamHandshake();
  void SendUpstream(std::string_view data);
  void FlushUpstream();
  void ReadUpstream();
  void OnUpstreamData(std::string_view data);
  void OnUpstreamEof();
  void FeedResponseBody(std::string_view head, std::string_view data);
  // Replaces `out` with the response head for the client.
  void BuildClientHead(const http::ResponseParser& resp, bool close, bool upgrade,
                       std::string* out);
  void OnUpstreamFailure(UpstreamError kind);
  void FinishExchange();
  void RespondLocal(int status, std::string_view body, std::string_view content_type,
                    std::string_view extra_headers, bool close);
  void SetDeadline(Deadline kind, Duration after);
  void StartTunnel(std::string_view rest);
  // A stream's tunnel after the client's END_STREAM: the upstream's write side is shut once
  // up_out is written (FlushUpstream calls it again as it drains).
  void ShutUpstreamWriteWhenFlushed();
  const SetMetrics& Metrics() const;
  // The listener this connection was accepted on, in the exchange's table; null when gone.
  const Listener* ListenerOf() const;
  // The Strict-Transport-Security value for this exchange: the matched route's, else the
  // listener's ("" = none).
  std::string_view Hsts() const;
  void RedirectToHttps(int port);

  Worker* w_;
  int fd_;
  std::unique_ptr<net::Transport> tr_;
  int slot_;
  uint32_t peer_ipv4_;  // network order
  char peer_ip_[16];    // peer_ipv4_ as dotted text (X-Forwarded-For), formatted once
  telemetry::Gauge* active_;
  bool stream_;  // fd_ == kStreamFd: an HTTP/2 stream, owned and driven by its H2Conn
  uint64_t id_;
  Phase phase_ = Phase::kIdle;
  Deadline dkind_ = Deadline::kIdle;
  bool readable_ = false;
  bool writable_ = true;
  bool eof_ = false;
  bool resume_scheduled_ = false;
  bool read_wants_write_ = false;  // the transport's read waits for the writable edge
  bool write_wants_read_ = false;  // its write waits for the readable edge
  bool served_ = false;            // an exchange finished and the connection stayed open
  MonoTime deadline_{};
  MonoTime head_start_{};
  std::string in_;   // client bytes not yet used: a partial head or a pipelined request
  std::string out_;  // bytes queued for the client
  size_t out_off_ = 0;
  http::RequestParser parser_;
  std::unique_ptr<Exchange> ex_;
};

}  // namespace slipway::proxy
