#include "acme/challenge.h"

#include <cctype>
#include <future>

#include "http/server.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::acme {

namespace {
// Tokens are base64url (RFC 8555 8.1); anything else is not ours to answer.
bool IsTokenText(std::string_view t) {
  if (t.empty() || t.size() > 256) return false;
  for (char c : t) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}
}  // namespace

std::string_view ChallengeTypeName(ChallengeType t) {
  return t == ChallengeType::kTlsAlpn01 ? "tls-alpn-01" : "http-01";
}

Status ChallengeTable::Present(const std::string& domain, const std::string& token,
                               const std::string& key_authorization) {
  if (!IsTokenText(token)) return InvalidInput("ACME challenge token is not base64url");
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token] = key_authorization;
  return Status::OK();
}

void ChallengeTable::CleanUp(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_.erase(token);
}

std::optional<std::string> ChallengeTable::Answer(std::string_view path) const {
  if (path.substr(0, kChallengePathPrefix.size()) != kChallengePathPrefix) return std::nullopt;
  std::string_view token = path.substr(kChallengePathPrefix.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

size_t ChallengeTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_.size();
}

Http01Server::Http01Server() = default;
Http01Server::~Http01Server() { Stop(); }

Status Http01Server::Start(const std::string& host, int port) {
  if (thread_.joinable()) return FailedPrecondition("HTTP-01 responder already started");
  ASSIGN_OR_RETURN(loop_, net::EventLoop::Create());
  ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp(host, port));
  ASSIGN_OR_RETURN(port_, net::LocalPort(fd.get()));
  auto handler = [this](const http::Request& req, http::ResponseWriter w) {
    std::optional<std::string> answer;
    if (req.method == "GET" || req.method == "HEAD") answer = table_.Answer(req.Path());
    if (!answer) {
      w.Send(http::Response::Text(404, "not found\n"));
      return;
    }
    w.Send(http::Response::Text(200, *answer, "application/octet-stream"));
  };
  ASSIGN_OR_RETURN(server_, http::HttpServer::Create(loop_.get(), std::move(fd), handler));
  thread_ = std::thread([this] { loop_->Run(); });
  return Status::OK();
}

void Http01Server::Stop() {
  if (!thread_.joinable()) return;
  // The server belongs to the loop's thread: destroy it there, then stop the loop.
  std::promise<void> gone;
  loop_->Post([this, &gone] {
    server_.reset();
    gone.set_value();
  });
  gone.get_future().wait();
  loop_->Stop();
  thread_.join();
  loop_.reset();
}

}  // namespace slipway::acme
