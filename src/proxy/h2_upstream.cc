#include "proxy/h2_upstream.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "http/serializer.h"
#include "http/websocket.h"
#include "net/plain_transport.h"
#include "net/socket.h"
#include "net/tls_transport.h"
#include "proxy/client_conn.h"
#include "proxy/exchange.h"
#include "proxy/h2_fields.h"

namespace slipway::proxy {

namespace {

constexpr uint32_t kSessionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// The connection's receive window: large enough that streams waiting for slow clients (each
// bounded by its own window) do not stall the others.
constexpr int32_t kConnectionWindow = 16 << 20;
// Streams a server is assumed to allow before its SETTINGS say.
constexpr uint32_t kStreamsBeforeSettings = 100;

}  // namespace

// nghttp2's callbacks: they record what arrived in the streams; events for the ClientConns are
// delivered by Pump() later.
struct H2UpCallbacks {
  static H2UpStream* Of(void* user, int32_t id) {
    return static_cast<H2UpSession*>(user)->Find(id);
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2UpStream* s = Of(user, frame->hd.stream_id);
    if (!s) return 0;
    // The server answers: the request was processed, it is never resent.
    s->answered_ = true;
    s->DropReplay();
    s->fields_.clear();
    s->block_bytes_ = 0;
    s->block_fields_ = 0;
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    H2UpStream* s = Of(user, frame->hd.stream_id);
    if (!s) return 0;
    // The request's head limits bound what one header block may hold in memory.
    s->block_bytes_ += namelen + valuelen + 4;
    if (s->block_bytes_ > s->limits_.max_head_bytes ||
        ++s->block_fields_ > s->limits_.max_headers) {
      s->too_big_ = true;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (!s->final_head_ && n == ":status") {
      int code = 0;
      for (char c : v) code = code * 10 + (c - '0');  // nghttp2 checked: three digits
      s->status_ = code;
      return 0;
    }
    if (!n.empty() && n.front() == ':') return 0;
    if (s->final_head_ && http::ForbiddenInTrailers(n)) return 0;
    // A tunnel's 2xx becomes a 101 with the proxy's own accept value and no body framing.
    if (s->ws_ && !s->final_head_ && s->status_ >= 200 && s->status_ < 300 &&
        (n == "content-length" || n == "sec-websocket-accept"))
      return 0;
    s->fields_.append(n).append(": ").append(v).append("\r\n");
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* session = static_cast<H2UpSession*>(user);
    const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !session->settings_seen_) {
          // The server's limits are known: the streams waiting may start.
          session->settings_seen_ = true;
          session->b_->h2_streams_hint = session->capacity();
          for (H2UpStream* s : session->attached_) session->Notify(s, EPOLLOUT);
        }
        return 0;
      case NGHTTP2_GOAWAY:
        // Streams above its last stream id are closed by nghttp2 (REFUSED_STREAM): retried
        // as the retry rules allow. The others finish.
        session->goaway_ = true;
        return 0;
      case NGHTTP2_HEADERS:
        break;
      case NGHTTP2_DATA: {
        H2UpStream* s = session->Find(frame->hd.stream_id);
        if (end && s && !s->ended_) {
          if (s->chunked_) s->resp_ += "0\r\n\r\n";
          s->ended_ = true;
          session->Notify(s, EPOLLIN);
        }
        return 0;
      }
      default:
        return 0;
    }
    H2UpStream* s = session->Find(frame->hd.stream_id);
    if (!s) return 0;
    if (s->final_head_) {
      // Trailers (they always end the stream): the chunked body's trailer section. A body
      // framed by Content-Length has no place for them: dropped (RFC 9110 6.5).
      if (s->chunked_) s->resp_.append("0\r\n").append(s->fields_).append("\r\n");
      s->ended_ = true;
      session->Notify(s, EPOLLIN);
      return 0;
    }
    if (s->status_ >= 100 && s->status_ < 200) {
      // Interim answers; a 101 cannot come over HTTP/2 (nghttp2 refuses it).
      if (++s->interim_ <= H2UpSession::kMaxInterim) {
        http::AppendStatusLine(s->status_, &s->resp_);
        s->resp_.append(s->fields_).append("\r\n");
        session->Notify(s, EPOLLIN);
      }
      return 0;
    }
    if (s->ws_ && s->status_ >= 200 && s->status_ < 300) {
      // The extended CONNECT succeeded (RFC 8441 5): the ClientConn reads the 101 an HTTP/1.1
      // server would have answered its handshake with, and its tunnel phase begins.
      s->resp_.append("HTTP/1.1 101 Switching Protocols\r\n")
          .append(s->fields_)
          .append("upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ")
          .append(s->ws_accept_)
          .append("\r\n\r\n");
      s->final_head_ = true;
      if (end) s->ended_ = true;
      session->Notify(s, EPOLLIN);
      return 0;
    }
    http::AppendStatusLine(s->status_, &s->resp_);
    s->resp_.append(s->fields_);
    const bool has_length = s->fields_.find("content-length: ") == 0 ||
                            s->fields_.find("\r\ncontent-length: ") != std::string::npos;
    if (!has_length && !http::StatusHasNoBody(s->status_, s->method_)) {
      if (end) {
        s->resp_ += "content-length: 0\r\n";
      } else {
        s->resp_ += "transfer-encoding: chunked\r\n";
        s->chunked_ = true;
      }
    }
    s->resp_ += "\r\n";
    s->final_head_ = true;
    if (end) s->ended_ = true;
    session->Notify(s, EPOLLIN);
    return 0;
  }

