// ClientConn, upstream half: connecting or reusing an upstream connection, sending the
// request, reading and forwarding the response, tunnels, failures and retries. Same thread
// rules as client_conn.h.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "http/serializer.h"
#include "http/websocket.h"
#include "proxy/client_conn.h"
#include "proxy/exchange.h"

namespace slipway::proxy {

namespace {

// The upstream's 101 completes the WebSocket handshake the proxy opened with `ex.ws_key`.
bool WebSocketAccepted(const Exchange& ex) {
  const std::optional<std::string_view> accept = ex.resp.Header("sec-websocket-accept");
  return !ex.ws_key.empty() && accept && *accept == http::WebSocketAccept(ex.ws_key) &&
         http::EqualsIgnoreCase(ex.resp.Header("upgrade").value_or(""), "websocket");
}

}  // namespace

void ClientConn::Dispatch() {
  Exchange& ex = *ex_;
  const ProxyOptions& opt = w_->options();
  ex.resp.Reset();
  ex.resp.SetRequestMethod(ex.method);
  ex.up_out.clear();
  ex.up_out_off = 0;
  ex.up = w_->TakeIdle(ex.backend);
  if (ex.up) {
    ex.up->owner = this;
    SetDeadline(ex.req_done ? Deadline::kRespHead : Deadline::kRequest,
                ex.req_done ? opt.response_head_timeout : opt.request_timeout);
    SendUpstream(ex.up_head);
    return;
  }
  int err = 0;
  ex.up = w_->Connect(ex.backend, this, &err);
  if (!ex.up) {
    OnUpstreamFailure(err == ECONNREFUSED ? UpstreamError::kConnectRefused : UpstreamError::kReset);
    return;
  }
  // The connect timeout covers the TLS handshake too. A stream on an HTTP/2 session that is
  // already established is connected at once.
  if (ex.up->connected) {
    SetDeadline(ex.req_done ? Deadline::kRespHead : Deadline::kRequest,
                ex.req_done ? opt.response_head_timeout : opt.request_timeout);
  } else {
    SetDeadline(Deadline::kConnect, opt.connect_timeout);
  }
  SendUpstream(ex.up_head);  // queued until the connection is ready
  if (ex.up->tcp_connected && !ex.up->connected) ContinueUpstreamHandshake();
}

bool ClientConn::ContinueUpstreamHandshake() {
  UpstreamConn& u = *ex_->up;
  net::IoResult r = u.tr->Handshake();
  if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return false;
  if (r.status != net::IoStatus::kOk) {
    OnUpstreamFailure(u.failure.value_or(UpstreamError::kTls));
    return false;
  }
  u.connected = true;
  u.writable = true;
  u.readable = true;  // the handshake's last flight may have brought more (session tickets)
  SetDeadline(ex_->req_done ? Deadline::kRespHead : Deadline::kRequest,
              ex_->req_done ? w_->options().response_head_timeout : w_->options().request_timeout);
  FlushUpstream();
  if (fd_ >= 0 && ex_ && ex_->up && ex_->up->readable) ReadUpstream();
  return fd_ >= 0 && ex_ && ex_->up;
}

void ClientConn::SendUpstream(std::string_view data) {
  Exchange& ex = *ex_;
  if (!ex.up) return;  // closed after an early response; the body is dropped
  UpstreamConn& u = *ex.up;
  size_t sent = 0;
  if (u.connected && u.writable && !u.write_wants_read && ex.up_out_off == ex.up_out.size()) {
    net::IoResult r = u.tr->Write(data.data(), data.size());
    if (r.status == net::IoStatus::kError || r.status == net::IoStatus::kEof) {
      // Reported by the read side (EOF/reset) with the right error kind.
      u.writable = false;
      ex.up_out.append(data);
      return;
    }
    if (r.status == net::IoStatus::kWantRead) u.write_wants_read = true;
    sent = r.bytes;
    if (sent < data.size()) u.writable = false;
    if (sent == data.size()) return;
  }
  if (ex.up_out_off == ex.up_out.size()) {
    ex.up_out.clear();
    ex.up_out_off = 0;
  }
  ex.up_out.append(data.substr(sent));
}

void ClientConn::FlushUpstream() {
  Exchange& ex = *ex_;
  UpstreamConn& u = *ex.up;
  while (ex.up_out_off < ex.up_out.size() && u.connected && u.writable && !u.write_wants_read) {
    net::IoResult r =
        u.tr->Write(ex.up_out.data() + ex.up_out_off, ex.up_out.size() - ex.up_out_off);
    if (r.status == net::IoStatus::kOk) {
      ex.up_out_off += r.bytes;
      continue;
    }
    u.writable = false;
    if (r.status == net::IoStatus::kWantRead) u.write_wants_read = true;
    if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) break;
    return;  // the read side reports it
  }
  if (ex.up_out_off == ex.up_out.size()) {
    std::string().swap(ex.up_out);
    ex.up_out_off = 0;
    if (eof_ && phase_ == Phase::kTunnel && stream_) {
      ShutUpstreamWriteWhenFlushed();
      return;
    }
    if (readable_ && !ClientReadPaused()) ReadClient();
  }
}

