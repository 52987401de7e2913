#include "net/tls_context.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "net/openssl_error.h"
#include "net/tls_alpn_challenges.h"

namespace slipway::net {

struct LoadedCertificate {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // intermediates, in file order
  EVP_PKEY* key = nullptr;
};

void LoadedCertificateDeleter::operator()(LoadedCertificate* c) const {
  if (!c) return;
  X509_free(c->leaf);
  sk_X509_pop_free(c->chain, X509_free);
  EVP_PKEY_free(c->key);
  delete c;
}

namespace {

// Mozilla "intermediate" (server side, TLS 1.2 part; TLS 1.3 suites are OpenSSL's defaults,
// which are the same three).
constexpr char kCiphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr char kGroups[] = "X25519:P-256:P-384";
constexpr unsigned char kSessionContext[] = "slipway";

bool ReadWhole(const std::string& path, std::string* out, std::string* why) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *why = path + ": cannot read (" + std::strerror(errno ? errno : ENOENT) + ")";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *why = path + ": cannot read";
    return false;
  }
  *out = ss.str();
  if (out->size() > (1u << 20)) {
    *why = path + ": larger than 1 MiB, not a PEM file";
    return false;
  }
  return true;
}

int64_t AsnTimeToUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> NamesOf(X509* x) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS) continue;
      const unsigned char* p = ASN1_STRING_get0_data(g->d.dNSName);
      int len = ASN1_STRING_length(g->d.dNSName);
      if (p && len > 0) names.push_back(Lower(std::string(reinterpret_cast<const char*>(p), len)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0)
      names.push_back(Lower(cn));
  }
  return names;
}

// No passphrase: an encrypted key is refused rather than prompting on a terminal.
int NoPassword(char*, int, int, void*) { return -1; }

}  // namespace

std::string FormatUtc(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

LoadResult LoadCertificate(const std::string& cert_path, const std::string& key_path,
                           int64_t now_s) {
  LoadResult r;
  auto fail = [&](CertificateFile f, std::string why) {
    r.cert.reset();
    r.error = {f, std::move(why)};
    ERR_clear_error();
    return std::move(r);
  };
  std::string cert_pem, key_pem, why;
  if (!ReadWhole(cert_path, &cert_pem, &why)) return fail(CertificateFile::kCert, why);
  if (!ReadWhole(key_path, &key_pem, &why)) return fail(CertificateFile::kKey, why);
  r.cert.reset(new LoadedCertificate);
  LoadedCertificate& c = *r.cert;
  {
    BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
    c.leaf = PEM_read_bio_X509(bio, nullptr, NoPassword, nullptr);
    if (c.leaf) {
      c.chain = sk_X509_new_null();
      while (X509* more = PEM_read_bio_X509(bio, nullptr, NoPassword, nullptr))
        sk_X509_push(c.chain, more);
    }
    BIO_free(bio);
    ERR_clear_error();  // the chain loop ends on a "no start line" error
  }
  if (!c.leaf)
    return fail(CertificateFile::kCert,
                cert_path + ": not a PEM certificate (expected -----BEGIN CERTIFICATE-----)");
  {
    BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    c.key = PEM_read_bio_PrivateKey(bio, nullptr, NoPassword, nullptr);
    BIO_free(bio);
  }
  if (!c.key) {
    bool encrypted = key_pem.find("ENCRYPTED") != std::string::npos;
    return fail(CertificateFile::kKey,
                key_path + (encrypted ? ": an encrypted private key (a key without a passphrase "
                                        "is expected)"
                                      : ": not a PEM private key (expected -----BEGIN PRIVATE "
                                        "KEY-----)"));
  }
  if (X509_check_private_key(c.leaf, c.key) != 1)
    return fail(CertificateFile::kKey,
                key_path + ": this key does not match the certificate in " + cert_path);
  r.info.cert_path = cert_path;
  r.info.names = NamesOf(c.leaf);
  r.info.not_before = AsnTimeToUnix(X509_get0_notBefore(c.leaf));
  r.info.not_after = AsnTimeToUnix(X509_get0_notAfter(c.leaf));
  if (r.info.not_after <= now_s)
    return fail(CertificateFile::kCert,
                cert_path + ": certificate expired on " + FormatUtc(r.info.not_after));
  if (r.info.not_before > now_s)
    return fail(CertificateFile::kCert,
                cert_path + ": certificate not valid before " + FormatUtc(r.info.not_before));
  if (r.info.names.empty())
    return fail(CertificateFile::kCert,
                cert_path + ": certificate names no host (no DNS subjectAltName, no CN)");
  return r;
}

// ---------------------------------------------------------------- ticket keys

TicketKeys::TicketKeys(Duration period, Clock* clock) : period_(period), clock_(clock) {
  std::lock_guard<std::mutex> lock(mu_);
  RotateLocked();
  has_previous_ = false;
}

void TicketKeys::RotateLocked() {
  previous_ = current_;
  has_previous_ = true;
  RAND_bytes(current_.name.data(), current_.name.size());
  RAND_bytes(current_.aes.data(), current_.aes.size());
  RAND_bytes(current_.hmac.data(), current_.hmac.size());
  next_rotation_ = clock_->Now() + period_;
}

void TicketKeys::Rotate() {
  std::lock_guard<std::mutex> lock(mu_);
  RotateLocked();
}

TicketKeys::Key TicketKeys::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  if (clock_->Now() >= next_rotation_) RotateLocked();
  return current_;
}

