#include "proxy/client_conn.h"

#include <arpa/inet.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_received (glibc's lacks it)
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "acme/challenge.h"
#include "http/serializer.h"
#include "net/tls_transport.h"
#include "proxy/exchange.h"

namespace slipway::proxy {
namespace {

bool Idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" || m == "DELETE" || m == "TRACE";
}

std::string_view CookieValue(std::string_view cookies, std::string_view name) {
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string_view::npos) end = cookies.size();
    std::string_view kv = cookies.substr(pos, end - pos);
    while (!kv.empty() && kv.front() == ' ') kv.remove_prefix(1);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, eq) == name) return kv.substr(eq + 1);
    pos = end + 1;
  }
  return {};
}

// True when the kernel has received no byte on TCP socket `fd` (read or not): the client has
// sent nothing since the connection was made. False when unknown.
bool NothingReceived(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  // tcpi_bytes_received appeared in Linux 4.1; an older kernel fills less than that.
  if (len < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
    return false;
  }
  return info.tcpi_bytes_received == 0;
}

}  // namespace

BodyFeed FeedBody(http::BodyReader* reader, std::string_view data, bool decode) {
  BodyFeed f;
  // Where the trailer section starts in `data` (0: in an earlier feed), once it has.
  bool in_section = reader->in_trailers();
  size_t section = 0;
  while (f.used < data.size()) {
    const http::BodyReader::Step step = reader->Decode(data.substr(f.used));
    f.used += step.consumed;
    if (decode) f.decoded.append(step.data);
    // The decoder ends a step where the section starts (ChunkedDecoder::in_trailers).
    if (!in_section && reader->in_trailers()) {
      in_section = true;
      section = f.used;
    }
    if (step.state == http::BodyReader::State::kDone) {
      f.done = true;
      break;
    }
    if (step.state == http::BodyReader::State::kError) {
      f.error = true;
      break;
    }
    if (step.consumed == 0) break;
  }
  f.forward = in_section ? section : f.used;
  if (!f.done || !in_section || decode) return f;
  const auto& trailers = reader->trailers();
  if (trailers.empty() && f.used - section == 2) {
    f.forward = f.used;  // no trailer fields: the final CRLF as received
    return f;
  }
  for (const auto& [name, value] : trailers) {
    if (http::ForbiddenInTrailers(name)) continue;
    f.tail.append(name).append(": ").append(value).append("\r\n");
  }
  f.tail.append("\r\n");
  return f;
}

ClientConn::ClientConn(Worker* w, int fd, std::unique_ptr<net::Transport> transport, int slot,
                       uint32_t peer_ipv4, telemetry::Gauge* active)
    : w_(w),
      fd_(fd),
      tr_(std::move(transport)),
      slot_(slot),
      peer_ipv4_(peer_ipv4),
      active_(active),
      stream_(fd == kStreamFd),
      parser_(w->options().limits) {
  static_assert(sizeof peer_ip_ >= INET_ADDRSTRLEN);
  peer_ip_[0] = '\0';
  inet_ntop(AF_INET, &peer_ipv4_, peer_ip_, sizeof peer_ip_);  // not per request: it formats
  static thread_local uint64_t next_id = 1;
  id_ = next_id++;
  if (active_) active_->Add(w_->index(), 1);
  if (stream_) w_->stream_conns_.insert(this);
  if (tr_->secure()) {
    // A client that never finishes its handshake is a slowloris too.
    phase_ = Phase::kHandshake;
    SetDeadline(Deadline::kHandshake, w_->options().head_timeout);
  } else {
    SetDeadline(Deadline::kIdle, w_->options().idle_timeout);
  }
}

ClientConn::~ClientConn() {
  CloseNow();
  if (stream_) w_->stream_conns_.erase(this);
}

const SetMetrics& ClientConn::Metrics() const {
  const CompiledTable& c = *ex_->wt->compiled;
  if (ex_->route < 0) return c.unmatched;
  const auto& r = c.listeners[ex_->listener].routes[ex_->route];
  return ex_->set < 0 ? r.no_set : r.sets[ex_->set].metrics;
}

