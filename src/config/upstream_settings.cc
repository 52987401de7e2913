#include "config/upstream_settings.h"

#include <filesystem>

#include "config/name_table.h"
#include "config/node.h"
#include "config/service_addresses.h"
#include "config/values.h"
#include "net/tls_client_context.h"

namespace slipway::config {

namespace {
constexpr auto kUpstreamProtocolNames = MakeNameTable<UpstreamProtocol>({
    {UpstreamProtocol::kHttp1, "http1"},
    {UpstreamProtocol::kH2, "h2"},
});
}  // namespace

Status ParseUpstreamSettings(const Node& n, const std::string& path, const std::string& project_dir,
                             UpstreamSettings* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with scheme, protocol, ca_file, server_name"));
  UpstreamSettings s;
  const Node* ca_node = nullptr;
  const Node* name_node = nullptr;
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "scheme") {
      ASSIGN_OR_RETURN(std::string scheme, ReadString(f, fpath));
      if (scheme != "http" && scheme != "https") {
        return NodeError(f, fpath, Quote(scheme) + " is not a scheme", "http or https");
      }
      s.https = scheme == "https";
    } else if (f.key == "protocol") {
      ASSIGN_OR_RETURN(s.protocol, ReadEnum(f, fpath, kUpstreamProtocolNames));
    } else if (f.key == "ca_file") {
      ASSIGN_OR_RETURN(std::string file, ReadString(f, fpath));
      if (file.empty()) return NodeError(f, fpath, "is empty", "a PEM file of CA certificates");
      s.ca_file = (std::filesystem::path(project_dir) / file).lexically_normal().string();
      ca_node = &f;
    } else if (f.key == "server_name") {
      ASSIGN_OR_RETURN(s.server_name, ReadString(f, fpath));
      if (!IsValidHostName(s.server_name)) {
        return NodeError(f, fpath, Quote(s.server_name) + " is not a host name",
                         "the DNS name the instances' certificate covers, e.g. api.internal");
      }
      name_node = &f;
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key),
                       "one of ca_file, protocol, scheme, server_name");
    }
  }
  for (const Node* only_tls : {ca_node, name_node}) {
    if (only_tls && !s.https) {
      return NodeError(*only_tls, JoinPath(path, only_tls->key), "applies to TLS only",
                       "scheme: https beside it");
    }
  }
  if (ca_node) {
    // The same check the proxy makes when it builds the context, at file:line now.
    Result<std::shared_ptr<const net::TlsClientContext>> ctx =
        net::TlsClientContext::Create({s.ca_file, true});
    if (!ctx.ok()) {
      return NodeError(*ca_node, JoinPath(path, "ca_file"), ctx.status().message());
    }
  }
  *out = std::move(s);
  return Status::OK();
}

}  // namespace slipway::config
