// H2Fields: an HTTP/2 header list for nghttp2's submit calls, built from HTTP/1.1 fields by
// H2Conn (answers to clients) and H2UpStream (requests to upstreams). Internal to src/proxy.
//
// Names given as HTTP/1.1 spells them are lower-cased (RFC 9113 8.2.1) into storage the list
// owns; names already lower-case (pseudo-headers, literals) and all values are pointed at, so
// the caller's buffers must outlive the submit call, which copies everything. Used on one
// thread, for one submit call.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::proxy {

class H2Fields {
 public:
  // `name` as it came (any case): a lower-cased copy is kept.
  void Add(std::string_view name, std::string_view value) {
    std::string& lower = names_.emplace_back(name);
    for (char& c : lower)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    AddLower(lower, value);
  }
  // `name` is lower-case already and outlives the submit call (":status", "content-type").
  void AddLower(std::string_view name, std::string_view value) {
    nv_.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  const nghttp2_nv* data() const { return nv_.data(); }
  size_t size() const { return nv_.size(); }
  bool empty() const { return nv_.empty(); }

 private:
  std::deque<std::string> names_;  // keeps its strings in place as it grows: nv_ points into it
  std::vector<nghttp2_nv> nv_;
};

}  // namespace slipway::proxy