void ClientConn::CountRetry() const {
  if (ex_) Metrics().retries->Add(w_->index());
}

void ClientConn::SetDeadline(Deadline kind, Duration after) {
  dkind_ = kind;
  if (kind == Deadline::kNone || after.count() <= 0) {
    dkind_ = Deadline::kNone;
    return;
  }
  MonoTime d = w_->Now() + after;
  // The whole-request timeout caps every phase of an exchange.
  if (ex_ && w_->options().request_timeout.count() > 0 && kind != Deadline::kTunnel &&
      kind != Deadline::kLinger) {
    MonoTime cap = head_start_ + w_->options().request_timeout;
    if (cap < d) {
      d = cap;
      dkind_ = Deadline::kRequest;
    }
  }
  deadline_ = d;
}

void ClientConn::CloseNow() {
  if (fd_ < 0) return;
  if (ex_) {
    // ex_ itself lives until the destructor: callers up the stack may still hold it.
    if (ex_->up) w_->CloseUpstream(std::move(ex_->up));
    if (ex_->backend) ex_->backend->health.active--;
    ex_->backend = nullptr;
  }
  if (!stream_) w_->loop()->Remove(fd_);
  tr_.reset();  // before the fd it speaks through closes (a stream's tells its H2Conn)
  if (!stream_) close(fd_);
  fd_ = -1;
  if (active_) active_->Add(w_->index(), -1);
  w_->Retire(this);
}

// ---------------------------------------------------------------- client side

void ClientConn::OnEvent(uint32_t events) {
  if (phase_ == Phase::kHandshake) {
    DoHandshake();
    return;
  }
  const bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  bool retry_read = false;
  if (events & EPOLLOUT) {
    writable_ = true;
    if (read_wants_write_) {
      read_wants_write_ = false;
      retry_read = true;
    }
    FlushClient();
  }
  if (in && write_wants_read_) {
    write_wants_read_ = false;
    writable_ = true;
    FlushClient();
  }
  if (fd_ >= 0 && (in || retry_read)) {
    readable_ = true;
    ReadClient();
  }
}

void ClientConn::DoHandshake() {
  net::IoResult r = tr_->Handshake();
  switch (r.status) {
    case net::IoStatus::kOk:
      if (!stream_) {
        if (auto* tls = dynamic_cast<net::TlsTransport*>(tr_.get()); tls && tls->alpn() == "h2") {
          // HTTP/2 from here on: the connection moves, fd and transport, to an H2Conn.
          const int fd = fd_;
          fd_ = -1;
          w_->StartH2(fd, std::move(tr_), slot_, peer_ipv4_, active_);
          w_->Retire(this);
          return;
        }
      }
      phase_ = Phase::kIdle;
      SetDeadline(Deadline::kIdle, w_->options().idle_timeout);
      // The client's first request may already sit decrypted-to-be in the transport.
      readable_ = true;
      writable_ = true;
      ReadClient();
      return;
    case net::IoStatus::kWantRead:
    case net::IoStatus::kWantWrite:
      return;  // the next edge of the fd resumes it
    default:
      // A failed handshake: nothing can be said to this client. kEof: a TLS-ALPN-01
      // validation, which is its handshake alone (net/tls_alpn_challenges.h).
      CloseNow();
      return;
  }
}

bool ClientConn::ClientReadPaused() const {
  switch (phase_) {
    case Phase::kExchange:
      return ex_->req_done || ex_->up_out.size() - ex_->up_out_off > w_->options().max_buffer_bytes;
    case Phase::kTunnel:
      return ex_->up_out.size() - ex_->up_out_off > w_->options().max_buffer_bytes;
    case Phase::kClosing:
      return true;
    default:
      return out_.size() - out_off_ > w_->options().max_buffer_bytes;
  }
}

