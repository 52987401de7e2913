// KeeperLink: the daemon's use of its keeper (src/keeper): listening sockets that outlive the
// daemon, the services' output pipes and exit statuses (runtime::ProcessKeeper: hold-fds,
// take-fds, drop-fds, exits), the "ready" and "stopping" words, and noticing the keeper's death.
//
// Without a keeper ($SLIPWAY_KEEPER_FD unset: `slipway daemon` run by hand, or a keeper that
// died) every socket is bound here, as before the keeper existed. A keeper that dies while the
// daemon runs changes nothing that serves: the daemon keeps its copies of the sockets and goes
// on without one (logged once); the next `down` stops everything as usual.
//
// Threads: the control loop's thread (the proxy calls Acquire/Release from Apply() there).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "keeper/client.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "proxy/proxy.h"
#include "runtime/process_keeper.h"

namespace slipway::daemon {

class KeeperLink : public proxy::ListenerSource, public runtime::ProcessKeeper {
 public:
  using LogFn = std::function<void(const std::string&)>;
  // Reads (and unsets) $SLIPWAY_KEEPER_FD. InvalidInput when it names no keeper socket.
  static Result<std::unique_ptr<KeeperLink>> FromEnvironment(LogFn log);

  bool has_keeper() const { return client_ && !client_->gone(); }
  // 1: the keeper's first daemon; more: this daemon replaces one that died. 0: no keeper.
  int generation() const { return generation_; }
  // Why the keeper started this daemon (kFirst without a keeper).
  keeper::StartCause start_cause() const { return cause_; }

  // proxy::ListenerSource
  Result<std::vector<net::UniqueFd>> Acquire(const std::string& host, int port, int count,
                                             int* bound_port) override;
  void Release(const std::string& host, int port) override;

  // One TCP listener (the API's), one unix listener (the API's socket).
  Result<net::UniqueFd> ListenTcp(const std::string& host, int port);
  Result<net::UniqueFd> ListenUnix(const std::string& path);
  // Whether the keeper holds host:port for this project (Engine's published-port check).
  bool Holds(const std::string& host, int port);

  // runtime::ProcessKeeper. Without a keeper: Park/Take fail (Unavailable), ExitOf answers
  // nothing. Statuses the keeper sends for other pids are kept (at most 4096) for later asks.
  Status Park(const std::string& key, const std::vector<int>& fds) override;
  Result<std::vector<net::UniqueFd>> Take(const std::string& key) override;
  void Drop(const std::string& key) override;
  std::optional<int> ExitOf(pid_t pid) override;

  // The keeper's pid (0 without one), from `hello`.
  pid_t keeper_pid() const { return keeper_pid_; }

  void Ready();
  void Stopping();
  // Asks the keeper to start this daemon's successor now (`slipway daemon restart`); the
  // keeper closes this link after answering. Unavailable without a keeper.
  Status Handover();
  // Watches the channel on `loop`: the keeper's death is logged and the link goes keeperless.
  Status Watch(net::EventLoop* loop);

 private:
  KeeperLink(std::unique_ptr<keeper::KeeperClient> client, LogFn log)
      : client_(std::move(client)), log_(std::move(log)) {}
  void Lost(const Status& why);

  std::unique_ptr<keeper::KeeperClient> client_;
  LogFn log_;
  int generation_ = 0;
  keeper::StartCause cause_ = keeper::StartCause::kFirst;
  pid_t keeper_pid_ = 0;
  std::map<pid_t, int> exits_;  // statuses asked for by nobody yet
  std::deque<pid_t> exit_order_;
  bool lost_logged_ = false;
  net::EventLoop* loop_ = nullptr;
};

}  // namespace slipway::daemon
