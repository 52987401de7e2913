#include "http/server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "base/log.h"
#include "http/serializer.h"
#include "net/plain_transport.h"
#include "net/tls_transport.h"

namespace slipway::http {

namespace internal {

// One request's answer slot. Owned by its connection's queue; writers see it weakly.
struct Exchange {
  std::weak_ptr<Connection> conn;
  bool head_only = false;  // answer to HEAD: no body bytes
  bool keep_alive = true;
  bool http10 = false;
  bool started = false;
  bool chunked = false;
  bool finished = false;
  std::string held;  // output waiting for earlier responses to finish (pipelining)
  std::function<void()> on_close;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer* server, net::UniqueFd fd, std::string peer)
      : server_(server),
        loop_(server->loop_),
        fd_(std::move(fd)),
        peer_(std::move(peer)),
        parser_(server->options_.limits),
        body_(server->options_.limits) {}

  Status Start() {
    last_activity_ = loop_->Now();
    if (std::shared_ptr<const net::TlsServerContext> tls = server_->options_.tls) {
      transport_ = net::TlsTransport::Accept(std::move(tls), fd_.get());
      if (!transport_) return Internal("TLS: cannot allocate a connection");
      handshaking_ = true;
    } else {
      transport_ = std::make_unique<net::PlainTransport>(fd_.get());
    }
    interest_ = EPOLLIN;
    std::shared_ptr<Connection> self = shared_from_this();
    RETURN_IF_ERROR(loop_->Add(fd_.get(), interest_, [self](uint32_t ev) { self->OnEvent(ev); }));
    ArmTimer();
    return Status::OK();
  }

  bool closed() const { return closed_; }
  size_t queued() const { return out_.size() - out_pos_; }

  // Where `ex` writes: straight to the socket buffer if it is the oldest unanswered request.
  std::string& SinkFor(Exchange* ex) {
    return (!queue_.empty() && queue_.front().get() == ex) ? out_ : ex->held;
  }

  // Called after `ex` appended to SinkFor(ex), and again when it finished.
  void Produced(Exchange* ex) {
    if (closed_) return;
    if (ex->finished) AdvanceQueue();
    Flush();
    if (!closed_ && !in_process_ && busy_ == 0) {
      ProcessInput();  // a pipelined request may have been waiting for room
      UpdateInterest();
      ArmTimer();
    }
  }

  void Close() {
    if (closed_) return;
    if (busy_ > 0) {
      close_pending_ = true;
      return;
    }
    closed_ = true;
    std::shared_ptr<Connection> keep = shared_from_this();
    loop_->Remove(fd_.get());
    if (timer_armed_) loop_->Cancel(timer_);
    timer_armed_ = false;
    int fd = fd_.get();
    transport_.reset();
    fd_.Reset();
    std::deque<std::shared_ptr<Exchange>> queue;
    queue.swap(queue_);
    for (auto& ex : queue) {
      if (!ex->finished && ex->on_close) {
        auto cb = std::move(ex->on_close);
        cb();
      }
    }
    server_->Forget(fd);
  }

 private:
  void OnEvent(uint32_t ev) {
    ++busy_;
    if (handshaking_) {
      Handshake();
    } else {
      if ((ev & EPOLLOUT) || (write_wants_read_ && (ev & EPOLLIN))) Flush();
      if ((ev & EPOLLIN) && !closed_) ReadSome();
    }
    // Both directions are gone (reset, or the peer closed after our shutdown): nothing more
    // can be delivered.
    if (ev & (EPOLLERR | EPOLLHUP)) close_pending_ = true;
    --busy_;
    if (close_pending_) {
      Close();
      return;
    }
    UpdateInterest();
    ArmTimer();
  }