  static int OnDataChunk(nghttp2_session* ng, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user) {
    H2UpStream* s = Of(user, stream_id);
    if (!s || s->ended_) {
      // Nobody reads it: give the window back at once.
      nghttp2_session_consume(ng, stream_id, len);
      return 0;
    }
    if (s->chunked_) {
      http::AppendChunk({reinterpret_cast<const char*>(data), len}, &s->resp_);
    } else {
      s->resp_.append(reinterpret_cast<const char*>(data), len);
    }
    s->unconsumed_ += len;
    static_cast<H2UpSession*>(user)->Notify(s, EPOLLIN);
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* session = static_cast<H2UpSession*>(user);
    H2UpStream* s = session->Find(stream_id);
    if (!s) return 0;
    s->closed_ = true;
    if (s->ended_) return 0;
    // Refused by the server (RST_STREAM, or above a GOAWAY's last stream id): not processed,
    // resent when it can be. A request nghttp2 could not send closes with this code too, after
    // OnFrameNotSend already decided (failed_ then unless resent).
    if (error_code == NGHTTP2_REFUSED_STREAM && !s->too_big_ && !s->failed_ && s->Refused())
      return 0;
    // Reset by the server, or reset here over a header block too large. The connection itself
    // is fine: not the backend's fault.
    s->Fail(s->too_big_ ? UpstreamError::kBadResponse : UpstreamError::kReset, true);
    return 0;
  }

  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int lib_error_code,
                            void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2UpStream* s = Of(user, frame->hd.stream_id);
    if (!s || s->ended_) return 0;
    // A request that could not start because the server's GOAWAY came first: never sent,
    // resent elsewhere when it can be. Closed either way (no RST_STREAM for it on Detach).
    if (lib_error_code == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED && s->Refused()) {
      s->closed_ = true;
      return 0;
    }
    s->Fail(UpstreamError::kReset, true);
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session* ng, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* user) {
    auto* session = static_cast<H2UpSession*>(user);
    H2UpStream* s = session->Find(stream_id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // its ClientConn is gone: reset
    const size_t n = std::min(length, s->body_buffered());
    std::memcpy(buf, s->body_.data() + s->body_off_, n);
    s->body_off_ += n;
    if (s->body_off_ == s->body_.size() && !s->replay_) {
      s->body_.clear();
      s->body_off_ = 0;
    }
    if (s->want_write_ && s->body_buffered() <= session->w_->options().max_buffer_bytes / 2) {
      s->want_write_ = false;
      session->Notify(s, EPOLLOUT);
    }
    if (s->body_buffered() == 0 && s->body_end_) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      H2Fields f;
      for (const auto& [name, value] : s->trailers_)
        if (!http::ForbiddenInTrailers(name)) f.Add(name, value);
      if (!f.empty() && nghttp2_submit_trailer(ng, stream_id, f.data(), f.size()) == 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      return static_cast<ssize_t>(n);
    }
    if (n == 0) {
      s->deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }
};

// ---------------------------------------------------------------------------------------------
// H2UpStream

namespace {
http::ParserLimits HeadLimits(const http::ParserLimits& l) {
  // The ClientConn's head plus the fields the proxy added (X-Forwarded-*, X-Request-Id).
  http::ParserLimits r = l;
  r.max_head_bytes = 2 * l.max_head_bytes;
  r.max_headers = 2 * l.max_headers + 8;
  r.max_body_bytes = ~uint64_t{0};  // the ClientConn enforces the client's limit
  return r;
}
}  // namespace

H2UpStream::H2UpStream(H2UpSession* session, UpstreamConn* up, const http::ParserLimits& limits)
    : session_(session),
      up_(up),
      secure_(up->backend && up->backend->tls),
      req_(HeadLimits(limits)),
      req_body_(HeadLimits(limits)),
      replay_limit_(std::min(kMaxReplayBody, session->w_->options().max_buffer_bytes)),
      limits_(limits) {}

H2UpStream::~H2UpStream() {
  if (session_) session_->Detach(this);
}

bool H2UpStream::secure() const { return secure_; }

void H2UpStream::Fail(UpstreamError kind, bool connection_fine) {
  if (failed_ || ended_) return;
  failed_ = true;
  up_->failure = kind;
  if (connection_fine) up_->reused = true;
  if (session_) session_->Notify(this, EPOLLIN);
}

bool H2UpStream::Refused() {
  if (failed_ || ended_ || answered_ || !replay_ || resends_ >= kMaxResends || !session_)
    return false;
  if (!refused_) {
    refused_ = true;
    session_->refused_.push_back(this);
    session_->SchedulePump();
  }
  return true;
}

void H2UpStream::DropReplay() {
  if (!replay_) return;
  replay_ = false;
  if (body_off_ > 0) {
    body_.erase(0, body_off_);
    body_off_ = 0;
  }
}

net::IoResult H2UpStream::Handshake() {
  if (failed_) return {net::IoStatus::kError};
  if (refused_) return {net::IoStatus::kWantRead};  // moving: its old session may be dead
  if (!session_ || session_->dead_) {
    if (!up_->failure) up_->failure = UpstreamError::kReset;
    return {net::IoStatus::kError};
  }
  if (!session_->ready()) return {net::IoStatus::kWantRead};
  return {net::IoStatus::kOk};
}

net::IoResult H2UpStream::Read(char* buf, size_t len) {
  if (resp_buffered() > 0) {
    const size_t n = std::min(len, resp_buffered());
    resp_.copy(buf, n, resp_off_);
    resp_off_ += n;
    if (resp_off_ == resp_.size()) {
      resp_.clear();
      resp_off_ = 0;
    }
    // The server may send more once the ClientConn took most of what waits here.
    if (unconsumed_ > 0 && session_ && session_->session_ && id_ >= 0 &&
        resp_buffered() < session_->w_->options().max_buffer_bytes / 2) {
      nghttp2_session_consume(session_->session_, id_, unconsumed_);
      unconsumed_ = 0;
      session_->ScheduleFlush();
    }
    // Drained only while more is to come with a notification: once the stream ended or failed,
    // the next read must report it (its notification may have been spent on these bytes).
    return {net::IoStatus::kOk, n, resp_buffered() == 0 && !failed_ && !ended_};
  }
  if (failed_) return {net::IoStatus::kError};
  if (ended_) return {net::IoStatus::kEof};
  if (refused_) return {net::IoStatus::kWantRead};  // moving: its old session may be dead
  if (!session_ || session_->dead_) {
    if (!up_->failure) up_->failure = UpstreamError::kReset;
    return {net::IoStatus::kError};
  }
  return {net::IoStatus::kWantRead};
}

net::IoResult H2UpStream::Writev(const iovec* iov, int count) {
  // A refused stream waiting for its move takes body bytes as usual (its old session may be
  // dead): they go out on the next one.
  if (failed_ || !session_ || (session_->dead_ && !refused_)) return {net::IoStatus::kError};
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  if (head_done_ && body_end_) return {net::IoStatus::kOk, total, false};  // nothing expected
  if (head_done_ && body_buffered() > session_->w_->options().max_buffer_bytes) {
    want_write_ = true;
    return {net::IoStatus::kWantWrite};
  }
  for (int i = 0; i < count && !failed_; ++i) {
    std::string_view data(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    if (head_done_) {
      if (ws_) {
        // Tunnel bytes go on as they are; a CONNECT that carried one is never resent.
        DropReplay();
        body_.append(data);
      } else if (!FeedRequestBody(data)) {
        Fail(UpstreamError::kBadResponse, true);
      }
      continue;
    }
    head_in_.append(data);
    const http::ParseStatus st = req_.Parse(head_in_);
    if (st == http::ParseStatus::kNeedMore) continue;
    if (st == http::ParseStatus::kError) {
      Fail(UpstreamError::kBadResponse, true);
      break;
    }
    head_done_ = true;
    method_ = std::string(req_.method());
    req_body_.Start(req_.body_kind(), req_.content_length());
    body_end_ = req_body_.done();
    if (method_ == "GET" && body_end_ && http::HasToken(req_.Upgrade(), "websocket")) {
      // HTTP/2 has no key: the accept value the ClientConn expects is computed here.
      const std::string_view key = req_.Header("sec-websocket-key").value_or("");
      if (key.empty()) {
        AnswerLocally(400, "a WebSocket handshake needs a Sec-WebSocket-Key\n");
        break;
      }
      ws_ = true;
      body_end_ = false;  // the stream stays open for the tunnel's bytes
      ws_accept_ = http::WebSocketAccept(key);
    }
    // A body announced over the replay limit is never held for a resend.
    if (req_.body_kind() == http::BodyKind::kContentLength && req_.content_length() > replay_limit_)
      DropReplay();
    if (!SubmitRequest()) {
      Fail(UpstreamError::kBadResponse, true);
      break;
    }
    const std::string rest = head_in_.substr(req_.head_size());
    if (ws_ && !rest.empty() && !body_end_) {
      DropReplay();
      body_.append(rest);
    } else if (!ws_ && !rest.empty() && !FeedRequestBody(rest)) {
      Fail(UpstreamError::kBadResponse, true);
    }
  }
  if (!failed_ && !refused_ && session_ && session_->session_ && id_ >= 0 && deferred_ &&
      (body_buffered() > 0 || body_end_)) {
    deferred_ = false;
    nghttp2_session_resume_data(session_->session_, id_);
  }
  if (session_) session_->ScheduleFlush();
  return {net::IoStatus::kOk, total, false};
}

bool H2UpStream::FeedRequestBody(std::string_view data) {
  while (!data.empty() && !body_end_) {
    const http::BodyReader::Step step = req_body_.Decode(data);
    if (step.state == http::BodyReader::State::kError) return false;
    body_.append(step.data);
    if (replay_ && body_.size() > replay_limit_) DropReplay();  // too big to hold: today's path
    data.remove_prefix(step.consumed);
    if (step.state == http::BodyReader::State::kDone) {
      body_end_ = true;
      trailers_ = req_body_.trailers();
      break;
    }
    if (step.consumed == 0) break;
  }
  return true;
}

void H2UpStream::ShutdownWrite() {
  if (!ws_ || body_end_ || failed_) return;
  body_end_ = true;
  if (session_ && session_->session_ && id_ >= 0 && deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(session_->session_, id_);
  }
  if (session_) session_->ScheduleFlush();
}

void H2UpStream::AnswerLocally(int status, std::string_view body) {
  answered_ = true;
  DropReplay();
  body_.clear();
  body_off_ = 0;
  body_end_ = true;  // what the ClientConn writes on is dropped
  http::AppendStatusLine(status, &resp_);
  resp_.append("content-type: text/plain\r\ncontent-length: ")
      .append(std::to_string(body.size()))
      .append("\r\n\r\n")
      .append(body);
  final_head_ = true;
  ended_ = true;
  if (session_) session_->Notify(this, EPOLLIN);
}

bool H2UpStream::SubmitRequest() {
  if (!session_ || !session_->session_) return false;
  if (ws_ && nghttp2_session_get_remote_settings(session_->session_,
                                                 NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1) {
    // RFC 8441 3: no extended CONNECT to a server that did not say it takes one.
    AnswerLocally(501, "the upstream does not accept WebSockets over HTTP/2\n");
    return true;
  }
  H2Fields f;
  const std::string authority(req_.Header("host").value_or(up_->backend->tls_name));
  f.AddLower(":method", ws_ ? std::string_view("CONNECT") : req_.method());
  if (ws_) f.AddLower(":protocol", "websocket");
  f.AddLower(":scheme", secure_ ? "https" : "http");
  f.AddLower(":authority", authority);
  f.AddLower(":path", req_.target());
  std::string_view connection = req_.Header("connection").value_or("");
  bool grpc = false;
  for (const http::HeaderView& h : req_.headers()) {
    if (IsHopByHop(h.name) || http::EqualsIgnoreCase(h.name, "host") ||
        http::EqualsIgnoreCase(h.name, "transfer-encoding") ||
        http::EqualsIgnoreCase(h.name, "trailer") ||
        (ws_ && (http::EqualsIgnoreCase(h.name, "sec-websocket-key") ||
                 http::EqualsIgnoreCase(h.name, "content-length"))) ||
        (!connection.empty() && http::HasToken(connection, h.name)))
      continue;
    if (http::EqualsIgnoreCase(h.name, "content-type") && h.value.starts_with("application/grpc"))
      grpc = true;
    f.Add(h.name, h.value);
  }
  // gRPC servers ask for it (the only TE value HTTP/2 allows); the hop-by-hop TE of the
  // client's request is not forwarded.
  if (grpc) f.AddLower("te", "trailers");
  nghttp2_data_provider provider{};
  provider.read_callback = H2UpCallbacks::ReadBody;
  // A resend has a data provider when the first submission had one (trailers, an empty body).
  if (resends_ == 0) has_body_ = !body_end_;
  const int32_t id = nghttp2_submit_request(session_->session_, nullptr, f.data(), f.size(),
                                            has_body_ ? &provider : nullptr, nullptr);
  if (id < 0) return false;
  id_ = id;
  session_->by_id_[id] = this;
  return true;
}

// ---------------------------------------------------------------------------------------------
// H2UpSession

H2UpSession::H2UpSession(Worker* w, BackendState* b) : w_(w), b_(b) {}

H2UpSession::~H2UpSession() { Close(); }

uint32_t H2UpSession::capacity() const {
  if (!session_) return 0;
  const uint32_t n = settings_seen_ ? nghttp2_session_get_remote_settings(
                                          session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                                    : b_->h2_streams_hint;
  return std::min(n, kMaxStreams);
}

H2UpStream* H2UpSession::Find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

bool H2UpSession::Connect(int* err) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_option* opt = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0) {
    if (cbs) nghttp2_session_callbacks_del(cbs);
    *err = ENOMEM;
    return false;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2UpCallbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2UpCallbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2UpCallbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2UpCallbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2UpCallbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, H2UpCallbacks::OnFrameNotSend);
  // Response bytes are acknowledged when the ClientConn reads them (back-pressure).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, kStreamsBeforeSettings);
  const int rc = nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_option_del(opt);
  if (rc != 0) {
    session_ = nullptr;
    *err = ENOMEM;
    return false;
  }
  const ProxyOptions& o = w_->options();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(o.max_buffer_bytes)},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow) !=
          0) {
    *err = ENOMEM;
    return false;
  }

  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *err = errno;
    return false;
  }
  if (Status nd = net::SetNoDelay(fd_); !nd.ok()) {
    logging::Debug("proxy", "TCP_NODELAY not set: " + nd.message());
  }
  if (b_->tls) {
    auto tls = net::TlsTransport::Connect(b_->tls, fd_, b_->tls_name);
    if (tls && !tls->OfferH2Only()) tls.reset();
    tls_ = tls.get();
    tr_ = std::move(tls);
  } else {
    tr_ = std::make_unique<net::PlainTransport>(fd_);
  }
  if (!tr_) {
    *err = ENOMEM;
    return false;
  }
  const int c = connect(fd_, reinterpret_cast<const sockaddr*>(&b_->addr), sizeof b_->addr);
  if (c != 0 && errno != EINPROGRESS) {
    *err = errno;
    return false;
  }
  tcp_connected_ = c == 0;
  writable_ = c == 0;
  Status st = w_->loop()->Add(fd_, kSessionEvents, [this](uint32_t ev) { OnEvent(ev); });
  if (!st.ok()) {
    *err = EIO;
    return false;
  }
  connect_deadline_ = w_->Now() + o.connect_timeout;
  idle_since_ = w_->Now();
  if (tcp_connected_) ContinueHandshake();
  return true;
}

