// Owned HTTP messages for the non-proxy users (admin API, health probes, CLI client, testapp).
//
// Plain values: headers are an ordered list of (name, value) pairs, looked up
// case-insensitively; repeated names are kept. Any thread may use a value it owns.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slipway::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// First value of `name` (case-insensitive), or nullptr.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);
// Replaces every `name` field with one `name: value` (appended if absent).
void SetHeader(HeaderList* headers, std::string_view name, std::string_view value);
// Removes every `name` field.
void RemoveHeader(HeaderList* headers, std::string_view name);

struct Request {
  std::string method = "GET";
  std::string target = "/";  // origin-form: path and query
  int version_minor = 1;     // HTTP/1.<minor>
  HeaderList headers;
  std::string body;
  std::string peer;  // server side: "ip:port" of the client, or "unix"

  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }
  std::string_view Path() const;   // target without "?query"
  std::string_view Query() const;  // after '?', or empty
  // Value of query parameter `key` (not percent-decoded), or nullopt.
  std::optional<std::string_view> QueryParam(std::string_view key) const;
};

struct Response {
  int status = 200;
  HeaderList headers;
  std::string body;

  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }

  static Response Text(int status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");
};

}  // namespace slipway::http