  // TLS only: until the handshake is done nothing is read or written but its records. A
  // client that fails it (a plain HTTP request on a TLS port, an unknown CA, an old protocol)
  // is closed; it never reaches the handler.
  void Handshake() {
    if (closed_) return;
    net::IoResult r = transport_->Handshake();
    switch (r.status) {
      case net::IoStatus::kOk:
        handshaking_ = false;
        last_activity_ = loop_->Now();
        ReadSome();  // a request may have come with the handshake's last flight
        return;
      case net::IoStatus::kWantRead:
        handshake_wants_ = EPOLLIN;
        return;
      case net::IoStatus::kWantWrite:
        handshake_wants_ = EPOLLOUT;
        return;
      default:
        close_pending_ = true;
        return;
    }
  }

  void ReadSome() {
    if (closed_) return;
    if (lingering_) {
      char sink[16384];
      while (true) {
        net::IoResult r = transport_->Read(sink, sizeof sink);
        if (r.status == net::IoStatus::kOk) continue;
        if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return;
        Close();  // EOF or error: the peer has our answer
        return;
      }
    }
    size_t budget = 256 * 1024;  // per event, for fairness between connections
    while (budget > 0 && WantRead()) {
      // Read on the stack and append what came: growing in_ by a whole chunk first would
      // zero-fill 16 KiB per read, most of it for a request of a few hundred bytes.
      char chunk[16384];
      net::IoResult r = transport_->Read(chunk, sizeof chunk);
      if (r.status == net::IoStatus::kOk) {
        in_.append(chunk, r.bytes);
        budget -= std::min(budget, r.bytes);
        last_activity_ = loop_->Now();
        ProcessInput();
        if (closed_ || close_pending_) return;
        if (r.drained) break;  // level-triggered: the next arrival is reported
        continue;
      }
      if (r.status == net::IoStatus::kWantRead) break;
      if (r.status == net::IoStatus::kWantWrite) {  // TLS: a read that must write first
        read_wants_write_ = true;
        break;
      }
      // EOF or reset. A peer that half-closes still waiting for answers is treated as gone,
      // like an aborted client: pending writers learn it at once (OnClose), streams stop.
      read_eof_ = true;
      Close();
      return;
    }
  }

  bool WantRead() const {
    return !read_eof_ && !stopped_ && queue_.size() < server_->options_.max_pipelined &&
           queued() < server_->options_.max_output_bytes;
  }

  void ProcessInput() {
    in_process_ = true;
    const ServerOptions& opt = server_->options_;
    while (!stopped_ && !closed_ && !close_pending_ && queue_.size() < opt.max_pipelined) {
      std::string_view data(in_.data() + in_pos_, in_.size() - in_pos_);
      if (!in_body_) {
        if (data.empty()) break;
        if (!reading_request_) {
          reading_request_ = true;
          request_start_ = loop_->Now();
        }
        ParseStatus st = parser_.Parse(data);
        if (st == ParseStatus::kNeedMore) break;
        if (st == ParseStatus::kError) {
          FailRequest(parser_.error_status());
          break;
        }
        cur_ = Request{};
        cur_.method.assign(parser_.method());
        cur_.target.assign(parser_.target());
        cur_.version_minor = parser_.version_minor();
        cur_.headers.reserve(parser_.headers().size());
        for (const HeaderView& h : parser_.headers()) cur_.headers.emplace_back(h.name, h.value);
        cur_.peer = peer_;
        cur_keep_alive_ = parser_.KeepAlive();
        bool expect = parser_.ExpectsContinue();
        const BodyKind body_kind = parser_.body_kind();
        const uint64_t content_length = parser_.content_length();
        in_pos_ += parser_.head_size();
        parser_.Reset();
        cur_max_body_ = UINT64_MAX;
        if (opt.head_check) {
          HeadVerdict verdict = opt.head_check(cur_);
          if (verdict.reject) {
            Reject(std::move(*verdict.reject));
            break;
          }
          cur_max_body_ = verdict.max_body;
          if (body_kind == BodyKind::kContentLength && content_length > cur_max_body_) {
            FailRequest(413);
            break;
          }
        }
        body_.Start(body_kind, content_length);
        in_body_ = true;
        if (expect && !body_.done() && queue_.empty() && in_pos_ == in_.size()) {
          out_.append("HTTP/1.1 100 Continue\r\n\r\n");
          Flush();
          if (closed_) break;
        }
      }
      while (!body_.done()) {
        std::string_view rest(in_.data() + in_pos_, in_.size() - in_pos_);
        BodyReader::Step step = body_.Decode(rest);
        in_pos_ += step.consumed;
        cur_.body.append(step.data);
        if (cur_.body.size() > cur_max_body_) break;  // chunked past the route's limit
        if (step.state == BodyReader::State::kError) break;
        if (step.consumed == 0) break;
      }
      if (body_.error_status() != 0 || cur_.body.size() > cur_max_body_) {
        FailRequest(body_.error_status() != 0 ? body_.error_status() : 413);
        break;
      }
      if (!body_.done()) break;
      in_body_ = false;
      reading_request_ = false;
      Dispatch();
    }
    // Drop consumed bytes; the unparsed tail keeps its relative offsets for the parser.
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    } else if (in_pos_ > 65536) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
    in_process_ = false;
  }

