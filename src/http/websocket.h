// The WebSocket opening handshake's two computed fields (RFC 6455 section 4): a fresh
// Sec-WebSocket-Key and the Sec-WebSocket-Accept a server must answer it with. Used where the
// proxy itself opens the handshake towards an upstream (a WebSocket over HTTP/2, RFC 8441,
// proxy/h2_conn.h) and so must check the answer as a client would. Plain functions: any thread.
#pragma once

#include <string>
#include <string_view>

namespace slipway::http {

// 16 random bytes, base64 (RFC 6455 4.1); empty when the random source failed.
std::string NewWebSocketKey();
// base64(SHA-1(key + the RFC's GUID)) (RFC 6455 4.2.2).
std::string WebSocketAccept(std::string_view key);

}  // namespace slipway::http
