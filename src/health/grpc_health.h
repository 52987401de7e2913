// The two messages of the gRPC health protocol (grpc.health.v1.Health/Check) in gRPC's
// length-prefixed framing, encoded and decoded by hand: HealthCheckRequest {string service = 1}
// and HealthCheckResponse {ServingStatus status = 1}. Too small to need a protobuf library.
//
// The decoder reads what a hostile server may send: every malformed input (truncated prefix or
// message, a message over kMaxGrpcMessage, compression, more than one message, bad varints,
// wrong wire types, groups) is an InvalidInput with a one-line reason; unknown fields are
// skipped by the protobuf wire rules. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::health {

// A health answer is a few bytes; anything far larger is not one.
inline constexpr size_t kMaxGrpcMessage = 4096;

// HealthCheckResponse.ServingStatus. Values outside these are kept as numbers by the decoder.
enum class ServingStatus : uint8_t {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3
};

// One gRPC message frame (flag 0, 4-byte big-endian length) carrying a HealthCheckRequest;
// an empty service is a zero-length message, as the protocol encodes the default.
std::string EncodeHealthCheckRequest(std::string_view service);

// The body of a Check answer (DATA frames concatenated): exactly one uncompressed frame with a
// HealthCheckResponse. Returns the status field's value (0 when absent, as protobuf defaults).
Result<uint64_t> DecodeHealthCheckResponse(std::string_view body);

// "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN", or "status 7" for other values.
std::string ServingStatusName(uint64_t status);

}  // namespace slipway::health
