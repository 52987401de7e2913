#include "proxy/h2_conn.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "http/parser.h"
#include "http/serializer.h"
#include "http/websocket.h"
#include "proxy/client_conn.h"
#include "proxy/exchange.h"
#include "proxy/h2_fields.h"

namespace slipway::proxy {

// One request stream: the HTTP/1.1 bytes its ClientConn reads, and its response on the way
// back (parsed again from the ClientConn's HTTP/1.1 answer, body decoded) until the client's
// flow-control window takes it.
struct H2Conn::Stream {
  explicit Stream(int32_t stream_id, const http::ParserLimits& limits)
      : id(stream_id), resp(Exchange::RespLimits(limits)), body(Exchange::RespLimits(limits)) {}
  int32_t id;
  std::unique_ptr<ClientConn> cc;  // null before the header block ends, and once it closed
  // Request head as received.
  std::string method, path, authority;
  std::string fields;  // "name: value\r\n" lines
  std::string cookie;  // cookie fields joined with "; " (RFC 9113 8.2.3)
  // Extended CONNECT (RFC 8441): the :protocol pseudo-header, and the version a WebSocket
  // asks for. `tunnel` once the upstream's 101 became our 200: bytes then go as they are.
  std::string protocol;
  bool has_protocol = false;
  std::string ws_version;
  bool websocket = false;
  bool tunnel = false;
  bool timed_out = false;  // its ClientConn's deadline passed (CheckTimeout): a reset is CANCEL
  size_t head_bytes = 0;
  size_t head_fields = 0;
  int interim = 0;           // interim (1xx) answers forwarded
  bool started = false;      // the ClientConn exists (the header block ended)
  bool chunked_req = false;  // a body of unknown length: sent upstream chunked
  // Request trailers ("name: value\r\n" lines) for the chunked body's end, and their size.
  std::string trailers;
  size_t trailer_bytes = 0;
  size_t trailer_fields = 0;
  // Request bytes for the ClientConn; `unconsumed` DATA bytes not yet acknowledged.
  std::string req;
  size_t req_off = 0;
  size_t unconsumed = 0;
  bool req_end = false;
  // Response.
  http::ResponseParser resp;
  http::BodyReader body;
  std::string head_buf;
  bool head_done = false;
  bool body_done = false;
  bool submitted = false;
  bool deferred = false;  // the data provider waits for bytes (nghttp2_session_resume_data)
  std::string out;        // decoded body bytes not yet framed
  size_t out_off = 0;
  bool conn_done = false;  // the ClientConn ended its response (ShutdownWrite)
  bool h2_closed = false;  // nghttp2 closed the stream (ended, reset by either side)
  // The answer's END_STREAM went out while the client's request was still open: a
  // RST_STREAM(NO_ERROR) tells it to stop sending (RFC 9113 8.1). Never for a tunnel, whose
  // END_STREAM is a half-close the client may answer with more bytes.
  bool answered_early = false;
  bool reset = false;       // RST_STREAM submitted: no DATA may end it cleanly any more
  bool want_write = false;  // the ClientConn was refused bytes: tell it when there is room
  bool notify_read = false;
  bool notify_write = false;
  size_t buffered() const { return out.size() - out_off; }
};

// The Transport a stream's ClientConn speaks through: reads come from Stream::req, writes go to
// H2Conn::OnResponseBytes. Secure: the client's connection is TLS (X-Forwarded-Proto, HSTS).
class H2Conn::StreamTransport final : public net::Transport {
 public:
  StreamTransport(H2Conn* conn, Stream* s) : conn_(conn), s_(s) {}
  ~StreamTransport() override { conn_->OnStreamConnGone(s_); }

