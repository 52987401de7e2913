// Transport: how a connection's bytes cross its socket — in clear (PlainTransport) or through
// TLS (TlsTransport) — so code above it never reads or writes the fd itself (the role of h2o's
// socket and Envoy's transport socket).
//
// Results fit an edge-triggered event loop: an operation that cannot progress says which
// readiness it waits for (kWantRead / kWantWrite), and the caller retries it when that edge
// arrives. A TLS read may need to write (and a write to read) in the middle of a handshake or a
// key update, which is why both answers exist for both directions.
//
// A Transport owns nothing but its protocol state; the fd belongs to the caller, who closes it
// after destroying the transport. Used on one thread: the thread of the loop the fd is on.
#pragma once

#include <sys/epoll.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace slipway::net {

enum class IoStatus {
  kOk,         // bytes moved (possibly fewer than asked)
  kWantRead,   // no progress until the fd is readable
  kWantWrite,  // no progress until the fd is writable
  kEof,        // the peer closed (read side); for TLS, also a truncated stream
  kError,      // the connection is unusable (reset, protocol error, failed handshake)
};

struct IoResult {
  IoStatus status = IoStatus::kOk;
  size_t bytes = 0;  // > 0 only with kOk
  // kOk reads only: the transport knows nothing more is readable now (a short socket read and,
  // for TLS, nothing left in OpenSSL's buffer), so the caller may wait for the next readable
  // edge instead of reading again.
  bool drained = false;
};

// An epoll event mask applied to what an edge-triggered connection remembers of its socket:
// `readable`, `writable`, and which direction of a TLS transport waits for the other's edge. A
// writable edge resumes a read that waited for it, any input edge (hang-ups and errors count:
// the next read reports them) a write that waited for it.
inline void ApplyEvents(uint32_t events, bool* readable, bool* writable, bool* read_wants_write,
                        bool* write_wants_read) {
  const bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  if (events & EPOLLOUT) {
    *writable = true;
    if (*read_wants_write) {
      *read_wants_write = false;
      *readable = true;
    }
  }
  if (in && *write_wants_read) {
    *write_wants_read = false;
    *writable = true;
  }
  if (in) *readable = true;
}

class Transport {
 public:
  virtual ~Transport() = default;

  // Drives the handshake. kOk once established (at once for plain); otherwise kWantRead,
  // kWantWrite, kError, or kEof (a TLS-ALPN-01 handshake: no data follows). Read() and
  // Writev() also drive it; calling it lets the caller tell a failed handshake from a request.
  virtual IoResult Handshake() = 0;
  virtual IoResult Read(char* buf, size_t len) = 0;
  virtual IoResult Writev(const iovec* iov, int count) = 0;
  IoResult Write(const char* data, size_t len) {
    iovec v{const_cast<char*>(data), len};
    return Writev(&v, 1);
  }
  // Writes `out` from `*off` on as far as the transport takes it, advancing `*off`, while
  // `*writable` and not `*wants_read`: a would-block clears `*writable` (kWantWrite) or sets
  // `*wants_read` (kWantRead, TLS). False on an error or EOF: the caller closes. The one
  // flush loop of every connection that queues its output in one string.
  bool WriteQueued(const std::string& out, size_t* off, bool* writable, bool* wants_read) {
    while (*off < out.size() && *writable && !*wants_read) {
      IoResult r = Write(out.data() + *off, out.size() - *off);
      if (r.status == IoStatus::kOk) {
        *off += r.bytes;
      } else if (r.status == IoStatus::kWantWrite) {
        *writable = false;
      } else if (r.status == IoStatus::kWantRead) {
        *wants_read = true;
      } else {
        return false;
      }
    }
    return true;
  }
  // Ends the write side: TLS sends close_notify first, then the socket's write half closes.
  // Best effort (no retry): the caller is about to linger and close.
  virtual void ShutdownWrite() = 0;
  // True for TLS: what X-Forwarded-Proto reports.
  virtual bool secure() const = 0;
  // Server side: the SNI name the client's handshake carried ("" when none, or not TLS).
  virtual std::string server_name() const { return {}; }
};

}  // namespace slipway::net