std::unique_ptr<H2UpStream> H2UpSession::NewStream(UpstreamConn* up) {
  auto s = std::make_unique<H2UpStream>(this, up, w_->options().limits);
  attached_.insert(s.get());
  // A stream on a session that already carried one: a failure before any answer is resent
  // once (the retry of a pooled HTTP/1.1 connection), and does not mark the backend down.
  up->reused = ready() && streams_opened_ > 0;
  ++streams_opened_;
  return s;
}

void H2UpSession::OnEvent(uint32_t events) {
  if (dead_) return;
  if (!tcp_connected_) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Fail(err == ECONNREFUSED ? UpstreamError::kConnectRefused : UpstreamError::kReset);
      Pump();
      return;
    }
    tcp_connected_ = true;
    writable_ = true;
  }
  if (!established_) {
    if (!ContinueHandshake()) {
      Pump();
      return;
    }
  }
  net::ApplyEvents(events, &readable_, &writable_, &read_wants_write_, &write_wants_read_);
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_closed_ = true;
  Flush();
  ReadSocket();
  Pump();
}

bool H2UpSession::ContinueHandshake() {
  net::IoResult r = tr_->Handshake();
  if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return false;
  if (r.status != net::IoStatus::kOk) {
    Fail(UpstreamError::kTls);
    return false;
  }
  // ALPN offered "h2" alone: a server that did not pick it speaks something else.
  if (tls_ && tls_->alpn() != "h2") {
    Fail(UpstreamError::kTls);
    return false;
  }
  established_ = true;
  writable_ = true;
  readable_ = true;  // the handshake's last flight may have brought more (the SETTINGS)
  Flush();
  return !dead_;
}

