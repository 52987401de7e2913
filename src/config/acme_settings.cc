#include "config/acme_settings.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "config/node.h"
#include "config/ports_settings.h"
#include "config/project.h"
#include "config/values.h"
#include "net/url.h"

namespace slipway::config {

namespace {

constexpr std::string_view kLetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";
constexpr std::string_view kLetsEncryptStaging =
    "https://acme-staging-v02.api.letsencrypt.org/directory";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string_view AcmeChallengeName(AcmeChallenge c) {
  return c == AcmeChallenge::kHttp01 ? "http-01" : "tls-alpn-01";
}

Status CheckAcmeName(std::string_view name, AcmeChallenge challenge) {
  const std::string q = Quote(name);
  if (name.empty()) return InvalidInput("an empty name");
  if (name.size() > 253) return InvalidInput(q + " is longer than 253 characters");
  const std::string host(name);
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1 ||
      host.find(':') != std::string::npos || host.front() == '[') {
    return InvalidInput(q + " is an IP address: certificates are ordered for host names");
  }
  if (name.rfind("*.", 0) == 0) {
    // Wildcards need DNS-01 at every CA (RFC 8555 7.1.3; RFC 8737 3 for tls-alpn-01).
    return InvalidInput(q + " is a wildcard, which " +
                        (challenge == AcmeChallenge::kHttp01
                             ? std::string("http-01 cannot validate")
                             : std::string("only the DNS-01 challenge can validate")));
  }
  if (name.find('.') == std::string_view::npos) {
    return InvalidInput(q + " has a single label; a CA orders only qualified names");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63) {
      return InvalidInput(q + " has an empty label or one longer than 63 characters");
    }
    if (label.front() == '-' || label.back() == '-') {
      return InvalidInput(q + " has a label starting or ending with '-'");
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return InvalidInput(q + " holds " + Quote(std::string(1, c)) +
                            "; only letters, digits, '-' and '.'");
      }
    }
    start = dot + 1;
  }
  return Status::OK();
}

Status ParseAcmeSettings(const Node& n, const std::string& path, const std::string& project_dir,
                         AcmeSettings* out) {
  static const char kKeys[] = "email, directory, ca_file, challenge, names";
  RETURN_IF_ERROR(ExpectMap(n, path, std::string("a mapping with ") + kKeys));
  out->where = n.ErrorLoc().ToString();
  const Node* names = nullptr;
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "email") {
      ASSIGN_OR_RETURN(out->email, ReadString(f, fpath));
      const size_t at = out->email.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == out->email.size() ||
          out->email.size() > 254 ||
          out->email.find_first_of(" \t\r\n,<>:;\"") != std::string::npos) {
        return NodeError(f, fpath, Quote(out->email) + " is not an e-mail address",
                         "an address such as ops@example.org");
      }
    } else if (f.key == "directory") {
      ASSIGN_OR_RETURN(std::string d, ReadString(f, fpath));
      if (d == "letsencrypt") {
        out->directory_url = std::string(kLetsEncrypt);
      } else if (d == "letsencrypt-staging") {
        out->directory_url = std::string(kLetsEncryptStaging);
      } else if (net::IsHttpsUrl(d) && d.size() <= 2048) {
        out->directory_url = d;
      } else {
        return NodeError(f, fpath, Quote(d) + " is not an ACME directory",
                         "letsencrypt, letsencrypt-staging or an https:// URL");
      }
    } else if (f.key == "ca_file") {
      ASSIGN_OR_RETURN(std::string file, ReadString(f, fpath));
      if (file.empty()) return NodeError(f, fpath, "is empty", "a PEM file name");
      out->ca_file = (std::filesystem::path(project_dir) / file).lexically_normal().string();
      std::error_code ec;
      if (!std::filesystem::is_regular_file(out->ca_file, ec)) {
        return NodeError(f, fpath, Quote(file) + " is not a readable file",
                         "a PEM file with the CA's root certificate");
      }
    } else if (f.key == "challenge") {
      ASSIGN_OR_RETURN(std::string c, ReadEnum(f, fpath, {"http-01", "tls-alpn-01"}));
      out->challenge = c == "tls-alpn-01" ? AcmeChallenge::kTlsAlpn01 : AcmeChallenge::kHttp01;
    } else if (f.key == "names") {
      names = &f;
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key), std::string("one of ") + kKeys);
    }
  }
  if (!names) return Status::OK();
  const std::string npath = JoinPath(path, "names");
  if (names->IsSeq() && names->children.size() > kMaxAcmeNames) {
    return NodeError(*names, npath, "lists " + std::to_string(names->children.size()) + " names",
                     "at most " + std::to_string(kMaxAcmeNames) + ", one order's worth");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> list, ReadStringList(*names, npath));
  if (list.empty()) return NodeError(*names, npath, "is empty", "a list of host names");
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const Node& item = names->children[i];
    const std::string ipath = IndexPath(npath, i);
    std::string name = Lower(list[i]);
    if (Status st = CheckAcmeName(name, out->challenge); !st.ok()) {
      return NodeError(item, ipath, st.message(),
                       name.rfind("*.", 0) == 0 ? "a host name: wildcards need the DNS-01 challenge"
                                                : "a DNS host name such as shop.example.com");
    }
    if (!seen.insert(name).second) {
      return NodeError(item, ipath, Quote(name) + " is listed twice", "distinct names");
    }
    out->names.push_back(std::move(name));
  }
  out->names_given = true;
  return Status::OK();
}

