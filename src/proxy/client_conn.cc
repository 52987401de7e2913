#include "proxy/client_conn.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http/serializer.h"

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
  std::string replay;  // request bytes to resend on a retry; empty = not retryable
  bool retried = false;
  bool stale_retry_used = false;
  std::string set_cookie;
  int status = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

namespace {

bool Idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" || m == "DELETE" ||
         m == "TRACE";
}

// Hop-by-hop fields never forwarded as received (RFC 9110 section 7.6.1), plus fields the
// proxy sets itself.
bool IsHopByHop(std::string_view n) {
  using http::EqualsIgnoreCase;
  return EqualsIgnoreCase(n, "connection") || EqualsIgnoreCase(n, "keep-alive") ||
         EqualsIgnoreCase(n, "proxy-connection") || EqualsIgnoreCase(n, "te") ||
         EqualsIgnoreCase(n, "upgrade");
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

}  // namespace

ClientConn::ClientConn(Worker* w, int fd, int slot, uint32_t peer_ipv4, telemetry::Gauge* active)
    : w_(w), fd_(fd), slot_(slot), peer_ipv4_(peer_ipv4), active_(active),
      parser_(w->options().limits) {
  static thread_local uint64_t next_id = 1;
  id_ = next_id++;
  active_->Add(w_->index(), 1);
  SetDeadline(Deadline::kIdle, w_->options().idle_timeout);
}

ClientConn::~ClientConn() { CloseNow(); }

const SetMetrics& ClientConn::Metrics() const {
  const CompiledTable& c = *ex_->wt->compiled;
  if (ex_->route < 0) return c.unmatched;
  const auto& r = c.listeners[ex_->listener].routes[ex_->route];
  return ex_->set < 0 ? r.no_set : r.sets[ex_->set].metrics;
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
  w_->loop()->Remove(fd_);
  close(fd_);
  fd_ = -1;
  active_->Add(w_->index(), -1);
  w_->Retire(this);
}

// ---------------------------------------------------------------- client side

