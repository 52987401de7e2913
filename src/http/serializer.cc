#include "http/serializer.h"

#include <charconv>

#include "http/parser.h"

namespace slipway::http {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool StatusHasNoBody(int status, std::string_view request_method) {
  return (status >= 100 && status < 200) || status == 204 || status == 304 ||
         EqualsIgnoreCase(request_method, "HEAD");
}

namespace {

bool IsFramingHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding");
}

void AppendHeaders(const HeaderList& headers, bool skip_framing, std::string* out) {
  for (const auto& [n, v] : headers) {
    if (skip_framing && IsFramingHeader(n)) continue;
    out->append(n).append(": ").append(v).append("\r\n");
  }
}

}  // namespace

void AppendRequest(const Request& req, std::string* out) {
  out->append(req.method).append(" ").append(req.target);
  out->append(req.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  AppendHeaders(req.headers, /*skip_framing=*/true, out);
  bool expects_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (!req.body.empty() || expects_body) {
    out->append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
  }
  out->append("\r\n").append(req.body);
}

void AppendStatusLine(int status, std::string* out) {
  char code[16];
  auto r = std::to_chars(code, code + sizeof code, status);
  out->append("HTTP/1.1 ").append(code, r.ptr).append(" ");
  out->append(ReasonPhrase(status)).append("\r\n");
}

void AppendResponseHead(int status, const HeaderList& headers, std::string* out) {
  AppendStatusLine(status, out);
  AppendHeaders(headers, /*skip_framing=*/false, out);
  out->append("\r\n");
}

void AppendResponse(const Response& resp, std::string* out, bool head_only) {
  AppendStatusLine(resp.status, out);
  AppendHeaders(resp.headers, /*skip_framing=*/true, out);
  bool no_body = StatusHasNoBody(resp.status);
  if (!no_body) {
    out->append("Content-Length: ").append(std::to_string(resp.body.size())).append("\r\n");
  }
  out->append("\r\n");
  if (!no_body && !head_only) out->append(resp.body);
}

void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  // to_chars, not snprintf: this runs once per DATA frame the proxy turns into a chunk.
  char size[24];
  auto r = std::to_chars(size, size + sizeof size, data.size(), 16);
  out->append(size, r.ptr).append("\r\n").append(data).append("\r\n");
}

void AppendLastChunk(std::string* out) { out->append("0\r\n\r\n"); }

}  // namespace slipway::http
