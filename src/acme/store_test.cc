#include "acme/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "acme/challenge.h"
#include "acme/tls_alpn.h"
#include "http/client.h"

namespace slipway::acme {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-acme-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

int Mode(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST_F(StoreTest, SavesPrivatelyAndReplaces) {
  CertStore store(dir_ + "/state/certs");
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  // A self-signed certificate stands in for an issued one.
  auto pem = MakeTlsAlpnCertificate("a.example", "x.y", *key, 1'800'000'000);
  ASSERT_TRUE(pem.ok());
  ASSERT_TRUE(store.Save({"a.example"}, *pem, *key).ok());
  const std::string folder = dir_ + "/state/certs/a.example";
  EXPECT_EQ(Mode(folder), 0700);
  EXPECT_EQ(Mode(dir_ + "/state/certs"), 0700);
  EXPECT_EQ(Mode(folder + "/cert.pem"), 0600);
  EXPECT_EQ(Mode(folder + "/key.pem"), 0600);
  auto loaded = store.Load("a.example");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->chain_pem, *pem);
  EXPECT_EQ(loaded->info.dns_names, std::vector<std::string>{"a.example"});

  auto key2 = EcKey::Generate();
  auto pem2 = MakeTlsAlpnCertificate("a.example", "x.y", *key2, 1'800'000'000);
  ASSERT_TRUE(store.Save({"a.example"}, *pem2, *key2).ok());
  EXPECT_EQ(store.Load("a.example")->chain_pem, *pem2);

  // A chain that is not the key's is refused and leaves the stored pair alone.
  Status mismatch = store.Save({"a.example"}, *pem, *key2);
  EXPECT_EQ(mismatch.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(store.Load("a.example")->chain_pem, *pem2);

  EXPECT_EQ(store.Load("b.example").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.Load("../etc").status().code(), StatusCode::kInvalidInput);
}

TEST_F(StoreTest, DefaultRootFollowsTheStateDir) {
  const char* old = getenv("SLIPWAY_STATE_DIR");
  std::string saved = old ? old : "";
  setenv("SLIPWAY_STATE_DIR", dir_.c_str(), 1);
  EXPECT_EQ(CertStore::DefaultRoot(), dir_ + "/certs");
  unsetenv("SLIPWAY_STATE_DIR");
  EXPECT_EQ(CertStore::DefaultRoot(), "/var/lib/slipway/certs");
  if (old) setenv("SLIPWAY_STATE_DIR", saved.c_str(), 1);
  CertStore s("/r");
  EXPECT_EQ(s.AccountKeyPath("https://acme-v02.api.letsencrypt.org/directory"),
            "/r/accounts/acme-v02.api.letsencrypt.org/account.key");
  EXPECT_EQ(s.AccountKeyPath("https://127.0.0.1:14000/dir"),
            "/r/accounts/127.0.0.1_14000/account.key");
  EXPECT_EQ(s.FolderFor("*.example.org"), "/r/_wildcard.example.org");
}

TEST(ChallengeTest, Http01ServerAnswersKnownTokensOnly) {
  Http01Server server;
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  ASSERT_GT(server.port(), 0);
  ASSERT_TRUE(server.Present("a.example", "tok_1-A", "tok_1-A.thumb").ok());
  EXPECT_EQ(server.Present("a.example", "../x", "k").code(), StatusCode::kInvalidInput);
  http::Endpoint ep{"127.0.0.1", server.port(), "", nullptr, ""};
  http::Request req;
  req.target = "/.well-known/acme-challenge/tok_1-A";
  auto r = http::Fetch(ep, req, Duration(5000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "tok_1-A.thumb");
  req.target = "/.well-known/acme-challenge/other";
  EXPECT_EQ(http::Fetch(ep, req, Duration(5000))->status, 404);
  req.target = "/";
  EXPECT_EQ(http::Fetch(ep, req, Duration(5000))->status, 404);
  server.CleanUp("tok_1-A");
  req.target = "/.well-known/acme-challenge/tok_1-A";
  EXPECT_EQ(http::Fetch(ep, req, Duration(5000))->status, 404);
  EXPECT_EQ(server.table().size(), 0u);
  server.Stop();
}

}  // namespace
}  // namespace slipway::acme
