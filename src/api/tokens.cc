#include "api/tokens.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/hex.h"
#include "base/secret.h"
#include "store/statement.h"
#include "store/store.h"

namespace slipway::api {

namespace {

constexpr std::string_view kPrefix = "slw_";

constexpr store::SchemaStep kAccessSteps[] = {
    {1, "per-user API tokens (hashed) with roles",
     "CREATE TABLE api_tokens ("
     "  name TEXT PRIMARY KEY,"
     "  role TEXT NOT NULL,"
     "  hash TEXT NOT NULL UNIQUE,"
     "  created_ms INTEGER NOT NULL);"},
    {2, "the audit trail of the API's mutations",
     "CREATE TABLE audit ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  time_ms INTEGER NOT NULL,"
     "  who TEXT NOT NULL,"
     "  action TEXT NOT NULL,"
     "  target TEXT NOT NULL,"
     "  status INTEGER NOT NULL,"
     "  result TEXT NOT NULL);"
     "CREATE INDEX audit_time ON audit(time_ms);"},
};
constexpr store::ModuleSchema kAccessSchema{"access", kAccessSteps};

std::string TokenHash(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr) != 1) return {};
  return HexEncode(md, n);
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

const store::ModuleSchema& AccessSchema() { return kAccessSchema; }

std::string_view TokenRoleName(TokenRole r) {
  switch (r) {
    case TokenRole::kViewer:
      return "viewer";
    case TokenRole::kDeployer:
      return "deployer";
    case TokenRole::kAdmin:
      return "admin";
  }
  return "?";
}

Result<TokenRole> ParseTokenRole(std::string_view s) {
  if (s == "viewer") return TokenRole::kViewer;
  if (s == "deployer") return TokenRole::kDeployer;
  if (s == "admin") return TokenRole::kAdmin;
  std::string shown(s.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return InvalidInput(fmt::format("role: expected viewer, deployer or admin, got \"{}\"", shown));
}

Status CheckTokenName(std::string_view name) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  bool ok = !name.empty() && name.size() <= 64 && name.front() != '.' && name.front() != '_' &&
            name.front() != '-';
  for (char c : name) ok = ok && ok_char(c);
  if (ok) return Status::OK();
  return InvalidInput(
      "name: expected 1 to 64 of a-z, 0-9, '.', '_', '-' starting with a letter or digit");
}

TokenRegistry::TokenRegistry(store::Store* store, Clock* clock) : store_(store), clock_(clock) {}
TokenRegistry::~TokenRegistry() = default;

Result<std::unique_ptr<TokenRegistry>> TokenRegistry::Open(store::Store* store, Clock* clock) {
  RETURN_IF_ERROR(store->Apply(kAccessSchema));
  std::unique_ptr<TokenRegistry> r(new TokenRegistry(store, clock));
  RETURN_IF_ERROR(r->Load());
  return r;
}

Status TokenRegistry::Load() {
  ASSIGN_OR_RETURN(auto st, store::Statement::Prepare(
                                store_->db(), "SELECT name, role, hash, created_ms FROM api_tokens",
                                "load api tokens"));
  by_hash_.clear();
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    Result<TokenRole> role = ParseTokenRole(st->ColumnText(1));
    if (!role.ok()) continue;  // a role this binary does not know grants nothing
    by_hash_[st->ColumnText(2)] = TokenInfo{st->ColumnText(0), *role, st->ColumnInt64(3)};
  }
  return Status::OK();
}

Result<std::string> TokenRegistry::Create(const std::string& name, TokenRole role) {
  RETURN_IF_ERROR(CheckTokenName(name));
  for (const auto& [hash, info] : by_hash_) {
    if (info.name == name) {
      return AlreadyExists(fmt::format("a token named \"{}\" exists (revoke it first)", name));
    }
  }
  if (by_hash_.size() >= kMaxTokens) {
    return FailedPrecondition(fmt::format("at most {} tokens (revoke some first)", kMaxTokens));
  }
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) return IoError("the system's random source failed");
  std::string token = std::string(kPrefix) + HexEncode(random, sizeof random);
  const std::string hash = TokenHash(token);
  if (hash.empty()) return Internal("SHA-256 failed");
  TokenInfo info{name, role, clock_->WallMillis()};
  ASSIGN_OR_RETURN(
      auto st, store::Statement::Prepare(store_->db(),
                                         "INSERT INTO api_tokens (name, role, hash, created_ms) "
                                         "VALUES (?, ?, ?, ?)",
                                         "create api token"));
  RETURN_IF_ERROR(st->BindText(1, name));
  RETURN_IF_ERROR(st->BindText(2, TokenRoleName(role)));
  RETURN_IF_ERROR(st->BindText(3, hash));
  RETURN_IF_ERROR(st->BindInt64(4, info.created_ms));
  RETURN_IF_ERROR(st->Run());
  by_hash_[hash] = std::move(info);
  return token;
}

Status TokenRegistry::Revoke(const std::string& name) {
  auto it = std::find_if(by_hash_.begin(), by_hash_.end(),
                         [&](const auto& kv) { return kv.second.name == name; });
  if (it == by_hash_.end()) {
    RETURN_IF_ERROR(CheckTokenName(name));
    return NotFound(fmt::format("no token named \"{}\"", name));
  }
  ASSIGN_OR_RETURN(auto st,
                   store::Statement::Prepare(store_->db(), "DELETE FROM api_tokens WHERE name = ?",
                                             "revoke api token"));
  RETURN_IF_ERROR(st->BindText(1, name));
  RETURN_IF_ERROR(st->Run());
  by_hash_.erase(it);
  return Status::OK();
}

std::vector<TokenInfo> TokenRegistry::List() const {
  std::vector<TokenInfo> out;
  for (const auto& [hash, info] : by_hash_) out.push_back(info);
  std::sort(out.begin(), out.end(),
            [](const TokenInfo& a, const TokenInfo& b) { return a.name < b.name; });
  return out;
}

std::optional<TokenInfo> TokenRegistry::Find(std::string_view token) const {
  // Only our own shape is worth hashing.
  if (token.size() != kPrefix.size() + 64 || !token.starts_with(kPrefix) ||
      !IsHex(token.substr(kPrefix.size()))) {
    return std::nullopt;
  }
  const std::string hash = TokenHash(token);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || !SameSecret(it->first, hash)) return std::nullopt;
  return it->second;
}

}  // namespace slipway::api
