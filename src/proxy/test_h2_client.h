// H2Client: a blocking HTTP/2 client on nghttp2's client session, for tests that must see
// frames curl hides, and streams opened with any header block (Open/Write/End: a WebSocket
// over an extended CONNECT). Test-only and header-only (compiled into the test binaries alone:
// the proxy's tests and the integration tests of the host's ingress).
#pragma once

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/test_upstream.h"

namespace slipway::proxy::testing {

// A blocking HTTP/2 client on nghttp2's client session, for what curl cannot show: several
// streams on one connection driven step by step, each HEADERS frame of a stream (interim
// answers, trailers), RST_STREAM codes and GOAWAY's last stream id.
class H2Client {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;
  struct Stream {
    std::vector<Fields> blocks;  // each HEADERS frame received, in order
    std::string body;
    bool closed = false;
    bool remote_end = false;  // the server's END_STREAM came (DATA or HEADERS)
    uint32_t error = 0;       // RST_STREAM code (or REFUSED_STREAM after a GOAWAY)
    // Request body and trailers; `hold` keeps the body back until Release().
    std::string req_body;
    size_t req_off = 0;
    Fields req_trailers;
    bool hold = false;
    // A stream opened by Open(): its body is what Write() adds, until End().
    bool open = false;
    bool end = false;
    // keep_body false: DATA is counted and hashed (FNV-1a) instead of kept.
    bool keep_body = true;
    uint64_t body_bytes = 0;
    uint64_t body_hash = 14695981039346656037ull;
    std::string Field(size_t block, const std::string& name) const {
      if (block >= blocks.size()) return "";
      for (const auto& [n, v] : blocks[block])
        if (n == name) return v;
      return "";
    }
    std::string Status(size_t block) const { return Field(block, ":status"); }
  };

