// HttpsClient: blocking HTTP(S) requests through libcurl, for outgoing calls that need TLS
// (HTTPS webhooks, the ACME client). Plain http:// works too.
//
// Trust: the system CA store unless TlsClientOptions::ca_file names a PEM bundle, which then
// replaces it (a private CA, Pebble's test root). A client certificate and key (PEM) are sent
// when both are set. Peer and host name verification are always on: there is no switch to turn
// them off.
//
// Errors are one line without the URL's path or query (webhook URLs carry tokens): they name
// only the origin, scheme://host:port. kUnavailable for connect/TLS/transfer failures,
// kDeadlineExceeded for the timeout, kInvalidInput for a malformed URL or unreadable
// certificate files.
//
// Threads: Do() blocks the calling thread for at most the request's timeout; an HttpsClient is
// immutable after construction, so any number of threads may call Do() at once (each call
// has its own connection). Never call it on an event loop's thread: see AsyncHttps.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/clock.h"
#include "base/status.h"

namespace slipway::tlsclient {

struct TlsClientOptions {
  std::string ca_file;      // PEM bundle replacing the system store; "" = system store
  std::string client_cert;  // PEM client certificate (chain); needs client_key
  std::string client_key;   // PEM private key of client_cert

  bool operator==(const TlsClientOptions&) const = default;
};

struct HttpsRequest {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration timeout{30'000};  // the whole exchange; must be > 0
  // Raised by another thread: the exchange ends at once with kAborted (the raise wakes the
  // transfer's poll: curl_multi_wakeup). Null: never.
  const CancelSignal* cancel = nullptr;
};

struct HttpsResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // the final response's
  std::string body;

  // First header of that name (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

// "scheme://host:port" of a URL, without user info, path or query: safe to show.
std::string OriginOf(std::string_view url);

class HttpsClient {
 public:
  // Largest response body kept; a longer one fails the request (a hostile peer cannot make
  // us buffer without bound).
  static constexpr size_t kMaxBody = 8u << 20;

  explicit HttpsClient(TlsClientOptions options = {});

  // Checks that the configured files exist and are readable (one line naming the file if not).
  Status Validate() const;

  Result<HttpsResponse> Do(const HttpsRequest& req) const;

  const TlsClientOptions& options() const { return options_; }

 private:
  TlsClientOptions options_;
};

}  // namespace slipway::tlsclient