  net::IoResult Handshake() override { return {net::IoStatus::kOk}; }
  net::IoResult Read(char* buf, size_t len) override {
    Stream& s = *s_;
    if (s.req_off == s.req.size()) {
      if (s.req_end || s.h2_closed) return {net::IoStatus::kEof};
      return {net::IoStatus::kWantRead};
    }
    const size_t n = std::min(len, s.req.size() - s.req_off);
    s.req.copy(buf, n, s.req_off);
    s.req_off += n;
    net::IoResult r{net::IoStatus::kOk, n, false};
    if (s.req_off == s.req.size()) {
      s.req.clear();
      s.req_off = 0;
      // A drained read makes the reader wait for the next event. A tunnel's reader must see
      // the client's END_STREAM as an EOF, and after the last bytes no event announces it.
      r.drained = !(s.websocket && (s.req_end || s.h2_closed));
      conn_->OnRequestTaken(s_);
    }
    return r;
  }
  net::IoResult Writev(const iovec* iov, int count) override {
    if (s_->h2_closed || conn_->closed()) return {net::IoStatus::kError};
    if (s_->buffered() > conn_->w_->options().max_buffer_bytes) {
      s_->want_write = true;
      return {net::IoStatus::kWantWrite};
    }
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
      conn_->OnResponseBytes(
          s_, std::string_view(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len));
      total += iov[i].iov_len;
    }
    return {net::IoStatus::kOk, total, false};
  }
  void ShutdownWrite() override { conn_->OnResponseEnd(s_); }
  bool secure() const override { return true; }
  // The connection's SNI name: a stream's request is checked against it as a connection's.
  std::string server_name() const override { return conn_->server_name_; }

 private:
  H2Conn* conn_;
  Stream* s_;
};

namespace {

bool ConnectionSpecific(std::string_view n) {
  return IsHopByHop(n) || http::EqualsIgnoreCase(n, "transfer-encoding");
}

// A parsed HTTP/1.1 response head as HTTP/2 fields: ":status", then its fields with
// connection-specific ones dropped. Built in place and never moved (nv points into it).
// `websocket`: the 101 that opened a WebSocket, which becomes the extended CONNECT's 200
// (RFC 8441 5) without the handshake's proof, meant for the proxy alone.
struct ResponseFields {
  explicit ResponseFields(const http::ResponseParser& resp, bool websocket = false)
      : status(websocket ? "200" : std::to_string(resp.status_code())) {
    fields.AddLower(":status", status);
    std::string_view connection = resp.Header("connection").value_or("");
    for (const http::HeaderView& f : resp.headers())
      if (!ConnectionSpecific(f.name) &&
          (connection.empty() || !http::HasToken(connection, f.name)) &&
          !(websocket && http::EqualsIgnoreCase(f.name, "sec-websocket-accept")))
        fields.Add(f.name, f.value);
  }
  std::string status;
  H2Fields fields;
};

}  // namespace

