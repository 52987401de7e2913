// CertStore: the host-wide folder of issued certificates and ACME account keys.
//
// Layout under the root (default $SLIPWAY_STATE_DIR/certs, else /var/lib/slipway/certs; every
// folder 0700, every file 0600):
//   <name>/key.pem      the certificate's private key (PKCS#8 PEM)
//   <name>/cert.pem     the chain: leaf first, then intermediates
//   accounts/<host>/account.key   one ACME account key per CA (directory host)
// <name> is the certificate's first host name ("*.x" is stored as "_wildcard.x").
//
// Save() replaces key.pem then cert.pem, each atomically (temporary file + rename): a reader
// that sees a new cert.pem also sees its key. The TLS listener reloads from here when cert.pem
// changes and checks that the pair matches before using it.
//
// Threads: no state besides the root path; calls on different names may run concurrently,
// two Save() calls for one name must not.
#pragma once

#include <string>
#include <vector>

#include "acme/certs.h"
#include "acme/key.h"
#include "base/status.h"

namespace slipway::acme {

struct StoredCert {
  std::string chain_pem;
  std::string key_pem;
  CertInfo info;
};

class CertStore {
 public:
  explicit CertStore(std::string root) : root_(std::move(root)) {}
  // $SLIPWAY_STATE_DIR/certs when set, else /var/lib/slipway/certs.
  static std::string DefaultRoot();

  const std::string& root() const { return root_; }
  std::string FolderFor(const std::string& name) const;
  std::string AccountKeyPath(const std::string& directory_url) const;

  // Stores a chain and its key under names[0]; creates folders (0700) as needed.
  Status Save(const std::vector<std::string>& names, const std::string& chain_pem,
              const EcKey& key) const;
  // kNotFound when nothing is stored for `name`.
  Result<StoredCert> Load(const std::string& name) const;

  // Creates `dir` and its parents, each 0700 when created.
  static Status MakePrivateDirs(const std::string& dir);

 private:
  std::string root_;
};

}  // namespace slipway::acme
