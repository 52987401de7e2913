#include "acme/tls_alpn.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "acme/certs.h"
#include "base/clock.h"
#include "net/socket.h"

namespace slipway::acme {

namespace {
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct ExtDeleter {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct OctetDeleter {
  void operator()(ASN1_OCTET_STRING* s) const { ASN1_OCTET_STRING_free(s); }
};
struct ObjDeleter {
  void operator()(ASN1_OBJECT* o) const { ASN1_OBJECT_free(o); }
};
struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

// extnValue = DER of OCTET STRING (SIZE (32)) holding SHA-256(key authorization), critical.
Status AddAcmeIdentifier(X509* x, const std::string& key_authorization) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key_authorization.data()), key_authorization.size(),
         digest);
  std::unique_ptr<ASN1_OCTET_STRING, OctetDeleter> inner(ASN1_OCTET_STRING_new());
  if (!inner || ASN1_OCTET_STRING_set(inner.get(), digest, sizeof(digest)) != 1) {
    return Internal("ASN1_OCTET_STRING_set failed");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
  if (der_len <= 0) return Internal("encoding acmeIdentifier failed");
  std::unique_ptr<ASN1_OCTET_STRING, OctetDeleter> value(ASN1_OCTET_STRING_new());
  const int set = ASN1_OCTET_STRING_set(value.get(), der, der_len);
  OPENSSL_free(der);
  if (set != 1) return Internal("ASN1_OCTET_STRING_set failed");
  std::unique_ptr<ASN1_OBJECT, ObjDeleter> oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  if (!oid) return Internal("acmeIdentifier OID: " + OpenSslError());
  std::unique_ptr<X509_EXTENSION, ExtDeleter> id_ext(
      X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*crit=*/1, value.get()));
  if (!id_ext || X509_add_ext(x, id_ext.get(), -1) != 1) {
    return Internal("acmeIdentifier extension: " + OpenSslError());
  }
  return Status::OK();
}

// A self-signed certificate for `names` (CN = the first), from now - 1 h for `days`; with the
// critical acmeIdentifier extension when `key_authorization` is given.
Result<std::string> SelfSigned(const std::vector<std::string>& names,
                               const std::string* key_authorization, const EcKey& key,
                               int64_t now_unix_s, int days) {
  if (names.empty()) return InvalidInput("a certificate needs a name");
  const std::string& domain = names.front();
  std::unique_ptr<X509, X509Deleter> x(X509_new());
  if (!x || X509_set_version(x.get(), 2) != 1) return Internal("X509_new failed");

  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return Internal("RAND_bytes failed");
  serial[0] &= 0x7f;  // a positive INTEGER
  std::unique_ptr<BIGNUM, BnDeleter> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()))) {
    return Internal("serial number: " + OpenSslError());
  }
  time_t now = static_cast<time_t>(now_unix_s);
  X509_time_adj_ex(X509_getm_notBefore(x.get()), 0, -3600, &now);
  X509_time_adj_ex(X509_getm_notAfter(x.get()), days, 0, &now);
  X509_NAME* subject = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(domain.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), subject);
  if (X509_set_pubkey(x.get(), key.get()) != 1) return Internal("X509_set_pubkey failed");

  std::string san;
  for (const std::string& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  std::unique_ptr<X509_EXTENSION, ExtDeleter> san_ext(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
  if (!san_ext || X509_add_ext(x.get(), san_ext.get(), -1) != 1) {
    return Internal("subjectAltName: " + OpenSslError());
  }

  if (key_authorization) RETURN_IF_ERROR(AddAcmeIdentifier(x.get(), *key_authorization));
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) {
    return Internal("signing the self-signed certificate failed: " + OpenSslError());
  }
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x.get()) != 1) return Internal("PEM_write failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

Result<std::string> MakeTlsAlpnCertificate(const std::string& domain,
                                           const std::string& key_authorization, const EcKey& key,
                                           int64_t now_unix_s) {
  RETURN_IF_ERROR(ValidateDnsName(domain));
  if (domain.rfind("*.", 0) == 0) return InvalidInput("TLS-ALPN-01 cannot validate a wildcard");
  return SelfSigned({domain}, &key_authorization, key, now_unix_s, 7);
}

Result<std::string> MakePlaceholderCertificate(const std::vector<std::string>& names,
                                               const EcKey& key, int64_t now_unix_s) {
  for (const std::string& n : names) RETURN_IF_ERROR(ValidateDnsName(n));
  return SelfSigned(names, nullptr, key, now_unix_s, 30);
}

Status TlsAlpnResponder::Present(const std::string& domain, const std::string& token,
                                 const std::string& key_authorization) {
  ASSIGN_OR_RETURN(EcKey key, EcKey::Generate());
  ASSIGN_OR_RETURN(std::string pem, MakeTlsAlpnCertificate(domain, key_authorization, key,
                                                           clock_->WallMillis() / 1000));
  ASSIGN_OR_RETURN(std::string key_pem, key.PrivatePem());
  RETURN_IF_ERROR(table_->Put(domain, pem, key_pem));
  std::lock_guard<std::mutex> lock(mu_);
  domains_[token] = domain;
  return Status::OK();
}

void TlsAlpnResponder::CleanUp(const std::string& token) {
  std::string domain;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = domains_.find(token);
    if (it == domains_.end()) return;
    domain = std::move(it->second);
    domains_.erase(it);
  }
  table_->Remove(domain);
}

