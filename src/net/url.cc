#include "net/url.h"

#include <cctype>

namespace slipway::net {

namespace {

bool SchemeIsHttps(std::string_view scheme) {
  constexpr std::string_view kHttps = "https";
  if (scheme.size() != kHttps.size()) return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(scheme[i])) != kHttps[i]) return false;
  }
  return true;
}

}  // namespace

bool IsHttpsUrl(std::string_view url) {
  constexpr std::string_view kSep = "://";
  const size_t sep = url.find(kSep);
  if (sep == std::string_view::npos || !SchemeIsHttps(url.substr(0, sep))) return false;
  const std::string_view rest = url.substr(sep + kSep.size());
  const std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || host.front() == ':' || host.find('@') != std::string_view::npos) {
    return false;
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace slipway::net