void ClientConn::ShutUpstreamWriteWhenFlushed() {
  Exchange& ex = *ex_;
  if (!ex.up || ex.up_write_shut || ex.up_out_off != ex.up_out.size()) return;
  ex.up_write_shut = true;
  ex.up->tr->ShutdownWrite();
}

void ClientConn::OnUpstreamEvent(uint32_t events) {
  if (!ex_ || !ex_->up) return;
  UpstreamConn& u = *ex_->up;
  if (!u.tcp_connected) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(u.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      OnUpstreamFailure(err == ECONNREFUSED ? UpstreamError::kConnectRefused
                                            : UpstreamError::kReset);
      return;
    }
    u.tcp_connected = true;
    if (!u.backend->tls) {
      u.connected = true;
      SetDeadline(
          ex_->req_done ? Deadline::kRespHead : Deadline::kRequest,
          ex_->req_done ? w_->options().response_head_timeout : w_->options().request_timeout);
    }
  }
  if (!u.connected) {
    // TLS handshake: any edge may let it progress; it reads and writes what it needs.
    ContinueUpstreamHandshake();
    return;
  }
  const bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  bool retry_read = false;
  if (events & EPOLLOUT) {
    u.writable = true;
    if (u.read_wants_write) {
      u.read_wants_write = false;
      retry_read = true;
    }
    FlushUpstream();
    if (fd_ < 0 || !ex_ || !ex_->up) return;
  }
  if (in && ex_->up->write_wants_read) {
    ex_->up->write_wants_read = false;
    ex_->up->writable = true;
    FlushUpstream();
    if (fd_ < 0 || !ex_ || !ex_->up) return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ex_->up->peer_closed = true;
  if (in || retry_read) {
    ex_->up->readable = true;
    ReadUpstream();
  }
}

void ClientConn::ReadUpstream() {
  char* buf = w_->upstream_scratch();
  for (int i = 0; i < 64 && fd_ >= 0 && ex_ && ex_->up && ex_->up->readable; ++i) {
    if (out_.size() - out_off_ > w_->options().max_buffer_bytes) return;  // back-pressure
    net::IoResult r = ex_->up->tr->Read(buf, Worker::kScratch);
    if (r.status == net::IoStatus::kOk) {
      // A short read drained the socket; edge-triggering reports the next arrival, unless
      // the FIN came with this edge: then the EOF is read now.
      if (r.drained && !ex_->up->peer_closed) ex_->up->readable = false;
      OnUpstreamData(std::string_view(buf, r.bytes));
      if (i == 63 && fd_ >= 0 && ex_ && ex_->up && ex_->up->readable) ScheduleResume();
      continue;
    }
    ex_->up->readable = false;
    if (r.status == net::IoStatus::kWantRead) return;
    if (r.status == net::IoStatus::kWantWrite) {
      ex_->up->read_wants_write = true;
      ex_->up->writable = false;
      return;
    }
    if (r.status == net::IoStatus::kError && phase_ == Phase::kTunnel && stream_) {
      // A reset, not an end: the stream is reset too (RST_STREAM CONNECT_ERROR, RFC 9113 8.5)
      // rather than ended as if the upstream had finished.
      CloseNow();
      return;
    }
    OnUpstreamEof();  // EOF, reset or a TLS error
    return;
  }
}

