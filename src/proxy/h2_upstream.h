// HTTP/2 to upstreams (`x-slipway.upstream.protocol: h2`): a worker's multiplexed client
// sessions to one backend, and the request streams ClientConns send through them. Internal to
// src/proxy.
//
// Design: the upstream side of h2_conn.h's trick. A ClientConn routed to an h2 backend gets, as
// always, an UpstreamConn from Worker::Connect; its transport is an H2UpStream (no socket of
// its own, fd -1) that takes the HTTP/1.1 request the ClientConn writes (head, body, chunked
// trailers), turns it into HEADERS / DATA / trailing HEADERS on one stream of an H2UpSession,
// and gives back the stream's response as HTTP/1.1 bytes to read: the head with its fields,
// the body as received under Content-Length, else chunked, with the response's trailers
// (grpc-status) as the chunked trailer section, which the client side forwards as it does
// for an HTTP/1.1 upstream (to an HTTP/2 client as a trailing HEADERS frame). So routing, the
// balancer, forwarded headers, timeouts, retries, 502/504 answers and metrics stay the
// ClientConn's code, unchanged.
//
// Sessions: per worker and backend at most kMaxSessions accepting new streams. A request goes
// to the least loaded session below the server's SETTINGS_MAX_CONCURRENT_STREAMS (until its
// SETTINGS arrive, what the backend's last SETTINGS said, else 100; at most kMaxStreams); when
// all are full a new session is opened, and
// once kMaxSessions are full the request joins the least loaded one, where nghttp2 holds its
// HEADERS until a stream ends (the request waits; its timeouts run).
//
// Connecting: the stream's UpstreamConn starts TCP-connected but not connected; its
// Handshake() says kWantRead until the session's TCP connect (and TLS handshake, ALPN offering
// only "h2") is done and the server's SETTINGS arrived, so the ClientConn's connect timeout
// covers it as for HTTP/1.1, and no request goes out before the server's stream limit is
// known (one round trip on a new connection). A server that does not pick "h2", or that sends
// no SETTINGS within the connect timeout, or bytes that are not HTTP/2, fails the session: its
// streams fail (kTls, kBadResponse) with a 502.
//
// Failures: a stream's failure is what its transport's Read() (or Handshake()) reports as
// kError, with UpstreamConn::failure saying which UpstreamError it was. A stream the server
// refused before any response byte (RST_STREAM REFUSED_STREAM, a stream above a GOAWAY's last
// stream id, or a request whose HEADERS could not go out because a GOAWAY came first) was not
// processed (RFC 9113 8.7), so it is resent whatever its method: the session's Pump moves it to
// the session OpenH2Stream would pick now (another one, or a new connection) and submits it
// there again, at most kMaxResends times, each counted as a retry; the ClientConn sees only a
// delay (its timeouts run on). For that a stream keeps its request: the head (the parsed
// head_in_) and the body bytes given so far (body_ from its first byte: the bytes the data
// provider reads), as long as the body stays within kMaxReplayBody (or max_buffer_bytes, if
// smaller) and no response byte arrived; past either, the copy is dropped and a refusal is
// handled as any reset. A stream reset with another code, or refused when it cannot be resent,
// is kReset on a connection marked reused: ClientConn's retry rules then resend an idempotent
// request without a body once (on another session), and do not mark the backend down; a resend
// whose new connection fails fails as that connect did (kConnectRefused, kConnectTimeout,
// kTls). A GOAWAY stops new streams on the session; those begun below its last stream id
// finish. A lost connection fails its unfinished streams with kReset (reused as the session
// was), which becomes a 502 or, once the answer began, a cut response. A response header block
// (or trailer block) over the request head limits resets the stream: kBadResponse, 502.
//
// Flow control: response DATA is acknowledged (WINDOW_UPDATE) only as the ClientConn reads
// it, so a stream buffers at most its window (max_buffer_bytes) plus framing; request bytes are
// taken while less than max_buffer_bytes of them wait for the server's window. The server's
// PING and SETTINGS are nghttp2's. A session with no stream for idle_timeout closes (GOAWAY).
//
// WebSockets (RFC 8441): a GET with `Upgrade: websocket` and no body, as the ClientConn writes a
// client's handshake, goes as an extended CONNECT (:method CONNECT, :protocol websocket, the
// handshake's fields but Sec-WebSocket-Key, which HTTP/2 has none of), only to a server whose
// SETTINGS said SETTINGS_ENABLE_CONNECT_PROTOCOL 1; to another one nothing is sent and the
// ClientConn reads a 501 made here (a handshake without a key gets a 400 the same way). The
// server's 2xx is read back as the 101 an HTTP/1.1 server would send, with the
// Sec-WebSocket-Accept computed from the request's key, so the ClientConn's 101 checks and
// tunnel phase run unchanged; any other answer is an ordinary response. In the tunnel the
// ClientConn's bytes are DATA (flow controlled as request bodies), the server's DATA are bytes
// to read, ShutdownWrite() is END_STREAM, the server's END_STREAM is the EOF, its RST_STREAM a
// kReset failure, and the ClientConn dropping the stream resets it (CANCEL), as for any stream.
// A CONNECT refused before its answer carried no tunnel byte yet: resent as any refused
// request; once a tunnel byte was taken it never is.
//
// nghttp2 is never re-entered and a ClientConn is never called from inside one of its own
// calls: nghttp2's callbacks only record work, and the events for ClientConns are delivered
// from the session's socket events or from a task posted to the loop.
//
// Ownership: sessions are owned by their BackendState (worker.h), streams by the UpstreamConn
// whose transport they are; a session keeps raw pointers to its attached streams, which detach
// when destroyed, and a failed session lives on until the last one did. Worker thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/parser.h"
#include "net/transport.h"
#include "proxy/worker.h"

