#include "config/metrics_settings.h"

#include <cctype>
#include <optional>
#include <set>

#include "config/node.h"
#include "config/values.h"
#include "net/host_port.h"

namespace slipway::config {
namespace {

const char kEndpointKeys[] = "one of path, port, interval, timeout";
const char kScrapeKeys[] = "one of retention, memory_limit, snapshot_interval, targets";
const char kTargetKeys[] = "one of name, address, path, interval, timeout";

Status ParsePath(const Node& g, const std::string& gpath, std::string* out) {
  ASSIGN_OR_RETURN(*out, ReadString(g, gpath));
  bool ok = !out->empty() && (*out)[0] == '/' && out->size() <= 1024;
  for (char c : *out) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) ok = false;
  }
  if (!ok) return NodeError(g, gpath, Quote(*out) + " is not a URL path", "e.g. /metrics");
  return Status::OK();
}

// interval ≥ 1s, timeout ≥ 100ms and at most the interval (as Prometheus requires).
Status CheckTiming(const Node& n, const std::string& path, Duration interval, Duration timeout) {
  if (interval < Duration(1000)) {
    return NodeError(n, path + ".interval", "is shorter than 1s", "a duration of at least 1s");
  }
  if (timeout < Duration(100) || timeout > interval) {
    return NodeError(n, path + ".timeout", "is not between 100ms and the interval",
                     "a duration from 100ms up to interval");
  }
  return Status::OK();
}

}  // namespace

Status ParseMetricsEndpoint(const Node& n, const std::string& path, MetricsEndpoint* out) {
  RETURN_IF_ERROR(ExpectMap(n, path,
                            "a mapping with path, port, interval, timeout ({} for "
                            "the defaults)"));
  bool timeout_set = false;
  for (const Node& g : n.children) {
    const std::string gpath = JoinPath(path, g.key);
    if (g.key == "path") {
      RETURN_IF_ERROR(ParsePath(g, gpath, &out->path));
    } else if (g.key == "port") {
      ASSIGN_OR_RETURN(out->port, ReadInt(g, gpath));
      if (out->port < 1 || out->port > 65535) {
        return NodeError(g, gpath, "is not a port", "a port from 1 to 65535");
      }
    } else if (g.key == "interval") {
      ASSIGN_OR_RETURN(out->interval, ReadDuration(g, gpath));
    } else if (g.key == "timeout") {
      ASSIGN_OR_RETURN(out->timeout, ReadDuration(g, gpath));
      timeout_set = true;
    } else {
      return NodeError(g, gpath, "unknown key " + Quote(g.key), kEndpointKeys);
    }
  }
  if (!timeout_set) out->timeout = std::min(out->timeout, out->interval);
  return CheckTiming(n, path, out->interval, out->timeout);
}

Status ParseScrapeSettings(const Node& n, const std::string& path, ScrapeSettings* out) {
  RETURN_IF_ERROR(
      ExpectMap(n, path, "a mapping with retention, memory_limit, snapshot_interval, targets"));
  for (const Node& g : n.children) {
    const std::string gpath = JoinPath(path, g.key);
    if (g.key == "retention") {
      ASSIGN_OR_RETURN(Duration d, ReadDuration(g, gpath));
      if (d < Duration(60'000) || d > Duration(int64_t{31} * 24 * 3600 * 1000)) {
        return NodeError(g, gpath, "is not between 1m and 31d", "a duration like 2h");
      }
      out->retention_ms = d.count();
    } else if (g.key == "memory_limit") {
      ASSIGN_OR_RETURN(std::string text, ReadString(g, gpath));
      auto bytes = ParseByteSize(text, /*max_digits=*/12);
      if (!bytes || *bytes < (1u << 20) || *bytes > (uint64_t{64} << 30)) {
        return NodeError(g, gpath, Quote(text) + " is not a size from 1MiB to 64GiB",
                         "bytes, or a number with KiB, MiB or GiB, e.g. 64MiB");
      }
      out->memory_limit = *bytes;
    } else if (g.key == "snapshot_interval") {
      ASSIGN_OR_RETURN(Duration d, ReadDuration(g, gpath));
      if (d != Duration(0) && (d < Duration(1'000) || d > Duration(int64_t{24} * 3600 * 1000))) {
        return NodeError(g, gpath, "is not 0 or between 1s and 24h",
                         "a duration like 5m (0: not persisted)");
      }
      out->snapshot_interval_ms = d.count();
    } else if (g.key == "targets") {
      if (g.kind != Node::Kind::kSeq) {
        return NodeError(g, gpath, "is not a list", "a list of {name, address, path, ...}");
      }
      std::set<std::string> names;
      for (size_t i = 0; i < g.children.size(); ++i) {
        const Node& t = g.children[i];
        const std::string tpath = IndexPath(gpath, i);
        RETURN_IF_ERROR(ExpectMap(t, tpath,
                                  "a mapping with name, address, path, interval, "
                                  "timeout"));
        ScrapeTarget target;
        bool timeout_set = false, has_address = false;
        for (const Node& f : t.children) {
          const std::string fpath = JoinPath(tpath, f.key);
          if (f.key == "name") {
            ASSIGN_OR_RETURN(target.name, ReadString(f, fpath));
          } else if (f.key == "address") {
            ASSIGN_OR_RETURN(std::string a, ReadString(f, fpath));
            std::optional<net::HostPort> hp = net::SplitHostPort(a);
            if (!hp || hp->port < 1 || hp->host.empty() || hp->host.size() > 253 ||
                hp->host.find_first_of(" /\t@") != std::string::npos) {
              return NodeError(f, fpath, Quote(a) + " is not an address",
                               "host:port, e.g. 127.0.0.1:9100");
            }
            target.host = hp->host;
            target.port = hp->port;
            has_address = true;
          } else if (f.key == "path") {
            RETURN_IF_ERROR(ParsePath(f, fpath, &target.path));
          } else if (f.key == "interval") {
            ASSIGN_OR_RETURN(target.interval, ReadDuration(f, fpath));
          } else if (f.key == "timeout") {
            ASSIGN_OR_RETURN(target.timeout, ReadDuration(f, fpath));
            timeout_set = true;
          } else {
            return NodeError(f, fpath, "unknown key " + Quote(f.key), kTargetKeys);
          }
        }
        bool name_ok = !target.name.empty() && target.name.size() <= 128;
        for (char c : target.name) {
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
            name_ok = false;
        }
        if (!name_ok) {
          return NodeError(t, tpath + ".name", "is missing or not a name",
                           "letters, digits, '_', '-', '.' (the job label)");
        }
        if (!names.insert(target.name).second) {
          return NodeError(t, tpath + ".name", Quote(target.name) + " is given twice",
                           "a name per target");
        }
        if (!has_address) {
          return NodeError(t, tpath + ".address", "is missing", "host:port, e.g. 127.0.0.1:9100");
        }
        if (!timeout_set) target.timeout = std::min(target.timeout, target.interval);
        RETURN_IF_ERROR(CheckTiming(t, tpath, target.interval, target.timeout));
        out->targets.push_back(std::move(target));
      }
    } else {
      return NodeError(g, gpath, "unknown key " + Quote(g.key), kScrapeKeys);
    }
  }
  return Status::OK();
}

}  // namespace slipway::config
