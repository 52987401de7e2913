// Fd passing: one message with file descriptors attached (SCM_RIGHTS) over a unix socket.
//
// Meant for SOCK_SEQPACKET socketpairs, where a message keeps its boundaries, so a request is
// one SendMessage() and its answer one RecvMessage(). Received fds are close-on-exec and owned
// by the returned Message. A truncated message or a truncated fd list is an error, and any fds
// that did arrive are closed: a peer can never leak fds into us. Stateless; safe from any
// thread (one thread per socket at a time).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/socket.h"

namespace slipway::net {

// At most this many fds travel in one message (the kernel's own limit is 253).
inline constexpr size_t kMaxPassedFds = 64;

struct Message {
  std::string data;
  std::vector<UniqueFd> fds;
  bool eof = false;  // the peer closed its end (data and fds are empty)
};

// Sends `data` (at least one byte) with `fds` attached. Blocks on a blocking socket;
// Unavailable ("would block") on a full non-blocking one. EPIPE when the peer is gone.
Status SendMessage(int sock, std::string_view data, std::span<const int> fds = {});

// Receives one message of at most `max_bytes`. Unavailable when nothing is pending on a
// non-blocking socket, or when SO_RCVTIMEO expired on a blocking one.
Result<Message> RecvMessage(int sock, size_t max_bytes = 64 * 1024);

}  // namespace slipway::net