Status ResolveAcmeNames(const Project& project, AcmeSettings* out) {
  AcmeSettings& acme = *out;
  // Names a certificate file serves are never ordered.
  std::set<std::string> covered;
  acme.file_names.clear();
  for (const TlsCertificateSettings& c : project.tls.certificates) {
    for (const std::string& name : c.names) {
      if (covered.insert(name).second) acme.file_names.push_back(name);
    }
  }
  std::vector<std::string> names;
  auto add = [&](const std::string& name) {
    if (!covered.count(name) && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  };
  if (acme.names_given) {
    for (size_t i = 0; i < acme.names.size(); ++i) {
      const std::string& name = acme.names[i];
      // Behind the host's ingress only the hosts it routes for the project are ordered.
      if (project.ingress && std::none_of(project.routes.begin(), project.routes.end(),
                                          [&](const RouteSettings& r) { return r.host == name; })) {
        return InvalidInput(acme.where + ": x-slipway.tls.acme.names[" + std::to_string(i) +
                            "]: " + Quote(name) +
                            " is not the host of any x-slipway.routes entry (expected the hosts "
                            "the ingress routes to this project)");
      }
      add(name);
    }
  } else if (project.ingress) {
    // The host's ingress serves every route that names a host over HTTPS.
    for (const RouteSettings& r : project.routes) {
      if (r.host.empty()) continue;
      if (Status st = CheckAcmeName(r.host, acme.challenge); !st.ok()) {
        return InvalidInput(r.where + ": x-slipway.routes host: " + st.message() +
                            " (expected the names to order in x-slipway.tls.acme.names)");
      }
      add(r.host);
    }
    if (names.size() > kMaxAcmeNames) {
      return InvalidInput(acme.where + ": x-slipway.tls.acme: the routes name " +
                          std::to_string(names.size()) + " hosts (expected at most " +
                          std::to_string(kMaxAcmeNames) + ": list them in names)");
    }
  } else {
    // A route is served over TLS when its listener is a published port of an https target.
    auto over_tls = [&](const RouteSettings& r) {
      for (const auto& [sname, svc] : project.services) {
        for (const PortMapping& pm : svc.ports) {
          if (!IsProxiedPort(pm) || pm.published != r.listen_port) continue;
          const std::string ip = pm.host_ip.empty() ? "0.0.0.0" : pm.host_ip;
          if (ip != r.listen_host && ip != "0.0.0.0" && r.listen_host != "0.0.0.0") continue;
          if (ProtocolOf(project, svc, pm.target) == PortProtocol::kHttps) return true;
        }
      }
      return false;
    };
    for (const RouteSettings& r : project.routes) {
      if (r.host.empty() || !over_tls(r)) continue;
      const std::string& host = r.host;  // lower-cased by ParseRoutesSettings
      if (Status st = CheckAcmeName(host, acme.challenge); !st.ok()) {
        return InvalidInput(r.where + ": x-slipway.routes host: " + st.message() +
                            " (expected the names to order in x-slipway.tls.acme.names)");
      }
      add(host);
    }
    if (names.size() > kMaxAcmeNames) {
      return InvalidInput(acme.where + ": x-slipway.tls.acme: the routes name " +
                          std::to_string(names.size()) + " hosts (expected at most " +
                          std::to_string(kMaxAcmeNames) + ": list them in names)");
    }
  }
  if (names.empty()) {
    return InvalidInput(acme.where +
                        ": x-slipway.tls.acme: no name to order (expected names: [HOST, ...], or "
                        "x-slipway.routes with a host on a published https port, or with "
                        "x-slipway.ingress: true; names a certificate file covers are not "
                        "ordered)");
  }
  acme.names = std::move(names);
  return Status::OK();
}

}  // namespace slipway::config
