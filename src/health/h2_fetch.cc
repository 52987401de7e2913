#include "health/h2_fetch.h"

#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "base/log.h"
#include "net/plain_transport.h"
#include "net/socket.h"
#include "net/tls_transport.h"

namespace slipway::health {

namespace {

std::string Ms(Duration d) { return std::to_string(d.count()) + "ms"; }

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// One exchange. Kept alive by the loop's fd callback and its timer while it runs. nghttp2's
// callbacks only record what happened (Fail / the response); the call completes after
// nghttp2 returns, so the session is never deleted inside one of its own callbacks.
class H2Fetch : public std::enable_shared_from_this<H2Fetch> {
 public:
  H2Fetch(net::EventLoop* loop, http::Endpoint ep, H2ProbeRequest req, Duration timeout,
          size_t max_body, std::function<void(Result<H2ProbeResponse>)> done)
      : loop_(loop),
        ep_(std::move(ep)),
        req_(std::move(req)),
        timeout_(timeout),
        max_body_(max_body),
        done_(std::move(done)) {}

  ~H2Fetch() {
    if (session_) nghttp2_session_del(session_);
  }
  H2Fetch(const H2Fetch&) = delete;
  H2Fetch& operator=(const H2Fetch&) = delete;

  void Start() {
    if (!StartSession()) {
      std::shared_ptr<H2Fetch> self = shared_from_this();
      loop_->Post([self] { self->Complete(); });
      return;
    }
    std::shared_ptr<H2Fetch> self = shared_from_this();
    Status st = loop_->Add(fd_.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP,
                           [self](uint32_t ev) { self->OnEvent(ev); });
    if (!st.ok()) {
      Fail(st.message());
      loop_->Post([self] { self->Complete(); });
      return;
    }
    added_ = true;
    if (timeout_.count() > 0) {
      timer_ = loop_->RunAfter(timeout_, [self] {
        self->timer_ = 0;
        self->Fail("timed out after " + Ms(self->timeout_));
        self->Complete();
      });
    }
  }

 private:
  // nghttp2's callbacks.
  static H2Fetch* Of(void* user) { return static_cast<H2Fetch*>(user); }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Fetch* f = Of(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != f->stream_id_) return 0;
    f->block_bytes_ = 0;
    f->block_fields_ = 0;
    f->in_trailers_ = f->final_head_;
    if (!f->final_head_) f->resp_.headers.clear();  // a 1xx head's fields are dropped
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    H2Fetch* f = Of(user);
    if (frame->hd.stream_id != f->stream_id_) return 0;
    f->block_bytes_ += namelen + valuelen + 32;  // RFC 9113's field size accounting
    if (f->block_bytes_ > kMaxH2ProbeHeaderBytes || ++f->block_fields_ > kMaxH2ProbeHeaders) {
      f->Fail("header block over " + std::to_string(kMaxH2ProbeHeaderBytes / 1024) + " KiB or " +
              std::to_string(kMaxH2ProbeHeaders) + " fields");
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (!f->in_trailers_ && n == ":status") {
      int code = 0;
      for (char c : v) code = code * 10 + (c - '0');  // nghttp2 checked: three digits
      f->resp_.status = code;
      return 0;
    }
    if (!n.empty() && n.front() == ':') return 0;
    (f->in_trailers_ ? f->resp_.trailers : f->resp_.headers)
        .emplace_back(std::move(n), std::move(v));
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Fetch* f = Of(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) f->goaway_ = true;
    if (frame->hd.stream_id != f->stream_id_) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !f->in_trailers_ && f->resp_.status >= 200) {
      f->final_head_ = true;
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      f->ended_ = true;
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user) {
    H2Fetch* f = Of(user);
    if (stream_id != f->stream_id_) return 0;
    const size_t room = f->max_body_ - f->resp_.body.size();
    f->resp_.body.append(reinterpret_cast<const char*>(data), std::min(room, len));
    if (len > room) {
      // Enough to judge by: the rest is not read.
      f->resp_.body_over_limit = true;
      f->answered_ = true;
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    H2Fetch* f = Of(user);
    if (stream_id != f->stream_id_) return 0;
    if (f->ended_ && f->final_head_) {
      f->answered_ = true;
    } else if (error_code != NGHTTP2_NO_ERROR || !f->final_head_) {
      f->Fail("stream reset by the server (" + std::string(nghttp2_http2_strerror(error_code)) +
              ")");
    } else {
      f->answered_ = true;  // RST_STREAM(NO_ERROR) after a complete answer
    }
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user) {
    H2Fetch* f = Of(user);
    const size_t n = std::min(length, f->req_.body.size() - f->body_off_);
    std::copy_n(f->req_.body.data() + f->body_off_, n, buf);
    f->body_off_ += n;
    if (f->body_off_ == f->req_.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  bool StartSession() {
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) return Fail("out of memory");
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, OnStreamClose);
    const int rc = nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) {
      session_ = nullptr;
      return Fail("out of memory");
    }
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) {
      return Fail("out of memory");
    }
    const bool tls = ep_.tls != nullptr;
    const std::string name = ep_.tls_name.empty() ? ep_.host : ep_.tls_name;
    const std::string method = req_.method, scheme = tls ? "https" : "http";
    const std::string authority = !req_.authority.empty() ? req_.authority
                                  : !ep_.tls_name.empty() ? ep_.tls_name
                                  : ep_.host.find(':') != std::string::npos
                                      ? "[" + ep_.host + "]:" + std::to_string(ep_.port)
                                      : ep_.host + ":" + std::to_string(ep_.port);
    const std::string m = ":method", s = ":scheme", a = ":authority", p = ":path";
    std::vector<nghttp2_nv> nv = {Nv(m, method), Nv(s, scheme), Nv(a, authority), Nv(p, req_.path)};
    for (const auto& [k, v] : req_.headers) nv.push_back(Nv(k, v));
    nghttp2_data_provider provider{};
    provider.read_callback = ReadBody;
    stream_id_ = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                        req_.body.empty() ? nullptr : &provider, nullptr);
    if (stream_id_ < 0) {
      return Fail("cannot submit the request: " + std::string(nghttp2_strerror(stream_id_)));
    }

