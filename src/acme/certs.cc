#include "acme/certs.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace slipway::acme {

namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
struct ReqDeleter {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct ExtDeleter {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct NamesDeleter {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

std::vector<X509Ptr> ReadAll(std::string_view pem) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the end of the input shows as an error
  return out;
}

int64_t AsnTimeMillis(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

Status ValidateDnsName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return InvalidInput(fmt::format("host name \"{}\" {}", name.substr(0, 300), why));
  };
  std::string_view rest = name;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (rest.empty()) return bad("is empty");
  if (name.size() > 253) return bad("is longer than 253 characters");
  size_t label = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '.') {
      if (label == 0) return bad("has an empty label");
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return bad("may only hold lower-case letters, digits, '-' and '.'");
    }
    if (c == '-' && (label == 0 || i + 1 == rest.size() || rest[i + 1] == '.')) {
      return bad("has a label starting or ending with '-'");
    }
    if (++label > 63) return bad("has a label longer than 63 characters");
  }
  if (label == 0) return bad("ends with '.'");
  return Status::OK();
}

Result<std::string> MakeCsrDer(const std::vector<std::string>& names, const EcKey& key) {
  if (names.empty()) return InvalidInput("a certificate request needs at least one name");
  std::string san;
  for (const std::string& n : names) {
    RETURN_IF_ERROR(ValidateDnsName(n));  // also keeps ',' out of the SAN config string
    san += (san.empty() ? "DNS:" : ",DNS:") + n;
  }
  std::unique_ptr<X509_REQ, ReqDeleter> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return Internal("X509_REQ_new failed");
  if (names[0].size() <= 64) {  // the CN's upper bound; the SAN is what counts anyway
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(names[0].c_str()), -1, -1, 0);
  }
  std::unique_ptr<X509_EXTENSION, ExtDeleter> ext(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
  if (!ext) return Internal("subjectAltName: " + OpenSslError());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ext.get());
  const int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_free(exts);  // the extension itself is still owned by `ext`
  if (added != 1 || X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return Internal("building the certificate request failed: " + OpenSslError());
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return Internal("encoding the certificate request failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

size_t CountCertificates(std::string_view chain_pem) { return ReadAll(chain_pem).size(); }

Result<CertInfo> InspectLeaf(std::string_view chain_pem) {
  std::vector<X509Ptr> chain = ReadAll(chain_pem);
  if (chain.empty()) return InvalidInput("no PEM certificate found");
  X509* leaf = chain[0].get();
  CertInfo info;
  info.not_before_ms = AsnTimeMillis(X509_get0_notBefore(leaf));
  info.not_after_ms = AsnTimeMillis(X509_get0_notAfter(leaf));
  char issuer[256] = {0};
  X509_NAME_oneline(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
  info.issuer = issuer;
  std::unique_ptr<GENERAL_NAMES, NamesDeleter> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
      if (g->type != GEN_DNS) continue;
      const ASN1_STRING* s = g->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  return info;
}

Status VerifyChain(std::string_view chain_pem, std::string_view root_pem, const std::string& name) {
  std::vector<X509Ptr> chain = ReadAll(chain_pem);
  std::vector<X509Ptr> roots = ReadAll(root_pem);
  if (chain.empty()) return InvalidInput("the chain holds no certificate");
  if (roots.empty()) return InvalidInput("the root holds no certificate");
  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  for (auto& r : roots) X509_STORE_add_cert(store.get(), r.get());
  std::unique_ptr<STACK_OF(X509), StackDeleter> untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    sk_X509_push(untrusted.get(), chain[i].get());
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1) {
    return Internal("X509_STORE_CTX_init failed");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    return Unavailable(fmt::format("certificate for {} does not verify: {}", name,
                                   X509_verify_cert_error_string(err)));
  }
  return Status::OK();
}

bool LeafMatchesKey(std::string_view chain_pem, const EcKey& key) {
  std::vector<X509Ptr> chain = ReadAll(chain_pem);
  if (chain.empty()) return false;
  return EVP_PKEY_eq(X509_get0_pubkey(chain[0].get()), key.get()) == 1;
}

}  // namespace slipway::acme