  void Dispatch() {
    auto ex = std::make_shared<Exchange>();
    ex->conn = weak_from_this();
    ex->head_only = cur_.method == "HEAD";
    ex->keep_alive = cur_keep_alive_;
    ex->http10 = cur_.version_minor == 0;
    queue_.push_back(ex);
    if (!cur_keep_alive_) stopped_ = true;  // nothing after a "close" request is read
    ++busy_;
    server_->handler_(cur_, ResponseWriter(ex));
    --busy_;
  }

  // Answers a malformed request with `status` after the pending responses, then closes.
  void FailRequest(int status) {
    Response r = Response::Text(status, std::string(ReasonPhrase(status)) + "\n");
    Reject(std::move(r));
  }

  // Answers the current request with `r` after the pending responses without reading (more
  // of) its body, then closes the connection.
  void Reject(Response r) {
    stopped_ = true;
    reading_request_ = false;
    in_body_ = false;
    auto ex = std::make_shared<Exchange>();
    ex->conn = weak_from_this();
    ex->keep_alive = false;
    queue_.push_back(ex);
    SetHeader(&r.headers, "Connection", "close");
    ex->started = true;
    AppendResponse(r, &SinkFor(ex.get()));
    ex->finished = true;
    AdvanceQueue();
    Flush();
  }

  void AdvanceQueue() {
    while (!queue_.empty() && queue_.front()->finished) {
      bool keep = queue_.front()->keep_alive;
      queue_.pop_front();
      if (!keep) {
        close_after_write_ = true;
        queue_.clear();
        break;
      }
      if (!queue_.empty()) {
        out_.append(queue_.front()->held);
        queue_.front()->held.clear();
        queue_.front()->held.shrink_to_fit();
      }
    }
    if (queue_.empty()) last_activity_ = loop_->Now();
  }