void ClientConn::ReadClient() {
  char* buf = w_->client_scratch();
  for (int i = 0; i < 64 && fd_ >= 0 && readable_ && !ClientReadPaused(); ++i) {
    net::IoResult r = tr_->Read(buf, Worker::kScratch);
    if (r.status == net::IoStatus::kOk) {
      // A short read drained the socket; edge-triggering reports the next arrival.
      if (r.drained) readable_ = false;
      OnClientData(std::string_view(buf, r.bytes));
      if (i == 63 && fd_ >= 0 && readable_) ScheduleResume();  // fairness cap, not drained
      continue;
    }
    readable_ = false;
    if (r.status == net::IoStatus::kWantRead) return;
    if (r.status == net::IoStatus::kWantWrite) {
      read_wants_write_ = true;
      writable_ = false;
      return;
    }
    // EOF or error.
    eof_ = true;
    if (r.status == net::IoStatus::kError) {
      CloseNow();
      return;
    }
    if (phase_ == Phase::kTunnel && stream_) {
      // An HTTP/2 stream's END_STREAM ends one direction only (RFC 9113 8.5): the upstream
      // gets a FIN once what it is owed is written, and its answer still comes back.
      ShutUpstreamWriteWhenFlushed();
    } else if (phase_ == Phase::kTunnel) {
      CloseAfterFlush();
    } else if (phase_ == Phase::kExchange && ex_->req_done) {
      ex_->close_client = true;  // a complete request is in flight: answer it, then close
    } else {
      CloseNow();
    }
    return;
  }
}

void ClientConn::OnClientData(std::string_view data) {
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kHead: {
      if (in_.empty()) {
        std::string none;
        HandleHead(none, data);
      } else {
        in_.append(data);
        std::string holder;
        holder.swap(in_);
        HandleHead(holder, holder);
      }
      return;
    }
    case Phase::kExchange:
      FeedRequestBody(data);
      return;
    case Phase::kTunnel:
      ex_->bytes_in += data.size();
      SetDeadline(Deadline::kTunnel, w_->options().tunnel_idle_timeout);
      SendUpstream(data);
      return;
    case Phase::kHandshake:
    case Phase::kClosing:
    case Phase::kLinger:
      return;  // discarded: we are closing
  }
}

// `buf` is the start of a message (in `owner` or in scratch memory). Parses the head; keeps
// what must wait in in_.
void ClientConn::HandleHead(std::string& owner, std::string_view buf) {
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kHead;
    head_start_ = w_->Now();
    SetDeadline(Deadline::kHead, w_->options().head_timeout);
  }
  http::ParseStatus st = parser_.Parse(buf);
  if (st == http::ParseStatus::kNeedMore) {
    if (owner.data() == buf.data()) {
      in_.swap(owner);
    } else {
      in_.assign(buf);
    }
    return;
  }
  if (st == http::ParseStatus::kError) {
    int code = parser_.error_status();
    RespondLocal(code, http::ReasonPhrase(code), "text/plain", "", true);
    return;
  }
  StartExchange(buf);
}

void ClientConn::ScheduleResume() {
  if (resume_scheduled_) return;
  resume_scheduled_ = true;
  Worker* w = w_;
  ClientConn* self = this;
  uint64_t id = id_;
  w_->loop()->RunAfter(Duration(0), [w, self, id] {
    if ((!w->conns_.count(self) && !w->stream_conns_.count(self)) || self->id() != id ||
        self->closed())
      return;
    self->resume_scheduled_ = false;
    self->ProcessBuffered();
    if (!self->closed()) self->ReadClient();
    if (!self->closed() && self->ex_ && self->ex_->up && self->ex_->up->readable)
      self->ReadUpstream();
  });
}

void ClientConn::ProcessBuffered() {
  // Bounded: each round either starts an exchange or waits for more bytes.
  for (int i = 0; i < 64 && fd_ >= 0 && phase_ == Phase::kIdle && !in_.empty(); ++i) {
    std::string holder;
    holder.swap(in_);
    HandleHead(holder, holder);
    if (phase_ == Phase::kHead) return;  // incomplete: waits in in_
  }
}