// nghttp2's callbacks: they record what arrived; Pump() acts on it once nghttp2 returns.
struct H2Callbacks {
  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<H2Conn*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto s = std::make_unique<H2Conn::Stream>(frame->hd.stream_id, c->w_->options().limits);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s.get());
    c->streams_[frame->hd.stream_id] = std::move(s);
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* c = static_cast<H2Conn*>(user);
    auto* s = static_cast<H2Conn::Stream*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (!s) return 0;
    const http::ParserLimits& lim = c->w_->options().limits;
    if (s->started) {
      // Trailers (nghttp2 already refused pseudo-headers in them: RST_STREAM PROTOCOL_ERROR).
      // The request is on its way upstream, so over the head limits the stream is reset.
      s->trailer_bytes += namelen + valuelen + 4;
      if (s->trailer_bytes > lim.max_head_bytes || ++s->trailer_fields > lim.max_headers)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM
      std::string_view n(reinterpret_cast<const char*>(name), namelen);
      // A body sent with Content-Length has no trailer section upstream: they are dropped
      // then, as RFC 9110 6.5 lets an intermediary do.
      if (s->chunked_req && !http::ForbiddenInTrailers(n))
        s->trailers.append(n)
            .append(": ")
            .append(reinterpret_cast<const char*>(value), valuelen)
            .append("\r\n");
      return 0;
    }
    // Memory bound; a head within twice the HTTP/1.1 limit still reaches the parser, which
    // answers 431 as it does for HTTP/1.1.
    s->head_bytes += namelen + valuelen + 4;
    if (s->head_bytes > 2 * lim.max_head_bytes || ++s->head_fields > 2 * lim.max_headers)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      s->method = v;
    } else if (n == ":path") {
      s->path = v;
    } else if (n == ":authority") {
      s->authority = v;
    } else if (n == ":protocol") {
      // nghttp2 took it only on a CONNECT with :scheme, :path and :authority (RFC 8441 4).
      s->protocol = v;
      s->has_protocol = true;
    } else if (!n.empty() && n.front() == ':') {
      // :scheme (the connection is TLS whatever it says).
    } else if (s->has_protocol && n == "sec-websocket-key") {
      // The proxy opens the HTTP/1.1 handshake with a key of its own (StartStream).
    } else if (n == "cookie") {
      if (!s->cookie.empty()) s->cookie += "; ";
      s->cookie += v;
    } else if (n == "host" || ConnectionSpecific(n)) {
      // Host comes from :authority (or this field when there is none); nghttp2 already
      // refused connection-specific fields, "te: trailers" aside.
      if (n == "host" && s->authority.empty()) s->authority = v;
    } else {
      if (n == "sec-websocket-version") s->ws_version = v;
      s->fields.append(n).append(": ").append(v).append("\r\n");
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<H2Conn*>(user);
    const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    auto* s = static_cast<H2Conn::Stream*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (!s) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !s->started) {
      c->StartStream(s, end);
      return 0;
    }
    if (end && !s->req_end) {
      s->req_end = true;
      if (s->chunked_req) s->req.append("0\r\n").append(s->trailers).append("\r\n");
      s->trailers.clear();
      s->notify_read = true;
      c->Mark(s);
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user) {
    auto* c = static_cast<H2Conn*>(user);
    auto* s =
        static_cast<H2Conn::Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (!s || !s->cc) {
      // Nobody reads it (the answer came first): give the window back at once.
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    std::string_view d(reinterpret_cast<const char*>(data), len);
    if (s->chunked_req) {
      http::AppendChunk(d, &s->req);
    } else {
      s->req.append(d);
    }
    s->unconsumed += len;
    s->notify_read = true;
    c->Mark(s);
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    auto* s = static_cast<H2Conn::Stream*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (!s || s->req_end || s->tunnel || s->h2_closed) return 0;
    s->answered_early = true;
    static_cast<H2Conn*>(user)->Mark(s);
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t, void* user) {
    auto* c = static_cast<H2Conn*>(user);
    auto* s =
        static_cast<H2Conn::Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (!s) return 0;
    s->h2_closed = true;
    c->Mark(s);
    return 0;
  }

  // The chunked response's trailers, allowed ones only, as a trailing HEADERS frame that ends
  // the stream (gRPC's status travels there). False when there are none to send.
  static bool SubmitTrailers(nghttp2_session* session, H2Conn::Stream* s) {
    H2Fields f;
    for (const auto& [n, v] : s->body.trailers())
      if (!http::ForbiddenInTrailers(n)) f.Add(n, v);
    if (f.empty()) return false;
    return nghttp2_submit_trailer(session, s->id, f.data(), f.size()) == 0;
  }

  static ssize_t ReadBody(nghttp2_session* session, int32_t, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source* source, void* user) {
    auto* c = static_cast<H2Conn*>(user);
    auto* s = static_cast<H2Conn::Stream*>(source->ptr);
    if (s->reset) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM, never END_STREAM
    const size_t n = std::min(length, s->buffered());
    std::memcpy(buf, s->out.data() + s->out_off, n);
    s->out_off += n;
    if (s->out_off == s->out.size()) {
      s->out.clear();
      s->out_off = 0;
    }
    if (s->want_write && s->buffered() <= c->w_->options().max_buffer_bytes / 2) {
      s->want_write = false;
      s->notify_write = true;
      c->Mark(s);
    }
    if (s->buffered() == 0 && s->body_done) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (SubmitTrailers(session, s)) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      return static_cast<ssize_t>(n);
    }
    if (n == 0) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }
};