void ClientConn::OnEvent(uint32_t events) {
  if (events & EPOLLOUT) {
    writable_ = true;
    FlushClient();
  }
  if (fd_ >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    readable_ = true;
    ReadClient();
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
    ssize_t n = read(fd_, buf, Worker::kScratch);
    if (n > 0) {
      // A short read drained the socket; edge-triggering reports the next arrival.
      if (static_cast<size_t>(n) < Worker::kScratch) readable_ = false;
      OnClientData(std::string_view(buf, n));
      if (i == 63 && fd_ >= 0 && readable_) ScheduleResume();  // fairness cap, not drained
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    readable_ = false;
    if (n < 0 && errno == EAGAIN) return;
    // EOF or error.
    eof_ = true;
    if (n < 0) {
      CloseNow();
      return;
    }
    if (phase_ == Phase::kTunnel) {
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
    auto it = w->conns_.find(self);
    if (it == w->conns_.end() || self->id() != id || self->closed()) return;
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
  size_t used = 0;
  while (used < data.size() && !ex_->req_done) {
    http::BodyReader::Step step = ex_->req_body.Decode(data.substr(used));
    used += step.consumed;
    if (step.state == http::BodyReader::State::kDone) {
      ex_->req_done = true;
      if (dkind_ == Deadline::kRequest || dkind_ == Deadline::kNone)
        SetDeadline(Deadline::kRespHead, w_->options().response_head_timeout);
      break;
    }
    if (step.state == http::BodyReader::State::kError) {
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
    if (step.consumed == 0) break;
  }
  ex_->bytes_in += used;
  if (used > 0) SendUpstream(data.substr(0, used));
  if (fd_ < 0 || !ex_) return;
  if (used < data.size()) in_.append(data.substr(used));  // the next (pipelined) request
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
    ssize_t n;
    do {
      n = writev(fd_, iov, cnt);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN) {
        CloseNow();
        return;
      }
      n = 0;
    }
    sent = static_cast<size_t>(n);
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
  while (fd_ >= 0 && out_off_ < out_.size() && writable_) {
    ssize_t n = write(fd_, out_.data() + out_off_, out_.size() - out_off_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        writable_ = false;
        break;
      }
      CloseNow();
      return;
    }
    out_off_ += n;
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
  if (eof_) {
    CloseNow();
    return;
  }
  phase_ = Phase::kLinger;
  shutdown(fd_, SHUT_WR);
  dkind_ = Deadline::kLinger;
  deadline_ = w_->Now() + Duration(2000);
  if (readable_) ReadClient();
}

void ClientConn::CheckTimeout(MonoTime now) {
  if (fd_ < 0 || dkind_ == Deadline::kNone || now < deadline_) return;
  switch (dkind_) {
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
  if (ex_->up) w_->CloseUpstream(std::move(ex_->up));
  std::string& h = w_->head_buf();
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
  if (slot_ < static_cast<int>(wt.slot_to_listener.size())) ex.listener = wt.slot_to_listener[slot_];
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
  std::string_view host = parser_.Header("host").value_or("");
  ex.route = MatchRoute(listener, host, parser_.target());
  if (ex.route < 0) {
    finish_local(404, "no route for this host and path\n", "text/plain", "");
    return;
  }
  const Route& route = listener.routes[ex.route];
  std::string_view path = parser_.target().substr(0, parser_.target().find('?'));
  if (route.maintenance && path != route.health_path) {
    std::string extra = "Retry-After: " + std::to_string(opt.retry_after_seconds) + "\r\n";
    std::string msg = route.maintenance_message.empty()
                          ? "This service is down for maintenance."
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
        if (c == '<') html += "&lt;";
        else if (c == '>') html += "&gt;";
        else if (c == '&') html += "&amp;";
        else html += c;
      }
      finish_local(503,
                   "<!doctype html><html><head><title>Maintenance</title></head><body><h1>"
                   "Maintenance</h1><p>" + html + "</p></body></html>\n",
                   "text/html; charset=utf-8", extra);
    }
    return;
  }

  // Sticky set by cookie.
  int prefer = -1;
  if (!route.sticky_cookie.empty()) {
    std::string_view want = CookieValue(parser_.Header("cookie").value_or(""), route.sticky_cookie);
    for (size_t s = 0; s < route.sets.size(); ++s)
      if (!want.empty() && route.sets[s].name == want) prefer = static_cast<int>(s);
  }
  Balancer::Pick pick =
      ex.wt->balancers[ex.listener][ex.route].Select(w_->Now(), prefer, nullptr);
  if (!pick.ok()) {
    Metrics().CountError(w_->index(), UpstreamError::kNoBackend);
    finish_local(503, "no healthy backend for " + route.service + "\n", "text/plain", "");
    return;
  }
  ex.set = pick.set;
  ex.backend = wt.backends[ex.listener][ex.route][pick.set][pick.backend];
  if (!route.sticky_cookie.empty() && pick.set != prefer)
    ex.set_cookie = "Set-Cookie: " + route.sticky_cookie + "=" + route.sets[pick.set].name +
                    "; Path=/; HttpOnly\r\n";
  ex.upgrade = !parser_.Upgrade().empty();

  char ip[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &peer_ipv4_, ip, sizeof ip);
  BuildUpstreamHead(route, ip);
  std::string& head = w_->head_buf();
  if (Idempotent(ex.method) && ex.req_done && !ex.upgrade) ex.replay = head;
  ex.backend->health.active++;
  // A pipelined next request waits in in_ (reading pauses until this exchange ends).
  if (ex.req_done && !rest.empty()) in_.append(rest);
  Dispatch();
  if (fd_ < 0 || !ex_ || ex_.get() != &ex || phase_ != Phase::kExchange) return;
  if (!ex.req_done && !rest.empty()) FeedRequestBody(rest);
}

void ClientConn::BuildUpstreamHead(const Route& route, std::string_view client_ip) {
  std::string& h = w_->head_buf();
  h.clear();
  h += parser_.method();
  h += ' ';
  if (route.strip_prefix) {
    h += StripPrefix(parser_.target(), route.path_prefix);
  } else {
    h += parser_.target();
  }
  h += " HTTP/1.1\r\n";
  std::string_view connection = parser_.Header("connection").value_or("");
  std::string_view xff, host, request_id;
  for (const http::HeaderView& f : parser_.headers()) {
    if (IsHopByHop(f.name)) continue;
    if (!connection.empty() && http::HasToken(connection, f.name)) continue;
    if (http::EqualsIgnoreCase(f.name, "x-forwarded-for")) {
      xff = f.value;
      continue;
    }
    if (http::EqualsIgnoreCase(f.name, "x-forwarded-proto") ||
        http::EqualsIgnoreCase(f.name, "x-forwarded-host"))
      continue;
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
  h += "\r\nX-Forwarded-Proto: http\r\n";
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
    SendUpstream(w_->head_buf());
    return;
  }
  int err = 0;
  ex.up = w_->Connect(ex.backend, this, &err);
  if (!ex.up) {
    OnUpstreamFailure(err == ECONNREFUSED ? UpstreamError::kConnectRefused
                                          : UpstreamError::kReset);
    return;
  }
  SetDeadline(Deadline::kConnect, opt.connect_timeout);
  SendUpstream(w_->head_buf());
}

void ClientConn::SendUpstream(std::string_view data) {
  Exchange& ex = *ex_;
  if (!ex.up) return;  // closed after an early response; the body is dropped
  UpstreamConn& u = *ex.up;
  size_t sent = 0;
  if (u.connected && u.writable && ex.up_out_off == ex.up_out.size()) {
    ssize_t n;
    do {
      n = write(u.fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
      // Reported by the read side (EOF/reset) with the right error kind.
      u.writable = false;
      ex.up_out.append(data);
      return;
    }
    sent = n < 0 ? 0 : static_cast<size_t>(n);
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
  while (ex.up_out_off < ex.up_out.size() && u.writable) {
    ssize_t n = write(u.fd, ex.up_out.data() + ex.up_out_off, ex.up_out.size() - ex.up_out_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      u.writable = false;
      if (errno != EAGAIN) return;  // the read side reports it
      break;
    }
    ex.up_out_off += n;
  }
  if (ex.up_out_off == ex.up_out.size()) {
    std::string().swap(ex.up_out);
    ex.up_out_off = 0;
    if (readable_ && !ClientReadPaused()) ReadClient();
  }
}

void ClientConn::OnUpstreamEvent(uint32_t events) {
  if (!ex_ || !ex_->up) return;
  UpstreamConn& u = *ex_->up;
  if (!u.connected) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(u.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      OnUpstreamFailure(err == ECONNREFUSED ? UpstreamError::kConnectRefused
                                            : UpstreamError::kReset);
      return;
    }
    u.connected = true;
    SetDeadline(ex_->req_done ? Deadline::kRespHead : Deadline::kRequest,
                ex_->req_done ? w_->options().response_head_timeout
                              : w_->options().request_timeout);
  }
  if (events & EPOLLOUT) {
    u.writable = true;
    FlushUpstream();
    if (fd_ < 0 || !ex_ || !ex_->up) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    ex_->up->readable = true;
    ReadUpstream();
  }
}

void ClientConn::ReadUpstream() {
  char* buf = w_->upstream_scratch();
  for (int i = 0; i < 64 && fd_ >= 0 && ex_ && ex_->up && ex_->up->readable; ++i) {
    if (out_.size() - out_off_ > w_->options().max_buffer_bytes) return;  // back-pressure
    ssize_t n = read(ex_->up->fd, buf, Worker::kScratch);
    if (n > 0) {
      if (static_cast<size_t>(n) < Worker::kScratch) ex_->up->readable = false;
      OnUpstreamData(std::string_view(buf, n));
      if (i == 63 && fd_ >= 0 && ex_ && ex_->up && ex_->up->readable) ScheduleResume();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    ex_->up->readable = false;
    if (n < 0 && errno == EAGAIN) return;
    OnUpstreamEof();
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
    if (code == 101 && ex.upgrade) {
      BuildClientHead(ex.resp, false, true);
      SendClient(w_->head_buf());
      ex.status = 101;
      ex.head_sent = true;
      StartTunnel(rest);
      return;
    }
    if (code >= 100 && code < 200) {
      BuildClientHead(ex.resp, false, false);
      SendClient(w_->head_buf());
      if (fd_ < 0) return;
      ex.resp.Reset();
      ex.resp.SetRequestMethod(ex.method);
      buf = rest;
      if (buf.empty()) return;
      continue;
    }
    ex.status = code;
    ex.dechunk = parser_.version_minor() == 0 && ex.resp.body_kind() == http::BodyKind::kChunked;
    const WorkerTable& wt = *ex.wt;
    bool close = ex.close_client || !parser_.KeepAlive() || !ex.resp.KeepAlive() ||
                 wt.listener_closed[ex.listener] ||
                 wt.set_draining[ex.listener][ex.route][ex.set] ||
                 ex.resp.body_kind() == http::BodyKind::kUntilClose || !ex.req_done || ex.dechunk;
    if (!ex.resp.KeepAlive()) ex.up_reusable = false;
    ex.close_client = close;
    BuildClientHead(ex.resp, close, false);
    ex.head_sent = true;
    ex.resp_body.Start(ex.resp.body_kind(), ex.resp.content_length());
    SetDeadline(Deadline::kRequest, w_->options().request_timeout);
    if (ex.resp_body.done()) {
      SendClient(w_->head_buf());
      if (!rest.empty()) ex.up_reusable = false;
      if (fd_ >= 0) {
        ex.resp_done = true;
        FinishExchange();
      }
      return;
    }
    // Send the head together with the first body bytes (one writev).
    FeedResponseBody(w_->head_buf(), rest);
    return;
  }
  OnUpstreamFailure(UpstreamError::kBadResponse);
}

// Forwards the body bytes in `data` (after `head`, which may be empty) as received, or decoded
// for an HTTP/1.0 client of a chunked response (that client cannot parse chunks; the end of
// its body is the end of the connection).
void ClientConn::FeedResponseBody(std::string_view head, std::string_view data) {
  Exchange& ex = *ex_;
  size_t used = 0;
  bool done = false;
  bool error = false;
  std::string decoded;
  while (used < data.size()) {
    auto step = ex.resp_body.Decode(data.substr(used));
    used += step.consumed;
    if (ex.dechunk) decoded.append(step.data);
    if (step.state == http::BodyReader::State::kDone) {
      done = true;
      break;
    }
    if (step.state == http::BodyReader::State::kError) {
      error = true;
      break;
    }
    if (step.consumed == 0) break;
  }
  SendClient(head, ex.dechunk ? std::string_view(decoded) : data.substr(0, used));
  if (fd_ < 0) return;
  if (error) {
    Metrics().CountError(w_->index(), UpstreamError::kBadResponse);
    CloseNow();  // the client sees a truncated body, never a forged end
    return;
  }
  if (done) {
    if (used < data.size()) ex.up_reusable = false;
    ex.resp_done = true;
    FinishExchange();
  }
}

void ClientConn::BuildClientHead(const http::ResponseParser& resp, bool close, bool upgrade) {
  std::string& h = w_->head_buf();
  h.clear();
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
  OnUpstreamFailure(UpstreamError::kReset);
}

void ClientConn::OnUpstreamFailure(UpstreamError kind) {
  Exchange& ex = *ex_;
  const ProxyOptions& opt = w_->options();
  bool fresh = ex.up && !ex.up->reused;
  bool was_reused = ex.up && ex.up->reused;
  if (ex.up) w_->CloseUpstream(std::move(ex.up));
  bool nothing_received = !ex.resp_started;
  // A pooled connection the backend closed meanwhile: not the backend's fault, resend once.
  if (was_reused && kind == UpstreamError::kReset && nothing_received && !ex.replay.empty() &&
      !ex.stale_retry_used) {
    ex.stale_retry_used = true;
    w_->head_buf() = ex.replay;
    Dispatch();
    return;
  }
  Metrics().CountError(w_->index(), kind);
  if (kind == UpstreamError::kConnectRefused || (kind == UpstreamError::kReset && fresh) ||
      kind == UpstreamError::kConnectTimeout)
    ex.backend->health.down_until = w_->Now() + opt.passive_down;
  bool retryable = kind == UpstreamError::kConnectRefused || kind == UpstreamError::kReset ||
                   kind == UpstreamError::kConnectTimeout;
  if (retryable && nothing_received && !ex.replay.empty() && !ex.retried) {
    Balancer::Pick pick = ex.wt->balancers[ex.listener][ex.route].Select(
        w_->Now(), -1, &ex.backend->health);
    if (pick.ok()) {
      BackendState* next = ex.wt->backends[ex.listener][ex.route][pick.set][pick.backend];
      if (next != ex.backend) {
        ex.retried = true;
        Metrics().retries->Add(w_->index());
        ex.backend->health.active--;
        ex.set = pick.set;
        ex.backend = next;
        ex.backend->health.active++;
        w_->head_buf() = ex.replay;
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
    default:
      break;
  }
  RespondLocal(status, body, "text/plain", "", !ex.req_done);
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
                    ex.up_out_off == ex.up_out.size() && ex.set >= 0 &&
                    !ex.wt->set_draining[ex.listener][ex.route][ex.set];
    ex.up->owner = nullptr;
    w_->ReleaseUpstream(std::move(ex.up), reusable);
  }
  if (ex.backend) ex.backend->health.active--;
  bool keep = !ex.close_client && parser_.KeepAlive() && !eof_;
  ex_.reset();
  parser_.Reset();
  if (!keep) {
    CloseAfterFlush();
    return;
  }
  phase_ = Phase::kIdle;
  SetDeadline(Deadline::kIdle, w_->options().idle_timeout);
  if (!in_.empty() || readable_) ScheduleResume();
}

void ClientConn::AbortExchange() { CloseNow(); }

}  // namespace slipway::proxy
