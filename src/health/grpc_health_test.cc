#include "health/grpc_health.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace slipway::health {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// A frame around `msg` (flag 0, big-endian length).
std::string Framed(const std::string& msg) {
  const auto n = static_cast<uint32_t>(msg.size());
  return Bytes({0, static_cast<int>(n >> 24), static_cast<int>((n >> 16) & 0xff),
                static_cast<int>((n >> 8) & 0xff), static_cast<int>(n & 0xff)}) +
         msg;
}

std::string ErrorOf(std::string_view body) {
  Result<uint64_t> r = DecodeHealthCheckResponse(body);
  return r.ok() ? "ok: " + std::to_string(*r) : r.status().message();
}

TEST(GrpcHealthCodec, EncodesTheRequest) {
  // An empty service is the default value: a zero-length message.
  EXPECT_EQ(EncodeHealthCheckRequest(""), Bytes({0, 0, 0, 0, 0}));
  EXPECT_EQ(EncodeHealthCheckRequest("foo"), Bytes({0, 0, 0, 0, 5, 0x0a, 3, 'f', 'o', 'o'}));
  // A length over 127 takes a two-byte varint (200 = 0xc8 0x01).
  const std::string name(200, 'x');
  const std::string e = EncodeHealthCheckRequest(name);
  ASSERT_EQ(e.size(), 5U + 3 + 200);
  EXPECT_EQ(e.substr(0, 8), Bytes({0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01}));
  EXPECT_EQ(e.substr(8), name);
}

TEST(GrpcHealthCodec, DecodesServingStatuses) {
  EXPECT_EQ(ErrorOf(Framed(Bytes({0x08, 1}))), "ok: 1");
  EXPECT_EQ(ErrorOf(Framed(Bytes({0x08, 2}))), "ok: 2");
  EXPECT_EQ(ErrorOf(Framed(Bytes({0x08, 3}))), "ok: 3");
  // Absent = the default, UNKNOWN (0).
  EXPECT_EQ(ErrorOf(Framed("")), "ok: 0");
  // A value outside the enum is kept as a number, named as such.
  EXPECT_EQ(ErrorOf(Framed(Bytes({0x08, 0x96, 0x01}))), "ok: 150");
  EXPECT_EQ(ServingStatusName(150), "status 150");
  EXPECT_EQ(ServingStatusName(1), "SERVING");
  EXPECT_EQ(ServingStatusName(2), "NOT_SERVING");
  EXPECT_EQ(ServingStatusName(3), "SERVICE_UNKNOWN");
  EXPECT_EQ(ServingStatusName(0), "UNKNOWN");
}

TEST(GrpcHealthCodec, SkipsUnknownFieldsOfEveryWireType) {
  const std::string msg = Bytes({0x10, 0x96, 0x01,                             // 2: varint
                                 0x08, 0x02,                                   // status 2
                                 0x1a, 3,    'a',  'b',  'c',                  // 3: bytes
                                 0x21, 1,    2,    3,    4,    5,    6, 7, 8,  // 4: fixed64
                                 0x2d, 1,    2,    3,    4,                    // 5: fixed32
                                 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00,           // 536870911: varint
                                 0x08, 0x01});  // the last status wins
  EXPECT_EQ(ErrorOf(Framed(msg)), "ok: 1");
}

TEST(GrpcHealthCodec, RefusesMalformedFraming) {
  EXPECT_EQ(ErrorOf(""), "no response message");
  EXPECT_EQ(ErrorOf(Bytes({0, 0, 0})), "truncated message prefix");
  EXPECT_EQ(ErrorOf(Bytes({1, 0, 0, 0, 2, 0x08, 1})), "compressed message (none was accepted)");
  EXPECT_EQ(ErrorOf(Bytes({7, 0, 0, 0, 2, 0x08, 1})), "bad message flag 7");
  EXPECT_EQ(ErrorOf(Bytes({0, 0, 0, 0, 10, 0x08, 1})), "truncated message");
  EXPECT_EQ(ErrorOf(Bytes({0, 0xff, 0xff, 0xff, 0xff})), "message of 4294967295 bytes, over 4096");
  EXPECT_EQ(ErrorOf(Framed(std::string(4097, 0))), "message of 4097 bytes, over 4096");
  EXPECT_EQ(ErrorOf(Framed(Bytes({0x08, 1})) + Framed(Bytes({0x08, 1}))), "more than one message");
}

TEST(GrpcHealthCodec, RefusesMalformedMessages) {
  auto err = [](std::initializer_list<int> m) { return ErrorOf(Framed(Bytes(m))); };
  const std::string p = "malformed HealthCheckResponse: ";
  EXPECT_EQ(err({0x08}), p + "truncated varint");
  EXPECT_EQ(err({0x08, 0x80}), p + "truncated varint");
  EXPECT_EQ(err({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
            p + "varint over 64 bits");
  EXPECT_EQ(err({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}),
            p + "varint over 64 bits");
  EXPECT_EQ(err({0x0a, 1, 1}), p + "status is not a varint");
  EXPECT_EQ(err({0x00, 1}), p + "bad field number 0");
  EXPECT_EQ(err({0x1a, 5, 'a'}), p + "truncated length-delimited field");
  EXPECT_EQ(err({0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f}), p + "truncated length-delimited field");
  EXPECT_EQ(err({0x21, 1, 2}), p + "truncated fixed-width field");
  EXPECT_EQ(err({0x2d, 1}), p + "truncated fixed-width field");
  EXPECT_EQ(err({0x13}), p + "unsupported wire type 3");
  EXPECT_EQ(err({0x16}), p + "unsupported wire type 6");
}

TEST(GrpcHealthCodec, RandomInputsNeverCrash) {
  // Fuzz-like: random bytes after a valid prefix, and random truncations of a valid answer,
  // each an answer or an error, never more.
  std::mt19937 rng(7);
  const std::string valid = Framed(Bytes({0x10, 0x96, 0x01, 0x08, 0x01, 0x1a, 1, 'x'}));
  int decoded = 0, refused = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string msg(rng() % 40, '\0');
    for (char& c : msg) c = static_cast<char>(rng());
    (DecodeHealthCheckResponse(Framed(msg)).ok() ? decoded : refused)++;
    std::string cut = valid.substr(0, rng() % (valid.size() + 1));
    if (!cut.empty() && rng() % 2) cut[rng() % cut.size()] = static_cast<char>(rng());
    Result<uint64_t> c = DecodeHealthCheckResponse(cut);
    if (cut == valid) {
      EXPECT_TRUE(c.ok());
    }
    (c.ok() ? decoded : refused)++;
  }
  // Both outcomes happen: the inputs reach past the framing into the message's fields.
  EXPECT_GT(decoded, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace slipway::health
