// H2Conn: one client connection speaking HTTP/2 (a TLS connection that negotiated ALPN "h2":
// on a listener with `http2` on, or for an SNI name its context offers h2 to). Internal to
// src/proxy. Its streams' ClientConns see the connection's SNI name (StreamTransport), so a
// listener's Host-versus-SNI check (Listener::sni_pins_service) applies to them too.
//
// An nghttp2 server session does the framing, HPACK and flow control; this class feeds it the
// bytes read from the connection's net::Transport and writes what it produces, never blocking.
// Each request stream is served by a ClientConn of its own with no socket (client_conn.h): the
// stream's request reaches it as HTTP/1.1 bytes through a transport in memory, and its
// HTTP/1.1 response comes back the same way and is sent as the stream's HEADERS and DATA. So an
// HTTP/2 request meets the same routing, balancer, forwarded headers, request ids, timeouts,
// retries, 502/504 answers and metrics as an HTTP/1.1 one, and the upstream speaks what its
// route says (HTTP/1.1, or HTTP/2 through h2_upstream.h).
//
// What HTTP/1.1 carries around the head and body crosses too: the upstream's interim answers
// (1xx but 101) become HEADERS without END_STREAM, request trailers end the chunked body sent
// upstream, and a chunked answer's trailers become a trailing HEADERS frame (fields RFC 9110
// forbids in trailers dropped).
//
// WebSockets over HTTP/2 (RFC 8441): the SETTINGS carry ENABLE_CONNECT_PROTOCOL, and a CONNECT
// with `:protocol websocket` becomes the HTTP/1.1 handshake (GET, Upgrade, a Sec-WebSocket-Key
// the proxy generates, the client's Sec-WebSocket-Version, which must be 13, and its other
// fields). The upstream's 101, once its ClientConn has checked Sec-WebSocket-Accept (a wrong
// one is a 502), becomes the stream's 200 without END_STREAM, and from then the stream is a
// tunnel: DATA bytes go upstream as they are and the upstream's bytes come back as DATA, under
// the same back-pressure as a body. The client's END_STREAM shuts the upstream's write side,
// the upstream's EOF ends the stream, and an upstream reset or the tunnel's idle timeout reset
// it (CONNECT_ERROR, CANCEL; RFC 9113 8.5); the client's RST_STREAM closes the upstream
// connection. Any other :protocol gets 501; a plain CONNECT (no :path) still gets the
// parser's 400.
//
// Back-pressure: a stream's request bytes are acknowledged to the client (WINDOW_UPDATE) only
// once its ClientConn has taken them, and a response is taken from the ClientConn only while
// less than max_buffer_bytes of it wait for the client's flow-control window.
//
// nghttp2 is never re-entered: its callbacks only record work, which Pump() carries out after
// it returns (driving the streams' ClientConns, then sending frames).
//
// Owned by its Worker (created from a ClientConn that finished the TLS handshake, which hands
// over the fd, the transport and the listener's gauge) and used only on the worker's thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/transport.h"
#include "proxy/worker.h"

struct nghttp2_session;

namespace slipway::proxy {

class H2Fields;

class H2Conn {
 public:
  // Limits the connection advertises: at most this many streams at once (each one request).
  static constexpr uint32_t kMaxConcurrentStreams = 100;
  // Interim (1xx) answers forwarded per stream; an upstream's further ones are dropped.
  static constexpr int kMaxInterimResponses = 8;

  H2Conn(Worker* w, int fd, std::unique_ptr<net::Transport> transport, int slot, uint32_t peer_ipv4,
         telemetry::Gauge* active);
  ~H2Conn();
  H2Conn(const H2Conn&) = delete;
  H2Conn& operator=(const H2Conn&) = delete;

  // Creates the session, sends the server's SETTINGS and reads what the client already sent.
  void Start();
  void OnEvent(uint32_t events);
  // Called by the worker's sweep: the connection's idle deadline and its streams' deadlines.
  void CheckTimeout(MonoTime now);
  // GOAWAY: streams already started finish, new ones are refused; the connection closes once
  // the last one ends (Proxy::Drain waits for that).
  void OnDrain();
  // After a table switch: a connection whose listener is gone drains.
  void OnTableChange();
  void CloseNow();

  bool closed() const { return fd_ < 0; }

  struct Stream;
  class StreamTransport;
  friend struct H2Callbacks;

 private:
  void ReadSocket();
  void FlushSocket();
  // Carries out what the callbacks recorded, sends frames; loops until nothing is left.
  void Pump();
  void Drive(Stream* s);
  void SendFrames();
  void Fail(uint32_t error_code);
  void MaybeClose();
  Stream* Find(int32_t id);
  void Mark(Stream* s);

  // From a stream's ClientConn, through its StreamTransport.
  void OnResponseBytes(Stream* s, std::string_view data);
  void OnResponseEnd(Stream* s);
  void OnStreamConnGone(Stream* s);
  void OnRequestTaken(Stream* s);
  void SubmitResponse(Stream* s);
  // Submits a stream's final header block, with a body read from s->out when `body`; a refusal
  // resets the stream. False when refused.
  bool SubmitFinal(Stream* s, const H2Fields& fields, bool body);
  // An interim (1xx) answer: HEADERS without END_STREAM.
  void SubmitInterim(Stream* s);
  void ResetStream(Stream* s, uint32_t error_code);
  void ResumeData(Stream* s);
  // Builds the HTTP/1.1 request head of a stream whose header block is complete and starts
  // its ClientConn.
  void StartStream(Stream* s, bool end_stream);
  // A CONNECT with :protocol (RFC 8441): a WebSocket's becomes the HTTP/1.1 handshake; any
  // other protocol, or a version other than 13, is answered here.
  void StartExtendedConnect(Stream* s, bool end_stream);
  void StartConn(Stream* s, bool end_stream);
  // An answer made here, with no ClientConn (and so outside the route's metrics).
  void AnswerLocal(Stream* s, int status, std::string_view body, std::string_view ws_version);
  // The upstream's 101 to a WebSocket: the stream's 200, without END_STREAM.
  void SubmitTunnel(Stream* s);

  Worker* w_;
  int fd_;
  std::unique_ptr<net::Transport> tr_;
  int slot_;
  uint32_t peer_ipv4_;
  telemetry::Gauge* active_;
  std::string server_name_;  // the handshake's SNI name, kept past tr_ (StreamTransport)
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<int32_t> marked_;  // streams with work for Pump()
  std::string out_;              // frames not yet written to the transport
  size_t out_off_ = 0;
  bool readable_ = true;
  bool writable_ = true;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  uint64_t id_;  // tells a deferred task this object from a later one at the same address
  bool in_pump_ = false;
  bool pump_scheduled_ = false;
  bool pump_again_ = false;
  bool draining_ = false;
  bool closing_ = false;  // nothing more is read: the last frames (GOAWAY) are being written
  MonoTime deadline_{};
};

}  // namespace slipway::proxy
