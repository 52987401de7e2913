// Per-user tokens and roles: the registry (hashed, persistent, hostile names and roles), the
// role each mutating route needs (one table; a new mutation must be classified here), the
// router's verdict for every route and every role, and the audit trail.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <set>

#include "api/audit.h"
#include "api/routes.h"
#include "api/tokens.h"
#include "store/store.h"

namespace slipway::api {
namespace {

namespace fs = std::filesystem;

constexpr char kAdmin[] = "admin-token-0123456789abcdef0123456789";
constexpr char kReader[] = "read-token-0123456789abcdef01234567890";

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-access-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Open();
  }
  void TearDown() override {
    tokens_.reset();
    audit_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Open() {
    tokens_.reset();
    audit_.reset();
    store_.reset();
    auto s = store::Store::Open(dir_ / "state.db", Clock::Real());
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    auto t = TokenRegistry::Open(store_.get(), Clock::Real());
    ASSERT_TRUE(t.ok()) << t.status().message();
    tokens_ = std::move(t).value();
    auto a = AuditLog::Open(store_.get(), Clock::Real());
    ASSERT_TRUE(a.ok()) << a.status().message();
    audit_ = std::move(a).value();
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenRegistry> tokens_;
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(AccessTest, TokensAreShownOnceStoredHashedAndSurviveARestart) {
  auto t = tokens_->Create("alice", TokenRole::kDeployer);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->size(), 4u + 64u);
  EXPECT_TRUE(t->starts_with("slw_"));
  auto found = tokens_->Find(*t);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "alice");
  EXPECT_EQ(found->role, TokenRole::kDeployer);

  // The database holds no token, only its hash.
  std::string db_bytes;
  {
    FILE* f = fopen((dir_ / "state.db").c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) db_bytes.append(buf, n);
    fclose(f);
  }
  EXPECT_EQ(db_bytes.find(t->substr(4)), std::string::npos);

  Open();
  found = tokens_->Find(*t);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "alice");
  ASSERT_EQ(tokens_->List().size(), 1u);
  EXPECT_EQ(tokens_->List()[0].role, TokenRole::kDeployer);

  // Another token, a near miss and a revoked one grant nothing.
  std::string near = *t;
  near.back() = near.back() == '0' ? '1' : '0';
  EXPECT_FALSE(tokens_->Find(near));
  EXPECT_FALSE(tokens_->Find(""));
  EXPECT_FALSE(tokens_->Find(t->substr(4)));
  EXPECT_FALSE(tokens_->Find(*t + "0"));
  ASSERT_TRUE(tokens_->Revoke("alice").ok());
  EXPECT_FALSE(tokens_->Find(*t));
  Open();
  EXPECT_FALSE(tokens_->Find(*t));
  EXPECT_TRUE(tokens_->List().empty());
}