bool TicketKeys::Find(const unsigned char* name, Key* out, bool* current) {
  std::lock_guard<std::mutex> lock(mu_);
  if (std::memcmp(name, current_.name.data(), current_.name.size()) == 0) {
    *out = current_;
    *current = true;
    return true;
  }
  if (has_previous_ && std::memcmp(name, previous_.name.data(), previous_.name.size()) == 0) {
    *out = previous_;
    *current = false;
    return true;
  }
  return false;
}

namespace {

int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int H2Index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const TlsServerContext* OwnerOf(SSL* ssl) {
  return static_cast<const TlsServerContext*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
}

int TicketCallback(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                   EVP_MAC_CTX* hctx, int enc) {
  const TlsServerContext* owner = OwnerOf(ssl);
  if (!owner) return -1;
  if (IsAlpnChallenge(ssl)) return enc == 1 ? -1 : 0;  // a validation is never resumed
  TicketKeys::Key key;
  bool current = true;
  if (enc == 1) {
    key = owner->tickets()->Current();
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  } else {
    if (!owner->tickets()->Find(key_name, &key, &current)) return 0;  // full handshake
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  if (EVP_MAC_CTX_set_params(hctx, params) != 1) return -1;
  // 2: valid, and issue a new ticket: under the current key when this one was sealed with the
  // previous, and always in TLS 1.3, where OpenSSL sends no ticket after a resumption
  // otherwise and clients use each ticket once.
  return current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
}

int ServerNameCallback(SSL* ssl, int*, void*) {
  // A TLS-ALPN-01 validation keeps the certificate its ClientHello was answered with.
  if (IsAlpnChallenge(ssl)) return SSL_TLSEXT_ERR_OK;
  const TlsServerContext* owner = OwnerOf(ssl);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!owner || !name) return SSL_TLSEXT_ERR_OK;  // the default certificate
  SSL_CTX* want = owner->ForName(name);
  if (want != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, want);
  // Runs before the ALPN callback, which reads the mark.
  if (owner->OffersH2(name)) OfferH2(ssl);
  return SSL_TLSEXT_ERR_OK;
}

int AlpnCallback(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                 const unsigned char* in, unsigned int inlen, void*) {
  static const unsigned char kOurs[] = "\x08http/1.1";
  static const unsigned char kOursH2[] = "\x02h2\x08http/1.1";  // h2 first: ours is the order
  static const unsigned char kAcme[] =
      "\x0a"
      "acme-tls/1";
  const bool validation = IsAlpnChallenge(ssl);  // acme-tls/1 or nothing (RFC 8737 3)
  const bool h2 = !validation && SSL_get_ex_data(ssl, H2Index()) != nullptr;
  const unsigned char* ours = validation ? kAcme : h2 ? kOursH2 : kOurs;
  const unsigned int ours_len = validation ? sizeof kAcme - 1
                                : h2       ? sizeof kOursH2 - 1
                                           : sizeof kOurs - 1;
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    if (validation) return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN, as nginx does
  }
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

namespace {

// A server name as the lookups key it: lowercase, without a trailing dot.
std::string NameKey(std::string_view host) {
  std::string h = Lower(std::string(host));
  if (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

// The value for `key` (a NameKey) in `exact`, else in `wildcard` under its parent domain
// ("a.example.com" → "example.com", one label only, as certificates match); null for neither.
template <typename Map>
const typename Map::mapped_type* FindByName(const Map& exact, const Map& wildcard,
                                            const std::string& key) {
  if (auto it = exact.find(key); it != exact.end()) return &it->second;
  if (size_t dot = key.find('.'); dot != std::string::npos && dot > 0) {
    if (auto it = wildcard.find(key.substr(dot + 1)); it != wildcard.end()) return &it->second;
  }
  return nullptr;
}

}  // namespace

bool TlsServerContext::OffersH2(std::string_view host) const {
  if (h2_exact_.empty() && h2_wildcard_.empty()) return false;
  const bool* h2 = FindByName(h2_exact_, h2_wildcard_, NameKey(host));
  return h2 != nullptr && *h2;
}

SSL_CTX* TlsServerContext::ForName(std::string_view host) const {
  const size_t* index = FindByName(exact_, wildcard_, NameKey(host));
  return index != nullptr ? ctxs_[*index] : ctxs_.front();
}

TlsServerContext::~TlsServerContext() {
  for (SSL_CTX* c : ctxs_) SSL_CTX_free(c);
}

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::Create(
    const std::vector<CertificatePaths>& certs, std::shared_ptr<TicketKeys> tickets, int64_t now_s,
    const H2Names& h2_names) {
  if (certs.empty()) return InvalidInput("TLS needs at least one certificate");
  std::shared_ptr<TlsServerContext> self(new TlsServerContext);
  for (const auto& [name, h2] : h2_names) {
    const std::string n = NameKey(name);
    if (n.rfind("*.", 0) == 0) {
      self->h2_wildcard_[n.substr(2)] = h2;
    } else {
      self->h2_exact_[n] = h2;
    }
  }
  self->tickets_ = tickets ? std::move(tickets) : std::make_shared<TicketKeys>();
  for (const CertificatePaths& p : certs) {
    LoadResult lr = LoadCertificate(p.cert, p.key, now_s);
    if (!lr.cert) return InvalidInput(lr.error.reason);
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return Internal("SSL_CTX_new: " + OpenSslError(""));
    self->ctxs_.push_back(ctx);
    SSL_CTX_set_ex_data(ctx, ContextIndex(), self.get());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);  // a whole socket's worth per read, not header then body
    if (SSL_CTX_set_cipher_list(ctx, kCiphers12) != 1 ||
        SSL_CTX_set1_groups_list(ctx, kGroups) != 1)
      return Internal("TLS cipher settings: " + OpenSslError(""));
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketCallback);
    SSL_CTX_set_tlsext_servername_callback(ctx, ServerNameCallback);
    SSL_CTX_set_alpn_select_cb(ctx, AlpnCallback, nullptr);
    LoadedCertificate& c = *lr.cert;
    if (SSL_CTX_use_certificate(ctx, c.leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, c.key) != 1)
      return InvalidInput(p.cert + ": " + OpenSslError(""));
    for (int i = 0; i < sk_X509_num(c.chain); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(c.chain, i)) != 1)
        return InvalidInput(p.cert + ": chain: " + OpenSslError(""));
    }
    size_t index = self->ctxs_.size() - 1;
    for (const std::string& n : lr.info.names) {
      if (n.rfind("*.", 0) == 0) {
        self->wildcard_.emplace(n.substr(2), index);  // the first certificate naming it wins
      } else {
        self->exact_.emplace(n, index);
      }
    }
    self->infos_.push_back(std::move(lr.info));
  }
  return std::shared_ptr<const TlsServerContext>(std::move(self));
}

void OfferH2(SSL* ssl) {
  static char marker = 1;
  SSL_set_ex_data(ssl, H2Index(), &marker);
}

}  // namespace slipway::net
