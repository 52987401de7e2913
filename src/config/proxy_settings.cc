#include "config/proxy_settings.h"

#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
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
      out->max_body = ParseByteSize(text, /*max_digits=*/15);
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
