#include "api/sessions.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include "base/hex.h"

namespace slipway::api {

namespace {

Result<std::string> RandomHex(size_t bytes) {
  unsigned char buf[64];
  if (bytes > sizeof buf || RAND_bytes(buf, static_cast<int>(bytes)) != 1) {
    return IoError("the system's random source failed");
  }
  return HexEncode(buf, bytes);
}

std::string Sha256Hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr) != 1) return {};
  return HexEncode(md, n);
}

}  // namespace

std::string_view SessionRoleName(SessionRole r) {
  switch (r) {
    case SessionRole::kViewer:
      return "viewer";
    case SessionRole::kDeployer:
      return "deployer";
    case SessionRole::kAdmin:
      return "admin";
  }
  return "?";
}

Result<NewSession> SessionStore::Create(SessionRole role, std::string user, std::string token) {
  DropExpired();
  while (sessions_.size() >= std::max<size_t>(1, options_.max_sessions)) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.expires < b.second.expires;
    });
    sessions_.erase(oldest);
  }
  NewSession out;
  ASSIGN_OR_RETURN(out.id, RandomHex(32));
  ASSIGN_OR_RETURN(out.session.csrf, RandomHex(32));
  out.session.role = role;
  out.session.user = std::move(user);
  out.session.token = std::move(token);
  out.session.expires = clock_->Now() + options_.lifetime;
  out.session.expires_wall_ms = clock_->WallMillis() + options_.lifetime.count();
  sessions_[Sha256Hex(out.id)] = out.session;
  return out;
}

std::optional<Session> SessionStore::Find(std::string_view id) {
  // Ids are 64 hex characters: anything else is not worth hashing.
  if (id.size() != 64) return std::nullopt;
  auto it = sessions_.find(Sha256Hex(id));
  if (it == sessions_.end()) return std::nullopt;
  if (clock_->Now() >= it->second.expires) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void SessionStore::Remove(std::string_view id) {
  if (id.size() == 64) sessions_.erase(Sha256Hex(id));
}

size_t SessionStore::EndToken(std::string_view token) {
  if (token.empty()) return 0;
  return std::erase_if(sessions_, [token](const auto& kv) { return kv.second.token == token; });
}

void SessionStore::DropExpired() {
  const MonoTime now = clock_->Now();
  std::erase_if(sessions_, [now](const auto& kv) { return now >= kv.second.expires; });
}

LoginLimiter::Bucket& LoginLimiter::BucketOf(std::string_view address) {
  const MonoTime now = clock_->Now();
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_addresses) {
      std::erase_if(buckets_, [&](const auto& kv) {
        return now - kv.second.window_start >= options_.window;
      });
    }
    // Still full: every new address shares one bucket rather than growing the table.
    std::string key = buckets_.size() >= options_.max_addresses ? "*" : std::string(address);
    it = buckets_.try_emplace(std::move(key), Bucket{0, now}).first;
  }
  if (now - it->second.window_start >= options_.window) it->second = Bucket{0, now};
  return it->second;
}

std::optional<Duration> LoginLimiter::Blocked(std::string_view address) {
  Bucket& b = BucketOf(address);
  if (b.failures < options_.max_failures) return std::nullopt;
  auto left = options_.window - (clock_->Now() - b.window_start);
  return std::max(Duration(1000), std::chrono::duration_cast<Duration>(left));
}

void LoginLimiter::Failed(std::string_view address) { ++BucketOf(address).failures; }

void LoginLimiter::Succeeded(std::string_view address) {
  auto it = buckets_.find(address);
  if (it != buckets_.end()) buckets_.erase(it);
}

std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (pair.substr(0, eq) == name) {
      std::string_view v = pair.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return std::nullopt;
}

std::string PeerAddress(std::string_view peer) {
  if (peer.starts_with('[')) {
    size_t close = peer.find(']');
    if (close != std::string_view::npos) return std::string(peer.substr(1, close - 1));
  }
  size_t colon = peer.rfind(':');
  if (colon != std::string_view::npos && peer.find(':') == colon) {
    return std::string(peer.substr(0, colon));
  }
  return std::string(peer);
}

}  // namespace slipway::api
