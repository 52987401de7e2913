#include "health/probe.h"

#include <sys/epoll.h>

#include <csignal>
#include <memory>

#include "health/grpc_health.h"
#include "health/h2_fetch.h"
#include "http/client.h"
#include "net/socket.h"
#include "net/tls_client_context_cache.h"

namespace slipway::health {

namespace {

using Kind = config::Healthcheck::Kind;

std::string Ms(Duration d) { return std::to_string(d.count()) + "ms"; }

// Completes a probe at most once, stamping how long it took.
struct Completion {
  net::EventLoop* loop;
  MonoTime start;
  std::function<void(ProbeResult)> done;
  bool finished = false;

  void Finish(bool ok, std::string output, bool container_absent = false) {
    if (finished) return;
    finished = true;
    if (output.size() > kMaxProbeOutput) output.resize(kMaxProbeOutput);
    ProbeResult r{ok, std::move(output), std::chrono::duration_cast<Duration>(loop->Now() - start),
                  container_absent};
    auto fn = std::move(done);
    fn(std::move(r));
  }
  // For failures found before anything was started: `done` must not run inside RunProbe.
  void FinishLater(std::shared_ptr<Completion> self, std::string output) {
    loop->Post([self, output = std::move(output)]() mutable { self->Finish(false, output); });
  }
  // An HTTP probe's answer, whichever protocol carried it: a 2xx or 3xx is healthy.
  void FinishHttp(int status, const std::string& body) {
    std::string out = "HTTP " + std::to_string(status);
    if (!body.empty()) out += ": " + body;
    Finish(status >= 200 && status < 400, std::move(out));
  }
};

void RunExec(const std::shared_ptr<Completion>& c, const config::Healthcheck& hc,
             const ProbeTarget& target) {
  if (hc.test.empty() || hc.test[0].empty()) {
    c->FinishLater(c, "empty healthcheck test");
    return;
  }
  runtime::ProcessSpec spec = target.exec_base;
  spec.argv = target.exec_prefix;
  if (hc.kind == Kind::kCmdShell) {
    spec.argv.insert(spec.argv.end(), {"/bin/sh", "-c", hc.test[0]});
  } else {
    spec.argv.insert(spec.argv.end(), hc.test.begin(), hc.test.end());
  }
  struct State {
    std::unique_ptr<runtime::Process> proc;
    std::string output;
    net::EventLoop::TimerId timer = 0;
    bool timed_out = false;
  };
  auto state = std::make_shared<State>();
  auto on_output = [state](bool, std::string_view line) {
    if (state->output.size() >= kMaxProbeOutput) return;
    state->output.append(line);
    state->output += '\n';
  };
  net::EventLoop* loop = c->loop;
  Duration timeout = hc.timeout;
  const bool in_container = !target.exec_prefix.empty();
  auto on_exit = [state, c, loop, timeout, in_container](runtime::ExitStatus st) {
    if (state->timer) loop->Cancel(state->timer);
    state->proc.reset();  // allowed from on_exit; this lambda keeps `state` alive
    std::string out = std::move(state->output);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    if (state->timed_out) {
      c->Finish(false, "timed out after " + Ms(timeout) + (out.empty() ? "" : ": " + out));
    } else if (st.success()) {
      c->Finish(true, std::move(out));
    } else {
      bool absent = in_container && IsContainerAbsentError(out);
      c->Finish(false, out.empty() ? st.ToString() : out, absent);
    }
  };
  auto p = runtime::Process::Spawn(loop, spec, on_output, on_exit);
  if (!p.ok()) {
    c->FinishLater(c, p.status().message());
    return;
  }
  state->proc = std::move(p).value();
  if (timeout > Duration(0)) {
    state->timer = loop->RunAfter(timeout, [state] {
      state->timer = 0;
      state->timed_out = true;
      if (state->proc) state->proc->Signal(SIGKILL);  // on_exit completes the probe
    });
  }
}

void RunTcp(const std::shared_ptr<Completion>& c, const config::Healthcheck& hc,
            const ProbeTarget& target, int port) {
  auto fd = net::ConnectTcp(target.host, port);
  if (!fd.ok()) {
    c->FinishLater(
        c, "connect " + target.host + ":" + std::to_string(port) + ": " + fd.status().message());
    return;
  }
  struct State {
    net::UniqueFd fd;
    net::EventLoop::TimerId timer = 0;
  };
  auto state = std::make_shared<State>();
  state->fd = std::move(fd).value();
  net::EventLoop* loop = c->loop;
  std::string where = target.host + ":" + std::to_string(port);
  auto finish = [state, c, loop](bool ok, std::string output) {
    if (state->timer) loop->Cancel(state->timer);
    state->timer = 0;
    loop->Remove(state->fd.get());
    state->fd.Reset();
    c->Finish(ok, std::move(output));
  };
  Status added = loop->Add(state->fd.get(), EPOLLOUT, [state, finish, where](uint32_t) {
    Status st = net::ConnectError(state->fd.get());
    finish(st.ok(), st.ok() ? "connected to " + where : "connect " + where + ": " + st.message());
  });
  if (!added.ok()) {
    c->FinishLater(c, added.message());
    return;
  }
  if (hc.timeout > Duration(0)) {
    Duration timeout = hc.timeout;
    state->timer = loop->RunAfter(timeout, [state, finish, where, timeout] {
      state->timer = 0;
      finish(false, "connect " + where + ": timed out after " + Ms(timeout));
    });
  }
}

// A probe every 0.5 s must not read the trust store each time (net/tls_client_context_cache.h).
net::TlsClientContextCache& ClientContexts() {
  static net::TlsClientContextCache cache;
  return cache;
}

// The endpoint of an HTTP, HTTP/2 or gRPC probe: TLS under scheme: https (what is verified:
// probe.h). False (and the probe finished) when the TLS context cannot be had.
bool ProbeEndpoint(const std::shared_ptr<Completion>& c, const config::Healthcheck& hc,
                   const ProbeTarget& target, int port, const std::string& method,
                   const std::string& path, http::Endpoint* ep) {
  ep->host = target.host;
  ep->port = port;
  if (hc.scheme != config::Healthcheck::Scheme::kHttps) return true;
  const bool verify = VerifiesCertificate(hc);
  Result<std::shared_ptr<const net::TlsClientContext>> ctx =
      ClientContexts().Get({verify ? hc.ca_file : "", verify});
  if (!ctx.ok()) {
    c->FinishLater(c, method + " https://" + ep->ToString() + path + ": " + ctx.status().message());
    return false;
  }
  ep->tls = std::move(ctx).value();
  ep->tls_name = hc.server_name;
  return true;
}

// One line of a server's text in a probe's output: control characters become '?'.
std::string OneLine(std::string_view s) {
  std::string out(s.substr(0, 512));
  for (char& ch : out) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) ch = '?';
  }
  return out;
}

