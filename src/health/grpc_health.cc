#include "health/grpc_health.h"

namespace slipway::health {

namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint at *pos (at most 10 bytes, the last carrying one bit and no continuation),
// advancing *pos.
Result<uint64_t> ReadVarint(std::string_view in, size_t* pos) {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (*pos >= in.size()) return InvalidInput("truncated varint");
    const auto b = static_cast<uint8_t>(in[(*pos)++]);
    if (i == 9 && b > 1) return InvalidInput("varint over 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) return v;
  }
  return InvalidInput("varint over 64 bits");  // not reached: the 10th byte ends it above
}

Result<uint64_t> DecodeResponseMessage(std::string_view msg) {
  uint64_t status = 0;
  size_t pos = 0;
  while (pos < msg.size()) {
    ASSIGN_OR_RETURN(uint64_t key, ReadVarint(msg, &pos));
    const uint64_t field = key >> 3;
    const auto wire = static_cast<unsigned>(key & 7);
    if (field == 0 || field > 0x1fffffff) {
      return InvalidInput("bad field number " + std::to_string(field));
    }
    if (field == 1 && wire != 0) return InvalidInput("status is not a varint");
    switch (wire) {
      case 0: {
        ASSIGN_OR_RETURN(uint64_t v, ReadVarint(msg, &pos));
        if (field == 1) status = v;  // the last one wins, as protobuf merges scalars
        break;
      }
      case 1:
      case 5: {
        const size_t n = wire == 1 ? 8 : 4;
        if (msg.size() - pos < n) return InvalidInput("truncated fixed-width field");
        pos += n;
        break;
      }
      case 2: {
        ASSIGN_OR_RETURN(uint64_t n, ReadVarint(msg, &pos));
        if (n > msg.size() - pos) return InvalidInput("truncated length-delimited field");
        pos += static_cast<size_t>(n);
        break;
      }
      default:  // 3/4: groups (never in this message), 6/7: not wire types
        return InvalidInput("unsupported wire type " + std::to_string(wire));
    }
  }
  return status;
}

}  // namespace

std::string EncodeHealthCheckRequest(std::string_view service) {
  std::string msg;
  if (!service.empty()) {
    msg.push_back(0x0a);  // field 1, wire type 2
    AppendVarint(service.size(), &msg);
    msg.append(service);
  }
  std::string out;
  out.reserve(5 + msg.size());
  out.push_back(0);  // not compressed
  const auto n = static_cast<uint32_t>(msg.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += msg;
  return out;
}

Result<uint64_t> DecodeHealthCheckResponse(std::string_view body) {
  if (body.empty()) return InvalidInput("no response message");
  if (body.size() < 5) return InvalidInput("truncated message prefix");
  const auto flag = static_cast<uint8_t>(body[0]);
  if (flag == 1) return InvalidInput("compressed message (none was accepted)");
  if (flag != 0) return InvalidInput("bad message flag " + std::to_string(flag));
  uint32_t n = 0;
  for (int i = 1; i <= 4; ++i) n = (n << 8) | static_cast<uint8_t>(body[i]);
  if (n > kMaxGrpcMessage) {
    return InvalidInput("message of " + std::to_string(n) + " bytes, over " +
                        std::to_string(kMaxGrpcMessage));
  }
  if (body.size() - 5 < n) return InvalidInput("truncated message");
  if (body.size() - 5 > n) return InvalidInput("more than one message");
  Result<uint64_t> status = DecodeResponseMessage(body.substr(5, n));
  if (!status.ok()) {
    return InvalidInput("malformed HealthCheckResponse: " + status.status().message());
  }
  return status;
}

std::string ServingStatusName(uint64_t status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "status " + std::to_string(status);
  }
}

}  // namespace slipway::health
