#include "acme/directory.h"

namespace slipway::acme {

Result<std::string> ResolveDirectory(std::string_view v) {
  if (v.empty() || v == "letsencrypt") return std::string(kLetsEncrypt);
  if (v == "letsencrypt-staging") return std::string(kLetsEncryptStaging);
  if (v.rfind("https://", 0) == 0 && v.size() > 8 &&
      v.find_first_of(" \t\r\n") == std::string_view::npos) {
    return std::string(v);
  }
  return InvalidInput("ACME directory \"" + std::string(v.substr(0, 200)) +
                      "\" is neither letsencrypt, letsencrypt-staging nor an https:// URL");
}

}  // namespace slipway::acme