H2Conn::H2Conn(Worker* w, int fd, std::unique_ptr<net::Transport> transport, int slot,
               uint32_t peer_ipv4, telemetry::Gauge* active)
    : w_(w),
      fd_(fd),
      tr_(std::move(transport)),
      slot_(slot),
      peer_ipv4_(peer_ipv4),
      active_(active) {
  if (tr_) server_name_ = tr_->server_name();
  static thread_local uint64_t next_id = 1;
  id_ = next_id++;
}

H2Conn::~H2Conn() { CloseNow(); }

void H2Conn::Start() {
  if (fd_ < 0) return;
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_option* opt = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0) {
    if (cbs) nghttp2_session_callbacks_del(cbs);
    CloseNow();
    return;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2Callbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2Callbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, H2Callbacks::OnFrameSend);
  // Request bytes are acknowledged when the ClientConn takes them (back-pressure).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  const int rc = nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_option_del(opt);
  if (rc != 0) {
    session_ = nullptr;
    CloseNow();
    return;
  }
  const ProxyOptions& o = w_->options();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(o.max_buffer_bytes)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(o.limits.max_head_bytes)},
      // WebSockets over HTTP/2 (RFC 8441 3): nghttp2 then takes :protocol on a CONNECT.
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  deadline_ = w_->Now() + o.idle_timeout;
  Pump();                      // sends the SETTINGS
  if (fd_ >= 0) ReadSocket();  // the preface may already wait in the transport
  if (fd_ >= 0) Pump();
}

void H2Conn::CloseNow() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;  // closed(): the streams' transports refuse writes from here on
  for (auto& [id, s] : streams_)
    if (s->cc) s->cc->CloseNow();  // hands each ClientConn back to the worker
  streams_.clear();
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
  w_->loop()->Remove(fd);
  tr_.reset();
  close(fd);
  if (active_) active_->Add(w_->index(), -1);
  w_->RetireH2(this);
}

H2Conn::Stream* H2Conn::Find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Conn::Mark(Stream* s) {
  marked_.push_back(s->id);
  pump_again_ = true;
}

void H2Conn::OnEvent(uint32_t events) {
  if (fd_ < 0) return;
  net::ApplyEvents(events, &readable_, &writable_, &read_wants_write_, &write_wants_read_);
  FlushSocket();
  if (fd_ >= 0) ReadSocket();
  if (fd_ >= 0) Pump();
}

void H2Conn::ReadSocket() {
  char* buf = w_->client_scratch();
  for (int i = 0; i < 64 && fd_ >= 0 && readable_ && !closing_; ++i) {
    // The client reads too slowly what we already owe it: stop taking more requests.
    if (out_.size() - out_off_ > w_->options().max_buffer_bytes) return;
    net::IoResult r = tr_->Read(buf, Worker::kScratch);
    if (r.status == net::IoStatus::kOk) {
      if (r.drained) readable_ = false;
      ssize_t rv =
          nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), r.bytes);
      if (rv < 0) {
        // A bad preface, a flood, a frame nghttp2 cannot take: GOAWAY, then close.
        Fail(NGHTTP2_PROTOCOL_ERROR);
        return;
      }
      Pump();
      continue;
    }
    readable_ = false;
    if (r.status == net::IoStatus::kWantRead) return;
    if (r.status == net::IoStatus::kWantWrite) {
      read_wants_write_ = true;
      writable_ = false;
      return;
    }
    CloseNow();  // EOF or error: nothing can be delivered any more
    return;
  }
  if (fd_ >= 0 && readable_ && !closing_) {
    // Fairness cap: continue on the next loop iteration.
    Worker* w = w_;
    H2Conn* self = this;
    uint64_t id = id_;
    w_->loop()->RunAfter(Duration(0), [w, self, id] {
      if (!w->h2_conns_.count(self) || self->id_ != id || self->closed()) return;
      self->ReadSocket();
      if (!self->closed()) self->Pump();
    });
  }
}