// grpc-message is percent-encoded (gRPC's HTTP/2 protocol); a bad escape stays as it is.
std::string PercentDecoded(std::string_view s) {
  auto hex = [](char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// HTTP/1.1 probes read at most this much of a body into the output; so does HTTP/2.
constexpr size_t kMaxHttpBody = kMaxProbeOutput;

void RunHttp2(const std::shared_ptr<Completion>& c, const config::Healthcheck& hc,
              const ProbeTarget& target, int port) {
  H2ProbeRequest req;
  req.method = "GET";
  req.path = hc.http_path.empty() ? "/" : hc.http_path;
  http::Endpoint ep;
  if (!ProbeEndpoint(c, hc, target, port, req.method, req.path, &ep)) return;
  req.headers.emplace_back("user-agent", "slipway-health");
  const std::string where =
      "GET " + std::string(ep.tls ? "" : "http://") + ep.ToString() + req.path + " (HTTP/2)";
  FetchH2(c->loop, ep, std::move(req), hc.timeout, kMaxHttpBody,
          [c, where](Result<H2ProbeResponse> r) {
            if (!r.ok()) {
              c->Finish(false, where + ": " + r.status().message());
              return;
            }
            c->FinishHttp(r->status, r->body);
          });
}

// The verdict on a Check answer: SERVING is healthy, anything else says why not.
void JudgeGrpc(const std::shared_ptr<Completion>& c, const H2ProbeResponse& r) {
  if (r.status != 200) {
    c->Finish(false, "HTTP " + std::to_string(r.status) + " (a gRPC answer is 200)");
    return;
  }
  if (r.body_over_limit) {  // its trailers were never read
    c->Finish(false, "malformed response: over " + std::to_string(kMaxGrpcMessage) + " bytes");
    return;
  }
  // A trailers-only answer carries grpc-status in its one header block.
  const std::string* code = FindField(r.trailers, "grpc-status");
  const H2Fields& where = code ? r.trailers : r.headers;
  if (!code) code = FindField(r.headers, "grpc-status");
  if (!code) {
    c->Finish(false, "no grpc-status in the answer");
    return;
  }
  if (code->empty() || code->size() > 3 ||
      code->find_first_not_of("0123456789") != std::string::npos) {
    c->Finish(false, "bad grpc-status \"" + OneLine(*code) + "\"");
    return;
  }
  if (*code != "0") {
    std::string out = "grpc-status " + *code;
    if (const std::string* m = FindField(where, "grpc-message"); m && !m->empty()) {
      out += ": " + OneLine(PercentDecoded(*m));
    }
    c->Finish(false, std::move(out));
    return;
  }
  Result<uint64_t> status = DecodeHealthCheckResponse(r.body);
  if (!status.ok()) {
    c->Finish(false, "malformed response: " + status.status().message());
    return;
  }
  c->Finish(*status == static_cast<uint64_t>(ServingStatus::kServing), ServingStatusName(*status));
}

void RunGrpc(const std::shared_ptr<Completion>& c, const config::Healthcheck& hc,
             const ProbeTarget& target, int port) {
  H2ProbeRequest req;
  req.method = "POST";
  req.path = "/grpc.health.v1.Health/Check";
  http::Endpoint ep;
  if (!ProbeEndpoint(c, hc, target, port, req.method, req.path, &ep)) return;
  req.headers = {
      {"content-type", "application/grpc"}, {"te", "trailers"}, {"user-agent", "slipway-health"}};
  // The server may give up when the probe does; gRPC allows at most 8 digits.
  if (hc.timeout > Duration(0) && hc.timeout.count() <= 99'999'999) {
    req.headers.emplace_back("grpc-timeout", std::to_string(hc.timeout.count()) + "m");
  }
  req.body = EncodeHealthCheckRequest(hc.grpc_service);
  // The prefix and a message at the cap; one byte more says the answer is over it.
  FetchH2(c->loop, ep, std::move(req), hc.timeout, 5 + kMaxGrpcMessage,
          [c](Result<H2ProbeResponse> r) {
            if (!r.ok()) {
              c->Finish(false, r.status().message());
              return;
            }
            JudgeGrpc(c, *r);
          });
}

void RunHttp(const std::shared_ptr<Completion>& c, const config::Healthcheck& hc,
             const ProbeTarget& target, int port) {
  if (hc.http2) {
    RunHttp2(c, hc, target, port);
    return;
  }
  http::Request req;
  req.method = "GET";
  req.target = hc.http_path.empty() ? "/" : hc.http_path;
  req.headers.emplace_back("User-Agent", "slipway-health");
  http::Endpoint ep;
  if (!ProbeEndpoint(c, hc, target, port, req.method, req.target, &ep)) return;
  const bool https = ep.tls != nullptr;
  if (https && !hc.server_name.empty()) req.headers.emplace_back("Host", hc.server_name);
  std::string where = "GET " + std::string(https ? "" : "http://") + ep.ToString() + req.target;
  http::FetchAsync(c->loop, ep, req, hc.timeout, [c, where](Result<http::ClientResponse> r) {
    if (!r.ok()) {
      c->Finish(false, where + ": " + r.status().message());
      return;
    }
    c->FinishHttp(r->status, r->body);
  });
}

}  // namespace

bool VerifiesCertificate(const config::Healthcheck& hc) {
  if (hc.insecure_skip_verify) return !*hc.insecure_skip_verify;
  return !hc.ca_file.empty() || !hc.server_name.empty();
}

bool IsContainerAbsentError(std::string_view output) {
  // The engine's own error is its first line; the test's output cannot start like this unless
  // the test imitates the engine.
  std::string_view first = output.substr(0, output.find('\n'));
  auto has = [first](std::string_view s) { return first.find(s) != std::string_view::npos; };
  if (first.starts_with("Error: ")) {  // podman
    return has("no such container") || has("container state improper");
  }
  if (first.starts_with("Error response from daemon: ")) {  // docker
    return has("No such container") || has("is not running");
  }
  return false;
}

void RunProbe(net::EventLoop* loop, const config::Healthcheck& hc, const ProbeTarget& target,
              std::function<void(ProbeResult)> done) {
  auto c = std::make_shared<Completion>(Completion{loop, loop->Now(), std::move(done)});
  int port = hc.port > 0 ? hc.port : target.port;
  switch (hc.kind) {
    case Kind::kCmd:
    case Kind::kCmdShell:
      RunExec(c, hc, target);
      return;
    case Kind::kTcp:
    case Kind::kHttp:
    case Kind::kGrpc:
      if (port <= 0) {
        c->FinishLater(c, "no port to probe");
        return;
      }
      if (hc.kind == Kind::kTcp) {
        RunTcp(c, hc, target, port);
      } else if (hc.kind == Kind::kGrpc) {
        RunGrpc(c, hc, target, port);
      } else {
        RunHttp(c, hc, target, port);
      }
      return;
    case Kind::kNone:
      break;
  }
  c->FinishLater(c, "no healthcheck configured");
}

}  // namespace slipway::health
