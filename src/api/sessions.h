// SessionStore: the dashboard's logins. A browser posts a token once (admin, read or per-user)
// (POST /api/v1/session) and gets back a random session id in an HttpOnly cookie and a
// per-session CSRF token in the answer's body; the router then accepts the cookie as it
// accepts the bearer token, with the role and the name the posted token carried (read token =
// viewer, admin token = admin, a per-user token its own role), until the session expires or
// the browser logs out. The name is what the audit trail records for the session's actions.
// A session opened with a per-user token ends when that token is revoked (EndToken, which the
// router calls: api/router.h, Router::TokenRevoked).
//
// Sessions live in memory only (a daemon restart logs everyone out) and are keyed by the
// SHA-256 of their id, so a lookup's timing says nothing about a guessed id's prefix. Their
// number is bounded (the oldest goes first) and each expires a fixed time after login.
//
// LoginLimiter: failed logins per client address in a sliding minute; a client over the limit
// is answered 429 without its token being checked. Its table is bounded too: when full, every
// unknown address shares one bucket.
//
// Ownership: the daemon owns both and keeps them alive while the API serves. Threads: the
// control loop only (the API's listeners run on it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::api {

enum class SessionRole { kViewer, kDeployer, kAdmin };

std::string_view SessionRoleName(SessionRole r);

// The cookie that carries the session id.
inline constexpr std::string_view kSessionCookie = "slipway_session";
// The header a cookie-authenticated mutation carries the session's CSRF token in.
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

struct Session {
  SessionRole role = SessionRole::kViewer;
  std::string user;   // who logged in: the token's name ("alice", "admin token")
  std::string token;  // the per-user token it was opened with ("" for the project's tokens)
  std::string csrf;   // 64 hex characters, sent back on every mutation
  MonoTime expires;
  int64_t expires_wall_ms = 0;
};

// A new session as the login answers it.
struct NewSession {
  std::string id;  // the cookie's value (64 hex characters); only its hash is kept
  Session session;
};

struct LoginLimitOptions {
  int max_failures = 10;  // per address per window
  Duration window = std::chrono::minutes(1);
  size_t max_addresses = 4096;
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimitOptions options = {}, Clock* clock = Clock::Real())
      : options_(options), clock_(clock) {}

  // Whether `address` may try now; if not, how long until it may (for Retry-After).
  std::optional<Duration> Blocked(std::string_view address);
  void Failed(std::string_view address);
  void Succeeded(std::string_view address);

 private:
  struct Bucket {
    int failures = 0;
    MonoTime window_start;
  };
  Bucket& BucketOf(std::string_view address);

  LoginLimitOptions options_;
  Clock* clock_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

struct SessionOptions {
  Duration lifetime = std::chrono::hours(12);
  size_t max_sessions = 1000;
  LoginLimitOptions login_limits;
};

class SessionStore {
 public:
  explicit SessionStore(SessionOptions options = {}, Clock* clock = Clock::Real())
      : options_(options), clock_(clock), limiter_(options.login_limits, clock) {}

  // A new session with `role`; IoError if the system's random source fails.
  // `token`: the per-user token's name it is opened with ("" for the project's own tokens).
  Result<NewSession> Create(SessionRole role, std::string user = "", std::string token = "");
  // The session whose cookie value is `id`, if it exists and has not expired.
  std::optional<Session> Find(std::string_view id);
  // Ends the session `id` (nothing if unknown).
  void Remove(std::string_view id);
  // Ends every session opened with the per-user token `token` (revoked): how many there were.
  size_t EndToken(std::string_view token);
  size_t size() const { return sessions_.size(); }
  // Failed logins per address (the login route asks it before checking a token).
  LoginLimiter& limiter() { return limiter_; }
  Duration lifetime() const { return options_.lifetime; }

 private:
  void DropExpired();

  SessionOptions options_;
  Clock* clock_;
  std::map<std::string, Session> sessions_;  // SHA-256(id) → session
  LoginLimiter limiter_;
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), if present.
std::optional<std::string_view> CookieValue(std::string_view cookie_header, std::string_view name);

// The address part of a peer ("1.2.3.4:5678" → "1.2.3.4", "[::1]:80" → "::1").
std::string PeerAddress(std::string_view peer);

}  // namespace slipway::api
