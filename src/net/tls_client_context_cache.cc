#include "net/tls_client_context_cache.h"

#include "base/file_signature.h"

namespace slipway::net {

std::string TlsClientContextCache::KeyOf(const TlsClientOptions& options) {
  return (options.verify ? "v:" : "n:") + options.ca_file;
}

Result<std::shared_ptr<const TlsClientContext>> TlsClientContextCache::Get(
    const TlsClientOptions& options) {
  const std::string signature = options.ca_file.empty() ? "" : FileSignature(options.ca_file);
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[KeyOf(options)];
  if (e.ctx && e.signature == signature) return e.ctx;
  ASSIGN_OR_RETURN(std::shared_ptr<const TlsClientContext> made, TlsClientContext::Create(options));
  e.signature = signature;
  e.ctx = made;
  return made;
}

std::shared_ptr<const TlsClientContext> TlsClientContextCache::Previous(
    const TlsClientOptions& options) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(KeyOf(options));
  return it == entries_.end() ? nullptr : it->second.ctx;
}

}  // namespace slipway::net