void H2UpSession::ReadSocket() {
  char* buf = w_->upstream_scratch();
  for (int i = 0; i < 64 && !dead_ && readable_; ++i) {
    net::IoResult r = tr_->Read(buf, Worker::kScratch);
    if (r.status == net::IoStatus::kOk) {
      // A short read drained the socket, unless the FIN came with this edge: no other edge will
      // say so, and its EOF must be read now.
      if (r.drained && !peer_closed_) readable_ = false;
      const ssize_t rv =
          nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), r.bytes);
      if (rv < 0) {
        // Not HTTP/2 (an HTTP/1.1 server's answer to the preface), or a fatal protocol error.
        Fail(UpstreamError::kBadResponse);
        return;
      }
      Flush();
      continue;
    }
    readable_ = false;
    if (r.status == net::IoStatus::kWantRead) return;
    if (r.status == net::IoStatus::kWantWrite) {
      read_wants_write_ = true;
      writable_ = false;
      return;
    }
    Fail(UpstreamError::kReset);  // EOF or error: unfinished streams are lost
    return;
  }
  if (!dead_ && readable_) SchedulePump();  // fairness cap: the posted Pump reads on
}

void H2UpSession::Flush() {
  if (dead_ || !session_ || !established_) return;
  const size_t cap = w_->options().max_buffer_bytes;
  while (out_.size() - out_off_ <= cap) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      Fail(UpstreamError::kReset);
      return;
    }
    if (n == 0) break;
    if (out_off_ == out_.size()) {
      out_.clear();
      out_off_ = 0;
    }
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (!tr_->WriteQueued(out_, &out_off_, &writable_, &write_wants_read_)) {
    Fail(UpstreamError::kReset);
    return;
  }
  if (out_off_ == out_.size()) {
    std::string().swap(out_);
    out_off_ = 0;
  }
}