  void Flush() {
    if (closed_ || handshaking_) return;  // queued until the handshake is done
    write_wants_read_ = false;
    if (read_wants_write_) {
      read_wants_write_ = false;
      ReadSome();
      if (closed_ || close_pending_) return;
    }
    while (out_pos_ < out_.size()) {
      net::IoResult r = transport_->Write(out_.data() + out_pos_, out_.size() - out_pos_);
      if (r.status == net::IoStatus::kOk) {
        out_pos_ += r.bytes;
        last_progress_ = loop_->Now();
        continue;
      }
      if (r.status == net::IoStatus::kWantWrite) break;
      if (r.status == net::IoStatus::kWantRead) {
        write_wants_read_ = true;
        break;
      }
      Close();
      return;
    }
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
      if (close_after_write_ && queue_.empty()) {
        if (read_eof_) {
          Close();
        } else if (!lingering_) {
          // Lingering close: stop writing, drain what the peer still sends, so our answer is
          // not destroyed by a reset caused by unread input.
          transport_->ShutdownWrite();
          lingering_ = true;
          linger_deadline_ = loop_->Now() + Duration(2000);
        }
      }
    } else if (out_pos_ > (1u << 20)) {
      out_.erase(0, out_pos_);
      out_pos_ = 0;
    }
    UpdateInterest();
  }

  void UpdateInterest() {
    if (closed_) return;
    uint32_t want = 0;
    if (handshaking_) {
      want = handshake_wants_;
    } else {
      if (lingering_ || WantRead() || write_wants_read_) want |= EPOLLIN;
      if (queued() > 0 || read_wants_write_) want |= EPOLLOUT;
    }
    if (want != interest_) {
      interest_ = want;
      if (!loop_->Modify(fd_.get(), want).ok()) close_pending_ = true;
    }
  }

  // One pending timer at most; it re-checks the current deadline when it fires.
  bool Deadline(MonoTime* out, bool* request_late) const {
    const ServerOptions& opt = server_->options_;
    *request_late = false;
    if (handshaking_) {
      // Nothing moves last_activity_ before the handshake ends: it is the accept time. A
      // stalled handshake is dropped, no answer.
      *out = last_activity_ + opt.request_timeout;
    } else if (lingering_) {
      *out = linger_deadline_;
    } else if (queued() > 0) {
      *out = last_progress_ + opt.idle_timeout;
    } else if (reading_request_) {
      *out = request_start_ + opt.request_timeout;
      *request_late = true;
    } else if (queue_.empty()) {
      *out = last_activity_ + opt.idle_timeout;
    } else {
      return false;  // a handler is working: no deadline
    }
    return true;
  }

  void ArmTimer() {
    if (closed_) return;
    MonoTime deadline;
    bool late;
    if (!Deadline(&deadline, &late)) return;
    if (timer_armed_ && timer_deadline_ <= deadline) return;
    if (timer_armed_) loop_->Cancel(timer_);
    timer_armed_ = true;
    timer_deadline_ = deadline;
    std::weak_ptr<Connection> weak = weak_from_this();
    auto delay = std::chrono::duration_cast<Duration>(deadline - loop_->Now()) + Duration(1);
    timer_ = loop_->RunAfter(delay, [weak] {
      if (auto self = weak.lock()) self->OnTimer();
    });
  }

  void OnTimer() {
    timer_armed_ = false;
    if (closed_) return;
    MonoTime deadline;
    bool late;
    if (Deadline(&deadline, &late) && loop_->Now() >= deadline) {
      if (late && queue_.empty() && queued() == 0) {
        FailRequest(408);
        if (!closed_) {
          UpdateInterest();
          ArmTimer();
        }
      } else {
        Close();
      }
      return;
    }
    ArmTimer();
  }

  HttpServer* server_;
  net::EventLoop* loop_;
  net::UniqueFd fd_;
  // All I/O on fd_ goes through it; declared after fd_, so destroyed before fd_ closes.
  std::unique_ptr<net::Transport> transport_;
  std::string peer_;
  bool handshaking_ = false;
  uint32_t handshake_wants_ = EPOLLIN;
  bool write_wants_read_ = false;  // TLS: a write waits for the socket to be readable
  bool read_wants_write_ = false;  // TLS: a read waits for the socket to be writable

  std::string in_;
  size_t in_pos_ = 0;  // first byte of the message being parsed
  RequestParser parser_;
  BodyReader body_;
  Request cur_;
  bool cur_keep_alive_ = true;
  uint64_t cur_max_body_ = UINT64_MAX;  // from the head check
  bool in_body_ = false;
  bool reading_request_ = false;
  bool stopped_ = false;  // no more requests will be read
  bool in_process_ = false;

  std::deque<std::shared_ptr<Exchange>> queue_;
  std::string out_;
  size_t out_pos_ = 0;
  bool close_after_write_ = false;
  bool read_eof_ = false;
  bool lingering_ = false;
  bool closed_ = false;
  bool close_pending_ = false;
  int busy_ = 0;
  uint32_t interest_ = 0;

  MonoTime request_start_{};
  MonoTime last_activity_{};
  MonoTime last_progress_{};
  MonoTime linger_deadline_{};
  bool timer_armed_ = false;
  MonoTime timer_deadline_{};
  net::EventLoop::TimerId timer_ = 0;
};

}  // namespace internal