void ClientConn::FeedRequestBody(std::string_view data) {
  BodyFeed feed;
  if (!ex_->req_done) feed = FeedBody(&ex_->req_body, data, false);
  if (feed.error) {
    int code = ex_->req_body.error_status();
    if (code == 0) code = 400;
    ex_->up_reusable = false;
    if (!ex_->head_sent) {
      if (ex_->up) w_->CloseUpstream(std::move(ex_->up));
      RespondLocal(code, http::ReasonPhrase(code), "text/plain", "", true);
    } else {
      CloseNow();
    }
    return;
  }
  if (feed.done) {
    ex_->req_done = true;
    if (dkind_ == Deadline::kRequest || dkind_ == Deadline::kNone)
      SetDeadline(Deadline::kRespHead, w_->options().response_head_timeout);
  }
  ex_->bytes_in += feed.used;
  if (feed.forward > 0) SendUpstream(data.substr(0, feed.forward));
  if (!feed.tail.empty()) SendUpstream(feed.tail);  // the trailer section, forbidden fields out
  if (fd_ < 0 || !ex_) return;
  if (feed.used < data.size()) in_.append(data.substr(feed.used));  // the next (pipelined) request
}

void ClientConn::SendClient(std::string_view a, std::string_view b) {
  if (fd_ < 0) return;
  if (ex_) ex_->bytes_out += a.size() + b.size();
  size_t total = a.size() + b.size();
  size_t sent = 0;
  if (out_off_ == out_.size() && writable_) {
    iovec iov[2] = {{const_cast<char*>(a.data()), a.size()},
                    {const_cast<char*>(b.data()), b.size()}};
    int cnt = b.empty() ? 1 : 2;
    net::IoResult r = tr_->Writev(iov, cnt);
    if (r.status == net::IoStatus::kError || r.status == net::IoStatus::kEof) {
      CloseNow();
      return;
    }
    if (r.status == net::IoStatus::kWantRead) write_wants_read_ = true;
    sent = r.bytes;
    if (sent < total) writable_ = false;
    if (sent == total) return;
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
  if (sent < a.size()) {
    out_.append(a.substr(sent));
    out_.append(b);
  } else {
    out_.append(b.substr(sent - a.size()));
  }
}

void ClientConn::FlushClient() {
  if (fd_ >= 0 && !tr_->WriteQueued(out_, &out_off_, &writable_, &write_wants_read_)) {
    CloseNow();
    return;
  }
  if (fd_ < 0) return;
  if (out_off_ == out_.size()) {
    // Give the memory back: an idle connection should cost next to nothing.
    std::string().swap(out_);
    out_off_ = 0;
    if (phase_ == Phase::kClosing) {
      Linger();
      return;
    }
  }
  // The client drained: resume the upstream side if it was paused on us.
  if (ex_ && ex_->up && ex_->up->readable &&
      out_.size() - out_off_ <= w_->options().max_buffer_bytes)
    ReadUpstream();
}

void ClientConn::CloseAfterFlush() {
  if (fd_ < 0) return;
  phase_ = Phase::kClosing;
  if (ex_ && ex_->up) w_->CloseUpstream(std::move(ex_->up));
  if (out_off_ == out_.size()) Linger();
}

// Half-closes and keeps reading (and dropping) for a moment, so a client still sending does
// not get a reset that would destroy the response it has not read yet.
void ClientConn::Linger() {
  if (stream_) {
    // Tells the H2Conn the response is complete (its end of stream), which then closes us.
    tr_->ShutdownWrite();
    if (eof_) CloseNow();
    return;
  }
  if (eof_) {
    CloseNow();
    return;
  }
  phase_ = Phase::kLinger;
  tr_->ShutdownWrite();
  dkind_ = Deadline::kLinger;
  deadline_ = w_->Now() + Duration(2000);
  if (readable_) ReadClient();
}

void ClientConn::CheckTimeout(MonoTime now) {
  if (fd_ < 0 || dkind_ == Deadline::kNone || now < deadline_) return;
  switch (dkind_) {
    case Deadline::kHandshake:
      CloseNow();  // no TLS session to answer 408 through
      return;
    case Deadline::kHead:
      RespondLocal(408, "request head timed out\n", "text/plain", "", true);
      return;
    case Deadline::kConnect:
      OnUpstreamFailure(UpstreamError::kConnectTimeout);
      return;
    case Deadline::kRespHead:
      OnUpstreamFailure(UpstreamError::kResponseTimeout);
      return;
    case Deadline::kRequest:
      if (ex_ && !ex_->head_sent) {
        OnUpstreamFailure(UpstreamError::kResponseTimeout);
      } else {
        CloseNow();
      }
      return;
    default:
      CloseNow();
      return;
  }
}

void ClientConn::OnDrain(bool close_idle) {
  // For a handover nothing is closed here: closing an idle keep-alive connection races with a
  // request the client is sending on it, while a successor would serve it. Every connection's
  // next answer carries "Connection: close" (as HAProxy's soft stop does); one that never
  // speaks again ends at its idle timeout or when the owner stops the proxy. A process that
  // exits has no successor: a kept-alive connection with nothing in flight either way closes
  // now, so it does not hold the exit back.
  if (!close_idle || fd_ < 0 || stream_) return;
  // A connection accepted that has received nothing at all (not a byte of a request, nor of a
  // TLS handshake) is as idle as a kept-alive one, and would otherwise hold the exit until its
  // timeout: it closes too (nginx closes connections waiting for a first request the same
  // way). One with part of a head, or mid-handshake, is served.
  if (!served_ && (phase_ == Phase::kIdle || phase_ == Phase::kHandshake) && in_.empty() &&
      out_.empty() && NothingReceived(fd_)) {
    CloseNow();
    return;
  }
  if (!served_ || phase_ != Phase::kIdle || !in_.empty() || out_off_ != out_.size()) return;
  // Bytes already here are a request on its way: it is answered (with "Connection: close").
  char byte = 0;
  if (::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return;
  CloseNow();
}

void ClientConn::OnTableChange() {
  if (fd_ < 0 || phase_ != Phase::kIdle || !in_.empty()) return;
  const auto& wt = w_->table();
  if (slot_ >= static_cast<int>(wt->slot_to_listener.size()) || wt->slot_to_listener[slot_] < 0)
    CloseNow();
}

// ---------------------------------------------------------------- exchange

void ClientConn::RespondLocal(int status, std::string_view body, std::string_view content_type,
                              std::string_view extra_headers, bool close) {
  if (!ex_) {
    // Errors before routing (bad head): account them to the unmatched series.
    ex_ = std::make_unique<Exchange>(w_->options().limits);
    ex_->wt = w_->table();
  }
  if (!ex_->req_done) close = true;  // the rest of the body would be read as a request
  if (w_->draining_) close = true;
  if (ex_->up) w_->CloseUpstream(std::move(ex_->up));
  std::string& h = w_->head_scratch();
  h.clear();
  h += "HTTP/1.1 ";
  h += std::to_string(status);
  h += ' ';
  h += http::ReasonPhrase(status);
  h += "\r\nContent-Type: ";
  h += content_type;
  h += "\r\nContent-Length: ";
  h += std::to_string(body.size());
  h += "\r\n";
  if (close) h += "Connection: close\r\n";
  if (std::string_view hsts = Hsts(); !hsts.empty()) {
    h += "Strict-Transport-Security: ";
    h += hsts;
    h += "\r\n";
  }
  h += extra_headers;
  h += "\r\n";
  bool head_only = ex_->method == "HEAD";
  SendClient(h, head_only ? std::string_view() : body);
  if (fd_ < 0) return;
  ex_->status = status;
  ex_->head_sent = true;
  ex_->resp_done = true;
  ex_->close_client = ex_->close_client || close;
  FinishExchange();
}

void ClientConn::StartExchange(std::string_view buf) {
  const ProxyOptions& opt = w_->options();
  ex_ = std::make_unique<Exchange>(opt.limits);
  Exchange& ex = *ex_;
  ex.wt = w_->table();
  ex.method.assign(parser_.method());
  ex.bytes_in = parser_.head_size();
  phase_ = Phase::kExchange;
  ex.req_body.Start(parser_.body_kind(), parser_.content_length());
  ex.req_done = ex.req_body.done();
  std::string_view rest = buf.substr(parser_.head_size());

  const WorkerTable& wt = *ex.wt;
  const RouteTable& table = *wt.compiled->table;
  if (slot_ < static_cast<int>(wt.slot_to_listener.size()))
    ex.listener = wt.slot_to_listener[slot_];
  auto finish_local = [&](int status, std::string_view body, std::string_view ctype,
                          std::string_view extra) {
    if (ex_->req_done && !rest.empty()) in_.assign(rest);  // pipelined
    RespondLocal(status, body, ctype, extra, !ex_->req_done);
    if (fd_ >= 0 && phase_ == Phase::kIdle && !in_.empty()) ScheduleResume();
  };
  if (ex.listener < 0) {
    finish_local(503, "listener closed\n", "text/plain", "");
    return;
  }
  const Listener& listener = table.listeners[ex.listener];
  const std::string_view path = parser_.target().substr(0, parser_.target().find('?'));
  const bool acme_path = path.starts_with(acme::kChallengePathPrefix);
  // 308 to https; never for an ACME challenge, which the CA asks over plain HTTP.
  auto redirect = [&](int port) {
    if (ex_->req_done && !rest.empty()) in_.assign(rest);  // pipelined
    RedirectToHttps(port);
    if (fd_ >= 0 && phase_ == Phase::kIdle && !in_.empty()) ScheduleResume();
  };
  if (listener.acme_challenges && !listener.tls && acme_path) {
    // The CA validating a name this proxy orders a certificate for (RFC 8555 8.3).
    std::optional<std::string> answer;
    if (ex.method == "GET" || ex.method == "HEAD") answer = listener.acme_challenges->Answer(path);
    if (answer) {
      finish_local(200, *answer, "application/octet-stream", "");
    } else {
      finish_local(404, "unknown ACME challenge token\n", "text/plain", "");
    }
    return;
  }
  if (listener.https_redirect_port > 0 && !acme_path) {
    redirect(listener.https_redirect_port);
    return;
  }
  std::string_view host = parser_.Header("host").value_or("");
  ex.route = MatchRoute(listener, host, parser_.target());
  if (ex.route < 0) {
    finish_local(404, "no route for this host and path\n", "text/plain", "");
    return;
  }
  const Route& route = listener.routes[ex.route];
  if (listener.sni_pins_service && listener.tls) {
    const std::string sni = tr_->server_name();
    if (!sni.empty()) {
      const int own = MatchRoute(listener, sni, parser_.target());
      if (own < 0 || listener.routes[own].service != route.service) {
        finish_local(421, "this connection is not for this host name: open one for it\n",
                     "text/plain", "");
        return;
      }
    }
  }
  if (route.https_redirect_port > 0 && !tr_->secure() && !acme_path) {
    redirect(route.https_redirect_port);
    return;
  }
  // The health path is the app's own: compare it with what the app would receive.
  if (route.maintenance && (route.strip_prefix ? StripPrefix(path, route.path_prefix)
                                               : std::string(path)) != route.health_path) {
    std::string extra = "Retry-After: " + std::to_string(opt.retry_after_seconds) + "\r\n";
    std::string msg = route.maintenance_message.empty() ? "This service is down for maintenance."
                                                        : route.maintenance_message;
    std::string_view accept = parser_.Header("accept").value_or("");
    if (accept.find("json") != std::string_view::npos) {
      std::string esc;
      for (char c : msg) {
        if (c == '"' || c == '\\') esc += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) esc += c;
      }
      finish_local(503, "{\"error\":\"maintenance\",\"message\":\"" + esc + "\"}\n",
                   "application/json", extra);
    } else {
      std::string html;
      for (char c : msg) {
        if (c == '<')
          html += "&lt;";
        else if (c == '>')
          html += "&gt;";
        else if (c == '&')
          html += "&amp;";
        else
          html += c;
      }
      finish_local(503,
                   "<!doctype html><html><head><title>Maintenance</title></head><body><h1>"
                   "Maintenance</h1><p>" +
                       html + "</p></body></html>\n",
                   "text/html; charset=utf-8", extra);
    }
    return;
  }

  // Sticky set by cookie (the route's traffic settings: a route update may change it).
  WorkerRoute& wr = ex.worker_route();
  const std::string& sticky = wr.traffic ? wr.traffic->sticky_cookie : route.sticky_cookie;
  int prefer = -1;
  if (!sticky.empty()) {
    std::string_view want = CookieValue(parser_.Header("cookie").value_or(""), sticky);
    for (size_t s = 0; s < route.sets.size(); ++s)
      if (!want.empty() && route.sets[s].name == want) prefer = static_cast<int>(s);
  }
  Balancer::Pick pick = wr.balancer.Select(w_->Now(), prefer, nullptr);
  if (!pick.ok()) {
    Metrics().CountError(w_->index(), UpstreamError::kNoBackend);
    finish_local(503, "no healthy backend for " + route.service + "\n", "text/plain", "");
    return;
  }
  ex.set = pick.set;
  ex.backend = wr.sets[pick.set].backends[pick.backend];
  if (!sticky.empty() && pick.set != prefer)
    ex.set_cookie =
        "Set-Cookie: " + sticky + "=" + route.sets[pick.set].name + "; Path=/; HttpOnly\r\n";
  ex.upgrade = !parser_.Upgrade().empty();
  // On a stream only an extended CONNECT asks for an upgrade (HTTP/2 forbids the fields), and
  // its key is the proxy's own: the answer is checked as a client would (OnUpstreamData).
  if (stream_ && ex.upgrade) ex.ws_key.assign(parser_.Header("sec-websocket-key").value_or(""));

  BuildUpstreamHead(listener, route, peer_ip_, &ex.up_head);
  ex.replayable = Idempotent(ex.method) && ex.req_done && !ex.upgrade;
  ex.backend->health.active++;
  // A pipelined next request waits in in_ (reading pauses until this exchange ends).
  if (ex.req_done && !rest.empty()) in_.append(rest);
  Dispatch();
  if (fd_ < 0 || !ex_ || ex_.get() != &ex || phase_ != Phase::kExchange) return;
  if (!ex.req_done && !rest.empty()) FeedRequestBody(rest);
}

std::string_view ClientConn::Hsts() const {
  const Listener* l = ListenerOf();
  if (!l) return {};
  if (tr_->secure() && ex_->route >= 0 && ex_->route < static_cast<int>(l->routes.size()) &&
      !l->routes[ex_->route].hsts.empty())
    return l->routes[ex_->route].hsts;
  return l->hsts;
}

const Listener* ClientConn::ListenerOf() const {
  if (!ex_ || ex_->listener < 0 || !ex_->wt) return nullptr;
  const auto& ls = ex_->wt->compiled->table->listeners;
  return ex_->listener < static_cast<int>(ls.size()) ? &ls[ex_->listener] : nullptr;
}

// 308 keeps the method and body (a POST stays a POST), as Caddy's redirect does.
void ClientConn::RedirectToHttps(int port) {
  std::string_view host = parser_.Header("host").value_or("");
  // The Host header without its port; an IPv6 literal keeps its brackets.
  if (size_t colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos)
    host = host.substr(0, colon);
  bool host_ok = !host.empty();
  for (char c : host) {
    // What a host name or an IP literal may hold: nothing that could split the header.
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '[' ||
          c == ']' || c == ':' || c == '_'))
      host_ok = false;
  }
  if (!host_ok) {
    RespondLocal(400, "a Host header is needed to redirect to https\n", "text/plain", "", true);
    return;
  }
  std::string location = "Location: https://";
  location += host;
  if (port != 443) {
    location += ':';
    location += std::to_string(port);
  }
  std::string_view target = parser_.target();
  if (target.empty() || target.front() != '/') target = "/";  // absolute-form or '*'
  location += target;
  location += "\r\n";
  RespondLocal(308, "redirecting to https\n", "text/plain", location, !ex_->req_done);
}