void H2UpSession::ScheduleFlush() {
  if (flush_scheduled_ || in_pump_) return;  // a running Pump() flushes when it ends
  flush_scheduled_ = true;
  std::weak_ptr<char> alive = alive_;
  w_->loop()->RunAfter(Duration(0), [this, alive] {
    if (alive.expired()) return;
    flush_scheduled_ = false;
    Flush();
    MaybeRetire();
  });
}

void H2UpSession::Notify(H2UpStream* s, uint32_t events) {
  events_[s] |= events;
  SchedulePump();
}

void H2UpSession::SchedulePump() {
  if (pump_scheduled_ || in_pump_) return;
  pump_scheduled_ = true;
  std::weak_ptr<char> alive = alive_;
  w_->loop()->RunAfter(Duration(0), [this, alive] {
    if (alive.expired()) return;
    pump_scheduled_ = false;
    if (!dead_ && established_ && readable_) ReadSocket();
    Pump();
  });
}

void H2UpSession::Pump() {
  if (in_pump_) return;
  in_pump_ = true;
  for (int round = 0; round < 16; ++round) {
    // Refused streams move first (their ClientConns are not told), so that a stream refused by
    // this round's Flush() is resent in the next.
    const bool resent = ResendRefused();
    if (SubmitWaiting() || resent) Flush();
    if (events_.empty()) break;
    std::map<H2UpStream*, uint32_t> events;
    events.swap(events_);
    for (const auto& [s, ev] : events) {
      // A stream detached meanwhile (its ClientConn finished) is skipped.
      if (!attached_.count(s) || !s->up_ || !s->up_->owner) continue;
      s->up_->owner->OnUpstreamEvent(ev);
    }
    Flush();
  }
  in_pump_ = false;
  if (!events_.empty() || !refused_.empty()) SchedulePump();
  if (!dead_ && session_ && established_ && !nghttp2_session_want_read(session_) &&
      !nghttp2_session_want_write(session_)) {
    // nghttp2 is done with the connection (a GOAWAY and no stream left, or a fatal error it
    // answered with GOAWAY).
    Fail(goaway_ ? UpstreamError::kReset : UpstreamError::kBadResponse);
    if (!events_.empty()) SchedulePump();
  }
  MaybeRetire();
}