struct nghttp2_session;

namespace slipway::net {
class TlsTransport;
}

namespace slipway::proxy {

class ClientConn;
class H2UpSession;

// One request stream: the transport of a ClientConn's UpstreamConn.
class H2UpStream final : public net::Transport {
 public:
  // The request body a stream keeps for a resend after a refusal, at most (less when the
  // proxy's max_buffer_bytes is smaller): a gRPC call or a form fits, an upload does not.
  static constexpr size_t kMaxReplayBody = 64 << 10;
  // Resends of one refused request, at most: a server refusing every attempt gets a 502.
  static constexpr int kMaxResends = 2;

  H2UpStream(H2UpSession* session, UpstreamConn* up, const http::ParserLimits& limits);
  ~H2UpStream() override;

  net::IoResult Handshake() override;
  net::IoResult Read(char* buf, size_t len) override;
  net::IoResult Writev(const iovec* iov, int count) override;
  // A WebSocket tunnel's half-close: END_STREAM once the bytes given are sent. Else nothing
  // (a request's end is in its framing).
  void ShutdownWrite() override;
  bool secure() const override;

 private:
  friend class H2UpSession;
  friend struct H2UpCallbacks;

  // Takes request bytes after the head (body framing as the head said).
  bool FeedRequestBody(std::string_view data);
  bool SubmitRequest();
  // An answer made here, never sent upstream: `status` with a short text body, and the end.
  void AnswerLocally(int status, std::string_view body);
  void Fail(UpstreamError kind, bool connection_fine);
  // From nghttp2's callbacks: the server refused the stream. Queues it for a resend by the
  // session's Pump; false when it cannot be resent (then it fails as any reset).
  bool Refused();
  // The replay copy goes: the body bytes already framed are freed.
  void DropReplay();
  size_t body_buffered() const { return body_.size() - body_off_; }
  size_t resp_buffered() const { return resp_.size() - resp_off_; }

  H2UpSession* session_;  // null once the session is gone
  UpstreamConn* up_;
  bool secure_;
  int32_t id_ = -1;  // nghttp2's stream id once the request is submitted
  // Request.
  std::string head_in_;
  http::RequestParser req_;
  http::BodyReader req_body_;
  bool head_done_ = false;
  std::string method_;
  // Decoded request body bytes not yet framed from body_off_ on; while replay_, also those
  // framed before (the whole body from its first byte).
  std::string body_;
  size_t body_off_ = 0;
  bool replay_ = true;       // the request can be resent: head_in_ and body_ hold it whole
  size_t replay_limit_ = 0;  // body bytes kept for a resend, at most
  bool has_body_ = false;    // the request was submitted with a data provider
  bool refused_ = false;     // in its session's refused_, to be moved by its Pump
  bool waiting_ = false;     // moved to a session still connecting: submitted once it is ready
  int resends_ = 0;
  bool body_end_ = false;
  std::vector<std::pair<std::string, std::string>> trailers_;
  bool deferred_ = false;    // the data provider waits (nghttp2_session_resume_data)
  bool want_write_ = false;  // a write was refused: tell the ClientConn when there is room
  // Response, as HTTP/1.1 bytes for the ClientConn.
  std::string resp_;
  size_t resp_off_ = 0;
  size_t unconsumed_ = 0;  // DATA bytes received and not yet acknowledged to the server
  std::string fields_;     // "name: value\r\n" lines of the header block being received
  size_t block_bytes_ = 0;
  size_t block_fields_ = 0;
  int status_ = 0;
  int interim_ = 0;
  bool final_head_ = false;  // the final (non-1xx) head was built
  bool chunked_ = false;     // the body goes to the ClientConn chunked
  bool ended_ = false;       // the response ended (END_STREAM; for chunked, "0" written)
  bool closed_ = false;      // nghttp2 closed the stream (ended or reset, either side)
  bool too_big_ = false;     // a header block over the limits: the stream was reset
  bool answered_ = false;    // a response header block began: no resend any more
  bool failed_ = false;
  // A WebSocket handshake (GET, Upgrade: websocket): sent as an extended CONNECT (RFC 8441),
  // its 2xx read back as a 101 carrying ws_accept_ (from the request's Sec-WebSocket-Key).
  bool ws_ = false;
  std::string ws_accept_;
  http::ParserLimits limits_;
};

class H2UpSession {
 public:
  // Sessions accepting new streams per worker and backend.
  static constexpr size_t kMaxSessions = 4;
  // Streams per session we use at most, whatever the server allows.
  static constexpr uint32_t kMaxStreams = 1000;
  // Interim (1xx) answers forwarded per stream; further ones are dropped.
  static constexpr int kMaxInterim = 8;

