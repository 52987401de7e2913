#include "net/tls_transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/openssl_error.h"
#include "net/tls_alpn_challenges.h"

namespace slipway::net {

namespace {

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the peer has gone and
// kills a process that keeps the signal's default action (the CLI, tests). This BIO is the
// socket BIO with its write made send(MSG_NOSIGNAL), so the write fails with EPIPE instead,
// and its read noting a short read (below). The retry flags are set as OpenSSL's sock_write
// and sock_read set them.
int NoSignalWrite(BIO* b, const char* buf, int len) {
  errno = 0;
  int n = static_cast<int>(::send(static_cast<int>(BIO_get_fd(b, nullptr)), buf,
                                  static_cast<size_t>(len), MSG_NOSIGNAL));
  BIO_clear_retry_flags(b);
  if (n <= 0 && BIO_sock_should_retry(n)) BIO_set_retry_write(b);
  return n;
}

// The socket read OpenSSL made last on this thread: none, short (fewer bytes than asked, or
// would-block: the socket's queue was empty then) or full. A TlsTransport clears it before an
// SSL call and takes it into its own state after (NoteSocketRead), on the same thread, so the
// BIO needs no pointer back to its transport.
enum class SocketRead { kNone, kShort, kFull };
thread_local SocketRead last_socket_read = SocketRead::kNone;

// The socket BIO's read, with its retry flags as OpenSSL's sock_read sets them, noting whether
// the read drained the socket.
int ObservedRead(BIO* b, char* buf, int len) {
  if (!buf) return 0;
  errno = 0;
  int n = static_cast<int>(
      ::read(static_cast<int>(BIO_get_fd(b, nullptr)), buf, static_cast<size_t>(len)));
  BIO_clear_retry_flags(b);
  if (n <= 0 && BIO_sock_should_retry(n)) BIO_set_retry_read(b);
  last_socket_read = n < len ? SocketRead::kShort : SocketRead::kFull;
  if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // as sock_read: the peer closed
  return n;
}

// Made once (a function-local static: thread-safe) and never freed. Null when OpenSSL cannot
// allocate it.
const BIO_METHOD* NoSignalSocketMethod() {
  static const BIO_METHOD* const method = []() -> const BIO_METHOD* {
    const BIO_METHOD* socket = BIO_s_socket();
    // The socket BIO's type: SSL_get_fd and BIO_find_type see a socket.
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "socket (MSG_NOSIGNAL)");
    if (!m) return nullptr;
    if (BIO_meth_set_write(m, NoSignalWrite) != 1 || BIO_meth_set_read(m, ObservedRead) != 1 ||
        BIO_meth_set_puts(m, BIO_meth_get_puts(socket)) != 1 ||
        BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(socket)) != 1 ||
        BIO_meth_set_create(m, BIO_meth_get_create(socket)) != 1 ||
        BIO_meth_set_destroy(m, BIO_meth_get_destroy(socket)) != 1) {
      BIO_meth_free(m);
      return nullptr;
    }
    return m;
  }();
  return method;
}

// An SSL on `fd` (left open when the SSL is freed). Null when OpenSSL cannot allocate.
SSL* NewSsl(SSL_CTX* ctx, int fd) {
  const BIO_METHOD* method = NoSignalSocketMethod();
  if (!method) return nullptr;
  SSL* ssl = SSL_new(ctx);
  if (!ssl) return nullptr;
  BIO* bio = BIO_new(method);
  if (!bio) {
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO
  return ssl;
}

}  // namespace

std::unique_ptr<TlsTransport> TlsTransport::Accept(std::shared_ptr<const TlsServerContext> ctx,
                                                   int fd, bool offer_h2) {
  SSL* ssl = NewSsl(ctx->default_ctx(), fd);
  if (!ssl) return nullptr;
  if (offer_h2) OfferH2(ssl);
  SSL_set_accept_state(ssl);
  std::unique_ptr<TlsTransport> t(new TlsTransport(ssl, fd));
  t->ctx_ = std::move(ctx);
  return t;
}

std::unique_ptr<TlsTransport> TlsTransport::Connect(SSL_CTX* ctx, int fd,
                                                    std::string_view server_name) {
  SSL* ssl = NewSsl(ctx, fd);
  if (!ssl) return nullptr;
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, std::string(server_name).c_str());
  SSL_set_connect_state(ssl);
  return std::unique_ptr<TlsTransport>(new TlsTransport(ssl, fd));
}

std::unique_ptr<TlsTransport> TlsTransport::Connect(std::shared_ptr<const TlsClientContext> ctx,
                                                    int fd, const std::string& name) {
  SSL* ssl = NewSsl(ctx->ctx(), fd);
  if (!ssl) return nullptr;
  const std::string bare(Unbracketed(name));
  const bool ip = IsIpAddress(bare);
  if (!ip && !bare.empty()) SSL_set_tlsext_host_name(ssl, bare.c_str());
  if (ctx->verify()) {
    // OpenSSL checks the chain; the name is ours to ask for (else any valid certificate of
    // any site would pass).
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, bare.c_str())
                : X509_VERIFY_PARAM_set1_host(param, bare.c_str(), bare.size());
    if (ok != 1 || bare.empty()) {
      SSL_free(ssl);
      return nullptr;
    }
  }
  SSL_set_connect_state(ssl);
  std::unique_ptr<TlsTransport> t(new TlsTransport(ssl, fd));
  t->client_ctx_ = std::move(ctx);
  return t;
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

