#include "acme/key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "acme/jws.h"

namespace slipway::acme {

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

bool IsP256(EVP_PKEY* k) {
  if (!EVP_PKEY_is_a(k, "EC")) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
      1) {
    return false;
  }
  return std::string_view(group, len) == "prime256v1";
}

std::string Coordinate(EVP_PKEY* k, const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, param, &raw) != 1) return "";
  std::unique_ptr<BIGNUM, BnDeleter> bn(raw);
  unsigned char buf[32];
  if (BN_bn2binpad(bn.get(), buf, sizeof(buf)) != 32) return "";
  return Base64Url(std::string_view(reinterpret_cast<char*>(buf), sizeof(buf)));
}

}  // namespace

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  unsigned long last = e;
  while (e != 0) {  // the newest error is the most specific
    last = e;
    e = ERR_get_error();
  }
  if (last == 0) return "";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

Result<EcKey> EcKey::Generate() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (!k) return Internal("generating a P-256 key failed: " + OpenSslError());
  return EcKey(PkeyPtr(k));
}

Result<EcKey> EcKey::FromPem(std::string_view pem, std::string_view what) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed");
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!k) {
    ERR_clear_error();
    return InvalidInput(fmt::format("{}: not a PEM private key", what));
  }
  PkeyPtr key(k);
  if (!IsP256(k)) return InvalidInput(fmt::format("{}: not an ECDSA P-256 key", what));
  return EcKey(std::move(key));
}

Result<EcKey> EcKey::Load(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError(path, errno);
  if ((st.st_mode & 077) != 0) {
    return FailedPrecondition(
        fmt::format("{}: a private key must not be readable by others (mode {:o}, want 600)", path,
                    st.st_mode & 0777));
  }
  if (st.st_size > (1 << 16)) return InvalidInput(path + ": too large for a key");
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return FromPem(ss.str(), path);
}

Result<EcKey> EcKey::LoadOrCreate(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) return Load(path);
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    RETURN_IF_ERROR(MakePrivateDirs(path.substr(0, slash)));
  ASSIGN_OR_RETURN(EcKey key, Generate());
  RETURN_IF_ERROR(key.Save(path));
  return key;
}

Result<std::string> EcKey::PrivatePem() const {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("writing a key as PEM failed: " + OpenSslError());
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status EcKey::Save(const std::string& path) const {
  ASSIGN_OR_RETURN(std::string pem, PrivatePem());
  return WritePrivateFile(path, pem);
}

nlohmann::json EcKey::Jwk() const {
  return {{"crv", "P-256"},
          {"kty", "EC"},
          {"x", Coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X)},
          {"y", Coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y)}};
}

std::string EcKey::Thumbprint() const {
  // nlohmann's object keeps keys sorted and dump() adds no blanks: the RFC 7638 canonical form.
  const std::string canonical = Jwk().dump();
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md);
  return Base64Url(std::string_view(reinterpret_cast<char*>(md), sizeof(md)));
}

Result<std::string> EcKey::SignEs256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return Internal("ES256 signing failed: " + OpenSslError());
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Internal("ES256 signing failed: " + OpenSslError());
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigDeleter> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return Internal("ES256: unreadable DER signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(64, '\0');
  if (BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), 32) != 32 ||
      BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + 32, 32) != 32) {
    return Internal("ES256: signature component too large");
  }
  return out;
}

Status MakePrivateDirs(const std::string& dir) {
  if (dir.empty()) return InvalidInput("empty folder name");
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError(part, errno);
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ErrnoError(dir, errno);
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition(dir + " is not a folder");
  return Status::OK();
}

Status WritePrivateFile(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(tmp, errno);
  // The mode of an existing temporary file is not changed by open(): force it.
  if (fchmod(fd, 0600) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError(tmp, err);
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoError(tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) return ErrnoError(tmp, errno);
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError(path, errno);
  return Status::OK();
}

}  // namespace slipway::acme
