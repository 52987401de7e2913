// Writing HTTP/1.1 messages: request and response heads, whole messages with Content-Length,
// and the chunked coding for streamed bodies. Appends to a caller-owned std::string.
//
// Framing is the serializer's job: AppendRequest/AppendResponse drop any Content-Length or
// Transfer-Encoding in the caller's headers and write their own, so a message can never carry
// two framings. Stateless functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "http/message.h"

namespace slipway::http {

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view ReasonPhrase(int status);

// Whether a response with this status (to this request method) carries no body.
bool StatusHasNoBody(int status, std::string_view request_method = "GET");

// A full request: head (adds Content-Length when there is a body or the method usually has
// one) and body. `Host` is not added here: the client adds it.
void AppendRequest(const Request& req, std::string* out);

// A full response with Content-Length. When `head_only` (answer to HEAD), the body is not
// written but Content-Length still says its size. 1xx/204/304 get neither.
void AppendResponse(const Response& resp, std::string* out, bool head_only = false);

// "HTTP/1.1 <status> <reason>\r\n": the status line alone (the proxy's HTTP/2 upstream streams
// build the rest of the head from their own field lines).
void AppendStatusLine(int status, std::string* out);

// "HTTP/1.1 <status> <reason>\r\n" + headers + "\r\n", as given: the caller chose the framing.
void AppendResponseHead(int status, const HeaderList& headers, std::string* out);

// One chunk of the chunked coding (nothing for empty data: an empty chunk would end the body).
void AppendChunk(std::string_view data, std::string* out);
// The last chunk and the end of the message (no trailers).
void AppendLastChunk(std::string* out);

}  // namespace slipway::http
