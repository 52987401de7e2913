#include "acme/store.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tlsclient/https_client.h"

namespace slipway::acme {

namespace {

Result<std::string> ReadSmallFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound(path + " does not exist");
    return ErrnoError(path, errno);
  }
  if (st.st_size > (1 << 20)) return InvalidInput(path + ": larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string CertStore::DefaultRoot() {
  const char* state = std::getenv("SLIPWAY_STATE_DIR");
  if (state && *state) return std::string(state) + "/certs";
  return "/var/lib/slipway/certs";
}

std::string CertStore::FolderFor(const std::string& name) const {
  std::string folder = name;
  if (folder.rfind("*.", 0) == 0) folder = "_wildcard" + folder.substr(1);
  return root_ + "/" + folder;
}

std::string CertStore::AccountKeyPath(const std::string& directory_url) const {
  // One account per CA: the directory's host:port names it.
  std::string origin = tlsclient::OriginOf(directory_url);
  size_t at = origin.find("://");
  std::string host = at == std::string::npos ? origin : origin.substr(at + 3);
  for (char& c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) c = '_';
  }
  return root_ + "/accounts/" + host + "/account.key";
}

Status CertStore::MakePrivateDirs(const std::string& dir) { return acme::MakePrivateDirs(dir); }

Status CertStore::Save(const std::vector<std::string>& names, const std::string& chain_pem,
                       const EcKey& key) const {
  if (names.empty()) return InvalidInput("no name to store a certificate under");
  RETURN_IF_ERROR(ValidateDnsName(names[0]));
  if (!LeafMatchesKey(chain_pem, key)) {
    return InvalidInput("the certificate does not match its key; nothing stored");
  }
  const std::string folder = FolderFor(names[0]);
  RETURN_IF_ERROR(MakePrivateDirs(folder));
  ASSIGN_OR_RETURN(std::string key_pem, key.PrivatePem());
  RETURN_IF_ERROR(WritePrivateFile(folder + "/key.pem", key_pem));
  RETURN_IF_ERROR(WritePrivateFile(folder + "/cert.pem", chain_pem));
  return Status::OK();
}

Result<StoredCert> CertStore::Load(const std::string& name) const {
  RETURN_IF_ERROR(ValidateDnsName(name));
  const std::string folder = FolderFor(name);
  StoredCert out;
  ASSIGN_OR_RETURN(out.chain_pem, ReadSmallFile(folder + "/cert.pem"));
  ASSIGN_OR_RETURN(out.key_pem, ReadSmallFile(folder + "/key.pem"));
  Result<CertInfo> info = InspectLeaf(out.chain_pem);
  if (!info.ok()) return info.status().WithContext(folder + "/cert.pem");
  out.info = std::move(info).value();
  return out;
}

}  // namespace slipway::acme
