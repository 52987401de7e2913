#include "keeper/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdlib>

#include "keeper/protocol.h"
#include "net/fd_passing.h"

namespace slipway::keeper {

Result<std::unique_ptr<KeeperClient>> KeeperClient::FromEnvironment() {
  const char* v = std::getenv("SLIPWAY_KEEPER_FD");
  if (v == nullptr) return std::unique_ptr<KeeperClient>();
  std::string text = v;
  ::unsetenv("SLIPWAY_KEEPER_FD");
  long fd = -1;
  if (!ParseInt(text, 3, 1 << 20, &fd)) {
    return InvalidInput("SLIPWAY_KEEPER_FD: \"" + text + "\" is not an fd number (3 or more)");
  }
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      type != SOCK_SEQPACKET) {
    return InvalidInput("SLIPWAY_KEEPER_FD: fd " + text + " is not the keeper's socket");
  }
  ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);  // services must not inherit it
  timeval tv{5, 0};
  ::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return std::make_unique<KeeperClient>(net::UniqueFd(static_cast<int>(fd)));
}

KeeperClient::KeeperClient(net::UniqueFd fd) : fd_(std::move(fd)) {}

bool KeeperClient::gone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gone_;
}

void KeeperClient::MarkGone() {
  std::lock_guard<std::mutex> lock(mu_);
  gone_ = true;
}

Result<KeeperClient::Answer> KeeperClient::Call(const std::string& request,
                                                const std::vector<int>& fds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (gone_) return Unavailable("no keeper");
  if (Status st = net::SendMessage(fd_.get(), request, fds); !st.ok()) {
    gone_ = true;
    return Unavailable("keeper: " + st.message());
  }
  auto m = net::RecvMessage(fd_.get());
  if (!m.ok() || m->eof) {
    gone_ = true;
    return Unavailable(m.ok() ? "keeper: gone" : "keeper: " + m.status().message());
  }
  ASSIGN_OR_RETURN(std::vector<std::string> fields, DecodeAnswer(m->data));
  return Answer{std::move(fields), std::move(m->fds)};
}

Result<Hello> KeeperClient::SayHello() {
  Request r;
  r.command = Command::kHello;
  ASSIGN_OR_RETURN(Answer a, Call(EncodeRequest(r)));
  long gen = 0, pid = 0;
  // Two fields from a keeper older than handover: a later start is then a crash restart.
  if (a.fields.size() < 2 || a.fields.size() > 3 || !ParseInt(a.fields[0], 0, 1L << 40, &gen) ||
      !ParseInt(a.fields[1], 1, 1L << 30, &pid)) {
    return Internal("keeper: malformed hello");
  }
  StartCause cause = a.fields.size() == 3 ? ParseStartCause(a.fields[2])
                     : gen <= 1           ? StartCause::kFirst
                                          : StartCause::kCrash;
  return Hello{static_cast<int>(gen), static_cast<pid_t>(pid), cause};
}

Result<std::vector<net::UniqueFd>> KeeperClient::ListenTcp(const std::string& host, int port,
                                                           int count, bool reuseport,
                                                           int* bound_port) {
  Request r;
  r.command = Command::kListenTcp;
  r.host = host;
  r.port = port;
  r.count = count;
  r.reuseport = reuseport;
  ASSIGN_OR_RETURN(Answer a, Call(EncodeRequest(r)));
  long bound = 0;
  if (a.fields.size() != 1 || !ParseInt(a.fields[0], 1, 65535, &bound) ||
      a.fds.size() != static_cast<size_t>(count)) {
    return Internal("keeper: malformed listen answer");
  }
  for (auto& fd : a.fds) RETURN_IF_ERROR(net::SetNonBlocking(fd.get()));
  if (bound_port) *bound_port = static_cast<int>(bound);
  return std::move(a.fds);
}

Result<net::UniqueFd> KeeperClient::ListenUnix(const std::string& path) {
  Request r;
  r.command = Command::kListenUnix;
  r.path = path;
  ASSIGN_OR_RETURN(Answer a, Call(EncodeRequest(r)));
  if (a.fds.size() != 1) return Internal("keeper: malformed listen answer");
  RETURN_IF_ERROR(net::SetNonBlocking(a.fds[0].get()));
  return std::move(a.fds[0]);
}

Status KeeperClient::ReleaseTcp(const std::string& host, int port) {
  Request r;
  r.command = Command::kReleaseTcp;
  r.host = host;
  r.port = port;
  return Call(EncodeRequest(r)).status();
}

Result<bool> KeeperClient::HoldsTcp(const std::string& host, int port) {
  Request r;
  r.command = Command::kHoldsTcp;
  r.host = host;
  r.port = port;
  ASSIGN_OR_RETURN(Answer a, Call(EncodeRequest(r)));
  if (a.fields.size() != 1) return Internal("keeper: malformed holds answer");
  return a.fields[0] == "1";
}

Status KeeperClient::Ready() {
  Request r;
  r.command = Command::kReady;
  return Call(EncodeRequest(r)).status();
}

Status KeeperClient::Stopping() {
  Request r;
  r.command = Command::kStopping;
  return Call(EncodeRequest(r)).status();
}

Status KeeperClient::Retire() {
  Request r;
  r.command = Command::kRetire;
  return Call(EncodeRequest(r)).status();
}

Status KeeperClient::Handover() {
  Request r;
  r.command = Command::kHandover;
  return Call(EncodeRequest(r)).status();
}

Result<std::vector<std::pair<pid_t, int>>> KeeperClient::Exits() {
  std::vector<std::pair<pid_t, int>> out;
  Request r;
  r.command = Command::kExits;
  while (true) {  // a full answer means more may wait
    ASSIGN_OR_RETURN(Answer a, Call(EncodeRequest(r)));
    if (a.fields.size() % 2 != 0) return Internal("keeper: malformed exits answer");
    for (size_t i = 0; i < a.fields.size(); i += 2) {
      long pid = 0, status = 0;
      if (!ParseInt(a.fields[i], 1, 1L << 30, &pid) ||
          !ParseInt(a.fields[i + 1], 0, 0xffff, &status)) {
        return Internal("keeper: malformed exits answer");
      }
      out.emplace_back(static_cast<pid_t>(pid), static_cast<int>(status));
    }
    if (a.fields.size() / 2 < kMaxExitsPerAnswer) return out;
  }
}

Status KeeperClient::HoldFds(const std::string& key, const std::vector<int>& fds) {
  Request r;
  r.command = Command::kHoldFds;
  r.key = key;
  return Call(EncodeRequest(r), fds).status();
}

Result<std::vector<net::UniqueFd>> KeeperClient::TakeFds(const std::string& key) {
  Request r;
  r.command = Command::kTakeFds;
  r.key = key;
  ASSIGN_OR_RETURN(Answer a, Call(EncodeRequest(r)));
  return std::move(a.fds);
}

Status KeeperClient::DropFds(const std::string& key) {
  Request r;
  r.command = Command::kDropFds;
  r.key = key;
  return Call(EncodeRequest(r)).status();
}

}  // namespace slipway::keeper
