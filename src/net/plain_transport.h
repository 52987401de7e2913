// PlainTransport: a Transport in clear — read(2), sendmsg(2) (MSG_NOSIGNAL) and shutdown(2) on
// the fd, which must be a socket (TCP or unix), with EAGAIN reported as kWantRead / kWantWrite.
// The fd is the caller's (net/transport.h). One thread: the fd's loop thread.
#pragma once

#include "net/transport.h"

namespace slipway::net {

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}

  IoResult Handshake() override { return {}; }
  IoResult Read(char* buf, size_t len) override;
  IoResult Writev(const iovec* iov, int count) override;
  void ShutdownWrite() override;
  bool secure() const override { return false; }

 private:
  int fd_;
};

}  // namespace slipway::net