void ClientConn::OnUpstreamData(std::string_view data) {
  Exchange& ex = *ex_;
  ex.resp_started = true;
  if (phase_ == Phase::kTunnel) {
    SetDeadline(Deadline::kTunnel, w_->options().tunnel_idle_timeout);
    SendClient(data);
    return;
  }
  if (ex.head_sent && !ex.resp_done) {
    FeedResponseBody({}, data);
    return;
  }
  if (ex.resp_done) {
    ex.up_reusable = false;  // bytes after a complete response: do not trust this connection
    return;
  }
  std::string holder;
  std::string_view buf = data;
  if (!ex.up_in.empty()) {
    ex.up_in.append(data);
    holder.swap(ex.up_in);
    buf = holder;
  }
  std::string& head = w_->head_scratch();
  // Interim 1xx responses are forwarded and followed by the real one; bounded by the data.
  for (int guard = 0; guard < 16; ++guard) {
    http::ParseStatus st = ex.resp.Parse(buf);
    if (st == http::ParseStatus::kNeedMore) {
      ex.up_in.assign(buf);
      return;
    }
    if (st == http::ParseStatus::kError) {
      ex.up_reusable = false;
      OnUpstreamFailure(UpstreamError::kBadResponse);
      return;
    }
    int code = ex.resp.status_code();
    std::string_view rest = buf.substr(ex.resp.head_size());
    if (code == 101 && !ex.upgrade) {
      // A switch the request did not ask for (RFC 9110 section 15.2.2): the connection now
      // speaks something else, so nothing after it can be trusted as a response.
      ex.up_reusable = false;
      OnUpstreamFailure(UpstreamError::kBadResponse);
      return;
    }
    if (code == 101 && ex.upgrade && stream_ && !WebSocketAccepted(ex)) {
      // The proxy opened this handshake (an HTTP/2 stream's extended CONNECT): an answer
      // that does not prove the upstream understood it is refused as a client would
      // (RFC 6455 4.1), and the connection, now speaking who knows what, is closed.
      ex.up_reusable = false;
      Metrics().CountError(w_->index(), UpstreamError::kBadResponse);
      RespondLocal(502,
                   "upstream answered the WebSocket handshake with a wrong Sec-WebSocket-Accept\n",
                   "text/plain", "", true);
      return;
    }
    if (code == 101 && ex.upgrade) {
      BuildClientHead(ex.resp, false, true, &head);
      SendClient(head);
      ex.status = 101;
      ex.head_sent = true;
      StartTunnel(rest);
      return;
    }
    if (code >= 100 && code < 200) {
      BuildClientHead(ex.resp, false, false, &head);
      SendClient(head);
      if (fd_ < 0) return;
      ex.resp.Reset();
      ex.resp.SetRequestMethod(ex.method);
      buf = rest;
      if (buf.empty()) return;
      continue;
    }
    ex.status = code;
    ex.dechunk = parser_.version_minor() == 0 && ex.resp.body_kind() == http::BodyKind::kChunked;
    bool close = ex.close_client || w_->draining_ || !parser_.KeepAlive() || !ex.resp.KeepAlive() ||
                 ex.wt->listeners[ex.listener].closed || ex.set_draining() ||
                 ex.resp.body_kind() == http::BodyKind::kUntilClose || !ex.req_done || ex.dechunk;
    if (!ex.resp.KeepAlive()) ex.up_reusable = false;
    ex.close_client = close;
    BuildClientHead(ex.resp, close, false, &head);
    ex.head_sent = true;
    ex.resp_body.Start(ex.resp.body_kind(), ex.resp.content_length());
    SetDeadline(Deadline::kRequest, w_->options().request_timeout);
    if (ex.resp_body.done()) {
      SendClient(head);
      if (!rest.empty()) ex.up_reusable = false;
      if (fd_ >= 0) {
        ex.resp_done = true;
        FinishExchange();
      }
      return;
    }
    // Send the head together with the first body bytes (one writev).
    FeedResponseBody(head, rest);
    return;
  }
  OnUpstreamFailure(UpstreamError::kBadResponse);
}

