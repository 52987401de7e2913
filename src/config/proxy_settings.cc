#include "config/proxy_settings.h"

#include <cctype>

#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
namespace {

// "1048576", "512KiB", "10MiB", "2GiB" (binary units, as the proxy counts buffers).
std::optional<uint64_t> ParseBytes(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 15) return std::nullopt;
  uint64_t n = std::stoull(text.substr(0, i));
  const std::string unit = text.substr(i);
  if (unit.empty() || unit == "B") return n;
  if (unit == "KiB") return n << 10;
  if (unit == "MiB") return n << 20;
  if (unit == "GiB") return n << 30;
  return std::nullopt;
}

}  // namespace

Status ParseProxySettings(const Node& n, const std::string& path, ProxySettings* out) {
  static const char kKeys[] =
      "workers, connect_timeout, response_timeout, request_timeout, idle_timeout, "
      "header_timeout, max_body, retry_after";
  RETURN_IF_ERROR(ExpectMap(n, path, std::string("a mapping with ") + kKeys));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    auto duration = [&](std::optional<Duration>* slot, bool zero_ok) -> Status {
      ASSIGN_OR_RETURN(Duration d, ReadDuration(f, fpath));
      if (d.count() < 0 || (!zero_ok && d.count() == 0)) {
        return NodeError(f, fpath, "must be " + std::string(zero_ok ? "0 or more" : "more than 0"),
                         "a duration such as 30s");
      }
      *slot = d;
      return Status::OK();
    };
    if (f.key == "workers") {
      ASSIGN_OR_RETURN(int w, ReadInt(f, fpath));
      if (w < 1 || w > 256) return NodeError(f, fpath, "must be 1-256", "a thread count");
      out->workers = w;
    } else if (f.key == "connect_timeout") {
      RETURN_IF_ERROR(duration(&out->connect_timeout, false));
    } else if (f.key == "response_timeout") {
      RETURN_IF_ERROR(duration(&out->response_timeout, false));
    } else if (f.key == "request_timeout") {
      RETURN_IF_ERROR(duration(&out->request_timeout, true));
    } else if (f.key == "idle_timeout") {
      RETURN_IF_ERROR(duration(&out->idle_timeout, false));
    } else if (f.key == "header_timeout") {
      RETURN_IF_ERROR(duration(&out->header_timeout, false));
    } else if (f.key == "max_body") {
      ASSIGN_OR_RETURN(std::string text, ReadString(f, fpath));
      out->max_body = ParseBytes(text);
      if (!out->max_body || *out->max_body == 0) {
        return NodeError(f, fpath, Quote(text) + " is not a size",
                         "bytes, or a number with KiB, MiB or GiB, e.g. 10MiB");
      }
    } else if (f.key == "retry_after") {
      ASSIGN_OR_RETURN(int s, ReadInt(f, fpath));
      if (s < 0) return NodeError(f, fpath, "must be 0 or more", "seconds");
      out->retry_after = s;
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key), std::string("one of ") + kKeys);
    }
  }
  return Status::OK();
}

}  // namespace slipway::config
