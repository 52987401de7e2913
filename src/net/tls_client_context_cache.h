// TlsClientContextCache: TlsClientContexts by their options, built once and built again only
// when the CA file changes on disk (base/file_signature.h), so a caller that connects often —
// a health probe every 0.5 s, the proxy on every route-table publish — does not read the trust
// store each time, and still follows a CA bundle that is replaced.
//
// A rebuild that fails returns its error and leaves the context built before in place, for a
// caller that would rather keep serving with it (Previous()). Entries are per (CA file,
// verify), so their number is bounded by the configurations in use.
//
// Thread-safe (one mutex; a build reads files under it, which is rare by construction).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "net/tls_client_context.h"

namespace slipway::net {

class TlsClientContextCache {
 public:
  // The context for `options`: the cached one while its CA file is unchanged, else a new one.
  Result<std::shared_ptr<const TlsClientContext>> Get(const TlsClientOptions& options);

  // The context last built for `options` (whatever the file is now); null when none was.
  std::shared_ptr<const TlsClientContext> Previous(const TlsClientOptions& options) const;

 private:
  struct Entry {
    std::string signature;  // of the CA file it was built from ("" for the system store)
    std::shared_ptr<const TlsClientContext> ctx;
  };
  static std::string KeyOf(const TlsClientOptions& options);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace slipway::net