TlsAlpn01Server::TlsAlpn01Server() : responder_(std::make_shared<net::TlsAlpnChallenges>()) {}

TlsAlpn01Server::~TlsAlpn01Server() { Stop(); }

Status TlsAlpn01Server::Start(const std::string& host, int port) {
  // The default certificate: a placeholder no client accepts (validations get theirs from the
  // table). TlsServerContext reads files, so it goes through a private temporary folder.
  ASSIGN_OR_RETURN(EcKey key, EcKey::Generate());
  ASSIGN_OR_RETURN(std::string pem, MakePlaceholderCertificate({"placeholder.slipway.invalid"}, key,
                                                               Clock::Real()->WallMillis() / 1000));
  ASSIGN_OR_RETURN(std::string key_pem, key.PrivatePem());
  char tmpl[] = "/tmp/slipway-tls-alpn-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return ErrnoError("mkdtemp", errno);
  struct RemoveDir {
    std::filesystem::path dir;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } tmp{tmpl};
  std::vector<net::TlsServerContext::CertificatePaths> paths(1);
  paths[0].cert = (tmp.dir / "cert.pem").string();
  paths[0].key = (tmp.dir / "key.pem").string();
  RETURN_IF_ERROR(WritePrivateFile(paths[0].key, key_pem));
  RETURN_IF_ERROR(WritePrivateFile(paths[0].cert, pem));
  auto ctx = net::TlsServerContext::Create(paths, std::make_shared<net::TicketKeys>(),
                                           Clock::Real()->WallMillis() / 1000);
  if (!ctx.ok()) return ctx.status();
  RETURN_IF_ERROR(net::AnswerAlpnChallenges(**ctx, responder_.table()));
  ctx_ = *ctx;
  ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp(host, port, 64));
  ASSIGN_OR_RETURN(port_, net::LocalPort(fd.get()));
  listen_fd_ = fd.Release();
  stop_ = false;
  thread_ = std::thread([this] { Serve(); });
  return Status::OK();
}

void TlsAlpn01Server::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void TlsAlpn01Server::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // Blocking, bounded: a client that stalls costs at most 5 s per direction.
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_->default_ctx());
    if (ssl != nullptr && SSL_set_fd(ssl, fd) == 1) {
      // The ClientHello callback (net/tls_alpn_challenges.h) answers a validation or fails
      // the handshake; nothing follows it either way.
      if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ::close(fd);
  }
}

}  // namespace slipway::acme
