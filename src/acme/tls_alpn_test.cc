#include "acme/tls_alpn.h"

#include <gtest/gtest.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/certs.h"

namespace slipway::acme {
namespace {

TEST(TlsAlpnTest, CertificateCarriesTheCriticalAcmeIdentifier) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::string key_auth = "token123.thumbprintABC";
  const int64_t now = 1'800'000'000;
  auto pem = MakeTlsAlpnCertificate("www.example.org", key_auth, *key, now);
  ASSERT_TRUE(pem.ok()) << pem.status().message();

  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(x, nullptr);

  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  int idx = X509_get_ext_by_OBJ(x, oid, -1);
  ASN1_OBJECT_free(oid);
  ASSERT_GE(idx, 0);
  X509_EXTENSION* ext = X509_get_ext(x, idx);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(key_auth.data()), key_auth.size(), digest);
  std::string expected("\x04\x20", 2);
  expected.append(reinterpret_cast<char*>(digest), 32);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                        static_cast<size_t>(ASN1_STRING_length(value))),
            expected);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(x), key->get()), 1);
  X509_free(x);

  auto info = InspectLeaf(*pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->dns_names, std::vector<std::string>{"www.example.org"});
  EXPECT_LE(info->not_before_ms, now * 1000);
  EXPECT_GT(info->not_after_ms, now * 1000);
}

TEST(TlsAlpnTest, PlaceholderNamesEveryNameWithoutTheAcmeIdentifier) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  const int64_t now = 1'800'000'000;
  auto pem = MakePlaceholderCertificate({"a.test", "b.test"}, *key, now);
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  auto info = InspectLeaf(*pem);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->dns_names, (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_EQ(info->not_before_ms, (now - 3600) * 1000);
  EXPECT_EQ(info->not_after_ms, (now + 30 * 86400) * 1000);
  EXPECT_TRUE(LeafMatchesKey(*pem, *key));
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(x, nullptr);
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  EXPECT_LT(X509_get_ext_by_OBJ(x, oid, -1), 0);
  ASN1_OBJECT_free(oid);
  X509_free(x);
  EXPECT_FALSE(MakePlaceholderCertificate({}, *key, now).ok());
  EXPECT_FALSE(MakePlaceholderCertificate({"bad name"}, *key, now).ok());
}

TEST(TlsAlpnTest, RefusesWildcardsAndBadNames) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(MakeTlsAlpnCertificate("*.example.org", "a.b", *key, 0).ok());
  EXPECT_FALSE(MakeTlsAlpnCertificate("bad,name", "a.b", *key, 0).ok());
  EXPECT_FALSE(MakeTlsAlpnCertificate("", "a.b", *key, 0).ok());
}

TEST(DnsNameTest, AcceptsHostNamesOnly) {
  EXPECT_TRUE(ValidateDnsName("example.org").ok());
  EXPECT_TRUE(ValidateDnsName("a-b.c1.example").ok());
  EXPECT_TRUE(ValidateDnsName("*.example.org").ok());
  for (const char* bad : {"", "Example.org", "a..b", "-a.b", "a-.b", "a.b.", "a b", "a/b",
                          "a,DNS:evil.com", "*.", "a.*.b"}) {
    Status s = ValidateDnsName(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidInput) << bad;
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
  EXPECT_FALSE(ValidateDnsName(std::string(64, 'a') + ".org").ok());
  EXPECT_FALSE(ValidateDnsName(std::string(300, 'a')).ok());
}

TEST(CsrTest, NamesEveryHostAndVerifiesWithTheKey) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  auto der = MakeCsrDer({"a.example", "b.example"}, *key);
  ASSERT_TRUE(der.ok()) << der.status().message();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, key->get()), 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  auto* names =
      static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(names), 2);
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);
  EXPECT_FALSE(MakeCsrDer({}, *key).ok());
  EXPECT_FALSE(MakeCsrDer({"a.example", "x,DNS:evil.example"}, *key).ok());
}

}  // namespace
}  // namespace slipway::acme