    Result<net::UniqueFd> fd = net::ConnectTcp(ep_.host, ep_.port);
    if (!fd.ok()) return Fail(fd.status().message());
    fd_ = std::move(fd).value();
    // A probe works without it (one small request): a failure is only worth a debug line.
    if (Status nd = net::SetNoDelay(fd_.get()); !nd.ok())
      logging::Debug("health", "TCP_NODELAY not set: " + nd.message());
    if (tls) {
      std::unique_ptr<net::TlsTransport> t = net::TlsTransport::Connect(ep_.tls, fd_.get(), name);
      if (!t || !t->OfferH2Only()) return Fail("cannot start TLS for the name \"" + name + "\"");
      tls_ = t.get();
      tr_ = std::move(t);
    } else {
      tr_ = std::make_unique<net::PlainTransport>(fd_.get());
      handshake_done_ = true;
    }
    return true;
  }

  // Records the first reason the call fails; false for `return Fail(...)`.
  bool Fail(std::string why) {
    if (!failed_ && !answered_) {
      failed_ = true;
      error_ = std::move(why);
    }
    return false;
  }
  bool over() const { return failed_ || answered_; }

  void OnEvent(uint32_t ev) {
    if (finished_) return;
    Drive(ev);
    if (over()) Complete();
  }