void H2UpSession::Fail(UpstreamError kind) {
  if (dead_) return;
  dead_ = true;
  waiting_.clear();  // they fail below with the others
  for (H2UpStream* s : attached_) {
    if (s->ended_ || s->failed_ || s->refused_) continue;  // the refused ones move on (Pump)
    s->Fail(kind, false);
  }
  if (fd_ >= 0) {
    w_->loop()->Remove(fd_);
    tls_ = nullptr;
    tr_.reset();
    close(fd_);
    fd_ = -1;
  }
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
  if (!events_.empty() || !refused_.empty()) SchedulePump();
}

void H2UpSession::Detach(H2UpStream* s) {
  attached_.erase(s);
  events_.erase(s);
  std::erase(refused_, s);
  std::erase(waiting_, s);
  if (s->id_ >= 0) {
    by_id_.erase(s->id_);
    if (session_) {
      // Also cancels a request still queued for a free stream (not opened yet).
      if (!s->closed_) {
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id_, NGHTTP2_CANCEL);
      }
      // What it received and nobody will read goes back to the connection's window.
      if (s->unconsumed_ > 0) nghttp2_session_consume_connection(session_, s->unconsumed_);
    }
  }
  s->session_ = nullptr;
  if (attached_.empty()) idle_since_ = w_->Now();
  if (!in_pump_) ScheduleFlush();
  MaybeRetire();
}

