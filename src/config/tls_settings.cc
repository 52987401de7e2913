#include "config/tls_settings.h"

#include <filesystem>

#include "config/duration.h"
#include "config/node.h"
#include "config/values.h"
#include "net/tls_context.h"

namespace slipway::config {

std::optional<int64_t> ParseHstsAge(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char unit = text.back();
  if (unit == 'y' || unit == 'd') {
    std::optional<long long> n = ParseInteger(text.substr(0, text.size() - 1));
    if (!n || *n < 0 || *n > 100 * 365) return std::nullopt;
    return *n * (unit == 'y' ? 365 : 1) * 86400;
  }
  if (std::optional<long long> n = ParseInteger(text); n && *n >= 0) return *n;
  std::optional<Duration> d = ParseDuration(text);
  if (!d || d->count() < 0) return std::nullopt;
  return d->count() / 1000;
}

Result<TlsCertificateSettings> ParseCertificatePair(const Node& e, const std::string& epath,
                                                    const std::string& project_dir, int64_t now_s) {
  RETURN_IF_ERROR(ExpectMap(e, epath, "a mapping {cert: FILE, key: FILE}"));
  const Node* cert = nullptr;
  const Node* key = nullptr;
  for (const Node& f : e.children) {
    if (f.key == "cert") {
      cert = &f;
    } else if (f.key == "key") {
      key = &f;
    } else {
      return NodeError(f, JoinPath(epath, f.key), "unknown key " + Quote(f.key), "cert or key");
    }
  }
  if (!cert || !key) {
    return NodeError(e, epath, cert ? "has no key" : "has no cert",
                     "{cert: FILE, key: FILE}: a PEM chain and its PEM private key");
  }
  TlsCertificateSettings s;
  const std::string cert_key = JoinPath(epath, "cert");
  const std::string key_key = JoinPath(epath, "key");
  ASSIGN_OR_RETURN(std::string cert_file, ReadString(*cert, cert_key));
  ASSIGN_OR_RETURN(std::string key_file, ReadString(*key, key_key));
  if (cert_file.empty()) return NodeError(*cert, cert_key, "is empty", "a file name");
  if (key_file.empty()) return NodeError(*key, key_key, "is empty", "a file name");
  s.cert = (std::filesystem::path(project_dir) / cert_file).lexically_normal().string();
  s.key = (std::filesystem::path(project_dir) / key_file).lexically_normal().string();
  s.cert_where = cert->ErrorLoc().ToString();
  net::LoadResult lr = net::LoadCertificate(s.cert, s.key, now_s);
  if (!lr.cert) {
    const bool is_key = lr.error.file == net::CertificateFile::kKey;
    return NodeError(is_key ? *key : *cert, is_key ? key_key : cert_key, lr.error.reason);
  }
  s.names = std::move(lr.info.names);  // lower-case (net::CertificateInfo)
  return s;
}

Status ParseTlsSettings(const Node& n, const std::string& path, const std::string& project_dir,
                        int64_t now_s, TlsSettings* out) {
  static const char kKeys[] = "certificates, acme, redirect, hsts, http2";
  RETURN_IF_ERROR(ExpectMap(n, path, std::string("a mapping with ") + kKeys));
  const Node* certs = nullptr;
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "certificates") {
      certs = &f;
    } else if (f.key == "acme") {  // config/acme_settings.h; names resolved by the loader
      out->acme.emplace();
      RETURN_IF_ERROR(ParseAcmeSettings(f, fpath, project_dir, &*out->acme));
    } else if (f.key == "redirect") {
      ASSIGN_OR_RETURN(out->redirect, ReadBool(f, fpath));
    } else if (f.key == "http2") {
      ASSIGN_OR_RETURN(out->http2, ReadBool(f, fpath));
    } else if (f.key == "hsts") {
      ASSIGN_OR_RETURN(std::string text, ReadString(f, fpath));
      out->hsts_seconds = ParseHstsAge(text);
      if (!out->hsts_seconds) {
        return NodeError(f, fpath, Quote(text) + " is not a max-age",
                         "a duration such as 1y, 180d or 12h, or seconds");
      }
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key), std::string("one of ") + kKeys);
    }
  }
  if (!certs) {
    if (out->acme) return Status::OK();
    return NodeError(n, path, "has no certificates",
                     "certificates: [{cert: FILE, key: FILE}, ...], or acme: {...}");
  }
  const std::string cpath = JoinPath(path, "certificates");
  if (!certs->IsSeq() || certs->children.empty()) {
    return NodeError(*certs, cpath, "is not a list of certificates",
                     "a non-empty list of {cert: FILE, key: FILE}");
  }
  if (certs->children.size() > 1000) {
    return NodeError(*certs, cpath, "lists more than 1000 certificates", "at most 1000");
  }
  for (size_t i = 0; i < certs->children.size(); ++i) {
    const Node& e = certs->children[i];
    const std::string epath = IndexPath(cpath, i);
    ASSIGN_OR_RETURN(TlsCertificateSettings s, ParseCertificatePair(e, epath, project_dir, now_s));
    out->certificates.push_back(std::move(s));
  }
  return Status::OK();
}

}  // namespace slipway::config