  // Connects to 127.0.0.1:port, sending `sni` as the server name when not empty. ok() is
  // false when the handshake failed or did not pick h2.
  explicit H2Client(int port, const std::string& sni = "") {
    ctx_ = SSL_CTX_new(TLS_client_method());
    static const unsigned char kH2[] = "\x02h2";
    SSL_CTX_set_alpn_protos(ctx_, kH2, sizeof kH2 - 1);
    fd_ = ConnectTo(port);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
    if (SSL_connect(ssl_) != 1) return;
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
    if (alpn_len != 2 || std::memcmp(alpn, "h2", 2) != 0) return;
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, &H2Client::OnSend);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &H2Client::OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &H2Client::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &H2Client::OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &H2Client::OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &H2Client::OnFrame);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    // Hostile tests send header blocks over the server's limits.
    nghttp2_option_set_max_send_header_block_length(opt, 1 << 20);
    nghttp2_session_client_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Client() {
    if (session_) nghttp2_session_del(session_);
    SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  bool ok() const { return session_ != nullptr; }
  // The :authority of the requests Submit() queues from now on ("a.test" until set).
  void set_authority(const std::string& a) { authority_ = a; }
  const std::string& authority() const { return authority_; }
  int fd() const { return fd_; }
  bool eof() const { return eof_; }
  int32_t goaway_last() const { return goaway_last_; }

  // Queues a request (sent by the next Send/Run). A body, when given, ends the stream unless
  // `trailers` follow it. Its :authority is authority().
  int32_t Submit(const std::string& method, const std::string& path, const Fields& headers = {},
                 const std::string& body = "", const Fields& trailers = {}, bool hold = false) {
    auto s = std::make_unique<Stream>();
    s->req_body = body;
    s->req_trailers = trailers;
    s->hold = hold;
    std::vector<nghttp2_nv> nv;
    const std::string authority = authority_;
    const std::string scheme = "https";
    Add(&nv, ":method", method);
    Add(&nv, ":scheme", scheme);
    Add(&nv, ":authority", authority);
    Add(&nv, ":path", path);
    for (const auto& [n, v] : headers) Add(&nv, n, v);
    nghttp2_data_provider provider{};
    provider.source.ptr = s.get();
    provider.read_callback = &H2Client::ReadBody;
    const bool with_body = !body.empty() || !trailers.empty() || hold;
    const int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                              with_body ? &provider : nullptr, s.get());
    if (id > 0) streams_[id] = std::move(s);
    return id;
  }
  // Opens a stream with exactly these fields, pseudo-headers included and in this order (an
  // extended CONNECT, or a malformed block); its DATA is what Write() adds, until End().
  int32_t Open(const Fields& fields) {
    auto s = std::make_unique<Stream>();
    s->open = true;
    std::vector<nghttp2_nv> nv;
    for (const auto& [n, v] : fields) Add(&nv, n, v);
    nghttp2_data_provider provider{};
    provider.source.ptr = s.get();
    provider.read_callback = &H2Client::ReadBody;
    const int32_t id =
        nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &provider, s.get());
    if (id > 0) streams_[id] = std::move(s);
    return id;
  }
  void Write(int32_t id, std::string_view data) {
    streams_[id]->req_body.append(data);
    nghttp2_session_resume_data(session_, id);
  }
  // END_STREAM once what Write() gave is sent.
  void End(int32_t id) {
    streams_[id]->end = true;
    nghttp2_session_resume_data(session_, id);
  }
  void Reset(int32_t id, uint32_t code) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
  }
  // A SETTINGS value the server sent (its default until its SETTINGS came).
  uint32_t RemoteSetting(nghttp2_settings_id id) const {
    return nghttp2_session_get_remote_settings(session_, id);
  }
  bool settings_received() const { return settings_received_; }
  // Lets a held request body go.
  void Release(int32_t id) {
    streams_[id]->hold = false;
    nghttp2_session_resume_data(session_, id);
  }
  // Writes what the session has queued, reads nothing.
  bool Send() { return nghttp2_session_send(session_) == 0; }
  // Sends and reads until `done()` or the connection ends or `ms` pass; false on a timeout.
  bool Run(const std::function<bool()>& done, int ms = 10000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      if (eof_) return done();
      if (nghttp2_session_send(session_) != 0) return false;
      if (SSL_pending(ssl_) == 0) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
      }
      char buf[16384];
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      if (nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), n) < 0)
        eof_ = true;
    }
    return done();
  }
  bool RunUntilClosed(const std::vector<int32_t>& ids, int ms = 10000) {
    return Run(
        [&] {
          for (int32_t id : ids)
            if (!streams_[id]->closed) return false;
          return true;
        },
        ms);
  }
  Stream& stream(int32_t id) { return *streams_[id]; }

 private:
  // Names and values must outlive the submit call (nghttp2 copies them then).
  static void Add(std::vector<nghttp2_nv>* nv, std::string_view n, std::string_view v) {
    nv->push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  }
  static Stream* Of(nghttp2_session* s, int32_t id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(s, id));
  }
  static ssize_t OnSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* user) {
    auto* c = static_cast<H2Client*>(user);
    const int n = SSL_write(c->ssl_, data, static_cast<int>(len));
    return n > 0 ? n : NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  static int OnBeginHeaders(nghttp2_session* s, const nghttp2_frame* f, void*) {
    if (Stream* st = Of(s, f->hd.stream_id)) st->blocks.emplace_back();
    return 0;
  }
  static int OnHeader(nghttp2_session* s, const nghttp2_frame* f, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
    if (Stream* st = Of(s, f->hd.stream_id))
      st->blocks.back().emplace_back(std::string(reinterpret_cast<const char*>(name), namelen),
                                     std::string(reinterpret_cast<const char*>(value), valuelen));
    return 0;
  }
  static int OnData(nghttp2_session* s, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void*) {
    Stream* st = Of(s, id);
    if (!st) return 0;
    st->body_bytes += len;
    if (st->keep_body) {
      st->body.append(reinterpret_cast<const char*>(data), len);
    } else {
      for (size_t i = 0; i < len; ++i) st->body_hash = (st->body_hash ^ data[i]) * 1099511628211ull;
    }
    return 0;
  }
  static int OnClose(nghttp2_session* s, int32_t id, uint32_t code, void*) {
    if (Stream* st = Of(s, id)) {
      st->closed = true;
      st->error = code;
    }
    return 0;
  }
  static int OnFrame(nghttp2_session* s, const nghttp2_frame* f, void* user) {
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
      if (Stream* st = Of(s, f->hd.stream_id)) st->remote_end = true;
    if (f->hd.type == NGHTTP2_GOAWAY)
      static_cast<H2Client*>(user)->goaway_last_ = f->goaway.last_stream_id;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
      static_cast<H2Client*>(user)->settings_received_ = true;
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session* s, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                          nghttp2_data_source* src, void*) {
    auto* st = static_cast<Stream*>(src->ptr);
    if (st->hold) return NGHTTP2_ERR_DEFERRED;
    const size_t n = std::min(len, st->req_body.size() - st->req_off);
    std::memcpy(buf, st->req_body.data() + st->req_off, n);
    st->req_off += n;
    if (st->open) {
      if (st->req_off == st->req_body.size() && st->end) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (n == 0) {
        return NGHTTP2_ERR_DEFERRED;
      }
      return static_cast<ssize_t>(n);
    }
    if (st->req_off == st->req_body.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!st->req_trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv;
        for (const auto& [n2, v] : st->req_trailers) Add(&nv, n2, v);
        if (nghttp2_submit_trailer(s, id, nv.data(), nv.size()) != 0)
          return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
    }
    return static_cast<ssize_t>(n);
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  bool eof_ = false;
  int32_t goaway_last_ = -1;
  bool settings_received_ = false;
  std::string authority_ = "a.test";
};

}  // namespace slipway::proxy::testing
