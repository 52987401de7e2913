// testapp's TLS mode: the same endpoints served over HTTPS/1.1 (keep-alive, pipelining) on one
// event loop, built on net::TlsTransport and http::RequestParser, for tests of the proxy's
// https:// upstreams. Chosen when TLS_CERT and TLS_KEY name a PEM certificate chain and key.
// Request bodies must have a Content-Length (chunked requests get 411 and the connection
// closes). Runs until `signal_fd` is readable (then exits 0); returns 1 when it cannot start.
#pragma once

#include <functional>
#include <string>

#include "http/message.h"

namespace testapp {

using Handler = std::function<slipway::http::Response(const slipway::http::Request&)>;

int RunTls(const std::string& host, int port, const std::string& cert, const std::string& key,
           int signal_fd, Handler handler);

}  // namespace testapp