bool H2UpSession::ResendRefused() {
  bool here = false;
  std::vector<H2UpStream*> refused;
  refused.swap(refused_);
  for (H2UpStream* s : refused) {
    s->refused_ = false;
    if (s->failed_ || s->ended_) continue;
    if (!s->replay_ || !s->up_ || !s->up_->owner) {
      // Its body outgrew the replay copy while it waited: a reset as before.
      s->Fail(UpstreamError::kReset, true);
      continue;
    }
    int err = 0;
    H2UpSession* next = PickH2Session(w_, b_, &err);
    if (!next) {
      // The backend cannot be reached any more: what that connect said.
      s->Fail(err == ECONNREFUSED ? UpstreamError::kConnectRefused : UpstreamError::kReset, false);
      continue;
    }
    // Leaves this session: nghttp2 closed the stream (or never opened it), nothing to reset.
    attached_.erase(s);
    events_.erase(s);
    if (s->id_ >= 0) by_id_.erase(s->id_);
    // The body is framed again from its first byte (kept since: replay_).
    s->id_ = -1;
    s->body_off_ = 0;
    s->deferred_ = false;
    s->closed_ = false;
    if (attached_.empty()) idle_since_ = w_->Now();
    ++s->resends_;
    s->up_->owner->CountRetry();
    next->attached_.insert(s);
    ++next->streams_opened_;
    s->session_ = next;
    if (!next->ready()) {
      s->waiting_ = true;
      next->waiting_.push_back(s);
    } else if (!s->SubmitRequest()) {
      s->Fail(UpstreamError::kReset, true);
    } else if (next == this) {
      here = true;
    } else {
      next->ScheduleFlush();
    }
  }
  return here;
}

