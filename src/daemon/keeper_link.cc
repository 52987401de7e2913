#include "daemon/keeper_link.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace slipway::daemon {

Result<std::unique_ptr<KeeperLink>> KeeperLink::FromEnvironment(LogFn log) {
  ASSIGN_OR_RETURN(auto client, keeper::KeeperClient::FromEnvironment());
  std::unique_ptr<KeeperLink> link(new KeeperLink(std::move(client), std::move(log)));
  if (link->client_) {
    auto hello = link->client_->SayHello();
    if (hello.ok()) {
      link->generation_ = hello->generation;
      link->keeper_pid_ = hello->keeper_pid;
      link->cause_ = hello->cause;
    } else {
      link->Lost(hello.status());
    }
  }
  return link;
}

void KeeperLink::Lost(const Status& why) {
  if (client_) client_->MarkGone();
  if (loop_ && client_) loop_->Remove(client_->fd());
  if (lost_logged_) return;
  lost_logged_ = true;
  log_("keeper lost (" + why.message() +
       "); serving on without one: sockets stay open, the next `down` stops everything");
}

Result<std::vector<net::UniqueFd>> KeeperLink::Acquire(const std::string& host, int port, int count,
                                                       int* bound_port) {
  if (has_keeper()) {
    auto fds = client_->ListenTcp(host, port, count, /*reuseport=*/true, bound_port);
    if (fds.ok() || fds.status().code() != StatusCode::kUnavailable) return fds;
    Lost(fds.status());
  }
  std::vector<net::UniqueFd> out;
  int p = port;
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp(host, p, 1024, /*reuseport=*/true));
    if (p == 0) {
      ASSIGN_OR_RETURN(p, net::LocalPort(fd.get()));
    }
    out.push_back(std::move(fd));
  }
  if (bound_port) *bound_port = p;
  return out;
}

void KeeperLink::Release(const std::string& host, int port) {
  if (!has_keeper()) return;
  if (Status st = client_->ReleaseTcp(host, port); st.code() == StatusCode::kUnavailable) {
    Lost(st);
  }
}

Result<net::UniqueFd> KeeperLink::ListenTcp(const std::string& host, int port) {
  if (has_keeper()) {
    auto fds = client_->ListenTcp(host, port, 1, /*reuseport=*/false, nullptr);
    if (fds.ok()) return std::move((*fds)[0]);
    if (fds.status().code() != StatusCode::kUnavailable) return fds.status();
    Lost(fds.status());
  }
  return net::ListenTcp(host, port);
}

Result<net::UniqueFd> KeeperLink::ListenUnix(const std::string& path) {
  if (has_keeper()) {
    auto fd = client_->ListenUnix(path);
    if (fd.ok() || fd.status().code() != StatusCode::kUnavailable) return fd;
    Lost(fd.status());
  }
  return net::ListenUnix(path);
}

bool KeeperLink::Holds(const std::string& host, int port) {
  if (!has_keeper()) return false;
  auto held = client_->HoldsTcp(host, port);
  if (!held.ok()) {
    if (held.status().code() == StatusCode::kUnavailable) Lost(held.status());
    return false;
  }
  return *held;
}

Status KeeperLink::Park(const std::string& key, const std::vector<int>& fds) {
  if (!has_keeper()) return Unavailable("no keeper");
  Status st = client_->HoldFds(key, fds);
  if (st.code() == StatusCode::kUnavailable) Lost(st);
  return st;
}

Result<std::vector<net::UniqueFd>> KeeperLink::Take(const std::string& key) {
  if (!has_keeper()) return Unavailable("no keeper");
  auto fds = client_->TakeFds(key);
  if (!fds.ok() && fds.status().code() == StatusCode::kUnavailable) Lost(fds.status());
  return fds;
}

void KeeperLink::Drop(const std::string& key) {
  if (!has_keeper()) return;
  if (Status st = client_->DropFds(key); st.code() == StatusCode::kUnavailable) Lost(st);
}

std::optional<int> KeeperLink::ExitOf(pid_t pid) {
  if (auto it = exits_.find(pid); it != exits_.end()) {
    int status = it->second;
    exits_.erase(it);
    return status;
  }
  if (!has_keeper()) return std::nullopt;
  auto got = client_->Exits();
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kUnavailable) Lost(got.status());
    return std::nullopt;
  }
  std::optional<int> mine;
  for (const auto& [p, status] : *got) {
    if (p == pid) {
      mine = status;
      continue;
    }
    if (exits_.emplace(p, status).second) exit_order_.push_back(p);
  }
  while (exit_order_.size() > 4096) {
    exits_.erase(exit_order_.front());
    exit_order_.pop_front();
  }
  return mine;
}

void KeeperLink::Ready() {
  if (!has_keeper()) return;
  if (Status st = client_->Ready(); !st.ok()) Lost(st);
}

void KeeperLink::Stopping() {
  if (!has_keeper()) return;
  if (Status st = client_->Stopping(); !st.ok()) Lost(st);
}

Status KeeperLink::Handover() {
  if (!has_keeper()) return Unavailable("no keeper: nothing would start a successor");
  Status st = client_->Handover();
  if (!st.ok()) {
    if (st.code() == StatusCode::kUnavailable) Lost(st);
    return st;
  }
  // The keeper closes its end after answering: that EOF is the handover, not its death.
  if (loop_) loop_->Remove(client_->fd());
  client_->MarkGone();
  lost_logged_ = true;
  return Status::OK();
}

Status KeeperLink::Watch(net::EventLoop* loop) {
  if (!has_keeper()) return Status::OK();
  loop_ = loop;
  // The keeper never speaks unasked, and every answer is read inside the call that asked:
  // readiness here means EOF (the keeper died) or an error.
  return loop->Add(client_->fd(), EPOLLIN | EPOLLRDHUP, [this](uint32_t events) {
    char c;
    ssize_t n = ::recv(client_->fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    bool spurious = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
                    !(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR));
    if (!spurious) Lost(Unavailable("the keeper closed the control channel"));
  });
}

}  // namespace slipway::daemon