// Forwards the body bytes in `data` (after `head`, which may be empty) as received, or decoded
// for an HTTP/1.0 client of a chunked response (that client cannot parse chunks; the end of
// its body is the end of the connection). A trailer section goes on without the fields
// trailers must not carry (BodyFeed).
void ClientConn::FeedResponseBody(std::string_view head, std::string_view data) {
  Exchange& ex = *ex_;
  const BodyFeed feed = FeedBody(&ex.resp_body, data, ex.dechunk);
  const std::string_view body =
      ex.dechunk ? std::string_view(feed.decoded) : data.substr(0, feed.forward);
  if (feed.tail.empty()) {
    SendClient(head, body);
  } else {
    // Only the feed that ends a message with trailers is copied, to keep one write.
    std::string last(body);
    last += feed.tail;
    SendClient(head, last);
  }
  if (fd_ < 0) return;
  if (feed.error) {
    Metrics().CountError(w_->index(), UpstreamError::kBadResponse);
    CloseNow();  // the client sees a truncated body, never a forged end
    return;
  }
  if (feed.done) {
    if (feed.used < data.size()) ex.up_reusable = false;
    ex.resp_done = true;
    FinishExchange();
  }
}

void ClientConn::BuildClientHead(const http::ResponseParser& resp, bool close, bool upgrade,
                                 std::string* out) {
  std::string& h = *out;
  h.clear();
  h.reserve(resp.head_size() + 64);
  h += "HTTP/1.1 ";
  h += std::to_string(resp.status_code());
  h += ' ';
  h += resp.reason();
  h += "\r\n";
  std::string_view connection = resp.Header("connection").value_or("");
  for (const http::HeaderView& f : resp.headers()) {
    if (IsHopByHop(f.name)) continue;
    if (!connection.empty() && http::HasToken(connection, f.name)) continue;
    if (ex_ && ex_->dechunk && http::EqualsIgnoreCase(f.name, "transfer-encoding")) continue;
    h += f.name;
    h += ": ";
    h += f.value;
    h += "\r\n";
  }
  if (upgrade) {
    h += "Connection: upgrade\r\nUpgrade: ";
    h += resp.Header("upgrade").value_or("");
    h += "\r\n";
  } else if (close) {
    h += "Connection: close\r\n";
  }
  if (ex_ && !ex_->set_cookie.empty() && resp.status_code() >= 200) h += ex_->set_cookie;
  if (std::string_view hsts = Hsts(); !hsts.empty() && !resp.Header("strict-transport-security")) {
    h += "Strict-Transport-Security: ";
    h += hsts;
    h += "\r\n";
  }
  h += "\r\n";
}

void ClientConn::StartTunnel(std::string_view rest) {
  phase_ = Phase::kTunnel;
  Exchange& ex = *ex_;
  ex.up_reusable = false;
  Metrics().CountResponse(w_->index(), 101,
                          std::chrono::duration<double>(w_->Now() - head_start_).count());
  SetDeadline(Deadline::kTunnel, w_->options().tunnel_idle_timeout);
  if (!rest.empty()) SendClient(rest);
  if (fd_ < 0) return;
  if (!in_.empty()) {
    std::string pending;
    pending.swap(in_);
    SendUpstream(pending);
  }
  if (readable_) ReadClient();
}