void H2Conn::Fail(uint32_t error_code) {
  if (session_) nghttp2_session_terminate_session(session_, error_code);
  closing_ = true;
  deadline_ = w_->Now() + Duration(2000);  // a client that never reads the GOAWAY
  Pump();
}

void H2Conn::SendFrames() {
  while (fd_ >= 0 && session_ && out_.size() - out_off_ <= w_->options().max_buffer_bytes) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      CloseNow();
      return;
    }
    if (n == 0) break;
    if (out_off_ == out_.size()) {
      out_.clear();
      out_off_ = 0;
    }
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  FlushSocket();
}

void H2Conn::FlushSocket() {
  if (fd_ >= 0 && !tr_->WriteQueued(out_, &out_off_, &writable_, &write_wants_read_)) {
    CloseNow();
    return;
  }
  if (fd_ >= 0 && out_off_ == out_.size()) {
    std::string().swap(out_);
    out_off_ = 0;
  }
}

void H2Conn::Pump() {
  if (fd_ < 0) return;
  if (in_pump_) {
    pump_again_ = true;
    return;
  }
  in_pump_ = true;
  for (int round = 0; round < 64 && fd_ >= 0; ++round) {
    pump_again_ = false;
    std::vector<int32_t> ids;
    ids.swap(marked_);
    for (int32_t id : ids) {
      if (fd_ < 0) break;
      if (Stream* s = Find(id)) Drive(s);
    }
    if (fd_ < 0) break;
    SendFrames();
    if (!pump_again_ && marked_.empty()) break;
  }
  in_pump_ = false;
  if (fd_ < 0) return;
  if (!marked_.empty()) {
    // Round cap reached: finish on the next loop iteration.
    Worker* w = w_;
    H2Conn* self = this;
    uint64_t id = id_;
    w_->loop()->RunAfter(Duration(0), [w, self, id] {
      if (w->h2_conns_.count(self) && self->id_ == id && !self->closed()) self->Pump();
    });
  }
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->second->h2_closed && !it->second->cc) {
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
  if (streams_.empty() && !closing_) deadline_ = w_->Now() + w_->options().idle_timeout;
  MaybeClose();
}

void H2Conn::Drive(Stream* s) {
  if (s->answered_early) {
    s->answered_early = false;
    if (session_ && !s->h2_closed)
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
  }
  if (s->cc && (s->h2_closed || s->conn_done)) {
    // Reset by the client, or answered: the ClientConn has nothing more to do.
    s->cc->CloseNow();
    return;
  }
  if (s->cc && s->notify_read) {
    s->notify_read = false;
    s->cc->OnEvent(EPOLLIN);
  }
  if (s->cc && s->notify_write) {
    s->notify_write = false;
    s->cc->OnEvent(EPOLLOUT);
  }
}

void H2Conn::MaybeClose() {
  if (fd_ < 0 || !session_) return;
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_) &&
      out_off_ == out_.size())
    CloseNow();
}

void H2Conn::StartStream(Stream* s, bool end_stream) {
  s->started = true;
  if (s->has_protocol) {
    StartExtendedConnect(s, end_stream);
    return;
  }
  std::string& r = s->req;
  r.reserve(s->fields.size() + s->path.size() + s->authority.size() + 64);
  r.append(s->method).append(" ").append(s->path).append(" HTTP/1.1\r\n");
  if (!s->authority.empty()) r.append("Host: ").append(s->authority).append("\r\n");
  r.append(s->fields);
  if (!s->cookie.empty()) r.append("Cookie: ").append(s->cookie).append("\r\n");
  // One request per ClientConn: it closes once answered.
  r.append("Connection: close\r\n");
  if (!end_stream && s->fields.find("content-length:") == std::string::npos) {
    // A body of unknown length (HTTP/2 frames it): chunked upstream.
    s->chunked_req = true;
    r.append("Transfer-Encoding: chunked\r\n");
  }
  r.append("\r\n");
  StartConn(s, end_stream);
}