bool TlsTransport::OfferH2Only() {
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  return SSL_set_alpn_protos(ssl_, kH2, sizeof kH2) == 0;  // 0 is success here
}

IoResult TlsTransport::Fail(int ret) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return {IoStatus::kWantRead};
    case SSL_ERROR_WANT_WRITE:
      return {IoStatus::kWantWrite};
    case SSL_ERROR_ZERO_RETURN:
      return {IoStatus::kEof};
    default: {
      // A reset, a protocol error, a failed handshake: nothing more can be exchanged.
      const int saved_errno = errno;
      const bool verifies = client_ctx_ && client_ctx_->verify();
      long verify = verifies ? SSL_get_verify_result(ssl_) : X509_V_OK;
      if (verify != X509_V_OK) {
        error_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
      } else if (ERR_peek_last_error() != 0) {
        error_ = OpenSslError("TLS error");
      } else if (err == SSL_ERROR_SYSCALL) {
        error_ = saved_errno != 0 ? std::strerror(saved_errno) : "the peer closed the connection";
      } else {
        error_ = "TLS error";
      }
      ERR_clear_error();
      return {IoStatus::kError};
    }
  }
}

void TlsTransport::NoteSocketRead() {
  if (last_socket_read != SocketRead::kNone)
    socket_drained_ = last_socket_read == SocketRead::kShort;
  last_socket_read = SocketRead::kNone;
}

IoResult TlsTransport::Handshake() {
  // A TLS-ALPN-01 validation (net/tls_alpn_challenges.h) is its handshake and nothing more
  // (RFC 8737 section 3): close_notify once done, and kEof from then on.
  if (SSL_is_init_finished(ssl_)) return {IsAlpnChallenge(ssl_) ? IoStatus::kEof : IoStatus::kOk};
  ERR_clear_error();
  last_socket_read = SocketRead::kNone;
  int rc = SSL_do_handshake(ssl_);
  NoteSocketRead();
  if (rc == 1 && IsAlpnChallenge(ssl_)) {
    SSL_shutdown(ssl_);
    ERR_clear_error();
    return {IoStatus::kEof};
  }
  if (rc == 1) return {};
  IoResult r = Fail(rc);
  return r.status == IoStatus::kEof ? IoResult{IoStatus::kError} : r;
}

IoResult TlsTransport::Read(char* buf, size_t len) {
  if (IsAlpnChallenge(ssl_)) return {IoStatus::kEof};
  ERR_clear_error();
  size_t got = 0;
  last_socket_read = SocketRead::kNone;
  int rc = SSL_read_ex(ssl_, buf, len, &got);
  NoteSocketRead();
  // Drained when the last socket read was short and OpenSSL holds nothing more (no record, no
  // partial one): edge-triggered epoll reports any arrival since, so the caller need not make
  // the read that would only say kWantRead (one syscall per request on a keep-alive
  // connection). Otherwise more may wait: read until kWantRead.
  if (rc == 1) return {IoStatus::kOk, got, socket_drained_ && SSL_has_pending(ssl_) == 0};
  return Fail(rc);
}

IoResult TlsTransport::Writev(const iovec* iov, int count) {
  // SSL has no writev. Small pieces (a response head and a short body) go out as one record
  // and one syscall; larger ones one after the other. A retry after kWantWrite starts with
  // the same bytes (the caller queues what was not taken), as SSL_write requires.
  if (IsAlpnChallenge(ssl_)) return {IoStatus::kError};
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  if (count > 1 && total <= 16384) {
    thread_local char joined[16384];
    size_t off = 0;
    for (int i = 0; i < count; ++i) {
      std::memcpy(joined + off, iov[i].iov_base, iov[i].iov_len);
      off += iov[i].iov_len;
    }
    iovec one{joined, total};
    return Writev(&one, 1);
  }
  size_t done = 0;
  for (int i = 0; i < count; ++i) {
    if (iov[i].iov_len == 0) continue;
    ERR_clear_error();
    size_t wrote = 0;
    last_socket_read = SocketRead::kNone;  // a write may read (a key update, a ticket)
    int rc = SSL_write_ex(ssl_, iov[i].iov_base, iov[i].iov_len, &wrote);
    NoteSocketRead();
    if (rc != 1) {
      if (done > 0) {
        ERR_clear_error();
        return {IoStatus::kOk, done};
      }
      return Fail(rc);
    }
    done += wrote;
    if (wrote < iov[i].iov_len) break;
  }
  return {IoStatus::kOk, done};
}

void TlsTransport::ShutdownWrite() {
  if (SSL_is_init_finished(ssl_)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify; the peer's is not awaited
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_WR);
}

std::string TlsTransport::version() const { return SSL_get_version(ssl_); }

std::string TlsTransport::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : "";
}

std::string TlsTransport::server_name() const {
  const char* n = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return n ? n : "";
}

bool TlsTransport::resumed() const { return SSL_session_reused(ssl_) == 1; }

}  // namespace slipway::net
