#include "ingress/registration.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "net/host_port.h"
#include "net/url.h"

namespace slipway::ingress {
namespace {

using nlohmann::json;

Status Bad(const std::string& key, const std::string& what) {
  return InvalidInput("registration: " + key + ": " + what);
}

Result<std::string> String(const json& v, const std::string& key, size_t max) {
  if (!v.is_string()) return Bad(key, "expected a string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > max) {
    return Bad(key, "expected 1 to " + std::to_string(max) + " characters");
  }
  if (s.find('\0') != std::string::npos) return Bad(key, "contains a NUL byte");
  return s;
}

Result<std::string> AbsolutePath(const json& v, const std::string& key) {
  ASSIGN_OR_RETURN(std::string s, String(v, key, 4096));
  if (s[0] != '/') return Bad(key, "expected an absolute path");
  return s;
}

// "127.x.y.z:port", loopback only: the ingress forwards to nothing else.
Status ParseUpstream(const json& v, Registration* r) {
  ASSIGN_OR_RETURN(std::string s, String(v, "upstream", 64));
  const size_t colon = s.rfind(':');
  in_addr addr{};
  std::string ip = colon == std::string::npos ? s : s.substr(0, colon);
  if (colon == std::string::npos || inet_pton(AF_INET, ip.c_str(), &addr) != 1 ||
      (ntohl(addr.s_addr) >> 24) != 127) {
    return Bad("upstream", "\"" + s + "\" is not a loopback address (expected 127.x.y.z:port)");
  }
  std::optional<int> p = net::ParsePort(std::string_view(s).substr(colon + 1));
  if (!p || *p < 1) return Bad("upstream", "\"" + s + "\" has no port 1-65535");
  r->upstream_ip = ip;
  r->upstream_port = *p;
  return Status::OK();
}

// Deeper than a registration ever is (an object of lists of objects): refused before parsing.
bool TooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 8) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

// The `acme` object, read once the registration's hosts are known (only they are ordered).
Result<AcmeRequest> ParseAcme(const json& v, const std::vector<std::string>& hosts) {
  static const std::string kKeys = "directory, email, ca_file, challenge, names";
  if (!v.is_object()) return Bad("acme", "expected an object with " + kKeys);
  AcmeRequest a;
  bool has_directory = false, has_names = false;
  for (const auto& [k, f] : v.items()) {
    const std::string key = "acme." + k;
    if (k == "directory") {
      ASSIGN_OR_RETURN(a.directory, String(f, key, kMaxAcmeDirectoryBytes));
      if (!net::IsHttpsUrl(a.directory)) return Bad(key, "expected an https:// URL");
      has_directory = true;
    } else if (k == "email") {
      ASSIGN_OR_RETURN(a.email, String(f, key, 254));
      const size_t at = a.email.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == a.email.size() ||
          a.email.find('@', at + 1) != std::string::npos ||
          a.email.find_first_of(" \t\r\n,<>:;\"") != std::string::npos) {
        return Bad(key, "expected an e-mail address such as ops@example.org");
      }
    } else if (k == "ca_file") {
      ASSIGN_OR_RETURN(a.ca_file, AbsolutePath(f, key));
    } else if (k == "challenge") {
      ASSIGN_OR_RETURN(std::string c, String(f, key, 16));
      if (c == "http-01") {
        a.challenge = AcmeChallengeKind::kHttp01;
      } else if (c == "tls-alpn-01") {
        a.challenge = AcmeChallengeKind::kTlsAlpn01;
      } else {
        return Bad(key, "expected http-01 or tls-alpn-01");
      }
    } else if (k == "names") {
      if (!f.is_array() || f.empty() || f.size() > kMaxHosts) {
        return Bad(key, "expected a list of 1 to " + std::to_string(kMaxHosts) + " host names");
      }
      std::set<std::string> seen;
      for (size_t i = 0; i < f.size(); ++i) {
        const std::string ik = key + "[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(std::string n, String(f[i], ik, 253));
        for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (n.rfind("*.", 0) == 0) {
          return Bad(ik, "\"" + n +
                             "\" is a wildcard, which only the DNS-01 challenge can "
                             "validate (not supported)");
        }
        if (std::find(hosts.begin(), hosts.end(), n) == hosts.end()) {
          return Bad(ik, "\"" + n + "\" is not one of the registration's hosts");
        }
        if (n.find('.') == std::string::npos) {
          return Bad(ik, "\"" + n + "\" has a single label; a CA orders only qualified names");
        }
        if (!seen.insert(n).second) return Bad(ik, "\"" + n + "\" is listed twice");
        a.names.push_back(std::move(n));
      }
      has_names = true;
    } else {
      return Bad(key, "unknown key (expected one of " + kKeys + ")");
    }
  }
  if (!has_directory) return Bad("acme.directory", "is required");
  if (!has_names) {
    // Every host the project registered, except wildcards (DNS-01 only) .
    for (const std::string& h : hosts) {
      if (h.rfind("*.", 0) == 0) {
        return Bad("acme.names", "is required when a host is a wildcard (\"" + h +
                                     "\" needs the DNS-01 challenge, not supported)");
      }
      if (h.find('.') == std::string::npos) {
        return Bad("acme.names", "is required when a host has a single label (\"" + h + "\")");
      }
      a.names.push_back(h);
    }
  }
  return a;
}

}  // namespace

std::string_view AcmeChallengeKindName(AcmeChallengeKind k) {
  return k == AcmeChallengeKind::kTlsAlpn01 ? "tls-alpn-01" : "http-01";
}

bool IsRoutableHostName(std::string_view name) {
  if (name.size() > 253) return false;
  // "*.example.com": one label in front of example.com (routes match it so, an exact host
  // of another registration wins).
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty()) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok || (label == 0 && c == '-') || ++label > 63) return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

