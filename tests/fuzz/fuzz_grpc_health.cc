// Fuzzes the gRPC health answer decoder (src/health/grpc_health.cc), what a health probe reads
// from whatever listens on an instance's port: any bytes are an answer or an error. An answer
// is one uncompressed frame of at most kMaxGrpcMessage bytes, exactly the input. The request
// encoder is checked too: its frame's length prefix matches what follows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "health/grpc_health.h"

namespace {

void Require(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  slipway::Result<uint64_t> r = slipway::health::DecodeHealthCheckResponse(in);
  if (r.ok()) {
    Require(size >= 5 && data[0] == 0);
    const uint32_t n =
        (uint32_t{data[1]} << 24) | (uint32_t{data[2]} << 16) | (uint32_t{data[3]} << 8) | data[4];
    Require(n <= slipway::health::kMaxGrpcMessage && n == size - 5);
    Require(!slipway::health::ServingStatusName(*r).empty());
  } else {
    Require(!r.status().message().empty());
  }
  const std::string req = slipway::health::EncodeHealthCheckRequest(in.substr(0, 2048));
  Require(req.size() >= 5 && req[0] == 0);
  const uint32_t len = (uint32_t{static_cast<uint8_t>(req[1])} << 24) |
                       (uint32_t{static_cast<uint8_t>(req[2])} << 16) |
                       (uint32_t{static_cast<uint8_t>(req[3])} << 8) | static_cast<uint8_t>(req[4]);
  Require(len == req.size() - 5);
  return 0;
}