  void Drive(uint32_t ev) {
    if (!connected_) {
      Status s = net::ConnectError(fd_.get());
      if (!s.ok()) {
        Fail(s.message());  // "connect: Connection refused"
        return;
      }
      connected_ = true;
    }
    if (!handshake_done_) {
      net::IoResult r = tr_->Handshake();
      if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) {
        Watch(r.status == net::IoStatus::kWantWrite ? EPOLLOUT : EPOLLIN);
        return;
      }
      if (r.status != net::IoStatus::kOk) {
        Fail("TLS handshake failed: " +
             (tls_->error().empty() ? "no reason given" : tls_->error()));
        return;
      }
      if (const std::string alpn = tls_->alpn(); alpn != "h2") {
        Fail(alpn.empty() ? "not HTTP/2 (the server chose no ALPN protocol)"
                          : "not HTTP/2 (ALPN picked " + alpn + ")");
        return;
      }
      handshake_done_ = true;
      ev |= EPOLLIN | EPOLLOUT;  // the handshake's last flight may have brought more
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) write_wants_read_ = false;
    Write();
    if (over()) return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) || read_wants_write_) Read();
    if (over()) return;
    Write();  // what reading made nghttp2 answer (SETTINGS ACK, WINDOW_UPDATE)
    if (over()) return;
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      Fail(goaway_ ? "the server closed the HTTP/2 session (GOAWAY) before answering"
                   : "HTTP/2 protocol error: the session ended without an answer");
      return;
    }
    // A TLS write waiting for input must not spin on a writable socket.
    const bool want_out = (out_off_ < out_.size() && !write_wants_read_) || read_wants_write_;
    Watch(EPOLLIN | EPOLLRDHUP | (want_out ? static_cast<uint32_t>(EPOLLOUT) : 0U));
  }

  void Write() {
    while (!write_closed_) {
      if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
        const uint8_t* data = nullptr;
        for (;;) {  // batch nghttp2's frames into one write
          const ssize_t n = nghttp2_session_mem_send(session_, &data);
          if (n < 0) {
            Fail("HTTP/2: " + std::string(nghttp2_strerror(static_cast<int>(n))));
            return;
          }
          if (n == 0) break;
          out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
          if (out_.size() >= 64 * 1024) break;
        }
        if (out_.empty()) return;
      }
      net::IoResult r = tr_->Write(out_.data() + out_off_, out_.size() - out_off_);
      if (r.status == net::IoStatus::kOk) {
        out_off_ += r.bytes;
        continue;
      }
      if (r.status == net::IoStatus::kWantRead) write_wants_read_ = true;
      if (r.status == net::IoStatus::kWantWrite || r.status == net::IoStatus::kWantRead) return;
      // The server may have answered and closed: what it said is read next.
      out_off_ = out_.size();
      write_closed_ = true;
      return;
    }
  }

  void Read() {
    read_wants_write_ = false;
    char buf[16384];
    for (int i = 0; i < 64 && !over(); ++i) {
      net::IoResult r = tr_->Read(buf, sizeof buf);
      if (r.status == net::IoStatus::kOk) {
        if (!got_bytes_ && std::string_view(buf, r.bytes).starts_with("HTTP/1.")) {
          Fail("not HTTP/2 (the server answered HTTP/1.x)");
          return;
        }
        got_bytes_ = true;
        const ssize_t rv =
            nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), r.bytes);
        if (rv < 0) {
          Fail("HTTP/2 protocol error: " + std::string(nghttp2_strerror(static_cast<int>(rv))));
          return;
        }
        continue;
      }
      if (r.status == net::IoStatus::kWantRead) return;
      if (r.status == net::IoStatus::kWantWrite) {
        read_wants_write_ = true;
        return;
      }
      if (r.status == net::IoStatus::kError && tls_ && !tls_->error().empty()) {
        Fail("connection reset: " + tls_->error());
      } else {
        Fail(got_bytes_ ? "connection closed before the answer ended"
                        : "connection closed before any HTTP/2 frame (not an HTTP/2 server?)");
      }
      return;
    }
  }

  void Watch(uint32_t events) {
    if (Status st = loop_->Modify(fd_.get(), events); !st.ok()) Fail(st.message());
  }

  void Complete() {
    if (finished_) return;
    finished_ = true;
    if (timer_) loop_->Cancel(timer_);
    timer_ = 0;
    if (added_) loop_->Remove(fd_.get());
    tls_ = nullptr;
    tr_.reset();
    fd_.Reset();
    auto done = std::move(done_);
    if (answered_) {
      done(std::move(resp_));
    } else {
      done(Unavailable(error_.empty() ? "no answer" : error_));
    }
  }

  net::EventLoop* loop_;
  http::Endpoint ep_;
  H2ProbeRequest req_;
  Duration timeout_;
  size_t max_body_;
  std::function<void(Result<H2ProbeResponse>)> done_;

  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;
  net::UniqueFd fd_;
  std::unique_ptr<net::Transport> tr_;
  net::TlsTransport* tls_ = nullptr;
  bool added_ = false;
  net::EventLoop::TimerId timer_ = 0;
  bool connected_ = false;
  bool handshake_done_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  bool write_closed_ = false;
  bool got_bytes_ = false;
  std::string out_;
  size_t out_off_ = 0;
  size_t body_off_ = 0;

  H2ProbeResponse resp_;
  size_t block_bytes_ = 0;
  size_t block_fields_ = 0;
  bool in_trailers_ = false;
  bool final_head_ = false;
  bool ended_ = false;
  bool goaway_ = false;

  bool answered_ = false;
  bool failed_ = false;
  bool finished_ = false;
  std::string error_;
};

}  // namespace

void FetchH2(net::EventLoop* loop, const http::Endpoint& ep, H2ProbeRequest req, Duration timeout,
             size_t max_body, std::function<void(Result<H2ProbeResponse>)> done) {
  auto f = std::make_shared<H2Fetch>(loop, ep, std::move(req), timeout, max_body, std::move(done));
  f->Start();
}

const std::string* FindField(const H2Fields& fields, std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace slipway::health