// ---------------------------------------------------------------- ResponseWriter

using internal::Connection;
using internal::Exchange;

namespace {

// Both ends of a live answer, or nulls.
struct Live {
  std::shared_ptr<Exchange> ex;
  std::shared_ptr<Connection> conn;
};

Live Lock(const std::weak_ptr<Exchange>& weak) {
  Live l;
  l.ex = weak.lock();
  if (!l.ex || l.ex->finished) return {};
  l.conn = l.ex->conn.lock();
  if (!l.conn || l.conn->closed()) return {};
  return l;
}

void AddConnectionHeader(const Exchange& ex, HeaderList* headers) {
  if (FindHeader(*headers, "connection") != nullptr) return;
  if (!ex.keep_alive) {
    headers->emplace_back("Connection", "close");
  } else if (ex.http10) {
    headers->emplace_back("Connection", "keep-alive");
  }
}

}  // namespace

ResponseWriter& ResponseWriter::operator=(ResponseWriter&& o) noexcept {
  if (this != &o) {
    Finish();
    ex_ = std::move(o.ex_);
  }
  return *this;
}

ResponseWriter::~ResponseWriter() { Finish(); }

void ResponseWriter::Finish() {
  Live l = Lock(ex_);
  if (!l.ex) return;
  if (!l.ex->started) {
    Send(Response::Text(500, "handler did not answer\n"));
  } else {
    End();
  }
}

bool ResponseWriter::connected() const { return Lock(ex_).ex != nullptr; }

void ResponseWriter::Send(Response resp) {
  Live l = Lock(ex_);
  if (!l.ex || l.ex->started) return;
  Exchange* ex = l.ex.get();
  ex->started = true;
  AddConnectionHeader(*ex, &resp.headers);
  AppendResponse(resp, &l.conn->SinkFor(ex), ex->head_only);
  ex->finished = true;
  l.conn->Produced(ex);
}

void ResponseWriter::StartStream(int status, HeaderList headers) {
  Live l = Lock(ex_);
  if (!l.ex || l.ex->started) return;
  Exchange* ex = l.ex.get();
  ex->started = true;
  RemoveHeader(&headers, "content-length");
  RemoveHeader(&headers, "transfer-encoding");
  bool no_body = StatusHasNoBody(status);
  if (ex->http10) {
    ex->keep_alive = false;  // HTTP/1.0 has no chunked coding: the body ends at close
  } else if (!no_body) {
    ex->chunked = true;
    headers.emplace_back("Transfer-Encoding", "chunked");
  }
  AddConnectionHeader(*ex, &headers);
  AppendResponseHead(status, headers, &l.conn->SinkFor(ex));
  if (no_body) {
    ex->chunked = false;
    ex->head_only = true;
  }
  l.conn->Produced(ex);
}

bool ResponseWriter::Write(std::string_view data) {
  Live l = Lock(ex_);
  if (!l.ex) return false;
  Exchange* ex = l.ex.get();
  if (!ex->started) StartStream(200, {});
  if (!connected()) return false;
  if (ex->head_only || data.empty()) return true;
  std::string& sink = l.conn->SinkFor(ex);
  if (ex->chunked) {
    AppendChunk(data, &sink);
  } else {
    sink.append(data);
  }
  l.conn->Produced(ex);
  return connected();
}

