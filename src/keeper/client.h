// KeeperClient: the daemon's side of the control channel to its keeper (protocol.h).
//
// Each call is one blocking request/answer round trip on the inherited socketpair (a few
// microseconds; bounded by a 5 s send/receive timeout so a wedged keeper cannot hang the
// daemon). Once the keeper is gone (EOF, EPIPE, timeout) every call answers Unavailable and
// the daemon carries on without it (it binds its own sockets; see docs/architecture.md).
//
// Threads: calls are serialized by a mutex; the daemon makes them from its control thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "keeper/protocol.h"
#include "net/socket.h"

namespace slipway::keeper {

struct Hello {
  int generation = 0;  // 1: the keeper's first daemon; more: a restart after a death
  pid_t keeper_pid = 0;
  StartCause cause = StartCause::kFirst;
};

class KeeperClient {
 public:
  // Takes the fd named by $SLIPWAY_KEEPER_FD (and removes the variable, so services never see
  // it). Null when the variable is unset (the daemon runs without a keeper); InvalidInput when
  // it does not name an open unix socket.
  static Result<std::unique_ptr<KeeperClient>> FromEnvironment();
  explicit KeeperClient(net::UniqueFd fd);

  Result<Hello> SayHello();
  // `count` listening sockets on host:port; `bound_port` gets the port (useful for port 0).
  Result<std::vector<net::UniqueFd>> ListenTcp(const std::string& host, int port, int count,
                                               bool reuseport, int* bound_port);
  Result<net::UniqueFd> ListenUnix(const std::string& path);
  Status ReleaseTcp(const std::string& host, int port);
  Result<bool> HoldsTcp(const std::string& host, int port);
  Status Ready();
  Status Stopping();
  // This daemon drains and exits with no successor under this keeper (the host's ingress on
  // SIGTERM): the keeper gives up its lock, pid file and listening sockets at once, so another
  // keeper (and daemon) may start in the folder meanwhile, and ends when this daemon exits.
  Status Retire();
  // Asks the keeper to start this daemon's successor now: this daemon drains and exits, and
  // its exit is expected. An error from a keeper that predates handover (unknown command).
  Status Handover();
  // Wait statuses of reaped processes since the last ask.
  Result<std::vector<std::pair<pid_t, int>>> Exits();
  Status HoldFds(const std::string& key, const std::vector<int>& fds);
  Result<std::vector<net::UniqueFd>> TakeFds(const std::string& key);
  Status DropFds(const std::string& key);

  int fd() const { return fd_.get(); }  // watch it for EPOLLHUP: the keeper died
  bool gone() const;
  void MarkGone();

 private:
  struct Answer {
    std::vector<std::string> fields;
    std::vector<net::UniqueFd> fds;
  };
  Result<Answer> Call(const std::string& request, const std::vector<int>& fds = {});

  mutable std::mutex mu_;
  net::UniqueFd fd_;
  bool gone_ = false;
};

}  // namespace slipway::keeper