  H2UpSession(Worker* w, BackendState* b);
  ~H2UpSession();
  H2UpSession(const H2UpSession&) = delete;
  H2UpSession& operator=(const H2UpSession&) = delete;

  // Starts the non-blocking connect; false with `*err` (an errno) when it failed at once.
  bool Connect(int* err);
  // Whether new streams may go here: not failed, no GOAWAY either way.
  bool accepting() const { return !dead_ && !goaway_; }
  size_t load() const { return attached_.size(); }
  uint32_t capacity() const;
  // The connection is ready for requests: TCP, TLS with ALPN h2, and the server's SETTINGS
  // (so its stream limit is known before any request is sent).
  bool ready() const { return established_ && settings_seen_; }
  bool failed() const { return dead_; }
  // A new stream for `up`, which becomes its transport's owner (up->tr).
  std::unique_ptr<H2UpStream> NewStream(UpstreamConn* up);
  // The worker's sweep: the connect and first-SETTINGS deadline, the idle time.
  void CheckTimeout(MonoTime now);
  // Closes the session now if no stream uses it (its backend left rotation).
  void CloseIfIdle();
  // Worker shutdown and destruction: fails the streams still attached, closes the socket.
  void Close();

 private:
  friend class H2UpStream;
  friend struct H2UpCallbacks;

  void OnEvent(uint32_t events);
  bool ContinueHandshake();
  void OnEstablished();
  void ReadSocket();
  // Frames from nghttp2 to the socket; failures mark the session dead (no ClientConn called).
  void Flush();
  // Flush() once the loop has handled its current batch of events, so that the requests of
  // many streams (an HTTP/2 client's burst, many ClientConns) leave in one write, not one each.
  void ScheduleFlush();
  // Delivers the recorded events to the streams' ClientConns, then flushes.
  void Pump();
  void SchedulePump();
  void Notify(H2UpStream* s, uint32_t events);
  // The connection is unusable: its unfinished streams fail with `kind`.
  void Fail(UpstreamError kind);
  void Detach(H2UpStream* s);
  // Moves the refused streams to the session OpenH2Stream would pick (resubmitting them there,
  // or leaving them in its waiting_ while it connects), and submits this session's waiting_
  // streams once it is ready. True when requests were submitted here (a Flush is due).
  bool ResendRefused();
  bool SubmitWaiting();
  // A dead session with no stream left leaves its backend (destroyed after this callback).
  void MaybeRetire();
  H2UpStream* Find(int32_t id) const;

  Worker* w_;
  BackendState* b_;
  int fd_ = -1;
  std::unique_ptr<net::Transport> tr_;
  net::TlsTransport* tls_ = nullptr;  // tr_ when the backend is https://
  nghttp2_session* session_ = nullptr;
  std::set<H2UpStream*> attached_;
  std::map<int32_t, H2UpStream*> by_id_;
  std::map<H2UpStream*, uint32_t> events_;  // ClientConn events to deliver
  std::vector<H2UpStream*> refused_;        // refused streams to resend elsewhere (Pump)
  std::vector<H2UpStream*> waiting_;        // resent streams to submit once ready()
  std::string out_;
  size_t out_off_ = 0;
  bool tcp_connected_ = false;
  bool established_ = false;
  bool settings_seen_ = false;
  bool readable_ = false;
  bool writable_ = false;
  bool peer_closed_ = false;  // EPOLLRDHUP seen: read on to the EOF (UpstreamConn::peer_closed)
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  bool goaway_ = false;
  bool dead_ = false;
  bool retired_ = false;
  bool in_pump_ = false;
  bool pump_scheduled_ = false;
  bool flush_scheduled_ = false;
  uint64_t streams_opened_ = 0;
  MonoTime connect_deadline_{};
  MonoTime idle_since_{};
  // Tells a posted task whether the session still exists.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

// The session a new stream to `b` goes to (see Sessions above), opening one when all are full;
// null + errno when that connect failed at once.
H2UpSession* PickH2Session(Worker* w, BackendState* b, int* err);

// Worker::Connect for an h2 backend: a stream on one of `b`'s sessions (opening one when all
// are full, see above) in a new UpstreamConn owned by `owner`. Null + errno on failure.
std::unique_ptr<UpstreamConn> OpenH2Stream(Worker* w, BackendState* b, ClientConn* owner, int* err);

}  // namespace slipway::proxy
