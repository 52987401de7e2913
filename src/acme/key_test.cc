#include "acme/key.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "acme/jws.h"

namespace slipway::acme {
namespace {

// RFC 4648 section 10 vectors, in the URL-safe alphabet without padding.
TEST(Base64UrlTest, Rfc4648Vectors) {
  EXPECT_EQ(Base64Url(""), "");
  EXPECT_EQ(Base64Url("f"), "Zg");
  EXPECT_EQ(Base64Url("fo"), "Zm8");
  EXPECT_EQ(Base64Url("foo"), "Zm9v");
  EXPECT_EQ(Base64Url("foob"), "Zm9vYg");
  EXPECT_EQ(Base64Url("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64Url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Url("\xfb\xff"), "-_8");
  for (std::string s : {"", "f", "fo", "foo", "foob", "\xfb\xff\x00\x01"}) {
    auto d = Base64UrlDecode(Base64Url(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(Base64UrlDecode("a+b").ok());
  EXPECT_FALSE(Base64UrlDecode("abcde").ok());
}

bool VerifyEs256(const EcKey& key, const std::string& data, const std::string& sig64) {
  if (sig64.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig64.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig64.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx, der, static_cast<size_t>(len),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

TEST(EcKeyTest, JwkThumbprintAndSignature) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  nlohmann::json jwk = key->Jwk();
  EXPECT_EQ(jwk["kty"], "EC");
  EXPECT_EQ(jwk["crv"], "P-256");
  EXPECT_EQ(Base64UrlDecode(jwk["x"].get<std::string>())->size(), 32u);
  EXPECT_EQ(Base64UrlDecode(jwk["y"].get<std::string>())->size(), 32u);
  // RFC 7638: the members in lexical order, no blanks.
  const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + jwk["x"].get<std::string>() +
                                R"(","y":")" + jwk["y"].get<std::string>() + R"("})";
  unsigned char md[32];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md);
  EXPECT_EQ(key->Thumbprint(), Base64Url(std::string(reinterpret_cast<char*>(md), 32)));
  EXPECT_EQ(KeyAuthorization(*key, "tok"), "tok." + key->Thumbprint());

  auto sig = key->SignEs256("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(VerifyEs256(*key, "hello", *sig));
  EXPECT_FALSE(VerifyEs256(*key, "hellO", *sig));
}

TEST(JwsTest, JwkBeforeTheAccountKidAfter) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  auto jws = SignJws(*key, "", "n1", "https://ca/new-acct", R"({"a":1})");
  ASSERT_TRUE(jws.ok());
  auto header = nlohmann::json::parse(*Base64UrlDecode((*jws)["protected"].get<std::string>()));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "n1");
  EXPECT_EQ(header["url"], "https://ca/new-acct");
  EXPECT_EQ(header["jwk"], key->Jwk());
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(*Base64UrlDecode((*jws)["payload"].get<std::string>()), R"({"a":1})");
  const std::string input =
      (*jws)["protected"].get<std::string>() + "." + (*jws)["payload"].get<std::string>();
  EXPECT_TRUE(VerifyEs256(*key, input, *Base64UrlDecode((*jws)["signature"].get<std::string>())));

  auto with_kid = SignJws(*key, "https://ca/acct/1", "n2", "https://ca/order", "");
  ASSERT_TRUE(with_kid.ok());
  auto h2 = nlohmann::json::parse(*Base64UrlDecode((*with_kid)["protected"].get<std::string>()));
  EXPECT_EQ(h2["kid"], "https://ca/acct/1");
  EXPECT_FALSE(h2.contains("jwk"));
  EXPECT_EQ((*with_kid)["payload"], "");  // POST-as-GET
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-acme-key-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(KeyFileTest, SavedWithMode0600AndReloadsTheSameKey) {
  const std::string path = dir_ + "/account.key";
  auto a = EcKey::LoadOrCreate(path);
  ASSERT_TRUE(a.ok()) << a.status().message();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = EcKey::LoadOrCreate(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->Thumbprint(), b->Thumbprint());
}

TEST_F(KeyFileTest, HostileKeyFilesAreRefusedInOneLine) {
  const std::string open_key = dir_ + "/open.key";
  auto k = EcKey::Generate();
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(k->Save(open_key).ok());
  chmod(open_key.c_str(), 0644);
  auto r = EcKey::Load(open_key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("readable by others"), std::string::npos);

  const std::string junk = dir_ + "/junk.key";
  std::ofstream(junk) << "not a key\n";
  chmod(junk.c_str(), 0600);
  r = EcKey::Load(junk);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find(junk), std::string::npos);

  const std::string rsa = dir_ + "/rsa.key";
  ASSERT_EQ(std::system(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " +
                         rsa + " 2>/dev/null && chmod 600 " + rsa)
                            .c_str()),
            0);
  r = EcKey::Load(rsa);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("P-256"), std::string::npos);

  EXPECT_EQ(EcKey::Load(dir_ + "/missing.key").status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace slipway::acme