bool IsProjectName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

Result<Registration> ParseRegistration(std::string_view text) {
  if (text.size() > kMaxRegistrationBytes) {
    return InvalidInput("registration: " + std::to_string(text.size()) +
                        " bytes is too large (expected at most " +
                        std::to_string(kMaxRegistrationBytes) + ")");
  }
  if (TooDeep(text))
    return InvalidInput("registration: nested too deep (expected at most 8 levels)");
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidInput("registration: not valid JSON");
  if (!doc.is_object()) return InvalidInput("registration: expected a JSON object");
  Registration r;
  bool has_upstream = false;
  const json* acme = nullptr;
  for (const auto& [key, v] : doc.items()) {
    if (key == "project") {
      ASSIGN_OR_RETURN(r.project, String(v, key, 64));
      if (!IsProjectName(r.project)) {
        return Bad(key, "\"" + r.project +
                            "\" is not a project name (expected lowercase letters, digits, '-' "
                            "and '_', starting with a letter or digit)");
      }
    } else if (key == "folder") {
      ASSIGN_OR_RETURN(r.folder, AbsolutePath(v, key));
    } else if (key == "hosts") {
      if (!v.is_array() || v.empty() || v.size() > kMaxHosts) {
        return Bad(key, "expected a list of 1 to " + std::to_string(kMaxHosts) + " host names");
      }
      std::set<std::string> seen;
      for (size_t i = 0; i < v.size(); ++i) {
        std::string k = "hosts[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(std::string h, String(v[i], k, 253));
        for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!IsRoutableHostName(h)) {
          return Bad(k, "\"" + h +
                            "\" is not a host name (expected e.g. shop.example.com, or "
                            "*.example.com for one label)");
        }
        if (!seen.insert(h).second) return Bad(k, "\"" + h + "\" is listed twice");
        r.hosts.push_back(std::move(h));
      }
    } else if (key == "upstream") {
      RETURN_IF_ERROR(ParseUpstream(v, &r));
      has_upstream = true;
    } else if (key == "tls") {
      if (!v.is_array() || v.size() > kMaxCertificates) {
        return Bad(
            key, "expected a list of at most " + std::to_string(kMaxCertificates) + " {cert, key}");
      }
      for (size_t i = 0; i < v.size(); ++i) {
        std::string k = "tls[" + std::to_string(i) + "]";
        if (!v[i].is_object()) return Bad(k, "expected {cert, key}");
        CertificateFiles f;
        for (const auto& [ck, cv] : v[i].items()) {
          if (ck == "cert") {
            ASSIGN_OR_RETURN(f.cert, AbsolutePath(cv, k + ".cert"));
          } else if (ck == "key") {
            ASSIGN_OR_RETURN(f.key, AbsolutePath(cv, k + ".key"));
          } else {
            return Bad(std::string(k).append(".").append(ck), "unknown key (expected cert or key)");
          }
        }
        if (f.cert.empty() || f.key.empty()) return Bad(k, "expected both cert and key");
        r.tls.push_back(std::move(f));
      }
    } else if (key == "acme") {
      acme = &v;
    } else if (key == "redirect") {
      if (!v.is_boolean()) return Bad(key, "expected true or false");
      r.redirect = v.get<bool>();
    } else if (key == "hsts_seconds") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxHstsSeconds) {
        return Bad(key, "expected an integer from 0 to " + std::to_string(kMaxHstsSeconds));
      }
      r.hsts_seconds = v.get<int64_t>();
    } else if (key == "http2") {
      if (!v.is_boolean()) return Bad(key, "expected true or false");
      r.http2 = v.get<bool>();
    } else {
      return Bad(key,
                 "unknown key (expected one of project, folder, hosts, upstream, tls, acme, "
                 "redirect, hsts_seconds, http2)");
    }
  }
  if (r.project.empty()) return Bad("project", "is required");
  if (r.folder.empty()) return Bad("folder", "is required");
  if (r.hosts.empty()) return Bad("hosts", "is required");
  if (!has_upstream) return Bad("upstream", "is required");
  if (acme != nullptr) {
    ASSIGN_OR_RETURN(AcmeRequest a, ParseAcme(*acme, r.hosts));
    r.acme = std::move(a);
  }
  if (r.redirect && !r.https()) return Bad("redirect", "needs tls certificates or acme");
  if (r.hsts_seconds >= 0 && !r.https()) {
    return Bad("hsts_seconds", "needs tls certificates or acme");
  }
  if (r.http2 && !r.https()) return Bad("http2", "needs tls certificates or acme");
  return r;
}

std::string RegistrationJson(const Registration& r) {
  json j;
  j["project"] = r.project;
  j["folder"] = r.folder;
  j["hosts"] = r.hosts;
  j["upstream"] = r.upstream_ip + ":" + std::to_string(r.upstream_port);
  json tls = json::array();
  for (const CertificateFiles& f : r.tls) tls.push_back({{"cert", f.cert}, {"key", f.key}});
  j["tls"] = std::move(tls);
  if (r.acme) {
    json a;
    a["directory"] = r.acme->directory;
    if (!r.acme->email.empty()) a["email"] = r.acme->email;
    if (!r.acme->ca_file.empty()) a["ca_file"] = r.acme->ca_file;
    a["challenge"] = std::string(AcmeChallengeKindName(r.acme->challenge));
    a["names"] = r.acme->names;
    j["acme"] = std::move(a);
  }
  j["redirect"] = r.redirect;
  if (r.hsts_seconds >= 0) j["hsts_seconds"] = r.hsts_seconds;
  if (r.http2) j["http2"] = true;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace slipway::ingress