void ClientConn::OnUpstreamEof() {
  Exchange& ex = *ex_;
  if (phase_ == Phase::kTunnel) {
    w_->CloseUpstream(std::move(ex.up));
    CloseAfterFlush();
    return;
  }
  if (ex.head_sent && !ex.resp_done) {
    if (ex.resp_body.Finish() == http::BodyReader::State::kDone) {
      ex.up_reusable = false;
      ex.resp_done = true;
      FinishExchange();
    } else {
      Metrics().CountError(w_->index(), UpstreamError::kReset);
      CloseNow();  // the client sees a truncated body, never a forged end
    }
    return;
  }
  if (ex.resp_done) {
    ex.up_reusable = false;
    return;
  }
  // An HTTP/2 stream says what failed (a reset stream, a header block too large).
  OnUpstreamFailure(ex.up && ex.up->failure ? *ex.up->failure : UpstreamError::kReset);
}

void ClientConn::OnUpstreamFailure(UpstreamError kind) {
  Exchange& ex = *ex_;
  const ProxyOptions& opt = w_->options();
  bool fresh = ex.up && !ex.up->reused;
  bool was_reused = ex.up && ex.up->reused;
  if (ex.up) w_->CloseUpstream(std::move(ex.up));
  bool nothing_received = !ex.resp_started;
  // A pooled connection the backend closed meanwhile: not the backend's fault, resend once.
  if (was_reused && kind == UpstreamError::kReset && nothing_received && ex.replayable &&
      !ex.stale_retry_used) {
    ex.stale_retry_used = true;
    Dispatch();
    return;
  }
  Metrics().CountError(w_->index(), kind);
  if (kind == UpstreamError::kConnectRefused || (kind == UpstreamError::kReset && fresh) ||
      kind == UpstreamError::kConnectTimeout || kind == UpstreamError::kTls)
    ex.backend->health.down_until = w_->Now() + opt.passive_down;
  bool retryable = kind == UpstreamError::kConnectRefused || kind == UpstreamError::kReset ||
                   kind == UpstreamError::kConnectTimeout || kind == UpstreamError::kTls;
  if (retryable && nothing_received && ex.replayable && !ex.retried) {
    WorkerRoute& wr = ex.worker_route();
    Balancer::Pick pick = wr.balancer.Select(w_->Now(), -1, &ex.backend->health);
    if (pick.ok()) {
      BackendState* next = wr.sets[pick.set].backends[pick.backend];
      // The same backend only when it is its set's one choice and the listener asks for it
      // (Listener::retry_same_backend).
      const Listener* listener = ListenerOf();
      if (next != ex.backend ||
          (wr.sets[pick.set].backends.size() == 1 && listener && listener->retry_same_backend)) {
        ex.retried = true;
        Metrics().retries->Add(w_->index());
        ex.backend->health.active--;
        ex.set = pick.set;
        ex.backend = next;
        ex.backend->health.active++;
        Dispatch();
        return;
      }
    }
  }
  if (ex.head_sent) {
    CloseNow();
    return;
  }
  int status = 502;
  std::string body = "upstream connection failed\n";
  switch (kind) {
    case UpstreamError::kConnectRefused:
      body = "upstream refused the connection\n";
      break;
    case UpstreamError::kConnectTimeout:
      status = 504;
      body = "upstream connect timed out\n";
      break;
    case UpstreamError::kResponseTimeout:
      status = 504;
      body = "upstream response timed out\n";
      break;
    case UpstreamError::kBadResponse:
      body = "upstream sent an invalid response\n";
      break;
    case UpstreamError::kReset:
      body = "upstream closed the connection before a response\n";
      break;
    case UpstreamError::kTls:
      body = "upstream TLS handshake failed\n";
      break;
    default:
      break;
  }
  RespondLocal(status, body, "text/plain", "", !ex.req_done);
}

}  // namespace slipway::proxy
