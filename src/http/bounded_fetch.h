// FetchBoundedAsync: FetchAsync for answers from peers that may be hostile (scrape targets):
// the body is refused as it arrives once it passes `max_body` decoded bytes, so a peer cannot
// make the daemon buffer without bound; `timeout` bounds the whole exchange as in FetchAsync.
// The error is InvalidInput "<endpoint>: response body larger than N bytes".
// Same threading as FetchAsync (http/client.h): call on the loop's thread; `done` runs later
// on that thread exactly once. Implemented in client.cc beside it.
#pragma once

#include <cstdint>
#include <functional>

#include "http/client.h"

namespace slipway::http {

void FetchBoundedAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req,
                       Duration timeout, uint64_t max_body,
                       std::function<void(Result<ClientResponse>)> done);

}  // namespace slipway::http
