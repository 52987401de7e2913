// Test support: self-signed certificates made in memory with OpenSSL, written as PEM files.
// For tests only (header-only, not part of the net library). Any thread.
#pragma once

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <fstream>
#include <string>
#include <vector>

namespace slipway::net::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed certificate for `names` (subjectAltName DNS entries, or IP ones written
// "IP:127.0.0.1"; the first is also the CN), valid from now + `from_s` to now + `to_s`. EC P-256,
// or RSA 2048 when `rsa`.
inline TestCert MakeTestCert(const std::vector<std::string>& names, long from_s = -3600,
                             long to_s = 90L * 86400, bool rsa = false) {
  EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ + std::time(nullptr));
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), to_s);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  std::string san;
  // "IP:127.0.0.1" is an IP subjectAltName; any other name a DNS one.
  for (const std::string& n : names) {
    san += (san.empty() ? "" : ",") + (n.rfind("IP:", 0) == 0 ? n : "DNS:" + n);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  TestCert out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* p = nullptr;
  long len = BIO_get_mem_data(b, &p);
  out.cert_pem.assign(p, len);
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  len = BIO_get_mem_data(b, &p);
  out.key_pem.assign(p, len);
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

inline void WriteTestFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace slipway::net::testing