void H2Conn::StartConn(Stream* s, bool end_stream) {
  s->fields.clear();
  s->fields.shrink_to_fit();
  s->req_end = end_stream;
  s->resp.SetRequestMethod(s->method);
  s->cc = std::make_unique<ClientConn>(w_, ClientConn::kStreamFd,
                                       std::make_unique<StreamTransport>(this, s), slot_,
                                       peer_ipv4_, nullptr);
  s->notify_read = true;
  Mark(s);
}

void H2Conn::StartExtendedConnect(Stream* s, bool end_stream) {
  // RFC 8441 names no answer for a protocol the server does not serve; 501 is what RFC 9110
  // 15.6.2 gives a request the server cannot carry out.
  if (!http::EqualsIgnoreCase(s->protocol, "websocket")) {
    AnswerLocal(s, 501, "only the websocket protocol is served over extended CONNECT\n", "");
    return;
  }
  // nghttp2 already refused one without them (RFC 8441 4): not reached.
  if (s->path.empty() || s->authority.empty()) {
    AnswerLocal(s, 400, "extended CONNECT needs :path and :authority\n", "");
    return;
  }
  // RFC 8441 5: the version is the HTTP/1.1 handshake's, and 13 is the one that exists.
  if (s->ws_version != "13") {
    AnswerLocal(s, 400, "Sec-WebSocket-Version must be 13\n", "13");
    return;
  }
  const std::string key = http::NewWebSocketKey();
  if (key.empty()) {
    ResetStream(s, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  // The HTTP/1.1 handshake (RFC 6455 4.1). "Upgrade" makes the ClientConn forward it and
  // check the 101's Sec-WebSocket-Accept against this key; "close" ends it after an answer
  // that is not a 101 (upstream, Connection says "upgrade" alone).
  s->websocket = true;
  s->method = "GET";
  std::string& r = s->req;
  r.reserve(s->fields.size() + s->path.size() + s->authority.size() + 128);
  r.append("GET ").append(s->path).append(" HTTP/1.1\r\n");
  r.append("Host: ").append(s->authority).append("\r\n");
  r.append(s->fields);
  if (!s->cookie.empty()) r.append("Cookie: ").append(s->cookie).append("\r\n");
  r.append("Sec-WebSocket-Key: ").append(key).append("\r\n");
  r.append("Connection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n");
  StartConn(s, end_stream);
}

void H2Conn::AnswerLocal(Stream* s, int status, std::string_view body,
                         std::string_view ws_version) {
  s->head_done = true;
  s->body_done = true;
  s->out.assign(body);
  if (!session_ || s->h2_closed) return;
  const std::string code = std::to_string(status);
  const std::string length = std::to_string(body.size());
  H2Fields nv;
  nv.AddLower(":status", code);
  nv.AddLower("content-type", "text/plain");
  nv.AddLower("content-length", length);
  if (!ws_version.empty()) nv.AddLower("sec-websocket-version", ws_version);
  if (SubmitFinal(s, nv, /*body=*/true)) ResumeData(nullptr);
}

// ---------------------------------------------------------------- from a stream's ClientConn
// These run inside the ClientConn: they only update buffers and nghttp2's queues, and ask for a
// Pump() later, so the ClientConn is never re-entered.

void H2Conn::OnRequestTaken(Stream* s) {
  if (s->unconsumed > 0 && session_ && !s->h2_closed) {
    nghttp2_session_consume(session_, s->id, s->unconsumed);
    s->unconsumed = 0;
  }
  ResumeData(nullptr);
}

void H2Conn::OnResponseBytes(Stream* s, std::string_view data) {
  if (s->tunnel) {
    // A WebSocket's bytes, as they are (back-pressure: StreamTransport::Writev).
    s->out.append(data);
    ResumeData(s);
    return;
  }
  if (!s->head_done) {
    s->head_buf.append(data);
    // Each round consumes one head: bounded by the data.
    for (;;) {
      http::ParseStatus st = s->resp.Parse(s->head_buf);
      if (st == http::ParseStatus::kNeedMore) return;
      if (st == http::ParseStatus::kError) {
        ResetStream(s, NGHTTP2_INTERNAL_ERROR);
        return;
      }
      const int code = s->resp.status_code();
      if (code == 101 && s->websocket) {
        // The upstream took the WebSocket (its ClientConn checked Sec-WebSocket-Accept): the
        // stream's 200 without END_STREAM, then a tunnel (RFC 8441 5).
        s->head_done = true;
        s->tunnel = true;
        std::string rest = s->head_buf.substr(s->resp.head_size());
        SubmitTunnel(s);
        s->head_buf.clear();
        if (!rest.empty()) OnResponseBytes(s, rest);
        return;
      }
      if (code >= 100 && code < 200) {
        // Interim answers (100 Continue, 103 Early Hints) go on as HEADERS without END_STREAM
        // (RFC 9113 8.1), as HTTP/1.1 forwards them. Never a 101 (HTTP/2 has no Upgrade, 8.6):
        // only an extended CONNECT asks for one (above), so a ClientConn answers any other 101
        // with 502.
        // Bounded: HEADERS wait in nghttp2's queue whatever the client's window, so past
        // kMaxInterimResponses an upstream's flood is dropped here (the response head timeout
        // still runs: interim answers do not extend it).
        if (s->interim < kMaxInterimResponses) {
          ++s->interim;
          SubmitInterim(s);
        }
        s->head_buf.erase(0, s->resp.head_size());
        s->resp.Reset();
        s->resp.SetRequestMethod(s->method);
        continue;
      }
      break;
    }
    if (s->resp.status() != http::ParseStatus::kHeadComplete) {
      ResetStream(s, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    s->head_done = true;
    s->body.Start(s->resp.body_kind(), s->resp.content_length());
    std::string rest = s->head_buf.substr(s->resp.head_size());
    s->body_done = s->body.done();
    SubmitResponse(s);
    s->head_buf.clear();
    if (!rest.empty()) OnResponseBytes(s, rest);
    return;
  }
  size_t used = 0;
  while (used < data.size() && !s->body_done) {
    http::BodyReader::Step step = s->body.Decode(data.substr(used));
    used += step.consumed;
    s->out.append(step.data);
    if (step.state == http::BodyReader::State::kDone) s->body_done = true;
    if (step.state == http::BodyReader::State::kError) {
      ResetStream(s, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (step.consumed == 0) break;
  }
  ResumeData(s);
}

void H2Conn::OnResponseEnd(Stream* s) {
  s->conn_done = true;
  if (s->tunnel) {
    s->body_done = true;  // the upstream's EOF: END_STREAM once its bytes are sent
  } else if (!s->head_done) {
    ResetStream(s, NGHTTP2_INTERNAL_ERROR);
  } else if (!s->body_done) {
    if (s->body.Finish() == http::BodyReader::State::kDone) {
      s->body_done = true;
    } else {
      ResetStream(s, NGHTTP2_INTERNAL_ERROR);
    }
  }
  Mark(s);
  ResumeData(s);
}

void H2Conn::OnStreamConnGone(Stream* s) {
  w_->RetireStream(std::move(s->cc));
  if (fd_ < 0) return;
  // Closed without a complete answer (an upstream that failed mid-body, a timeout): the
  // client must not take a cut body for a whole one. A tunnel closed without its upstream's
  // EOF (a reset, the idle timeout) is reset with the codes RFC 9113 8.5 gives CONNECT.
  if (!s->h2_closed && !(s->head_done && s->body_done))
    ResetStream(s, !s->tunnel     ? NGHTTP2_INTERNAL_ERROR
                   : s->timed_out ? NGHTTP2_CANCEL
                                  : NGHTTP2_CONNECT_ERROR);
  ResumeData(s);
}

void H2Conn::SubmitTunnel(Stream* s) {
  if (!session_ || s->h2_closed) return;
  ResponseFields f(s->resp, /*websocket=*/true);
  if (SubmitFinal(s, f.fields, /*body=*/true)) ResumeData(nullptr);
}

void H2Conn::SubmitInterim(Stream* s) {
  if (!session_ || s->h2_closed) return;
  ResponseFields f(s->resp);
  const H2Fields& nv = f.fields;
  if (nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, s->id, nullptr, nv.data(), nv.size(),
                             nullptr) != 0) {
    ResetStream(s, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  ResumeData(nullptr);  // a Pump() sends it: the final answer may be far off
}

void H2Conn::SubmitResponse(Stream* s) {
  if (!session_ || s->h2_closed) return;
  ResponseFields f(s->resp);
  SubmitFinal(s, f.fields, /*body=*/!(s->body_done && s->out.empty()));
}

bool H2Conn::SubmitFinal(Stream* s, const H2Fields& fields, bool body) {
  nghttp2_data_provider provider{};
  provider.source.ptr = s;
  provider.read_callback = H2Callbacks::ReadBody;
  if (nghttp2_submit_response(session_, s->id, fields.data(), fields.size(),
                              body ? &provider : nullptr) != 0) {
    ResetStream(s, NGHTTP2_INTERNAL_ERROR);
    return false;
  }
  s->submitted = true;
  return true;
}

void H2Conn::ResetStream(Stream* s, uint32_t error_code) {
  if (session_ && !s->h2_closed)
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, error_code);
  s->reset = true;
  s->body_done = true;
  ResumeData(s);
}

void H2Conn::ResumeData(Stream* s) {
  if (s && s->deferred && session_ && !s->h2_closed && (s->buffered() > 0 || s->body_done)) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, s->id);
  }
  if (fd_ < 0) return;
  if (in_pump_) {
    pump_again_ = true;
    return;
  }
  // Called from inside a ClientConn (its upstream's events): Pump() would drive ClientConns,
  // maybe this one, so it runs once the current callback returns.
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  Worker* w = w_;
  H2Conn* self = this;
  uint64_t id = id_;
  w_->loop()->RunAfter(Duration(0), [w, self, id] {
    if (!w->h2_conns_.count(self) || self->id_ != id || self->closed()) return;
    self->pump_scheduled_ = false;
    self->Pump();
  });
}

// ---------------------------------------------------------------- timeouts, drain

void H2Conn::CheckTimeout(MonoTime now) {
  if (fd_ < 0) return;
  std::vector<ClientConn*> due;
  for (auto& [id, s] : streams_) {
    if (s->cc && s->cc->deadline() <= now) {
      due.push_back(s->cc.get());
      s->timed_out = true;
    }
  }
  for (ClientConn* c : due) {
    bool alive = false;
    for (auto& [id, s] : streams_) alive |= s->cc.get() == c;
    if (alive) c->CheckTimeout(now);
    if (fd_ < 0) return;
  }
  for (auto& [id, s] : streams_)
    if (s->cc) s->timed_out = false;  // still running: a later reset is not this timeout's
  if (!due.empty()) Pump();
  if (fd_ < 0) return;
  if (closing_ && now >= deadline_) {
    CloseNow();
    return;
  }
  if (streams_.empty() && now >= deadline_) {
    // Idle: GOAWAY(NO_ERROR), then close once it is written.
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    closing_ = true;
    deadline_ = now + Duration(2000);
    Pump();
  }
}

void H2Conn::OnDrain() {
  if (fd_ < 0 || draining_) return;
  draining_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  Pump();
}

void H2Conn::OnTableChange() {
  if (fd_ < 0) return;
  const auto& wt = w_->table();
  if (slot_ >= static_cast<int>(wt->slot_to_listener.size()) || wt->slot_to_listener[slot_] < 0)
    OnDrain();
}

}  // namespace slipway::proxy