bool H2UpSession::SubmitWaiting() {
  if (waiting_.empty() || dead_ || !ready()) return false;
  std::vector<H2UpStream*> waiting;
  waiting.swap(waiting_);
  for (H2UpStream* s : waiting) {
    s->waiting_ = false;
    if (s->failed_) continue;
    if (!s->SubmitRequest()) s->Fail(UpstreamError::kReset, true);
  }
  return true;
}

void H2UpSession::MaybeRetire() {
  if (!dead_ || !attached_.empty() || retired_ || in_pump_) return;
  retired_ = true;
  w_->RetireH2Upstream(b_, this);  // destroyed after the current callback
}

void H2UpSession::CheckTimeout(MonoTime now) {
  if (dead_) {
    MaybeRetire();
    return;
  }
  if ((!established_ || !settings_seen_) && now >= connect_deadline_) {
    // No connection in time, or a peer that never sent its SETTINGS (not an HTTP/2 server).
    Fail(established_ ? UpstreamError::kBadResponse : UpstreamError::kConnectTimeout);
    Pump();
    return;
  }
  if (attached_.empty() && now - idle_since_ >= w_->options().idle_timeout) CloseIfIdle();
}

void H2UpSession::CloseIfIdle() {
  if (!attached_.empty() || dead_) return;
  if (session_ && established_) {
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    Flush();  // best effort: the GOAWAY
  }
  Fail(UpstreamError::kReset);
  MaybeRetire();
}

void H2UpSession::Close() {
  for (H2UpStream* s : attached_) {
    if (!s->ended_ && !s->failed_) {
      s->failed_ = true;
      s->up_->failure = UpstreamError::kReset;
    }
    s->session_ = nullptr;
  }
  attached_.clear();
  by_id_.clear();
  events_.clear();
  refused_.clear();
  waiting_.clear();
  dead_ = true;
  if (fd_ >= 0) {
    w_->loop()->Remove(fd_);
    tls_ = nullptr;
    tr_.reset();
    close(fd_);
    fd_ = -1;
  }
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
}

// ---------------------------------------------------------------------------------------------

H2UpSession* PickH2Session(Worker* w, BackendState* b, int* err) {
  H2UpSession* best = nullptr;
  H2UpSession* any = nullptr;
  size_t accepting = 0;
  for (const auto& s : b->h2) {
    if (!s->accepting()) continue;
    ++accepting;
    if (!any || s->load() < any->load()) any = s.get();
    if (s->load() < s->capacity() && (!best || s->load() < best->load())) best = s.get();
  }
  if (!best && accepting < H2UpSession::kMaxSessions) {
    auto s = std::make_unique<H2UpSession>(w, b);
    if (!s->Connect(err)) return nullptr;
    best = s.get();
    b->h2.push_back(std::move(s));
  }
  // Every session full: nghttp2 holds the request until one of the least loaded's streams ends.
  return best ? best : any;
}

std::unique_ptr<UpstreamConn> OpenH2Stream(Worker* w, BackendState* b, ClientConn* owner,
                                           int* err) {
  H2UpSession* best = PickH2Session(w, b, err);
  if (!best) return nullptr;
  auto u = std::make_unique<UpstreamConn>();
  u->backend = b;
  u->owner = owner;
  u->tcp_connected = true;
  // Else Handshake() waits for the session's connection (called back from its events: never
  // completed inside the ClientConn's Dispatch, which is still sending the request).
  u->connected = best->ready();
  u->writable = u->connected;
  u->tr = best->NewStream(u.get());
  return u;
}

}  // namespace slipway::proxy