void ResponseWriter::End() {
  Live l = Lock(ex_);
  if (!l.ex) return;
  Exchange* ex = l.ex.get();
  if (!ex->started) StartStream(200, {});
  if (!connected()) return;
  if (ex->chunked && !ex->head_only) AppendLastChunk(&l.conn->SinkFor(ex));
  ex->finished = true;
  l.conn->Produced(ex);
}

bool ResponseWriter::streaming() const {
  Live l = Lock(ex_);
  return l.ex && l.ex->started;
}

size_t ResponseWriter::buffered_bytes() const {
  Live l = Lock(ex_);
  if (!l.ex) return 0;
  return l.conn->queued() + l.ex->held.size();
}

void ResponseWriter::OnClose(std::function<void()> cb) {
  if (auto ex = ex_.lock()) ex->on_close = std::move(cb);
}

// ---------------------------------------------------------------- HttpServer

HttpServer::HttpServer(net::EventLoop* loop, net::UniqueFd listener, Handler handler,
                       ServerOptions opts)
    : loop_(loop), listener_(std::move(listener)), handler_(std::move(handler)), options_(opts) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Create(net::EventLoop* loop, net::UniqueFd listener,
                                                       Handler handler, ServerOptions options) {
  if (!listener) return InvalidInput("HttpServer: invalid listening fd");
  RETURN_IF_ERROR(net::SetNonBlocking(listener.get()));
  std::unique_ptr<HttpServer> s(
      new HttpServer(loop, std::move(listener), std::move(handler), options));
  HttpServer* raw = s.get();
  RETURN_IF_ERROR(loop->Add(raw->listener_.get(), EPOLLIN, [raw](uint32_t) { raw->OnAccept(); }));
  return s;
}

HttpServer::~HttpServer() {
  if (accept_retry_ != 0) loop_->Cancel(accept_retry_);
  if (listener_) loop_->Remove(listener_.get());
  std::vector<std::shared_ptr<Connection>> all;
  all.reserve(conns_.size());
  for (auto& [fd, c] : conns_) all.push_back(c);
  for (auto& c : all) c->Close();
  conns_.clear();
}

void HttpServer::StopAccepting() {
  if (accept_retry_ != 0) loop_->Cancel(accept_retry_);
  accept_retry_ = 0;
  if (listener_) loop_->Remove(listener_.get());
  listener_.Reset();
}

void HttpServer::OnAccept() {
  for (int i = 0; i < 128; ++i) {
    Result<net::UniqueFd> r = net::Accept(listener_.get());
    if (!r.ok()) {
      // Out of fds (EMFILE) or similar: pause accepting briefly instead of spinning.
      loop_->Remove(listener_.get());
      accept_retry_ = loop_->RunAfter(Duration(100), [this] {
        accept_retry_ = 0;
        if (listener_) {
          Status st = loop_->Add(listener_.get(), EPOLLIN, [this](uint32_t) { OnAccept(); });
          if (!st.ok()) logging::Error("http", "listener not resumed: " + st.message());
        }
      });
      return;
    }
    net::UniqueFd fd = std::move(r).value();
    if (!fd) return;
    if (conns_.size() >= options_.max_connections) continue;  // closed by UniqueFd
    // Only TCP has Nagle's algorithm: on a unix socket (the admin API) this fails, harmlessly.
    if (Status nd = net::SetNoDelay(fd.get()); !nd.ok()) {
      logging::Debug("http", "TCP_NODELAY not set: " + nd.message());
    }
    int key = fd.get();
    std::string peer = net::PeerName(key);
    auto conn = std::make_shared<Connection>(this, std::move(fd), std::move(peer));
    conns_[key] = conn;
    if (!conn->Start().ok()) conn->Close();
  }
}

void HttpServer::Forget(int fd) { conns_.erase(fd); }

}  // namespace slipway::http