TEST_F(AccessTest, HostileNamesAndRolesAreOneLineErrors) {
  for (std::string bad :
       {std::string(""), std::string(65, 'a'), std::string("Alice"), std::string("a b"),
        std::string("-x"), std::string(".."), std::string("a/b"), std::string("a\nb"),
        std::string("\xff\xfe"), std::string("a\0b", 3)}) {
    auto t = tokens_->Create(bad, TokenRole::kViewer);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
    EXPECT_EQ(t.status().message().find('\n'), std::string::npos);
    EXPECT_NE(t.status().message().find("name:"), std::string::npos);
  }
  EXPECT_TRUE(tokens_->Create("a", TokenRole::kViewer).ok());
  auto dup = tokens_->Create("a", TokenRole::kAdmin);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(tokens_->Revoke("nobody").code(), StatusCode::kNotFound);
  EXPECT_EQ(tokens_->Revoke("No Body").code(), StatusCode::kInvalidInput);
  for (std::string bad : {"", "root", "Admin", "viewer ", "deployer\n"}) {
    auto r = ParseTokenRole(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("expected viewer, deployer or admin"), std::string::npos);
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

// Every mutation of the API and the least role that may call it over TCP.
const std::map<std::string, Access>& MutationTable() {
  static const std::map<std::string, Access> t = {
      {"POST /api/v1/deploy", Access::kDeploy},
      {"POST /api/v1/deploy/{service}/pause", Access::kDeploy},
      {"POST /api/v1/deploy/{service}/resume", Access::kDeploy},
      {"POST /api/v1/deploy/{service}/promote", Access::kDeploy},
      {"POST /api/v1/rollback", Access::kDeploy},
      {"POST /api/v1/flags/{key}/enable", Access::kDeploy},
      {"POST /api/v1/flags/{key}/disable", Access::kDeploy},
      {"POST /api/v1/silences", Access::kDeploy},
      {"DELETE /api/v1/silences/{id}", Access::kDeploy},
      {"POST /api/v1/up", Access::kAdmin},
      {"POST /api/v1/down", Access::kAdmin},
      {"POST /api/v1/start", Access::kAdmin},
      {"POST /api/v1/stop", Access::kAdmin},
      {"POST /api/v1/restart", Access::kAdmin},
      {"POST /api/v1/flags/import", Access::kAdmin},
      {"PUT /api/v1/flags/{key}", Access::kAdmin},
      {"DELETE /api/v1/flags/{key}", Access::kAdmin},
      {"POST /api/v1/flags/{key}/rollout", Access::kAdmin},
      {"POST /api/v1/flags/{key}/target", Access::kAdmin},
      {"POST /api/v1/maintenance", Access::kAdmin},
      {"POST /api/v1/daemon/restart", Access::kAdmin},
      {"POST /api/v1/certs/renew", Access::kAdmin},
      {"POST /api/v1/tokens", Access::kAdmin},
      {"DELETE /api/v1/tokens/{name}", Access::kAdmin},
      {"POST /api/v1/backups", Access::kAdmin},
      {"POST /api/v1/backups/{id}/verify", Access::kAdmin},
      // Logging out needs only the session it ends.
      {"DELETE /api/v1/session", Access::kRead},
  };
  return t;
}

std::string Concrete(const std::string& pattern) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      size_t close = pattern.find('}', i);
      out += "x1";
      i = close + 1;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

TEST_F(AccessTest, EveryMutationNeedsItsRoleAndEveryRoleGetsExactlyThat) {
  auto viewer = tokens_->Create("vera", TokenRole::kViewer);
  auto deployer = tokens_->Create("dave", TokenRole::kDeployer);
  auto admin = tokens_->Create("ada", TokenRole::kAdmin);
  ASSERT_TRUE(viewer.ok() && deployer.ok() && admin.ok());
  std::vector<AuditEntry> audited;
  RouterOptions o;
  o.admin_token = kAdmin;
  o.read_token = kReader;
  o.tokens = tokens_.get();
  o.audit = [&](const AuditEntry& e) { audited.push_back(e); };
  Router router(std::move(o));
  RegisterRoutes(router, RouteDeps{});

  struct Caller {
    std::string token;
    Role role;
    std::string who;
  };
  const std::vector<Caller> callers = {{kReader, Role::kReader, "read token"},
                                       {*viewer, Role::kReader, "vera"},
                                       {*deployer, Role::kDeployer, "dave"},
                                       {*admin, Role::kAdmin, "ada"},
                                       {kAdmin, Role::kAdmin, "admin token"}};
  std::set<std::string> seen;
  for (const Route& r : router.routes()) {
    if (r.spec.method == Method::kGet || r.spec.method == Method::kOptions) continue;
    if (r.spec.access == Access::kPublic || r.spec.access == Access::kOwnToken) continue;
    const std::string key = std::string(MethodName(r.spec.method)) + " " + r.pattern;
    auto want = MutationTable().find(key);
    ASSERT_NE(want, MutationTable().end()) << key << " is not classified in MutationTable";
    EXPECT_EQ(r.spec.access, want->second) << key;
    seen.insert(key);
    for (const Caller& c : callers) {
      http::Request head;
      head.method = std::string(MethodName(r.spec.method));
      head.target = Concrete(r.pattern);
      head.headers = {{"Host", "127.0.0.1:9"}, {"Authorization", "Bearer " + c.token}};
      audited.clear();
      http::HeadVerdict v = router.CheckHead(head, Channel::kTcp);
      const bool may = RoleMay(c.role, want->second);
      if (may) {
        EXPECT_FALSE(v.reject) << key << " as " << c.who << ": " << v.reject->body;
        EXPECT_TRUE(audited.empty());
      } else {
        ASSERT_TRUE(v.reject) << key << " as " << c.who;
        EXPECT_EQ(v.reject->status, 403) << key << " as " << c.who;
        ASSERT_EQ(audited.size(), 1u) << key;
        EXPECT_EQ(audited[0].who, c.who);
        EXPECT_EQ(audited[0].status, 403);
        EXPECT_EQ(audited[0].action, key);
      }
      // Over the unix socket everything is allowed.
      EXPECT_FALSE(router.CheckHead(head, Channel::kUnix).reject) << key;
    }
    // No token, a wrong one, a revoked-shaped one: 401.
    for (std::string bad : {std::string(""), std::string("slw_") + std::string(64, '0'),
                            std::string("Bearer"), std::string(10000, 'a')}) {
      http::Request head;
      head.method = std::string(MethodName(r.spec.method));
      head.target = Concrete(r.pattern);
      head.headers = {{"Host", "127.0.0.1:9"}, {"Authorization", "Bearer " + bad}};
      http::HeadVerdict v = router.CheckHead(head, Channel::kTcp);
      ASSERT_TRUE(v.reject) << key;
      EXPECT_EQ(v.reject->status, 401) << key;
    }
  }
  EXPECT_EQ(seen.size(), MutationTable().size()) << "a classified route no longer exists";

  // Revoking a token takes effect on the next request.
  ASSERT_TRUE(tokens_->Revoke("dave").ok());
  http::Request head;
  head.method = "POST";
  head.target = "/api/v1/rollback";
  head.headers = {{"Host", "127.0.0.1:9"}, {"Authorization", "Bearer " + *deployer}};
  http::HeadVerdict v = router.CheckHead(head, Channel::kTcp);
  ASSERT_TRUE(v.reject);
  EXPECT_EQ(v.reject->status, 401);
}

TEST_F(AccessTest, TheAuditTrailKeepsOrderFiltersAndIsBounded) {
  for (int i = 0; i < 5; ++i) {
    AuditEntry e;
    e.who = i % 2 ? "alice" : "bob";
    e.action = "POST /api/v1/deploy";
    e.target = "services=web";
    e.status = 200;
    e.result = "ok";
    ASSERT_TRUE(audit_->Append(e).ok());
  }
  auto all = audit_->List({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_LT((*all)[0].id, (*all)[4].id);
  auto alice = audit_->List({0, 100, "alice"});
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->size(), 2u);
  auto last2 = audit_->List({0, 2, ""});
  ASSERT_TRUE(last2.ok());
  ASSERT_EQ(last2->size(), 2u);
  EXPECT_EQ((*last2)[1].id, (*all)[4].id);
  auto after = audit_->List({(*all)[3].id, 100, ""});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);
  nlohmann::json j = (*all)[0].ToJson();
  EXPECT_EQ(j["who"], "bob");
  EXPECT_TRUE(j["time"].get<std::string>().ends_with("Z"));
}

}  // namespace
}  // namespace slipway::api
