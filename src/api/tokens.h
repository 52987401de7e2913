// TokenRegistry: the API's per-user tokens. Each has a name (who it stands for in the audit
// trail) and a role: a viewer reads, a deployer also deploys, promotes, pauses, resumes, rolls
// back and toggles flags, an admin may do everything (tokens included).
//
// A token is "slw_" followed by 64 hex digits (256 random bits from OpenSSL). It is shown once,
// when created; the registry keeps only its SHA-256, in the state database (table
// `api_tokens`, module "access"), so tokens survive a daemon restart, a copy of state.db
// grants nothing, and creating or revoking one is a transaction like every other state change.
// Lookups hash the presented token and find the hash in memory: a guess's timing says nothing
// about how close it came; the stored hash is compared once more in constant time.
//
// Ownership: the daemon owns it (it borrows the store's connection, which outlives it). Threads:
// the control loop only, like the router that asks it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/schema.h"

namespace slipway::store {
class Store;
class Statement;
}  // namespace slipway::store

namespace slipway::api {

enum class TokenRole { kViewer, kDeployer, kAdmin };

std::string_view TokenRoleName(TokenRole r);
// "viewer", "deployer" or "admin"; InvalidInput naming what is expected otherwise.
Result<TokenRole> ParseTokenRole(std::string_view s);

// A token's name: 1 to 64 of [a-z0-9._-], starting with a letter or digit (it is printed in
// tables and the audit trail, so no spaces or control characters).
Status CheckTokenName(std::string_view name);

struct TokenInfo {
  std::string name;
  TokenRole role = TokenRole::kViewer;
  int64_t created_ms = 0;
};

// The tables of the "access" module: api_tokens (step 1) and the audit trail (step 2).
const store::ModuleSchema& AccessSchema();

class TokenRegistry {
 public:
  // Applies the module's schema steps and loads the tokens.
  static Result<std::unique_ptr<TokenRegistry>> Open(store::Store* store, Clock* clock);
  ~TokenRegistry();
  TokenRegistry(const TokenRegistry&) = delete;
  TokenRegistry& operator=(const TokenRegistry&) = delete;

  // A new token for `name` with `role`: the token itself, which is not kept. AlreadyExists when
  // the name is taken, InvalidInput for a bad name, IoError when the random source or the
  // store fails. At most kMaxTokens tokens (FailedPrecondition beyond).
  Result<std::string> Create(const std::string& name, TokenRole role);
  // Removes the token of `name` (NotFound if none): it stops working at once.
  Status Revoke(const std::string& name);
  // Every token's name, role and creation time, by name.
  std::vector<TokenInfo> List() const;
  // The token `token` stands for, if any.
  std::optional<TokenInfo> Find(std::string_view token) const;

  static constexpr size_t kMaxTokens = 1000;

 private:
  TokenRegistry(store::Store* store, Clock* clock);
  Status Load();

  store::Store* store_;
  Clock* clock_;
  std::map<std::string, TokenInfo> by_hash_;  // SHA-256 hex of the token → info
};

}  // namespace slipway::api