void ClientConn::BuildUpstreamHead(const Listener& listener, const Route& route,
                                   std::string_view client_ip, std::string* out) {
  std::string& h = *out;
  h.reserve(parser_.head_size() + 160);  // the client's head plus the X-Forwarded-* fields
  h += parser_.method();
  h += ' ';
  if (route.strip_prefix) {
    h += StripPrefix(parser_.target(), route.path_prefix);
  } else {
    h += parser_.target();
  }
  h += " HTTP/1.1\r\n";
  std::string_view connection = parser_.Header("connection").value_or("");
  std::string_view xff, host, request_id, fwd_proto, fwd_host;
  const bool trust = listener.trust_forwarded;
  for (const http::HeaderView& f : parser_.headers()) {
    if (IsHopByHop(f.name)) continue;
    if (!connection.empty() && http::HasToken(connection, f.name)) continue;
    if (http::EqualsIgnoreCase(f.name, "x-forwarded-for")) {
      xff = f.value;
      continue;
    }
    if (http::EqualsIgnoreCase(f.name, "x-forwarded-proto")) {
      fwd_proto = f.value;
      continue;
    }
    if (http::EqualsIgnoreCase(f.name, "x-forwarded-host")) {
      fwd_host = f.value;
      continue;
    }
    if (http::EqualsIgnoreCase(f.name, "host")) host = f.value;
    if (http::EqualsIgnoreCase(f.name, "x-request-id")) request_id = f.value;
    h += f.name;
    h += ": ";
    h += f.value;
    h += "\r\n";
  }
  h += "X-Forwarded-For: ";
  if (!xff.empty()) {
    h += xff;
    h += ", ";
  }
  h += client_ip;
  if (trust && (fwd_proto == "https" || fwd_proto == "http")) {
    h += "\r\nX-Forwarded-Proto: ";
    h += fwd_proto;
    h += "\r\n";
  } else {
    h += tr_->secure() ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n";
  }
  if (trust && !fwd_host.empty()) host = fwd_host;
  if (!host.empty()) {
    h += "X-Forwarded-Host: ";
    h += host;
    h += "\r\n";
  }
  if (request_id.empty()) {
    h += "X-Request-Id: ";
    h += w_->NextRequestId();
    h += "\r\n";
  }
  if (ex_->upgrade) {
    h += "Connection: upgrade\r\nUpgrade: ";
    h += parser_.Upgrade();
    h += "\r\n";
  }
  h += "\r\n";
}

void ClientConn::FinishExchange() {
  Exchange& ex = *ex_;
  if (ex.status != 101) {
    Metrics().CountResponse(w_->index(), ex.status,
                            std::chrono::duration<double>(w_->Now() - head_start_).count());
  }
  const SetMetrics& m = Metrics();
  m.bytes_in->Add(w_->index(), ex.bytes_in);
  m.bytes_out->Add(w_->index(), ex.bytes_out);
  if (ex.up) {
    bool reusable = ex.up_reusable && ex.req_done && ex.up_in.empty() &&
                    ex.up_out_off == ex.up_out.size() && ex.set >= 0 && !ex.set_draining();
    ex.up->owner = nullptr;
    w_->ReleaseUpstream(std::move(ex.up), reusable);
  }
  if (ex.backend) ex.backend->health.active--;
  bool keep = !ex.close_client && parser_.KeepAlive() && !eof_ && !w_->draining_;
  ex_.reset();
  parser_.Reset();
  if (!keep) {
    CloseAfterFlush();
    return;
  }
  phase_ = Phase::kIdle;
  served_ = true;
  SetDeadline(Deadline::kIdle, w_->options().idle_timeout);
  if (!in_.empty() || readable_) ScheduleResume();
}

}  // namespace slipway::proxy
